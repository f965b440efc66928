/** UUIDv7 (RFC 9562): time-ordered ids, so "newest first" and cursors can both use the primary key. */
import { randomFillSync } from 'node:crypto';

// One getrandom call per 512 ids instead of one per id: ids are minted on every decision.
const POOL = Buffer.alloc(16 * 512);
let offset = POOL.length;

export function uuidv7(now: number = Date.now()): string {
  if (offset === POOL.length) {
    randomFillSync(POOL);
    offset = 0;
  }
  const b = Buffer.from(POOL.subarray(offset, offset + 16));
  offset += 16;
  b.writeUIntBE(now, 0, 6);
  b[6] = (b[6]! & 0x0f) | 0x70;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
