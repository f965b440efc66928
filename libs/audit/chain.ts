/**
 * The audit log's hash chain, per tenant. This file is the one definition of an audit row's canonical content and of
 * how rows link; the repository, the verify route, the export and `decisions audit verify` all use it.
 *
 * Canonical content of a row (version 1) is the canonical JSON (canonicalJson: keys sorted at every level, no
 * whitespace, JSON.stringify's spelling of strings and numbers) of exactly these members:
 *
 *   {"action","actor","actorRole","at","details","id","prevHash","seq","subjectId","subjectType","tenant","v":1}
 *
 * where `at` is the ISO 8601 UTC time with milliseconds (`2026-12-05T10:00:00.000Z`), `seq` the row's number in its
 * tenant's chain (1, 2, 3, … with no gap), `prevHash` the previous row's `hash` (null for seq 1) and `actorRole` null
 * on rows written before roles were recorded. `hash` = lowercase hex sha256 of the UTF-8 canonical content.
 * An exported NDJSON line carries all of these members plus `hash`, so the chain can be recomputed from it alone.
 */
import { canonicalJson, sha256Hex } from '../decisions/content-hash.js';

export const AUDIT_CANONICAL_VERSION = 1;

/** What a row's hash covers. */
export interface AuditContent {
  id: string;
  tenant: string;
  seq: number;
  /** ISO 8601 UTC with milliseconds. */
  at: string;
  actor: string;
  actorRole: string | null;
  action: string;
  subjectType: string;
  subjectId: string;
  details: Record<string, unknown>;
  prevHash: string | null;
}

export interface ChainedAuditRow extends AuditContent {
  hash: string;
}

/** The exact string a row's hash is taken of. */
export function auditCanonicalContent(c: AuditContent): string {
  return canonicalJson({
    v: AUDIT_CANONICAL_VERSION,
    id: c.id,
    tenant: c.tenant,
    seq: c.seq,
    at: c.at,
    actor: c.actor,
    actorRole: c.actorRole,
    action: c.action,
    subjectType: c.subjectType,
    subjectId: c.subjectId,
    details: c.details,
    prevHash: c.prevHash,
  });
}

export function auditRowHash(c: AuditContent): string {
  return sha256Hex(auditCanonicalContent(c));
}

/**
 * Details as the database gives them back (a jsonb column): what JSON can spell, nothing else (a Date becomes its ISO
 * string, undefined members vanish). Hashing this rather than the caller's object makes the stored row re-hash equal.
 */
export function storedDetails(details: Record<string, unknown>): Record<string, unknown> {
  return JSON.parse(JSON.stringify(details)) as Record<string, unknown>;
}

/** The chain's end so far: the last row's seq and hash (seq 0 and null before the first row). */
export interface ChainHead {
  seq: number;
  hash: string | null;
}

export const GENESIS: ChainHead = Object.freeze({ seq: 0, hash: null });

/** The next row of a chain, its link and hash filled in. */
export function chainNext(head: ChainHead, row: Omit<AuditContent, 'seq' | 'prevHash'>): ChainedAuditRow {
  const content: AuditContent = { ...row, details: storedDetails(row.details), seq: head.seq + 1, prevHash: head.hash };
  return { ...content, hash: auditRowHash(content) };
}

/**
 * content_hash_mismatch: the row does not hash to its `hash` (it was edited). previous_hash_mismatch: its `prevHash` is
 * not the previous row's hash (a row before it was replaced, hash and all). missing_seq: a seq is missing (rows were
 * deleted; at the end of the chain, the recorded head is further on). head_mismatch: the last row is not the row the
 * recorded head names (it was replaced, hash and all).
 */
export type BreakReason = 'content_hash_mismatch' | 'previous_hash_mismatch' | 'missing_seq' | 'head_mismatch';

/** The first row where the chain does not hold, and why. */
export interface ChainBreak {
  /** The row found where the chain breaks; null when the break is rows missing from the end (there is no row). */
  id: string | null;
  seq: number;
  at: string | null;
  reason: BreakReason;
  /** What was expected there (the seq or the hash), for the auditor. */
  expected: string | number | null;
  found: string | number | null;
}

/**
 * Checks rows one at a time in seq order (so a caller can stream pages and never hold the chain). Each row must carry
 * the next seq, link to the previous row's hash and hash to its own `hash`. The first failure is kept; it is reported,
 * never repaired.
 */
export class ChainVerifier {
  private head: ChainHead;
  private last: ChainedAuditRow | undefined;
  checked = 0;
  broken: ChainBreak | null = null;

  constructor(start: ChainHead = GENESIS) {
    this.head = start;
  }

  /** False once the chain is broken (later rows need no checking). */
  push(row: ChainedAuditRow): boolean {
    if (this.broken) return false;
    this.checked++;
    const at = { id: row.id, seq: row.seq, at: row.at };
    if (row.seq !== this.head.seq + 1) {
      this.broken = { ...at, reason: 'missing_seq', expected: this.head.seq + 1, found: row.seq };
    } else if (auditRowHash(row) !== row.hash) {
      this.broken = { ...at, reason: 'content_hash_mismatch', expected: auditRowHash(row), found: row.hash };
    } else if (row.prevHash !== this.head.hash) {
      this.broken = { ...at, reason: 'previous_hash_mismatch', expected: this.head.hash, found: row.prevHash };
    }
    this.head = { seq: row.seq, hash: row.hash };
    this.last = row;
    return this.broken === null;
  }

  /**
   * After the last row: rows deleted from the end leave no gap behind them, so the recorded head (where the chain
   * ended when last written) is compared with where the walk ended. Without a recorded head the tail is unchecked.
   */
  end(recorded?: ChainHead): ChainBreak | null {
    if (this.broken || !recorded) return this.broken;
    if (recorded.seq > this.head.seq) {
      this.broken = { id: null, seq: this.head.seq + 1, at: null, reason: 'missing_seq', expected: recorded.seq, found: this.head.seq };
    } else if (recorded.seq !== this.head.seq || recorded.hash !== this.head.hash) {
      const last = this.last;
      this.broken = { id: last?.id ?? null, seq: this.head.seq, at: last?.at ?? null, reason: 'head_mismatch', expected: recorded.hash, found: this.head.hash };
    }
    return this.broken;
  }
}
