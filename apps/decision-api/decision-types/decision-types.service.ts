/** The decision types a tenant can decide now: those of its active release, with their input schemas. */
import { Injectable } from '@nestjs/common';
import { DomainError } from '../../../libs/errors/index.js';
import { DECISION_TYPE_NOT_FOUND, type DecisionTypeDocument } from '../../../libs/decisions/index.js';
import type { Principal } from '../../../libs/persistence/index.js';
import { decodeCursor, encodeCursor } from '../http/cursor.js';
import { ReleaseRegistry } from '../releases/release.registry.js';

export interface DecisionTypeSummary {
  name: string;
  version: string;
  description: string;
  outcomes: string[];
  /** false: decided by another route (the ledger's redemption gate), not by POST /v1/decisions/{type}. */
  callable: boolean;
  output: string[];
  inputSchema: Record<string, unknown>;
}

function summary(t: DecisionTypeDocument): DecisionTypeSummary {
  return {
    name: t.name,
    version: t.version,
    description: t.description,
    outcomes: t.outcomes,
    callable: t.callable !== false,
    output: Object.keys(t.output ?? {}),
    inputSchema: t.input,
  };
}

@Injectable()
export class DecisionTypesService {
  constructor(private readonly releases: ReleaseRegistry) {}

  /** The active release's types, by name, a page at a time (api-contract.md §2's lists). */
  list(principal: Principal, limit: number, cursor?: string): { items: DecisionTypeSummary[]; nextCursor: string | null } {
    const release = this.releases.active(principal.tenant);
    const all = [...release.types.values()].map(summary).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    // A release names each type once: the name alone says where a page stopped.
    const after = cursor === undefined ? undefined : decodeCursor(cursor, (v) => (typeof v.name === 'string' ? v.name : undefined));
    const start = after === undefined ? 0 : all.findIndex((t) => t.name > after);
    const items = start < 0 ? [] : all.slice(start, start + limit);
    const last = items[items.length - 1];
    return { items, nextCursor: last && start + limit < all.length ? encodeCursor({ name: last.name }) : null };
  }

  /** The active input JSON Schema of type `name`. */
  schema(principal: Principal, name: string): Record<string, unknown> {
    const t = this.releases.active(principal.tenant).types.get(name);
    if (!t) throw new DomainError(DECISION_TYPE_NOT_FOUND, `No decision type '${name}' in the active release`, 'not_found');
    return t.input;
  }
}
