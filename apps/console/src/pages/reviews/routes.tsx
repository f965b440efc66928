/** The reviewers' pages of the console (README "Console"). */
import { lazy } from 'react';
import type { ConsoleRoute } from '../../app/route.js';

// Each page is its own chunk, loaded when first opened: the initial JavaScript is the frame and React.
const ReviewCase = lazy(() => import('./ReviewCase.js').then((m) => ({ default: m.ReviewCase })));
const ReviewQueue = lazy(() => import('./ReviewQueue.js').then((m) => ({ default: m.ReviewQueue })));

export const reviewsRoutes: ConsoleRoute[] = [
  { pattern: '/reviews', roles: ['reviewer', 'auditor'], nav: 'reviews.nav', render: (p) => <ReviewQueue {...p} /> },
  { pattern: '/reviews/:id', roles: ['reviewer', 'auditor'], render: (p) => <ReviewCase {...p} /> },
];
