/** The reviewers' pages of the console (README "Console"). */
import type { ConsoleRoute } from '../../app/route.js';
import { ReviewCase } from './ReviewCase.js';
import { ReviewQueue } from './ReviewQueue.js';

export const reviewsRoutes: ConsoleRoute[] = [
  { pattern: '/reviews', roles: ['reviewer', 'auditor'], nav: 'reviews.nav', render: (p) => <ReviewQueue {...p} /> },
  { pattern: '/reviews/:id', roles: ['reviewer', 'auditor'], render: (p) => <ReviewCase {...p} /> },
];
