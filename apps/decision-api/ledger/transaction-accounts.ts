/**
 * Which account a ledger transaction belongs to (it never changes), for the transactions this instance has written
 * lately: so that a write naming a transaction (settle, refund, chargeback) takes its turn on the account's queue,
 * which every write to that account locks, and writes to many transactions of one busy account hold one pooled
 * connection between them instead of one each (libs/persistence/keyed-queue.ts).
 *
 * Bounded, oldest first out. A transaction it does not know queues on the transaction itself, as before: the queue
 * saves connections; PostgreSQL's row locks keep the writes correct either way.
 */
export class TransactionAccounts {
  private readonly accounts = new Map<string, string>();

  constructor(private readonly capacity = 50_000) {}

  of(tenant: string, transactionId: string): string | undefined {
    return this.accounts.get(entry(tenant, transactionId));
  }

  /** After the transaction's write committed: the pair is then known to exist. */
  remember(tenant: string, transactionId: string, accountId: string): void {
    const k = entry(tenant, transactionId);
    if (this.accounts.has(k)) return;
    if (this.accounts.size >= this.capacity) {
      const oldest = this.accounts.keys().next();
      if (!oldest.done) this.accounts.delete(oldest.value);
    }
    this.accounts.set(k, accountId);
  }

  get size(): number {
    return this.accounts.size;
  }
}

const entry = (tenant: string, transactionId: string) => `${tenant}\u0000${transactionId}`;
