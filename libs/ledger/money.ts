/** Integer money: half-even rounding on exact BigInt arithmetic, so no float ever touches an amount. */

/**
 * `numerator / denominator` rounded to the nearest integer, ties to the even neighbour
 * (banker's rounding: 2.5 → 2, 3.5 → 4, -2.5 → -2). Exact for any size of operands: the
 * division happens on BigInt, so `amount × bps` may exceed 2^53 in the numerator.
 * @throws RangeError for a zero denominator, a non-integer or unsafe number operand, or a result beyond Number.MAX_SAFE_INTEGER.
 */
export function roundHalfEven(numerator: number | bigint, denominator: number | bigint): number {
  let n = toBigInt(numerator, 'numerator');
  let d = toBigInt(denominator, 'denominator');
  if (d === 0n) throw new RangeError('roundHalfEven: denominator must not be zero');
  if (d < 0n) {
    n = -n;
    d = -d;
  }
  const negative = n < 0n;
  const abs = negative ? -n : n;
  let q = abs / d;
  const twiceRemainder = (abs % d) * 2n;
  if (twiceRemainder > d || (twiceRemainder === d && q % 2n === 1n)) q += 1n;
  const result = negative ? -q : q;
  if (result > BigInt(Number.MAX_SAFE_INTEGER) || result < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw new RangeError(`roundHalfEven: result ${result} is beyond Number.MAX_SAFE_INTEGER`);
  }
  return Number(result);
}

/** The reward a rate earns on an amount: `amount × bps / 10000`, rounded half-even. */
export function applyRate(amount: number, bps: number): number {
  return roundHalfEven(BigInt(amount) * BigInt(bps), 10_000n);
}

function toBigInt(value: number | bigint, what: string): bigint {
  if (typeof value === 'bigint') return value;
  if (!Number.isSafeInteger(value)) throw new RangeError(`roundHalfEven: ${what} must be a safe integer, got ${value}`);
  return BigInt(value);
}
