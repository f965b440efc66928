/**
 * A refund decision's `answer` keeps its trace's first entry when that is the platform's refunded total and it fired
 * (decisions.repository storedAnswer): a simulation's replay re-applies it without parsing the document. Answers
 * written before that (since Migration20261206010000) lack it, and such a decision would be replayed on the case's own
 * refunded total, a change that is not one. This fills the entry in from each one's own document.
 *
 * `answer` is a copy of part of the document, which stays as it was: the decisions' append-only trigger (which refuses
 * any change to `answer`) is lifted for this statement alone, inside the migration's transaction. The match reads the
 * document's text, as the service wrote it (JSON.stringify of refundedTotalTrace: its keys in that order, first in the
 * trace), so only those rows are parsed; purged and erased rows are left alone (a replay reads neither).
 */
import { Migration } from '@mikro-orm/migrations';

export class Migration20261218000000_answer_platform_entry extends Migration {
  override up(): void {
    this.addSql('alter table decisions disable trigger decisions_append_only');
    this.addSql(`update decisions
      set answer = (answer::jsonb || jsonb_build_object('trace', jsonb_build_array((document->'trace'->0)::jsonb)))::json
      where answer is not null and purged_at is null and erased_at is null
        and document::text like '%"trace":[{"source":"platform@refunds","rule":"order.refundedAmount","fired":true,%'
        and (answer->'trace') is null`);
    this.addSql('alter table decisions enable trigger decisions_append_only');
  }

  override down(): void {
    this.addSql('alter table decisions disable trigger decisions_append_only');
    this.addSql(`update decisions set answer = (answer::jsonb - 'trace')::json where answer is not null and (answer->'trace') is not null`);
    this.addSql('alter table decisions enable trigger decisions_append_only');
  }
}
