/**
 * Refund-source features read the decision's own history rows, without a join at decision time (issue 10's bound).
 *
 * Until now a refund event was a decision's feature_events row joined to its refund (refunds_by_decision) and to each of
 * that refund's transitions (Migration20261206000000): the goodwill feature's three-way join cost 0.47–0.59 ms of
 * PostgreSQL per decision with custom plans, against 0.11 ms for a feature over the rows alone (docs/benchmarks.md,
 * 2026-12-04). Each row of a decision that created a refund now carries that refund's states in the order it entered
 * them (`refund_states`, one element per transition, so a refund that failed and was retried counts each entry) and its
 * approved amount as of its last transition (`refund_amount`: what the join read as it stands, since the approved
 * amount only changes with a transition). The same events, read from one table through the index every feature uses.
 *
 * Who keeps them: the refund decision's write puts the first state on the rows it inserts, in the same statement, and
 * names its decision for the transaction (`features.refund_states_written`, set by its read) so that this trigger
 * skips that one entry transition; every other transition (reviews, payouts, a writer of the release before during a
 * rolling deploy, another refund in the same transaction) reaches the rows through this trigger. The trigger's
 * function plans its statement for each call (`set plan_cache_mode`): the refund decision's write runs with generic
 * plans, and a generic plan of this update made on a young database (a sequential scan of an empty feature_events)
 * would stay cached as the table grows.
 */
import { Migration } from '@mikro-orm/migrations';

export class Migration20261208000000_refund_states_on_history extends Migration {
  override up(): void {
    // No transition may commit between the backfill's snapshot and the trigger's creation (it would reach neither):
    // writers of refund_transitions wait for this migration's commit.
    this.addSql('lock table refund_transitions in share row exclusive mode');
    // A decision creates one refund at most (its write inserts one): the rows carry one refund's states and amount.
    this.addSql('create unique index refunds_one_per_decision on refunds (tenant, decision_id) where decision_id is not null');
    this.addSql('drop index if exists refunds_by_decision');
    this.addSql('alter table feature_events add column refund_states text[], add column refund_amount bigint');
    this.addSql(`update feature_events e set refund_states = s.states, refund_amount = s.approved_amount
      from (select r.tenant, r.decision_id, r.approved_amount, array_agg(t.to_state order by t.at, t.id) as states
              from refunds r join refund_transitions t on t.tenant = r.tenant and t.refund_id = r.refund_id
             where r.decision_id is not null
             group by r.tenant, r.refund_id, r.decision_id, r.approved_amount) s
     where e.tenant = s.tenant and e.decision_id = s.decision_id and e.source = 'decision'`);
    // The entry transition (from no state) sets the first state only where none is there: a writer that put it on the
    // rows itself, in the same statement, is not counted twice even if it did not say so.
    this.addSql(`create function feature_events_refund_state() returns trigger language plpgsql
      set plan_cache_mode = force_custom_plan as $$
      begin
        update feature_events e
           set refund_states = coalesce(e.refund_states, '{}') || new.to_state, refund_amount = r.approved_amount
          from refunds r
         where r.tenant = new.tenant and r.refund_id = new.refund_id
           and e.tenant = r.tenant and e.decision_id = r.decision_id and e.source = 'decision'
           and (new.from_state is not null or e.refund_states is null);
        return null;
      end $$`);
    // The condition in WHEN: the entry transition of the decision whose write put its state on the rows (it names
    // that decision for its transaction, features.refund_states_written) does not even call the function.
    this.addSql(`create trigger refund_transitions_feature_history after insert on refund_transitions
      for each row when (new.from_state is not null or new.decision_id is null
                         or new.decision_id::text is distinct from current_setting('features.refund_states_written', true))
      execute function feature_events_refund_state()`);
  }

  override down(): void {
    this.addSql('drop trigger if exists refund_transitions_feature_history on refund_transitions');
    this.addSql('drop function if exists feature_events_refund_state');
    this.addSql('alter table feature_events drop column if exists refund_states, drop column if exists refund_amount');
    this.addSql('create index refunds_by_decision on refunds (tenant, decision_id)');
    this.addSql('drop index if exists refunds_one_per_decision');
  }
}
