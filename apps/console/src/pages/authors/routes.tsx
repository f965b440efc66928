/** The policy authors' pages of the console (README "Console"). */
import { lazy } from 'react';
import type { ConsoleRoute } from '../../app/route.js';

// Each page is its own chunk, loaded when first opened: the initial JavaScript is the frame and React.
const CaseCompare = lazy(() => import('./CaseCompare.js').then((m) => ({ default: m.CaseCompare })));
const DiffPage = lazy(() => import('./DiffPage.js').then((m) => ({ default: m.DiffPage })));
const ReleasePage = lazy(() => import('./ReleasePage.js').then((m) => ({ default: m.ReleasePage })));
const Releases = lazy(() => import('./Releases.js').then((m) => ({ default: m.Releases })));
const Shadow = lazy(() => import('./Shadow.js').then((m) => ({ default: m.Shadow })));
const SimulationPage = lazy(() => import('./SimulationPage.js').then((m) => ({ default: m.SimulationPage })));
const Simulations = lazy(() => import('./Simulations.js').then((m) => ({ default: m.Simulations })));

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
