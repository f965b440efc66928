export * from './actor.js';
export * from './chain.js';
