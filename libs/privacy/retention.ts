/**
 * How long a tenant's stored cases are kept (RETENTION_DAYS, RETENTION_DAYS_TENANTS): after that the purge removes a
 * decision's case and trace and keeps what statistics and audit need (outcome, reasons, release, outputs).
 */

/** Days, 1 to 100 years: a retention of 0 would purge a decision as it is made. */
export const RETENTION_DAYS_RANGE = { min: 1, max: 36_500 } as const;

/** The tenant names API keys may be issued for (admin.controller.ts). */
const TENANT = /^[a-z0-9][a-z0-9_-]{0,62}$/;

const DAY_MS = 86_400_000;

export interface RetentionPolicy {
  /** Every tenant not listed in `tenants`. */
  defaultDays: number;
  tenants: Readonly<Record<string, number>>;
}

/**
 * `acme=30,globex=90` (spaces around entries allowed; empty: no overrides). Each bad entry is one problem naming it,
 * so a boot names all of them at once.
 */
export function parseTenantRetention(raw: string): { tenants: Record<string, number>; problems: string[] } {
  const tenants: Record<string, number> = Object.create(null) as Record<string, number>;
  const problems: string[] = [];
  for (const entry of raw.split(',').map((e) => e.trim())) {
    if (entry === '') continue;
    const m = /^([^=\s]+)\s*=\s*(\S+)$/.exec(entry);
    if (!m) {
      problems.push(`"${entry}" is not tenant=days`);
      continue;
    }
    const [, tenant, days] = m as unknown as [string, string, string];
    const n = Number(days);
    if (!TENANT.test(tenant)) problems.push(`"${entry}": "${tenant}" is not a tenant name`);
    else if (!/^[0-9]+$/.test(days) || !Number.isInteger(n) || n < RETENTION_DAYS_RANGE.min || n > RETENTION_DAYS_RANGE.max) {
      problems.push(`"${entry}": days must be an integer from ${RETENTION_DAYS_RANGE.min} to ${RETENTION_DAYS_RANGE.max}`);
    } else if (tenant in tenants) problems.push(`"${entry}": ${tenant} is listed twice`);
    else tenants[tenant] = n;
  }
  return { tenants, problems };
}

/** The tenant's retention in days. */
export function retentionDays(policy: RetentionPolicy, tenant: string): number {
  return Object.hasOwn(policy.tenants, tenant) ? policy.tenants[tenant]! : policy.defaultDays;
}

/** The instant before which the tenant's records are past retention at `now`. */
export function retentionCutoff(policy: RetentionPolicy, tenant: string, now: Date): Date {
  return new Date(now.getTime() - retentionDays(policy, tenant) * DAY_MS);
}
