/**
 * Refund-source features are read at query time, through the refunds and their transitions, instead of copied.
 *
 * Until now a trigger on refund_transitions copied the creating decision's feature_events rows (one per entity key)
 * on every transition: a default refund decision that was approved and paid out wrote its history rows four times
 * (decision, APPROVED, PROCESSING, SUCCEEDED), and those copies were most of what features cost a decision
 * (docs/benchmarks.md, issues 10 and 11). A refund-source feature now joins the decision's own rows to its refund
 * (refunds_by_decision) and that refund's transitions (refund_transitions_by_refund): the same events (one per
 * transition into a listed state, at the decision's business time, with its keys and attributes), nothing copied.
 * What changes, knowingly: a summed amount is the refund's approved amount as it stands (the requested amount until
 * one is approved), where a copy froze it at the transition; and retention and erasure of the decision's rows now
 * remove its refund events with them, as nothing else refers to them.
 */
import { Migration } from '@mikro-orm/migrations';

export class Migration20261206000000_refund_features_at_query_time extends Migration {
  override up(): void {
    this.addSql('drop trigger if exists refund_transitions_feature_events on refund_transitions');
    this.addSql('drop function if exists feature_events_from_refund_transition');
    this.addSql(`delete from feature_events where source = 'refund'`);
    this.addSql('alter table feature_events drop constraint if exists feature_events_source_check');
    this.addSql(`alter table feature_events add constraint feature_events_source_check check (source in ('decision', 'ledger'))`);
    this.addSql('create index refunds_by_decision on refunds (tenant, decision_id)');
  }

  override down(): void {
    this.addSql('drop index if exists refunds_by_decision');
    this.addSql('alter table feature_events drop constraint if exists feature_events_source_check');
    this.addSql(`alter table feature_events add constraint feature_events_source_check check (source in ('decision', 'refund', 'ledger'))`);
    // The copying trigger as Migration20261203020000_feature_history made it; rows are not copied back.
    this.addSql(`create function feature_events_from_refund_transition() returns trigger language plpgsql as $$
      begin
        insert into feature_events (tenant, entity, key, source, kind, at, outcome, reasons, amount, attributes, keys, decision_id, created_at)
        select e.tenant, e.entity, e.key, 'refund', new.to_state, e.at, null, '{}',
               case when r.approved_amount > 0 then r.approved_amount else e.amount end, e.attributes, e.keys, e.decision_id, new.at
          from refunds r
          join feature_events e on e.tenant = r.tenant and e.decision_id = r.decision_id and e.source = 'decision'
         where r.tenant = new.tenant and r.refund_id = new.refund_id;
        return null;
      end $$`);
    this.addSql(`create trigger refund_transitions_feature_events after insert on refund_transitions
      for each row execute function feature_events_from_refund_transition()`);
  }
}
