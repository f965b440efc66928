/** The auditors' pages of the console (README "Console"). */
import type { ConsoleRoute } from '../../app/route.js';
import { AuditLog } from './AuditLog.js';
import { DecisionPage } from './DecisionPage.js';
import { DecisionSearch } from './DecisionSearch.js';
import { LedgerAccount } from './Ledger.js';
import { LedgerHome } from './Ledger.js';

export const auditorsRoutes: ConsoleRoute[] = [
  { pattern: '/decisions', roles: ['auditor', 'service'], nav: 'auditors.nav.decisions', render: (p) => <DecisionSearch {...p} /> },
  { pattern: '/decisions/:id', roles: ['auditor', 'service', 'reviewer'], render: (p) => <DecisionPage {...p} /> },
  { pattern: '/audit', roles: ['auditor'], nav: 'auditors.nav.audit', render: (p) => <AuditLog {...p} /> },
  { pattern: '/ledger', roles: ['auditor'], nav: 'auditors.nav.ledger', render: (p) => <LedgerHome {...p} /> },
  { pattern: '/ledger/:accountId', roles: ['auditor'], render: (p) => <LedgerAccount {...p} /> },
];
