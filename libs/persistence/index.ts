/** Persistence: the MikroORM store (PostgreSQL or PGlite), its migrations and the repositories over it. */
export * from './database.js';
export * from './database-faults.js';
export * from './database-probe.js';
export * from './entities.js';
export * from './ids.js';
export * from './clock.js';
export * from './api-keys.repository.js';
export * from './idempotency.repository.js';
export * from './decisions.repository.js';
export * from './audit.repository.js';
export * from './ledger.store.js';
export * from './simulations.repository.js';
export * from './catalogue.repository.js';
export * from './release-activations.repository.js';
export * from './release-notifications.js';
