/** Payouts: the payment provider port and its adapters, retry decisions, and the ledger clawback of a paid refund. Framework-free. */
export * from './provider.js';
export * from './simulated.js';
export * from './http.js';
export * from './execution.js';
export * from './clawback.js';
