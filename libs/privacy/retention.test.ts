import { parseTenantRetention, retentionCutoff, retentionDays } from './index.js';

describe('retention', () => {
  it('parses tenant=days entries, spaces allowed, empty meaning none', () => {
    expect(parseTenantRetention('acme=30, globex = 90')).toEqual({ tenants: { acme: 30, globex: 90 }, problems: [] });
    expect(parseTenantRetention('')).toEqual({ tenants: {}, problems: [] });
    expect(parseTenantRetention(' , acme=1,')).toEqual({ tenants: { acme: 1 }, problems: [] });
  });

  it('names every bad entry', () => {
    const { tenants, problems } = parseTenantRetention('acme=0,Bad=5,globex,initech=x,umbrella=36501,acme2=7,acme2=8,ok=1.5');
    expect(tenants).toEqual({ acme2: 7 });
    expect(problems).toEqual([
      '"acme=0": days must be an integer from 1 to 36500',
      '"Bad=5": "Bad" is not a tenant name',
      '"globex" is not tenant=days',
      '"initech=x": days must be an integer from 1 to 36500',
      '"umbrella=36501": days must be an integer from 1 to 36500',
      '"acme2=8": acme2 is listed twice',
      '"ok=1.5": days must be an integer from 1 to 36500',
    ]);
  });

  it("answers a tenant's retention and the cutoff it gives at a time", () => {
    const policy = { defaultDays: 400, tenants: parseTenantRetention('acme=30').tenants };
    expect(retentionDays(policy, 'acme')).toBe(30);
    expect(retentionDays(policy, 'globex')).toBe(400);
    // Not an inherited property of a plain object.
    expect(retentionDays(policy, 'constructor')).toBe(400);
    const now = new Date('2026-12-31T12:00:00.000Z');
    expect(retentionCutoff(policy, 'acme', now).toISOString()).toBe('2026-12-01T12:00:00.000Z');
    expect(retentionCutoff(policy, 'globex', now).toISOString()).toBe('2025-11-26T12:00:00.000Z');
  });
});
