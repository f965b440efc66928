/**
 * `decision_reasons`: each stored decision's reason codes, one row per code, written with the decision. A search by
 * reason code (`GET /v1/decisions?reasonCode=`, the console's decision search) matched codes inside each stored
 * document row by row, newest first, until the page was full: a rare or mistyped code read every decision of the
 * tenant and ran into the statement timeout (503), holding a pool connection the decision path needs. Now it is an
 * index range. Decisions stored before are backfilled here; reasons are kept by the purge, so rows are never removed.
 */
import { Migration } from '@mikro-orm/migrations';

export class Migration20261206020000_decision_reasons extends Migration {
  override up(): void {
    this.addSql(`create table decision_reasons (
      tenant text not null,
      code text not null,
      decision_id uuid not null,
      primary key (tenant, code, decision_id)
    )`);
    // Reasons are {code, …} objects, or plain codes (the gift-card types); documents without a reasons array have none.
    this.addSql(`insert into decision_reasons (tenant, code, decision_id)
      select distinct d.tenant, c.code, d.id
        from decisions d
        cross join lateral (
          select case when json_typeof(r) = 'string' then r #>> '{}' else r->>'code' end as code
            from json_array_elements(case when json_typeof(d.document->'reasons') = 'array' then d.document->'reasons' else '[]'::json end) r
        ) c
       where c.code is not null`);
  }

  override down(): void {
    this.addSql('drop table if exists decision_reasons');
  }
}
