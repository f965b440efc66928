/** roundHalfEven: ties to even, both signs, exact on operands beyond 2^53. */
import { applyRate, roundHalfEven } from './money.js';

describe('roundHalfEven', () => {
  it.each([
    [5, 2, 2], // 2.5 → 2 (even)
    [7, 2, 4], // 3.5 → 4 (even)
    [1, 2, 0], // 0.5 → 0
    [3, 2, 2], // 1.5 → 2
    [9, 2, 4], // 4.5 → 4
    [11, 2, 6], // 5.5 → 6
    [249, 100, 2], // 2.49 → 2
    [251, 100, 3], // 2.51 → 3
    [250, 100, 2], // 2.50 → 2
    [350, 100, 4], // 3.50 → 4
    [0, 7, 0],
    [10, 5, 2],
  ])('%d / %d → %d', (n, d, expected) => {
    expect(roundHalfEven(n, d)).toBe(expected);
  });

  it('is symmetric for negative values (ties still go to even)', () => {
    expect(roundHalfEven(-5, 2)).toBe(-2);
    expect(roundHalfEven(-7, 2)).toBe(-4);
    expect(roundHalfEven(5, -2)).toBe(-2);
    expect(roundHalfEven(-5, -2)).toBe(2);
    expect(roundHalfEven(-251, 100)).toBe(-3);
  });

  it('is exact when amount × bps exceeds 2^53', () => {
    const amount = Number.MAX_SAFE_INTEGER; // 9007199254740991
    // × 500 / 10000 = 450359962737049.55 → …050 (not a tie: .55 rounds up)
    expect(roundHalfEven(BigInt(amount) * 500n, 10_000n)).toBe(450359962737050);
    // 9007199254740990 × 5000 / 10000 = 4503599627370495 exactly
    expect(applyRate(9007199254740990, 5000)).toBe(4503599627370495);
    // 9007199254740991 × 5000 / 10000 = 4503599627370495.5 → …496 (tie to even)
    expect(applyRate(9007199254740991, 5000)).toBe(4503599627370496);
    // 9007199254740989 × 5000 / 10000 = 4503599627370494.5 → …494 (tie to even)
    expect(applyRate(9007199254740989, 5000)).toBe(4503599627370494);
  });

  it('rounds rate ties both ways (a float product would not)', () => {
    expect(applyRate(50, 500)).toBe(2); // 2.5 → 2
    expect(applyRate(70, 500)).toBe(4); // 3.5 → 4
    expect(applyRate(10, 500)).toBe(0); // 0.5 → 0
    expect(applyRate(30, 500)).toBe(2); // 1.5 → 2
    expect(applyRate(10000, 500)).toBe(500);
    expect(applyRate(1, 10000)).toBe(1);
    expect(applyRate(12345, 0)).toBe(0);
  });

  it('refuses a zero denominator, fractional or unsafe numbers, and unsafe results', () => {
    expect(() => roundHalfEven(1, 0)).toThrow(RangeError);
    expect(() => roundHalfEven(1.5, 2)).toThrow(RangeError);
    expect(() => roundHalfEven(2 ** 53, 2)).toThrow(RangeError);
    expect(() => roundHalfEven(2n ** 60n, 1n)).toThrow(RangeError);
  });
});
