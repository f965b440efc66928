/**
 * The review queue's other reads: closed items in deadline order (open ones use reviews_queue), the overdue sweep's
 * due items, and a refund's reviews (closed when the refund is canceled).
 */
import { Migration } from '@mikro-orm/migrations';

export class Migration20261202210000_review_queue extends Migration {
  override up(): void {
    // Open items come first: an unfiltered list reads reviews_queue for state = 'OPEN', then this for the rest.
    this.addSql(`create index reviews_closed on reviews (tenant, deadline, id) where state <> 'OPEN'`);
    // Only what the sweeper still has to mark; it shrinks as items are marked or closed.
    this.addSql(`create index reviews_overdue_due on reviews (deadline) where state = 'OPEN' and overdue_at is null`);
    this.addSql('create index reviews_by_refund on reviews (tenant, refund_id) where refund_id is not null');
  }

  override down(): void {
    for (const i of ['reviews_by_refund', 'reviews_overdue_due', 'reviews_closed']) this.addSql(`drop index if exists ${i}`);
  }
}
