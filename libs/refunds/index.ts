/** Refunds as objects with a lifecycle: states, transitions, the order's refunded total. Plain TypeScript. */
export * from './lifecycle.js';
export * from './order-totals.js';
