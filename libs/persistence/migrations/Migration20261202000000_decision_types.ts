/** Decision types: versioned, immutable per (tenant, name, version) like packs and bundles. */
import { Migration } from '@mikro-orm/migrations';

export class Migration20261202000000_decision_types extends Migration {
  override up(): void {
    this.addSql(`create table decision_types (
      tenant text not null,
      name text not null,
      version text not null,
      sha256 char(64) not null,
      content jsonb not null,
      uploaded_by text not null,
      uploaded_at timestamptz not null,
      primary key (tenant, name, version)
    )`);
    this.addSql(`create trigger decision_types_immutable before update on decision_types for each row execute function catalogue_immutable()`);
  }

  override down(): void {
    this.addSql('drop table if exists decision_types');
  }
}
