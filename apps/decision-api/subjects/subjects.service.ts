/**
 * Right to erasure: a tenant's admin erases a data subject (a customer) given the raw id. Every decision of the
 * subject keeps its outcome, reasons and document, and loses the personal fields of its case (those its pinned decision
 * type marks x-pii set to null, erased_at stamped); the subject's history rows are deleted and its refunds' customer id
 * replaced by a marker; one audit row says who erased how much. The raw id is never stored: the audit row and the
 * answer name the subject by the tenant's pseudonym.
 */
import { Injectable } from '@nestjs/common';
import type { SqlEntityManager } from '@mikro-orm/sql';
import { DomainError } from '../../../libs/errors/index.js';
import { parsePointer } from '../../../libs/names/index.js';
import { erasePersonal, SchemaValidator, type PersonalField } from '../../../libs/decisions/index.js';
import { keyActor } from '../../../libs/audit/index.js';
import { AuditRepository, SubjectsRepository, type Principal, type SubjectDecision } from '../../../libs/persistence/index.js';
import { done, transactional, type TransactionalCommand } from '../commands/command.js';
import { Pseudonyms, subjectKeys } from '../decisions/pseudonyms.js';
import { ReleaseRegistry } from '../releases/release.registry.js';

export const erasureSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['customer'],
  properties: { customer: { type: 'string', minLength: 1, maxLength: 255, description: 'The customer id as cases carry it (raw, not the pseudonym)' } },
} as const;

const erasureRequest = new SchemaValidator<{ customer: string }>(erasureSchema, 'Erasure request');

export interface ErasureAnswer {
  /** The tenant's pseudonym of the subject's id (what the platform stores). */
  subject: string;
  decisions: number;
  historyEvents: number;
  refunds: number;
  erasedAt: string;
}

@Injectable()
export class SubjectsService {
  constructor(
    private readonly subjects: SubjectsRepository,
    private readonly audit: AuditRepository,
    private readonly pseudonyms: Pseudonyms,
    private readonly releases: ReleaseRegistry,
  ) {}

  erase(p: Principal, body: unknown): TransactionalCommand<ErasureAnswer> {
    const { customer } = erasureRequest.validate(body);
    const keys = subjectKeys(this.pseudonyms.forTenant(p.tenant), customer);
    const subject = keys[0]!;
    return transactional(async ({ em, now }) => {
      // The subject's locks first: a decision about it in flight commits before (and is erased) or waits (and is not
      // recorded as the subject's until after); a second erasure finds what the first left.
      await this.subjects.lockSubject(em, p.tenant, keys);
      const found = await this.subjects.lockDecisions(em, p.tenant, keys);
      const pending = found.filter((d) => d.erasedAt === null);
      const erased: { id: string; caseData: Record<string, unknown> | null }[] = [];
      for (const d of pending) erased.push({ id: d.id, caseData: d.caseData === null ? null : erasePersonal(d.caseData, await this.personalFields(p.tenant, em, d)) });
      const decisions = await this.subjects.eraseDecisions(em, erased, now);
      // The refunds first: that locks their rows, so a state change in flight (whose trigger copies the deciding
      // decision's history rows) commits before the history is deleted, and one after it finds nothing to copy.
      const refunds = await this.subjects.eraseRefunds(em, p.tenant, keys);
      const historyEvents = await this.subjects.deleteHistory(em, p.tenant, keys, found.map((d) => d.id));
      const answer: ErasureAnswer = { subject, decisions, historyEvents, refunds, erasedAt: now.toISOString() };
      await this.audit.append(em, {
        tenant: p.tenant,
        actor: keyActor(p, 'admin'),
        action: 'subject.erased',
        subjectType: 'customer',
        subjectId: subject,
        details: { actorName: p.name, decisions, historyEvents, refunds, decisionIds: erased.map((e) => e.id) },
        at: now,
      });
      return done(answer);
    });
  }

  /**
   * What to erase of the decision's case: the x-pii fields of its type as the release it pinned defines it, and the
   * fields the subject was found by even where the type marks nothing (a refund type before refund@1.2.0 kept the
   * customer id as sent). Components are read through this transaction (PGlite has one connection: a read outside it
   * would wait for it forever).
   */
  private async personalFields(tenant: string, em: SqlEntityManager, d: SubjectDecision): Promise<readonly PersonalField[]> {
    const byCustomer = (pointers: (string | undefined)[]): PersonalField[] =>
      pointers.filter((x): x is string => x !== undefined).map((x) => ({ path: parsePointer(x), treatment: 'hash' }));
    try {
      const { name, version, components } = d.release;
      const type = (await this.releases.compile(this.releases.source(tenant, em), { name, version, components })).decisionType(d.type);
      const customer = type.document.history?.entities.customer; // one pointer: a composite customer is refused
      return [...type.personal, ...byCustomer([type.document.lifecycle === 'refund' ? '/customerId' : undefined, typeof customer === 'string' ? customer : undefined])];
    } catch (e) {
      // A reviewer's resolution is stored under the refund type's name but holds no case of that type: its customer id, if any.
      if (e instanceof DomainError) return byCustomer(['/customerId']);
      throw e;
    }
  }
}
