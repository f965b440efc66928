/** `decisions init <name>`: scaffolds rule-packs/<name>/1.0.0.json with a fact schema, one rule, parameters and passing tests. */
import { access, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { compilePack, runPackTests, validatePack, type PackKind } from '../../../libs/rules/index.js';
import { str, type Command } from '../command.js';
import { CliError } from '../output.js';

const NAME = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;
const KINDS: PackKind[] = ['refund-policy', 'reward-program'];

/** A refund-policy starter: the facts a refund decision provides (a subset; more may be declared), one REVIEW rule. */
function refundPolicy(name: string): Record<string, unknown> {
  return {
    name,
    version: '1.0.0',
    kind: 'refund-policy',
    description: `${name}: sends refunds from customers who refund often to review. Scaffolded by \`decisions init\`; describe what it decides.`,
    factSchema: {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      type: 'object',
      description: 'The facts of a refund decision this pack reads (the case plus derived values and the risk score); more may be declared.',
      required: ['requestedAmount', 'currency', 'reasonCode', 'customer', 'derived', 'risk'],
      properties: {
        requestedAmount: { type: 'integer', exclusiveMinimum: 0, description: 'Minor units.' },
        currency: { type: 'string', pattern: '^[A-Z]{3}$' },
        reasonCode: { type: 'string', enum: ['DAMAGED', 'NOT_RECEIVED', 'NOT_AS_DESCRIBED', 'CHANGED_MIND', 'GOODWILL', 'OTHER'] },
        customer: {
          type: 'object',
          required: ['accountAgeDays', 'refundCount30d', 'goodwillRefunds12m', 'priorChargebacks'],
          properties: {
            accountAgeDays: { type: 'integer', minimum: 0 },
            refundCount30d: { type: 'integer', minimum: 0 },
            goodwillRefunds12m: { type: 'integer', minimum: 0 },
            priorChargebacks: { type: 'integer', minimum: 0 },
          },
        },
        derived: {
          type: 'object',
          required: ['refundableAmount', 'daysSinceDelivery'],
          properties: {
            refundableAmount: { type: 'integer', description: 'capturedAmount - refundedAmount.' },
            daysSinceDelivery: { type: ['number', 'null'], description: 'null when not delivered.' },
          },
        },
        risk: { type: 'object', required: ['score'], properties: { score: { type: 'integer', minimum: 0, maximum: 100 } } },
      },
    },
    parameters: { maxRefunds30d: 3 },
    rules: [
      {
        name: 'frequent-refunder',
        priority: 10,
        description: 'More than maxRefunds30d refunds in the last 30 days: a person looks at it.',
        conditions: { all: [{ fact: 'customer', path: '$.refundCount30d', operator: 'greaterThan', value: { param: 'maxRefunds30d' } }] },
        event: { type: 'REVIEW', params: { code: 'FREQUENT_REFUNDER', message: 'The customer asked for many refunds in the last 30 days.' } },
      },
    ],
    tests: {
      defaults: {
        requestedAmount: 4999,
        currency: 'EUR',
        reasonCode: 'DAMAGED',
        customer: { accountAgeDays: 400, refundCount30d: 0, goodwillRefunds12m: 0, priorChargebacks: 0 },
        derived: { refundableAmount: 12999, daysSinceDelivery: 9 },
        risk: { score: 0 },
      },
      cases: [
        { name: 'exactly maxRefunds30d refunds is still fine', facts: { customer: { refundCount30d: 3 } }, expect: { events: [] } },
        {
          name: 'one more goes to review',
          facts: { customer: { refundCount30d: 4 } },
          expect: { events: [{ type: 'REVIEW', params: { code: 'FREQUENT_REFUNDER' } }] },
        },
      ],
    },
  };
}

/** A reward-program starter (see libs/ledger/README.md): 5% on GROCERY, 1% elsewhere, clawed back at once. */
function rewardProgram(name: string): Record<string, unknown> {
  return {
    name,
    version: '1.0.0',
    kind: 'reward-program',
    description: `${name}: 5% back on GROCERY, 1% elsewhere, at most 50.00 per period, clawed back at once on refunds. Scaffolded by \`decisions init\`.`,
    factSchema: {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      type: 'object',
      additionalProperties: false,
      required: ['category'],
      properties: { category: { type: 'string', minLength: 1, description: 'Category label of a purchase.' } },
    },
    parameters: {
      ratesBps: { GROCERY: 500 },
      defaultRateBps: 100,
      monthlyCap: 5000,
      rewardTiming: 'instant',
      clawback: 'immediate',
      crossPeriodClawback: true,
      negativeBalances: true,
      minBalanceAfterRedemption: 0,
      graceDays: 0,
      autoRedeemAtClose: false,
    },
    rules: [
      {
        name: 'bonus-category',
        description: 'Categories rated above defaultRateBps (informational: the ledger reads only parameters).',
        conditions: { all: [{ fact: 'category', operator: 'in', value: ['GROCERY'] }] },
        event: { type: 'BONUS_CATEGORY' },
      },
    ],
    tests: {
      defaults: { category: 'GAS' },
      cases: [
        { name: 'GROCERY earns the bonus rate', facts: { category: 'GROCERY' }, expect: { events: [{ type: 'BONUS_CATEGORY' }] } },
        { name: 'GAS earns the default rate', expect: { events: [] } },
      ],
    },
  };
}

export const init: Command = {
  name: 'init',
  args: '<name> [--kind refund-policy|reward-program] [--dir rule-packs]',
  summary: 'scaffold <dir>/<name>/1.0.0.json: fact schema, one rule, parameters and embedded tests that pass',
  options: { kind: { type: 'string' }, dir: { type: 'string' } },
  async run({ io, positionals, values }) {
    const [name, ...extra] = positionals;
    if (!name || extra.length) throw new CliError('init needs exactly one pack name', 2);
    if (!NAME.test(name)) throw new CliError(`pack name "${name}" must be lower-kebab-case (a-z, 0-9, single dashes)`, 2);
    const kind = (str(values, 'kind') ?? 'refund-policy');
    if (!KINDS.includes(kind)) throw new CliError(`--kind must be one of ${KINDS.join(', ')}`, 2);
    const file = join(str(values, 'dir') ?? 'rule-packs', name, '1.0.0.json');
    if (await access(file).then(() => true, () => false)) throw new CliError(`${file} already exists; a released version is never overwritten`);

    const body = kind === 'refund-policy' ? refundPolicy(name) : rewardProgram(name);
    // Point editors at the pack schema when it is where the repository keeps it.
    const schema = resolve('libs/rules/rule-pack.schema.json');
    const withSchema = (await access(schema).then(() => true, () => false)) ? { $schema: relative(dirname(resolve(file)), schema), ...body } : body;
    // The scaffold must itself be valid and its cases must pass: check before writing anything.
    const report = await runPackTests(compilePack(validatePack(withSchema)));
    if (report.failed) throw new Error(`scaffold for ${kind} fails its own tests: ${JSON.stringify(report.cases.filter((c) => !c.passed))}`);

    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, `${JSON.stringify(withSchema, null, 2)}\n`, { flag: 'wx' });
    if (io.json) {
      io.out(JSON.stringify({ file, pack: `${name}@1.0.0`, kind, rules: 1, tests: report.passed }, null, 2));
      return 0;
    }
    io.out(`created ${file} (${kind}, 1 rule, ${report.passed} embedded tests pass)`);
    io.out('next: edit the rule, parameters and tests, then');
    io.out(`  npx decisions validate ${file}`);
    io.out(`  npx decisions test ${file}`);
    io.out(`  npx decisions publish ${file}`);
    return 0;
  },
};
