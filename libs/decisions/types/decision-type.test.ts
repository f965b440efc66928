import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { DomainError } from '../../errors/index.js';
import { FileComponentSource, ReleaseCompiler } from '../index.js';
import { validateDecisionType } from './decision-type.js';
import { bindDecisionType } from './pipeline.js';

const root = resolve(import.meta.dirname, '../../..');
const refund = () => JSON.parse(readFileSync(resolve(root, 'decision-types/refund/1.0.0.json'), 'utf8')) as Record<string, any>;

function errorsOf(json: unknown): { path: string; message: string }[] {
  try {
    validateDecisionType(json);
  } catch (e) {
    expect(e).toBeInstanceOf(DomainError);
    expect((e as DomainError).code).toBe('DECISION_TYPE_INVALID');
    return (e as DomainError).errors;
  }
  throw new Error('expected the document to be refused');
}

describe('validateDecisionType', () => {
  it('accepts the built-in types', () => {
    expect(validateDecisionType(refund()).name).toBe('refund');
  });

  it('names only the errors of the kind of step a step says it is', () => {
    const t = refund();
    t.pipeline[2] = { step: 'rules', packKind: 'Bad Kind' };
    expect(errorsOf(t)).toEqual([expect.objectContaining({ path: '/pipeline/2/packKind' })]);
    t.pipeline[2] = { step: 'magic' };
    expect(errorsOf(t)).toEqual([{ path: '/pipeline/2/step', message: 'must be one of derive, policy, rules, enrich' }]);
  });

  it('refuses what a schema cannot say: a step shadowing a case field, an unknown outcome, an undeclared caseRef', () => {
    const t = refund();
    t.pipeline[0].as = 'order';
    t.output.approvedAmount.when = ['ACCEPT'];
    t.caseRef = '/refundID';
    expect(errorsOf(t).map((e) => e.path).sort()).toEqual(['/caseRef', '/output/approvedAmount/when/0', '/pipeline/0/as']);
  });
});

describe('bindDecisionType', () => {
  async function components() {
    const files = new FileComponentSource(root);
    return new ReleaseCompiler(files).compile((await files.release('default', '1.0.0'))!);
  }
  const bind = async (doc: Record<string, any>) => bindDecisionType(validateDecisionType(doc), 'refund', await components());
  const typeErrors = async (doc: Record<string, any>) => {
    const e = await bind(doc).then(
      () => undefined,
      (x: unknown) => x as DomainError,
    );
    expect(e?.code).toBe('RELEASE_TYPE_CHECK_FAILED');
    return e!.errors;
  };

  it('binds the refund type to the shipped release', async () => {
    expect((await bind(refund())).outputNames).toEqual(['riskScore', 'approvedAmount', 'tender']);
  });

  it('refuses a pointer that names nothing the facts declare, wherever it is', async () => {
    const badOutput = refund();
    badOutput.output.riskScore.from = '/risk/scroe';
    expect(await typeErrors(badOutput)).toEqual([expect.objectContaining({ path: '/components/refund/output/riskScore/from', message: expect.stringContaining('/risk/scroe') })]);

    const badElement = refund();
    badElement.pipeline[0].fields.finalSaleItemCount.where.path = '/finalsale';
    expect(await typeErrors(badElement)).toEqual([expect.objectContaining({ path: '/components/refund/pipeline/0/fields/finalSaleItemCount', message: expect.stringContaining('/order/items/*/finalsale') })]);

    const badTrace = refund();
    badTrace.pipeline[1].trace[1].fields.band = '/bnd';
    expect(await typeErrors(badTrace)).toEqual([expect.objectContaining({ path: '/components/refund/pipeline/1/trace/1' })]);
  });
});

describe('enrich steps', () => {
  const withEnrich = () => {
    const t = refund();
    t.pipeline.splice(1, 0, { step: 'enrich', provider: 'velocity', as: 'history', config: { window: '30d' } });
    t.output.refundsSeen = { from: '/history/refunds30d' };
    return t;
  };
  const provider = {
    outputSchema: (config: Record<string, unknown>) => {
      if (config.window !== '30d') throw new DomainError('ENRICHMENT_CONFIG_INVALID', 'window must be 30d', 'unprocessable');
      return { type: 'object', required: ['refunds30d'], properties: { refunds30d: { type: 'integer', minimum: 0 } } };
    },
    enrich: (facts: Readonly<Record<string, unknown>>) => Promise.resolve({ refunds30d: String(facts.customerId).length }),
  };

  it('puts a platform provider’s values under the step’s fact, checked against its schema', async () => {
    const files = new FileComponentSource(root);
    const release = await new ReleaseCompiler(files).compile((await files.release('default', '1.0.0'))!);
    const bound = bindDecisionType(validateDecisionType(withEnrich()), 'refund', { id: release.id, packs: release.packs, policies: release.policies, enrichment: new Map([['velocity', provider]]) });
    const { refundCase } = await import('../../../test/support/refund-cases.js');
    const d = await bound.decide(refundCase({ customerId: 'c-12345' }));
    expect(d.output.refundsSeen).toBe(7);
  });

  it('refuses a release when no such provider exists, or its configuration is wrong', async () => {
    const files = new FileComponentSource(root);
    const release = await new ReleaseCompiler(files).compile((await files.release('default', '1.0.0'))!);
    expect(() => bindDecisionType(validateDecisionType(withEnrich()), 'refund', release)).toThrow(expect.objectContaining({ code: 'RELEASE_INCOMPLETE' }) as Error);
    const badConfig = withEnrich();
    badConfig.pipeline[1].config.window = '1y';
    const components = { id: release.id, packs: release.packs, policies: release.policies, enrichment: new Map([['velocity', provider]]) };
    expect(() => bindDecisionType(validateDecisionType(badConfig), 'refund', components)).toThrow(expect.objectContaining({ code: 'RELEASE_TYPE_CHECK_FAILED' }) as Error);
  });
});
