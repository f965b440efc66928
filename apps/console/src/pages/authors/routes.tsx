/** The authors pages of the console (README "Console"). */
import type { ConsoleRoute } from '../../app/route.js';

export const authorsRoutes: ConsoleRoute[] = [];
