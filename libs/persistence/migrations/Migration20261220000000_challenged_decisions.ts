/**
 * giftcard-challenge@1.1.0 (default@1.6.0) records each report under the entity `challenged` (the challenged
 * decision's id), and counts a pass only once per challenged decision by reading those rows (`passesReported`).
 * Reports made under 1.0.0 recorded no such row, so a pass reported before the switch would not be seen and the same
 * challenge could count a second time after it. This gives every stored giftcard-challenge decision the row 1.1.0
 * would have written: its id from the case (`challengedDecisionId`, which no type pseudonymizes), its time, outcome
 * and keys from the decision's own history row. A purged case (no id left) and a decision already recorded are left
 * alone. Reports a tenant still makes under 1.0.0 after this (an activated release naming it) record none: README.
 */
import { Migration } from '@mikro-orm/migrations';

export class Migration20261220000000_challenged_decisions extends Migration {
  override up(): void {
    // The device row: giftcard-challenge@1.0.0 requires deviceId, so each of its decisions has exactly one.
    this.addSql(`insert into feature_events (tenant, entity, key, source, kind, at, outcome, reasons, amount, attributes, keys, decision_id, created_at)
      select e.tenant, 'challenged', d.case_data ->> 'challengedDecisionId', e.source, e.kind, e.at, e.outcome, e.reasons, e.amount, e.attributes,
             e.keys || jsonb_build_object('challenged', d.case_data ->> 'challengedDecisionId'), e.decision_id, e.created_at
        from feature_events e
        join decisions d on d.id = e.decision_id and d.tenant = e.tenant
       where e.source = 'decision' and e.kind = 'giftcard-challenge' and e.entity = 'device'
         and coalesce(d.case_data ->> 'challengedDecisionId', '') <> ''
         and length(d.case_data ->> 'challengedDecisionId') <= 200
         and not exists (select 1 from feature_events c where c.tenant = e.tenant and c.decision_id = e.decision_id and c.entity = 'challenged')`);
  }
}
