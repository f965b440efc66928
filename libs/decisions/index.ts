/** Decisions: domain evaluation (refund), combining, releases. Plain TypeScript; no framework, no ORM. */
export * from './outcome.js';
export * from './release.js';
export * from './release-manifest.schema.js';
export * from './schema-validator.js';
export * from './file-component-source.js';
export * from './simulation.js';
export * from './content-hash.js';
export * from './tenant-component-source.js';
export * from './release-checks.js';
export * from './types/decision-type.js';
export * from './types/derivations.js';
export * from './types/pipeline.js';
export * from './limits.js';
export * from './types/review.js';
export * from './types/features.js';
export * from './types/personal-data.js';
export * from './types/canonical-forms.js';
