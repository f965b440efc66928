/** Data minimisation: how long a tenant's personal data is kept. */
export { parseTenantRetention, retentionCutoff, retentionDays, RETENTION_DAYS_RANGE, type RetentionPolicy } from './retention.js';
