/**
 * `decisions init <name>`: scaffolds drafts/<name>/1.0.0.json with a fact schema, one rule, parameters and passing tests.
 * `decisions init --type <name>`: scaffolds a folder holding a new decision type, a rule pack of its own kind and its Rego policy.
 */
import { isName } from '../../../libs/names/index.js';
import { access, mkdir, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { validateDecisionType } from '../../../libs/decisions/index.js';
import { compilePack, runPackTests, validatePack, type PackKind } from '../../../libs/rules/index.js';
import { str, type Command, type Context } from '../command.js';
import { CliError } from '../output.js';
import { packDocument, policyFiles, scaffoldNames, scaffoldPaths, typeDocument } from '../type-scaffold.js';

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
        currency: { type: 'string', format: 'currency', description: 'ISO 4217 code.' },
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

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** `{$schema, ...doc}` pointing editors at the repository's schema when `init` runs where the repository keeps it. */
async function withSchema(file: string, schemaPath: string, doc: Record<string, unknown>): Promise<Record<string, unknown>> {
  const schema = resolve(schemaPath);
  return (await exists(schema)) ? { $schema: relative(dirname(resolve(file)), schema), ...doc } : doc;
}

/**
 * The folder of a service's built-in content: it holds releases/ (the service reads its built-in release there) or is
 * CONTENT_ROOT. Whatever is scaffolded there is every tenant's built-in component the moment the service reads it.
 */
async function contentRootReason(dir: string): Promise<string | undefined> {
  if (process.env.CONTENT_ROOT && resolve(process.env.CONTENT_ROOT) === resolve(dir)) return 'it is CONTENT_ROOT';
  if (await exists(join(dir, 'releases'))) return 'it holds releases/, as a content root does';
  return undefined;
}

async function initType({ io, positionals, values }: Context, name: string): Promise<number> {
  if (positionals.length || values.kind !== undefined) throw new CliError('init --type <name> takes no other name and no --kind (the pack gets a kind of its own)', 2);
  if (!isName(name)) throw new CliError(`decision type name "${name}" must be lower-kebab-case (a-z, 0-9, single dashes)`, 2);
  if (name.length > 90) throw new CliError(`decision type name "${name}" is longer than 90 characters (its pack and bundle add a suffix; names stop at 100)`, 2);
  // A folder of its own by default: nothing reads it until its parts are published, even inside the repository.
  const dir = str(values, 'dir') ?? name;
  const builtin = await contentRootReason(dir);
  if (builtin) {
    throw new CliError(`${dir} is a service's content root (${builtin}): a type scaffolded there would be a built-in for every tenant. Choose another --dir`);
  }
  const n = scaffoldNames(name);
  const rel = scaffoldPaths(n);
  const at = { type: join(dir, rel.type), pack: join(dir, rel.pack), policy: join(dir, rel.policy), bundle: join(dir, rel.bundle) };
  for (const f of [at.type, at.pack, at.policy]) if (await exists(f)) throw new CliError(`${f} already exists; a released version is never overwritten`);

  const type = await withSchema(at.type, 'libs/decisions/types/decision-type.schema.json', typeDocument(n));
  const pack = await withSchema(at.pack, 'libs/rules/rule-pack.schema.json', packDocument(n));
  // The scaffold must itself be valid and the pack's cases must pass: checked before anything is written. (The type's
  // own cases need the policy built: `decisions test` runs them after `decisions build`.)
  const doc = validateDecisionType(type, true);
  const report = await runPackTests(compilePack(validatePack(pack)));
  if (report.failed) throw new Error(`type scaffold's pack fails its own tests: ${JSON.stringify(report.cases.filter((c) => !c.passed))}`);

  for (const f of [at.type, at.pack]) await mkdir(dirname(f), { recursive: true });
  await writeFile(at.type, `${JSON.stringify(type, null, 2)}\n`, { flag: 'wx' });
  await writeFile(at.pack, `${JSON.stringify(pack, null, 2)}\n`, { flag: 'wx' });
  await mkdir(dirname(at.policy), { recursive: true });
  await mkdir(at.policy);
  const policy = policyFiles(n);
  for (const [file, text] of Object.entries(policy)) await writeFile(join(at.policy, file), text, { flag: 'wx' });

  const typeCases = doc.tests?.cases.length ?? 0;
  if (io.json) {
    io.out(
      JSON.stringify(
        {
          folder: dir,
          type: `${name}@1.0.0`,
          pack: `${n.pack}@1.0.0`,
          packKind: n.packKind,
          bundle: `${n.bundle}@1.0.0`,
          entrypoint: n.entrypoint,
          files: { type: at.type, pack: at.pack, policy: at.policy, bundle: at.bundle },
          tests: { type: typeCases, pack: report.passed },
        },
        null,
        2,
      ),
    );
    return 0;
  }
  const steps = doc.pipeline.map((s) => s.step).join(', ');
  const rows: [string, string][] = [
    [at.type, `decision type: input schema, pipeline (${steps}), outcomes ${doc.outcomes.join(' > ')}, ${Object.keys(doc.output ?? {}).length} output fields, ${typeCases} test cases`],
    [at.pack, `rule pack of kind ${n.packKind}: ${(pack.rules as unknown[]).length} rules, ${report.passed} embedded tests pass`],
    [`${at.policy}/`, `Rego policy ${n.bundle} (entrypoint ${n.entrypoint}): ${Object.keys(policy).join(', ')}`],
  ];
  const width = Math.max(...rows.map(([f]) => f.length));
  io.out(`created decision type ${name}@1.0.0 in ${dir}/`);
  for (const [f, what] of rows) io.out(`  ${f.padEnd(width)}  ${what}`);
  io.out('next: edit them, then');
  io.out(`  npx decisions validate ${dir}`);
  io.out(`  npx decisions build ${dir}      # opa build -t wasm -> ${at.bundle}`);
  io.out(`  npx decisions test ${dir}       # the pack's cases, opa test, and the type's cases on the built bundle`);
  io.out(`  npx decisions publish ${at.bundle}`);
  io.out(`  npx decisions publish ${at.pack}`);
  io.out(`  npx decisions publish ${at.type}`);
  io.out(`  npx decisions release <name> <version> -c ${name}=1.0.0 -c ${n.pack}=1.0.0 -c ${n.bundle}=1.0.0 -c <the refund and redemption components>…`);
  return 0;
}

export const init: Command = {
  name: 'init',
  args: '<name> [--kind refund-policy|reward-program] [--dir drafts] | --type <name> [--dir <name>]',
  summary:
    'scaffold <dir>/<name>/1.0.0.json (default drafts/, never a content root\'s rule-packs/): fact schema, one rule, parameters and ' +
    'embedded tests that pass; with --type, a folder (default ./<name>) ' +
    'holding a decision type, a rule pack of its own kind and a Rego policy (decision-types/, rule-packs/, policies/)',
  options: { kind: { type: 'string' }, dir: { type: 'string' }, type: { type: 'string' } },
  async run(ctx) {
    const { io, positionals, values } = ctx;
    const typeName = str(values, 'type');
    if (typeName !== undefined) return initType(ctx, typeName);
    const [name, ...extra] = positionals;
    if (!name || extra.length) throw new CliError('init needs exactly one pack name', 2);
    if (!isName(name)) throw new CliError(`pack name "${name}" must be lower-kebab-case (a-z, 0-9, single dashes)`, 2);
    const kind = (str(values, 'kind') ?? 'refund-policy');
    if (!KINDS.includes(kind)) throw new CliError(`--kind must be one of ${KINDS.join(', ')}`, 2);
    // drafts/ by default: the service reads every file under its content root's rule-packs/ as a built-in pack for every
    // tenant, so a scaffold goes there only when someone moves it there on purpose (git mv), never through init.
    const dir = str(values, 'dir') ?? 'drafts';
    const builtin = basename(resolve(dir)) === 'rule-packs' ? await contentRootReason(dirname(resolve(dir))) : undefined;
    if (builtin) {
      throw new CliError(
        `${dir} holds the built-in packs of a service's content root (its parent folder: ${builtin}): a pack scaffolded there would be a built-in for every tenant. ` +
          'Scaffold it elsewhere (default drafts/), publish it for one tenant, and move it into rule-packs/ on purpose to ship it for everyone',
      );
    }
    const file = join(dir, name, '1.0.0.json');
    if (await exists(file)) throw new CliError(`${file} already exists; a released version is never overwritten`);

    const body = kind === 'refund-policy' ? refundPolicy(name) : rewardProgram(name);
    // Point editors at the pack schema when it is where the repository keeps it.
    const full = await withSchema(file, 'libs/rules/rule-pack.schema.json', body);
    // The scaffold must itself be valid and its cases must pass: check before writing anything.
    const report = await runPackTests(compilePack(validatePack(full)));
    if (report.failed) throw new Error(`scaffold for ${kind} fails its own tests: ${JSON.stringify(report.cases.filter((c) => !c.passed))}`);

    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, `${JSON.stringify(full, null, 2)}\n`, { flag: 'wx' });
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
