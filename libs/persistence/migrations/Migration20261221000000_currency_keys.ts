/**
 * giftcard-redemption@1.3.0 (default@1.7.0) sums a day's redeemed amount per card and currency and per customer and
 * currency, and counts the currencies a card and a customer redeemed in, over the composite entities `cardCurrency`
 * and `customerCurrency`. Redemptions stored under earlier versions recorded neither, so after the switch a card's
 * day would start from nothing, and a backtest (features recomputed) of 1.3.0 over older redemptions would see no
 * amount or currency at all. This gives every stored redemption of an earlier version what 1.3.0 would have recorded:
 * both keys in each of its rows' `keys` (what the distinct-currency counts read) and a row under each entity (what the
 * amount sums read), built from its `card` and `customer` keys (already pseudonyms) and the case's currency, in the
 * text `entityKey` gives a composite (its parts as JSON, SHA-256 beyond 200 characters). A purged case (no currency
 * left) is left alone; so is a decision that has the rows already.
 */
import { Migration } from '@mikro-orm/migrations';

const EARLIER = `('1.0.0', '1.1.0', '1.2.0')`;
/** A composite key as features.ts's entityKey writes it: JSON.stringify([part, currency]), hashed past 200 characters. */
const composite = (part: string) => `(select case when length(j) <= 200 then j else 'sha256:' || encode(sha256(convert_to(j, 'UTF8')), 'hex') end
  from (select '[' || to_json(${part})::text || ',' || to_json(d.case_data ->> 'currency')::text || ']' as j) c)`;
// `components` names the whole release (every decision of it has a giftcard-redemption entry): the domain narrows.
const CANDIDATES = `e.source = 'decision' and e.kind = 'giftcard-redemption' and d.domain = 'giftcard-redemption'
  and d.components ->> 'giftcard-redemption' in ${EARLIER} and jsonb_typeof(d.case_data -> 'currency') = 'string'`;

export class Migration20261221000000_currency_keys extends Migration {
  override up(): void {
    // Every row of such a decision carries the keys of all its entities: the two new ones too.
    this.addSql(`update feature_events e
        set keys = e.keys || jsonb_strip_nulls(jsonb_build_object(
              'cardCurrency', case when e.keys -> 'card' is not null then ${composite("e.keys ->> 'card'")} end,
              'customerCurrency', case when e.keys -> 'customer' is not null then ${composite("e.keys ->> 'customer'")} end))
       from decisions d
      where d.id = e.decision_id and d.tenant = e.tenant and ${CANDIDATES}
        and e.keys -> 'cardCurrency' is null and e.keys -> 'customerCurrency' is null`);
    // One row per new entity, copied from the decision's card row (every version requires cardCode).
    this.addSql(`insert into feature_events (tenant, entity, key, source, kind, at, outcome, reasons, amount, attributes, keys, decision_id, created_at)
      select e.tenant, v.entity, e.keys ->> v.entity, e.source, e.kind, e.at, e.outcome, e.reasons, e.amount, e.attributes, e.keys, e.decision_id, e.created_at
        from feature_events e
        join decisions d on d.id = e.decision_id and d.tenant = e.tenant
        cross join (values ('cardCurrency'), ('customerCurrency')) as v(entity)
       where e.entity = 'card' and ${CANDIDATES} and e.keys -> v.entity is not null
         and not exists (select 1 from feature_events c where c.decision_id = e.decision_id and c.entity = v.entity)`);
  }

  override down(): void {
    this.addSql(`delete from feature_events e using decisions d
      where e.entity in ('cardCurrency', 'customerCurrency') and d.id = e.decision_id and d.tenant = e.tenant and ${CANDIDATES}`);
    this.addSql(`update feature_events e set keys = e.keys - 'cardCurrency' - 'customerCurrency'
       from decisions d
      where d.id = e.decision_id and d.tenant = e.tenant and ${CANDIDATES}
        and (e.keys -> 'cardCurrency' is not null or e.keys -> 'customerCurrency' is not null)`);
  }
}
