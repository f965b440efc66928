/**
 * Append-only tables refuse UPDATE, DELETE and TRUNCATE whatever code or operator runs against the database: the
 * catalogue (packs, bundles, decision types, releases), decisions, ledger entries, the audit log, activation history
 * and shadow evaluations. Row-level triggers stop UPDATE and DELETE; TRUNCATE fires no row trigger, so a
 * statement-level one stops it. (The earlier triggers covered UPDATE only, and ledger entries no TRUNCATE.)
 * A future data migration that must rewrite such rows disables the trigger for that statement explicitly.
 */
import { Migration } from '@mikro-orm/migrations';

export const APPEND_ONLY_TABLES = [
  'rule_packs',
  'policy_bundles',
  'releases',
  'decision_types',
  'decisions',
  'ledger_entries',
  'audit_log',
  'release_activations',
  'shadow_evaluations',
] as const;

export class Migration20261202100000_append_only extends Migration {
  override up(): void {
    this.addSql(`create function refuse_change() returns trigger language plpgsql as $$
      begin raise exception '% is append-only: % refused', tg_table_name, tg_op; end $$`);
    for (const t of APPEND_ONLY_TABLES) {
      this.addSql(`create trigger ${t}_append_only before update or delete on ${t} for each row execute function refuse_change()`);
      this.addSql(`create trigger ${t}_no_truncate before truncate on ${t} for each statement execute function refuse_change()`);
    }
    // Superseded by the triggers above.
    for (const t of ['rule_packs', 'policy_bundles', 'releases', 'decision_types']) this.addSql(`drop trigger ${t}_immutable on ${t}`);
    this.addSql('drop trigger ledger_entries_no_update on ledger_entries');
    this.addSql('drop function catalogue_immutable');
    this.addSql('drop function ledger_entries_append_only');
  }

  override down(): void {
    this.addSql(`create function ledger_entries_append_only() returns trigger language plpgsql as $$
      begin raise exception 'ledger_entries is append-only'; end $$`);
    this.addSql(`create trigger ledger_entries_no_update before update or delete on ledger_entries
      for each row execute function ledger_entries_append_only()`);
    this.addSql(`create function catalogue_immutable() returns trigger language plpgsql as $$
      begin raise exception '% rows are immutable', tg_table_name; end $$`);
    for (const t of ['rule_packs', 'policy_bundles', 'releases', 'decision_types']) {
      this.addSql(`create trigger ${t}_immutable before update on ${t} for each row execute function catalogue_immutable()`);
    }
    for (const t of APPEND_ONLY_TABLES) {
      this.addSql(`drop trigger ${t}_append_only on ${t}`);
      this.addSql(`drop trigger ${t}_no_truncate on ${t}`);
    }
    this.addSql('drop function refuse_change');
  }
}
