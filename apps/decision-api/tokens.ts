/** Injection tokens for objects the app builds itself (config, database) and for interfaces (clock, id factory). */
export const APP_CONFIG = Symbol('APP_CONFIG');
export const DATABASE = Symbol('DATABASE');
/** Where packs, bundles and releases are read from (the repository layout). */
export const CONTENT_SOURCE = Symbol('CONTENT_SOURCE');
/** The record clock (libs/persistence Clock): createdAt and other record times, never business time. */
export const CLOCK = Symbol('CLOCK');
/** Record ids (libs/persistence IdFactory): UUIDv7. */
export const ID_FACTORY = Symbol('ID_FACTORY');
/** What one policy evaluation may spend (libs/policies EvaluationBudget), from the configuration. */
export const POLICY_BUDGET = Symbol('POLICY_BUDGET');
/** Who pays approved refunds (libs/payments PaymentProvider), built from the configuration. */
export const PAYMENT_PROVIDER = Symbol('PAYMENT_PROVIDER');
