/** An audit entry for a change a key made, in the role its route requires (libs/audit Actor), naming the key too. */
import type { Role } from '../auth/roles.js';
import { keyActor } from '../../../libs/audit/index.js';
import type { AuditInput, Principal } from '../../../libs/persistence/index.js';

export function auditEntry(
  principal: Principal,
  role: Role,
  at: Date,
  action: string,
  subjectType: string,
  subjectId: string,
  details: Record<string, unknown>,
): AuditInput {
  return { tenant: principal.tenant, actor: keyActor(principal, role), action, subjectType, subjectId, details: { actorName: principal.name, ...details }, at };
}
