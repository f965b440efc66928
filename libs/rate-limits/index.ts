/** Rate limits shared by every instance: fixed-window budgets in a shared store, leased in batches. */
export * from './window.js';
export * from './leased-limiter.js';
