/**
 * The decisions' trigger let an erasure change case_data in any way (only the other columns were checked): whoever
 * could write the table could replace a stored case and stamp it erased, and a replay (410) would hide it. Now an
 * erasure may only set parts of the stored case to null: same keys, same array lengths, every other value equal.
 */
import { Migration } from '@mikro-orm/migrations';

/** The trigger's branches as this migration left them (Migration20261218000000 builds on them). */
export const PURGE_BRANCH = `
        if tg_op = 'UPDATE' and old.purged_at is null and new.purged_at is not null and new.case_data is null
           and to_jsonb(new) - array['case_data', 'document', 'purged_at'] = to_jsonb(old) - array['case_data', 'document', 'purged_at']
           and new.document::jsonb - 'purgedAt' = old.document::jsonb - 'trace'
           and new.document::jsonb ? 'purgedAt' then
          return new;
        end if;`;

export const ERASURE_BRANCH = `
        if tg_op = 'UPDATE' and old.erased_at is null and new.erased_at is not null
           and to_jsonb(new) - array['case_data', 'erased_at'] = to_jsonb(old) - array['case_data', 'erased_at']
           and jsonb_only_nulled(old.case_data, new.case_data) then
          return new;
        end if;`;

export class Migration20261203040000_erasure_guard extends Migration {
  override up(): void {
    // b is a with some parts (leaves or whole subtrees) set to null, and nothing else changed.
    this.addSql(`create function jsonb_only_nulled(a jsonb, b jsonb) returns boolean language plpgsql immutable as $$
      declare
        k text;
        i int;
      begin
        if b is null or jsonb_typeof(b) = 'null' then return true; end if;
        if a is null or jsonb_typeof(a) <> jsonb_typeof(b) then return false; end if;
        if jsonb_typeof(a) = 'object' then
          if (select coalesce(array_agg(x order by x), '{}') from jsonb_object_keys(a) x)
             <> (select coalesce(array_agg(x order by x), '{}') from jsonb_object_keys(b) x) then
            return false;
          end if;
          for k in select jsonb_object_keys(a) loop
            if not jsonb_only_nulled(a -> k, b -> k) then return false; end if;
          end loop;
          return true;
        elsif jsonb_typeof(a) = 'array' then
          if jsonb_array_length(a) <> jsonb_array_length(b) then return false; end if;
          for i in 0 .. jsonb_array_length(a) - 1 loop
            if not jsonb_only_nulled(a -> i, b -> i) then return false; end if;
          end loop;
          return true;
        end if;
        return a = b;
      end $$`);
    this.addSql(`create or replace function decisions_append_or_purge() returns trigger language plpgsql as $$
      begin${PURGE_BRANCH}${ERASURE_BRANCH}
        raise exception '% is append-only: % refused', tg_table_name, tg_op;
      end $$`);
  }

  override down(): void {
    this.addSql(`create or replace function decisions_append_or_purge() returns trigger language plpgsql as $$
      begin${PURGE_BRANCH}
        if tg_op = 'UPDATE' and old.erased_at is null and new.erased_at is not null
           and to_jsonb(new) - array['case_data', 'erased_at'] = to_jsonb(old) - array['case_data', 'erased_at'] then
          return new;
        end if;
        raise exception '% is append-only: % refused', tg_table_name, tg_op;
      end $$`);
    this.addSql('drop function if exists jsonb_only_nulled');
  }
}
