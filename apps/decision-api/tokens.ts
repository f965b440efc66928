/** Injection tokens for objects the app builds itself (config, database). */
export const APP_CONFIG = Symbol('APP_CONFIG');
export const DATABASE = Symbol('DATABASE');
