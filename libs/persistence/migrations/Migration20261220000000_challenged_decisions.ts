/**
 * giftcard-challenge@1.1.0 (default@1.6.0) records each report under the entity `challenged` (the challenged
 * decision's id), and counts a pass only once per challenged decision by reading those rows (`passesReported`).
 * Reports made under 1.0.0 recorded no such row, so a pass reported before the switch would not be seen and the same
 * challenge could count a second time after it. This gives every stored giftcard-challenge@1.0.0 decision the row
 * 1.1.0 would have written: its id from the case (`challengedDecisionId`, which no type pseudonymizes) in the one
 * spelling 1.1.0 takes (a lower-case UUID; 1.0.0 took any text, and an id 1.1.0 refuses can never be reported again),
 * its time, outcome and keys from the decision's own history row. A purged case (no id left) is left alone. Reports a
 * tenant still makes under 1.0.0 after this (an activated release naming it) record none: README.
 *
 * The repeat guard looks a decision's rows up by id alone: with the tenant too, the planner walks the (tenant,
 * 'challenged') range of feature_events_lookup, which holds the rows this statement inserts, once per row (quadratic).
 */
import { Migration } from '@mikro-orm/migrations';

const ID = "lower(btrim(d.case_data ->> 'challengedDecisionId'))";
const UUID = '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';

export class Migration20261220000000_challenged_decisions extends Migration {
  override up(): void {
    // The device row: giftcard-challenge@1.0.0 requires deviceId, so each of its decisions has exactly one.
    this.addSql(`insert into feature_events (tenant, entity, key, source, kind, at, outcome, reasons, amount, attributes, keys, decision_id, created_at)
      select e.tenant, 'challenged', ${ID}, e.source, e.kind, e.at, e.outcome, e.reasons, e.amount, e.attributes,
             e.keys || jsonb_build_object('challenged', ${ID}), e.decision_id, e.created_at
        from feature_events e
        join decisions d on d.id = e.decision_id and d.tenant = e.tenant
       where e.source = 'decision' and e.kind = 'giftcard-challenge' and e.entity = 'device'
         and d.components ->> 'giftcard-challenge' = '1.0.0'
         and jsonb_typeof(d.case_data) = 'object' and ${ID} ~ '${UUID}'
         and not exists (select 1 from feature_events c where c.decision_id = e.decision_id and c.entity = 'challenged')`);
  }

  override down(): void {
    this.addSql(`delete from feature_events e using decisions d
      where e.entity = 'challenged' and e.source = 'decision' and e.kind = 'giftcard-challenge'
        and d.id = e.decision_id and d.tenant = e.tenant and d.components ->> 'giftcard-challenge' = '1.0.0'`);
  }
}
