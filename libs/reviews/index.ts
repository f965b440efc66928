/** The review queue's rules (claims, four-eyes, resolutions) and the decision a resolution leaves. Plain TypeScript. */
export * from './review.js';
export * from './resolution.js';
