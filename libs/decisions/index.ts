/** Decisions: domain evaluation (refund), combining, releases. Plain TypeScript; no framework, no ORM. */
export * from './outcome.js';
export * from './release.js';
export * from './semver.js';
export * from './schema-validator.js';
export * from './file-component-source.js';
export * from './refund/refund-case.schema.js';
export * from './refund/refund-facts.js';
export * from './refund/refund-decider.js';
export * from './simulation.js';
export * from './content-hash.js';
export * from './tenant-component-source.js';
export * from './release-checks.js';
