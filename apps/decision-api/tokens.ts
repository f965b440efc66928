/** Injection tokens for objects the app builds itself (config, database). */
export const APP_CONFIG = Symbol('APP_CONFIG');
export const DATABASE = Symbol('DATABASE');
/** Where packs, bundles and releases are read from (the repository layout). */
export const CONTENT_SOURCE = Symbol('CONTENT_SOURCE');
