/** Events: types, envelope, webhook signatures and the retry schedule (framework-free). */
export * from './events.js';
export * from './signature.js';
export * from './backoff.js';
