/**
 * A refund decision's `answer` keeps its trace's first entry when that is the platform's refunded total and it fired
 * (decisions.repository storedAnswer): a simulation's replay re-applies it without parsing the document. Answers
 * written before that (since Migration20261206010000) lack it, and such a decision would be replayed on the case's own
 * refunded total, a change that is not one. This fills the entry in from each one's own document.
 *
 * `answer` is a copy of part of the document, which stays as it was. The decisions' append-only trigger now allows
 * exactly this change and nothing else: `answer` without a trace gets the document's first trace entry, when that is
 * the platform's fired refunded total, every other column equal. Replacing the trigger's function takes no lock on the
 * table (disabling the trigger would block every decision written meanwhile), and the update locks only the rows it
 * changes. The LIKE on the document's text (as the service wrote it: refundedTotalTrace's keys in that order) keeps
 * the other rows from being parsed; the JSON paths then check the entry is the trace's first. Purged and erased rows are
 * left alone (a replay reads neither).
 */
import { Migration } from '@mikro-orm/migrations';
import { ERASURE_BRANCH, PURGE_BRANCH } from './Migration20261203040000_erasure_guard.js';

const ANSWER_BRANCH = `
        if tg_op = 'UPDATE' and old.answer is not null and (old.answer -> 'trace') is null
           and to_jsonb(new) - 'answer' = to_jsonb(old) - 'answer'
           and json_extract_path_text(old.document, 'trace', '0', 'source') = 'platform@refunds'
           and json_extract_path_text(old.document, 'trace', '0', 'fired') = 'true'
           and new.answer::jsonb = old.answer::jsonb || jsonb_build_object('trace', jsonb_build_array((old.document -> 'trace' -> 0)::jsonb)) then
          return new;
        end if;`;

const trigger = (branches: string) => `create or replace function decisions_append_or_purge() returns trigger language plpgsql as $$
      begin${branches}
        raise exception '% is append-only: % refused', tg_table_name, tg_op;
      end $$`;

export class Migration20261218000000_answer_platform_entry extends Migration {
  override up(): void {
    this.addSql(trigger(PURGE_BRANCH + ERASURE_BRANCH + ANSWER_BRANCH));
    this.addSql(`update decisions
      set answer = (answer::jsonb || jsonb_build_object('trace', jsonb_build_array((document -> 'trace' -> 0)::jsonb)))::json
      where answer is not null and purged_at is null and erased_at is null and (answer -> 'trace') is null
        and document::text like '%"trace":[{"source":"platform@refunds","rule":"order.refundedAmount","fired":true,%'
        and json_extract_path_text(document, 'trace', '0', 'source') = 'platform@refunds'
        and json_extract_path_text(document, 'trace', '0', 'fired') = 'true'`);
  }

  // The filled-in entries stay: answers written since carry the same entry and cannot be told apart from them, and
  // taking it from all of them would bring back the replay this fixed. Only the trigger goes back.
  override down(): void {
    this.addSql(trigger(PURGE_BRANCH + ERASURE_BRANCH));
  }
}
