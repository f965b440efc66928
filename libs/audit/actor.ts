/**
 * Who changed state, as every record of a change stores it: the API key's id and the role it acted in (each
 * state-changing route admits exactly one role, so that role is the one it acted in), the admin token, or the
 * platform itself (`system`: sweepers, workers, relays).
 */
export interface Actor {
  readonly id: string;
  readonly role: string;
}

export const SYSTEM_ACTOR: Actor = Object.freeze({ id: 'system', role: 'system' });

/** POST /v1/admin/api-keys authenticates with ADMIN_TOKEN, not with a key. */
export const ADMIN_TOKEN_ACTOR: Actor = Object.freeze({ id: 'admin-token', role: 'admin' });

/** A key acting in `role` (the role its route requires). */
export function keyActor(key: { readonly keyId: string }, role: string): Actor {
  return { id: key.keyId, role };
}
