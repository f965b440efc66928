/** Every page of the console, by role area; the menu shows the list pages the signed-in key's roles may open. */
import type { ConsoleRoute } from './route.js';
import { reviewsRoutes } from '../pages/reviews/routes.js';
import { authorsRoutes } from '../pages/authors/routes.js';
import { auditorsRoutes } from '../pages/auditors/routes.js';

export const routes: ConsoleRoute[] = [...reviewsRoutes, ...authorsRoutes, ...auditorsRoutes];
