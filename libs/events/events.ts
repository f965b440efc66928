/** The events the platform publishes (api-contract.md §9) and the envelope every sink receives. */

/** Every event type a webhook may subscribe to; the outbox holds nothing else. */
export const EVENT_TYPES = [
  'decision.created',
  'refund.state_changed',
  'refund.clawback_posted',
  'review.created',
  'review.resolved',
  'review.overdue',
  'ledger.integrity_violated',
  'release.activated',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export const isEventType = (v: unknown): v is EventType => typeof v === 'string' && (EVENT_TYPES as readonly string[]).includes(v);

/**
 * What a webhook receives as its body and what NATS carries as the message: `sequence` counts the tenant's events from
 * 1 without gaps (the relay assigns it), so a receiver can spot a missing or repeated event and order them.
 */
export interface EventEnvelope {
  id: string;
  type: string;
  tenant: string;
  sequence: number;
  occurredAt: string;
  data: Record<string, unknown>;
}

export interface NumberedEvent {
  id: string;
  type: string;
  tenant: string;
  sequence: number;
  occurredAt: Date;
  data: Record<string, unknown>;
}

export function envelopeOf(e: NumberedEvent): EventEnvelope {
  return { id: e.id, type: e.type, tenant: e.tenant, sequence: e.sequence, occurredAt: e.occurredAt.toISOString(), data: e.data };
}

/** The exact bytes signed and sent: fields in the documented order. */
export const serialiseEnvelope = (e: EventEnvelope): string =>
  JSON.stringify({ id: e.id, type: e.type, tenant: e.tenant, sequence: e.sequence, occurredAt: e.occurredAt, data: e.data });

/**
 * The NATS subject of an event: `<prefix>.<tenant>.<type>` (tenants are `[a-z0-9_-]`; a type's dot makes two tokens,
 * so `decisions.acme.refund.>` selects every refund event of acme).
 */
export const subjectOf = (prefix: string, tenant: string, type: string): string => `${prefix}.${tenant}.${type}`;
