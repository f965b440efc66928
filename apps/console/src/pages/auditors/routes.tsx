/** The auditors' pages of the console (README "Console"). */
import { lazy } from 'react';
import type { ConsoleRoute } from '../../app/route.js';

// Each page is its own chunk, loaded when first opened: the initial JavaScript is the frame and React.
const AuditLog = lazy(() => import('./AuditLog.js').then((m) => ({ default: m.AuditLog })));
const DecisionPage = lazy(() => import('./DecisionPage.js').then((m) => ({ default: m.DecisionPage })));
const DecisionSearch = lazy(() => import('./DecisionSearch.js').then((m) => ({ default: m.DecisionSearch })));
const LedgerAccount = lazy(() => import('./Ledger.js').then((m) => ({ default: m.LedgerAccount })));
const LedgerHome = lazy(() => import('./Ledger.js').then((m) => ({ default: m.LedgerHome })));

export const auditorsRoutes: ConsoleRoute[] = [
  { pattern: '/decisions', roles: ['auditor', 'service'], nav: 'auditors.nav.decisions', render: (p) => <DecisionSearch {...p} /> },
  { pattern: '/decisions/:id', roles: ['auditor', 'service', 'reviewer'], render: (p) => <DecisionPage {...p} /> },
  { pattern: '/audit', roles: ['auditor'], nav: 'auditors.nav.audit', render: (p) => <AuditLog {...p} /> },
  { pattern: '/ledger', roles: ['auditor'], nav: 'auditors.nav.ledger', render: (p) => <LedgerHome {...p} /> },
  { pattern: '/ledger/:accountId', roles: ['auditor'], render: (p) => <LedgerAccount {...p} /> },
];
