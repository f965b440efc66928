import { minorDigits, money, moneyInput, parseMoney } from './format.js';

describe('money in minor units, by the currency’s ISO 4217 exponent (as the service reads it)', () => {
  it('knows the exponent of currencies beyond the common ones', () => {
    expect([minorDigits('EUR'), minorDigits('JPY'), minorDigits('KWD'), minorDigits('XOF'), minorDigits('UGX')]).toEqual([2, 0, 3, 0, 0]);
    expect(minorDigits('NOPE1')).toBeUndefined();
  });

  it('formats minor units with the currency’s decimals', () => {
    expect(money(1250, 'EUR')).toMatch(/12\.50/);
    expect(money(5000, 'JPY')).toMatch(/5,000/);
    expect(money(5000, 'JPY')).not.toMatch(/50\.00/);
    expect(money(1234, 'KWD')).toMatch(/1\.234/);
    expect(money(2500, 'XOF')).toMatch(/2,500/);
  });

  it('never guesses a currency: without one, the bare minor units', () => {
    expect(money(1250, null)).toBe('1,250');
    expect(money(1250, 'NOPE1')).toBe('1,250 NOPE1');
  });

  it('prefills what parseMoney reads back as the same minor units', () => {
    for (const [minor, currency, text] of [[1250, 'EUR', '12.50'], [5, 'EUR', '0.05'], [5000, 'JPY', '5000'], [1234, 'KWD', '1.234'], [7, 'BHD', '0.007']] as const) {
      expect(moneyInput(minor, currency)).toBe(text);
      expect(parseMoney(text, currency)).toBe(minor);
    }
  });

  it('refuses more decimals than the currency has', () => {
    expect(parseMoney('50.5', 'JPY')).toBeUndefined();
    expect(parseMoney('1.2345', 'KWD')).toBeUndefined();
    expect(parseMoney('12.5', 'EUR')).toBe(1250);
  });
});
