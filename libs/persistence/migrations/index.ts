/** Every migration, in order. Listed explicitly so the compiled service and the tests need no file discovery. */
import { Migration20261122000000_initial } from './Migration20261122000000_initial.js';
import { Migration20261122010000_ledger } from './Migration20261122010000_ledger.js';
import { Migration20261122020000_releases } from './Migration20261122020000_releases.js';
import { Migration20261122030000_simulations } from './Migration20261122030000_simulations.js';
import { Migration20261202000000_decision_types } from './Migration20261202000000_decision_types.js';
import { Migration20261202100000_append_only } from './Migration20261202100000_append_only.js';
import { Migration20261202200000_refunds } from './Migration20261202200000_refunds.js';
import { Migration20261202210000_review_queue } from './Migration20261202210000_review_queue.js';
import { Migration20261202220000_payouts } from './Migration20261202220000_payouts.js';
import { Migration20261202230000_events } from './Migration20261202230000_events.js';
import { Migration20261202233000_keys_integrity } from './Migration20261202233000_keys_integrity.js';
import { Migration20261203000000_payout_doubt } from './Migration20261203000000_payout_doubt.js';
import { Migration20261203010000_deferred_clawbacks } from './Migration20261203010000_deferred_clawbacks.js';
import { Migration20261203020000_feature_history } from './Migration20261203020000_feature_history.js';
import { Migration20261203030000_retention } from './Migration20261203030000_retention.js';
import { Migration20261203031000_erasure } from './Migration20261203031000_erasure.js';
import { Migration20261203040000_erasure_guard } from './Migration20261203040000_erasure_guard.js';
import { Migration20261204010000_ledger_read } from './Migration20261204010000_ledger_read.js';
import { Migration20261205000000_audit_chain } from './Migration20261205000000_audit_chain.js';
import { Migration20261205100000_rate_limit_windows } from './Migration20261205100000_rate_limit_windows.js';
import { Migration20261205200000_audit_chain_fixes } from './Migration20261205200000_audit_chain_fixes.js';
import { Migration20261206000000_refund_features_at_query_time } from './Migration20261206000000_refund_features_at_query_time.js';

export const migrationsList = [
  { name: 'Migration20261122000000_initial', class: Migration20261122000000_initial },
  { name: 'Migration20261122010000_ledger', class: Migration20261122010000_ledger },
  { name: 'Migration20261122020000_releases', class: Migration20261122020000_releases },
  { name: 'Migration20261122030000_simulations', class: Migration20261122030000_simulations },
  { name: 'Migration20261202000000_decision_types', class: Migration20261202000000_decision_types },
  { name: 'Migration20261202100000_append_only', class: Migration20261202100000_append_only },
  { name: 'Migration20261202200000_refunds', class: Migration20261202200000_refunds },
  { name: 'Migration20261202210000_review_queue', class: Migration20261202210000_review_queue },
  { name: 'Migration20261202220000_payouts', class: Migration20261202220000_payouts },
  { name: 'Migration20261202230000_events', class: Migration20261202230000_events },
  { name: 'Migration20261202233000_keys_integrity', class: Migration20261202233000_keys_integrity },
  { name: 'Migration20261203000000_payout_doubt', class: Migration20261203000000_payout_doubt },
  { name: 'Migration20261203010000_deferred_clawbacks', class: Migration20261203010000_deferred_clawbacks },
  { name: 'Migration20261203020000_feature_history', class: Migration20261203020000_feature_history },
  { name: 'Migration20261203030000_retention', class: Migration20261203030000_retention },
  { name: 'Migration20261203031000_erasure', class: Migration20261203031000_erasure },
  { name: 'Migration20261203040000_erasure_guard', class: Migration20261203040000_erasure_guard },
  { name: 'Migration20261204010000_ledger_read', class: Migration20261204010000_ledger_read },
  { name: 'Migration20261205000000_audit_chain', class: Migration20261205000000_audit_chain },
  { name: 'Migration20261205100000_rate_limit_windows', class: Migration20261205100000_rate_limit_windows },
  { name: 'Migration20261205200000_audit_chain_fixes', class: Migration20261205200000_audit_chain_fixes },
  { name: 'Migration20261206000000_refund_features_at_query_time', class: Migration20261206000000_refund_features_at_query_time },
];
