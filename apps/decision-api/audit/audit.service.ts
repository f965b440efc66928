/**
 * The audit chain's two auditor reads: verify (walk the tenant's chain and name its first broken link) and export
 * (the rows of a time range as NDJSON lines carrying their chain fields). Both read a page at a time (keyset on seq),
 * so memory stays bounded whatever the chain's length.
 */
import { Inject, Injectable } from '@nestjs/common';
import { ChainVerifier, type ChainBreak } from '../../../libs/audit/index.js';
import { AuditRepository, type Database } from '../../../libs/persistence/index.js';
import { DATABASE } from '../tokens.js';

const PAGE = 500;

export interface VerifyAnswer {
  ok: boolean;
  checked: number;
  firstBroken: ChainBreak | null;
}

@Injectable()
export class AuditService {
  constructor(
    @Inject(DATABASE) private readonly db: Database,
    private readonly audit: AuditRepository,
  ) {}

  /**
   * Walks the chain from seq 1 to the head as it was when the walk began (rows appended meanwhile are the next walk's),
   * then checks the head: rows deleted from the end leave no gap to find. A broken chain is reported, never repaired.
   */
  async verify(tenant: string): Promise<VerifyAnswer> {
    const head = await this.audit.head(this.db.em(), tenant);
    const verifier = new ChainVerifier();
    let after = 0;
    for (;;) {
      const rows = await this.audit.chainPage(this.db.em(), tenant, after, head.seq, PAGE);
      for (const row of rows) if (!verifier.push(row)) return { ok: false, checked: verifier.checked, firstBroken: verifier.broken };
      if (rows.length < PAGE) break;
      after = rows[rows.length - 1]!.seq;
    }
    const broken = verifier.end(head);
    if (broken) return { ok: false, checked: verifier.checked, firstBroken: broken };
    // A row past the head was written around the chain trigger (which moves the head with every row it lets in).
    const past = await this.audit.pastHead(this.db.em(), tenant);
    if (past) {
      const { record: r } = past;
      return { ok: false, checked: verifier.checked + 1, firstBroken: { id: r.id, seq: r.seq, at: r.at, reason: 'head_mismatch', expected: past.head, found: r.seq } };
    }
    return { ok: true, checked: verifier.checked, firstBroken: null };
  }

  /** The range's rows in seq order, one JSON object per line, from its first row to its last without a gap. */
  async *export(tenant: string, range: { from: Date; to: Date }): AsyncGenerator<string> {
    const bounds = await this.audit.rangeBounds(this.db.em(), tenant, range);
    if (!bounds) return;
    let after = bounds.first - 1;
    for (;;) {
      const rows = await this.audit.chainPage(this.db.em(), tenant, after, bounds.last, PAGE);
      if (rows.length > 0) yield rows.map((r) => `${JSON.stringify(r)}\n`).join('');
      if (rows.length < PAGE) return;
      after = rows[rows.length - 1]!.seq;
    }
  }
}
