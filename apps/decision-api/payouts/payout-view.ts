/** How a refund's payout and clawback are shown with the refund (GET /v1/refunds/{id}, the retry's answer). */
import type { PayoutExecution } from '../../../libs/persistence/index.js';

export interface PayoutView {
  /** Provider calls in the current execution (a manual retry starts again from 0). */
  attempts: number;
  /** When the worker asks the provider next (a retry, or the end of an attempt's lease); null when nothing is due. */
  nextAttemptAt: string | null;
  /** The last provider failure or unreadable answer. */
  lastError: string | null;
  providerRef: string | null;
}

/** `clawback`: as recorded with SUCCEEDED — `{"status":"posted",…}` or `{"status":"refused","code","message",…}`; null otherwise. */
export function payoutView(e: PayoutExecution): { payout: PayoutView; clawback: Record<string, unknown> | null } {
  return {
    payout: { attempts: e.attempts, nextAttemptAt: e.nextAttemptAt?.toISOString() ?? null, lastError: e.lastError, providerRef: e.providerRef },
    clawback: e.clawback,
  };
}
