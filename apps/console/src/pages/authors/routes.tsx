/** The policy authors' pages of the console (README "Console"). */
import type { ConsoleRoute } from '../../app/route.js';
import { CaseCompare } from './CaseCompare.js';
import { DiffPage } from './DiffPage.js';
import { ReleasePage } from './ReleasePage.js';
import { Releases } from './Releases.js';
import { Shadow } from './Shadow.js';
import { SimulationPage } from './SimulationPage.js';
import { Simulations } from './Simulations.js';

const READERS = ['author', 'publisher', 'auditor'];

export const authorsRoutes: ConsoleRoute[] = [
  { pattern: '/releases', roles: READERS, nav: 'authors.nav.releases', render: (p) => <Releases {...p} /> },
  { pattern: '/releases/diff', roles: READERS, render: (p) => <DiffPage {...p} /> },
  { pattern: '/releases/:name/:version', roles: READERS, render: (p) => <ReleasePage {...p} /> },
  { pattern: '/simulations', roles: ['author'], nav: 'authors.nav.simulations', render: (p) => <Simulations {...p} /> },
  { pattern: '/simulations/:id', roles: ['author'], render: (p) => <SimulationPage {...p} /> },
  { pattern: '/simulations/:id/cases/:caseRef', roles: ['author'], render: (p) => <CaseCompare {...p} /> },
  { pattern: '/shadow', roles: READERS, nav: 'authors.nav.shadow', render: (p) => <Shadow {...p} /> },
];
