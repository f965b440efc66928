/**
 * `decisions.answer`: the document without its trace, written with it (decisions.repository storedAnswer). A replay
 * read the outcome, reasons and output fields out of the stored document, which PostgreSQL parsed whole per row
 * (7 KB on average, most of it the trace): 68–93 µs per row, the cap on replay throughput (docs/benchmarks.md). Rows
 * written before this have none and are read through the document as before. The purge leaves it: it holds what the
 * purged document keeps (the document without its trace), and the decisions' trigger refuses any other change to it.
 * (Since 2026-12-07 a refund lifecycle's answer also keeps the trace's first entry, the platform's refunded total:
 * storedAnswer.)
 */
import { Migration } from '@mikro-orm/migrations';

export class Migration20261206010000_decision_answer extends Migration {
  override up(): void {
    this.addSql('alter table decisions add column answer json null');
  }

  override down(): void {
    this.addSql('alter table decisions drop column if exists answer');
  }
}
