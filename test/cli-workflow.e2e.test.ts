/**
 * The author's workflow with the real CLI binary against a running service: init → validate → test → publish → release →
 * simulate → activate → rollback; and a new decision type from `init --type` to a decision over HTTP.
 */
import { execFile, execFileSync } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from './support/content-root.js';
import { newKey, TestService } from './support/harness.js';
import { refundCase } from './support/refund-cases.js';

const exec = promisify(execFile);
const bin = join(repoRoot, 'bin', 'decisions.js');

let svc: TestService;
let work: string;
let author: string;
let publisher: string;
let service: string;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The built binary in `cwd`, pointed at the test service with the author's key unless told otherwise. */
async function cli(args: string[], o: { cwd?: string; key?: string; env?: Record<string, string> } = {}): Promise<Run> {
  const env = { ...process.env, DECISIONS_URL: svc.baseUrl, DECISIONS_API_KEY: o.key ?? author, ...o.env };
  try {
    const { stdout, stderr } = await exec(process.execPath, [bin, ...args], { cwd: o.cwd ?? work, env, maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

beforeAll(async () => {
  svc = await TestService.start('cli_workflow');
  author = await svc.issueKey('acme', ['author']);
  publisher = await svc.issueKey('acme', ['publisher']);
  service = await svc.issueKey('acme', ['service']);
  work = await mkdtemp(join(tmpdir(), 'cli-workflow-'));
});
afterAll(async () => {
  await svc?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

const PACK = 'drafts/frequent-refunders/1.0.0.json';
const RELEASE = { name: 'strict-refunds', version: '1.0.0', components: { 'frequent-refunders': '1.0.0', 'refund-risk': '1.0.0', 'redemption-gate': '1.0.0' } };
/** Customers with 0…7 refunds in 30 days: the scaffolded rule sends more than 3 to review. */
const cases = (n: number, prefix = 'rf') => Array.from({ length: n }, (_, i) => refundCase({ refundId: `${prefix}-${i}`, customer: { refundCount30d: i % 8 } }));

describe('decisions CLI against a running service', () => {
  it('init scaffolds a pack that validates and passes its own tests, and refuses to overwrite it', async () => {
    const init = await cli(['init', 'frequent-refunders']);
    expect(init).toMatchObject({ code: 0, stderr: '' });
    expect(init.stdout).toContain(`created ${PACK} (refund-policy, 1 rule, 2 embedded tests pass)`);
    const pack = JSON.parse(await readFile(join(work, PACK), 'utf8'));
    expect(pack).toMatchObject({ name: 'frequent-refunders', version: '1.0.0', kind: 'refund-policy', parameters: { maxRefunds30d: 3 } });

    const again = await cli(['init', 'frequent-refunders']);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('already exists');
    const badName = await cli(['init', 'Frequent_Refunders']);
    expect(badName.code).toBe(2);
    expect(badName.stderr).toContain('lower-kebab-case');

    const program = await cli(['init', 'my-cashback', '--kind', 'reward-program', '--json']);
    expect(program.code).toBe(0);
    expect(JSON.parse(program.stdout)).toMatchObject({ pack: 'my-cashback@1.0.0', kind: 'reward-program', tests: 2 });
  });

  it('validate and test pass on the scaffold; test runs OPA only where the policies are', async () => {
    const v = await cli(['validate', PACK]);
    expect(v.code).toBe(0);
    expect(v.stdout).toContain('ok  frequent-refunders@1.0.0 (refund-policy, 1 rule)');
    const t = await cli(['test', PACK]);
    expect(t.code).toBe(0);
    expect(t.stdout).toContain('2 passed, 0 failed');
    expect(t.stdout).toContain('policies: skipped');
  });

  it('diff names the parameter, rule and fact-schema changes of an edited copy', async () => {
    const pack = JSON.parse(await readFile(join(work, PACK), 'utf8'));
    pack.version = '1.1.0';
    pack.parameters.maxRefunds30d = 5;
    pack.rules[0].priority = 20;
    pack.factSchema.properties.channel = { type: 'string' };
    await writeFile(join(work, 'edited.json'), JSON.stringify(pack));
    const d = await cli(['diff', PACK, 'edited.json']);
    expect(d.code).toBe(0);
    expect(d.stdout.split('\n')).toEqual(
      expect.arrayContaining([
        'frequent-refunders@1.0.0 -> frequent-refunders@1.1.0',
        '  ~ frequent-refunder (priority)',
        '  ~ maxRefunds30d: 3 -> 5',
        '  + /properties/channel',
      ]),
    );
  });

  it('publish uploads the pack (again: same content), reads a bundle’s name and version from its manifest, and reports API refusals', async () => {
    const p = await cli(['publish', PACK]);
    expect(p).toMatchObject({ code: 0, stdout: 'published rule pack frequent-refunders@1.0.0\n' });
    const again = await cli(['publish', PACK]);
    expect(again).toMatchObject({ code: 0, stdout: 'already published (same content) rule pack frequent-refunders@1.0.0\n' });

    const bundle = await cli(['publish', join(repoRoot, 'policies/bundles/refund-risk/1.0.0.tar.gz'), '--json']);
    expect(bundle.code).toBe(0);
    expect(JSON.parse(bundle.stdout)).toMatchObject({ name: 'refund-risk', version: '1.0.0' });

    const forbidden = await cli(['publish', PACK], { key: service });
    expect(forbidden.code).toBe(1);
    expect(forbidden.stderr).toContain('error FORBIDDEN:');

    // The same name@version with other content: the store is immutable.
    const pack = JSON.parse(await readFile(join(work, PACK), 'utf8'));
    pack.description = 'Another text under the same version';
    await writeFile(join(work, 'conflict.json'), JSON.stringify(pack));
    const conflict = await cli(['publish', 'conflict.json']);
    expect(conflict.code).toBe(1);
    expect(conflict.stderr).toMatch(/^error [A-Z_]+: /);

    const json = await cli(['publish', 'conflict.json', '--json']);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ status: 409 });
  });

  it('publish checks a pack locally first and names the file and JSON path', async () => {
    const pack = JSON.parse(await readFile(join(work, PACK), 'utf8'));
    pack.rules[0].conditions.all[0].path = '$.refundCount31d';
    await writeFile(join(work, 'broken.json'), JSON.stringify(pack));
    const r = await cli(['publish', 'broken.json']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('broken.json');
    expect(r.stderr).toContain('/rules/0/conditions/all/0/path (rule frequent-refunder)');
  });

  it('release creates the candidate; simulate compares it with the active release and prints the transitions', async () => {
    const r = await cli(['release', RELEASE.name, RELEASE.version, ...Object.entries(RELEASE.components).flatMap(([n, v]) => ['--component', `${n}=${v}`])]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('created release strict-refunds@1.0.0');

    await writeFile(join(work, 'release.json'), JSON.stringify(RELEASE));
    await writeFile(join(work, 'cases.json'), JSON.stringify(cases(8)));
    const before = await svc.sql<{ n: string | number }>('select count(*) as n from decisions');
    const s = await cli(['simulate', 'release.json', '--cases', 'cases.json']);
    expect(s.code).toBe(0);
    expect(s.stdout).toContain('candidate strict-refunds@1.0.0 vs the active release default@1.8.0');
    expect(s.stdout).toContain('8 cases, 4 changed (50.0%)');
    expect(s.stdout).toMatch(/APPROVE -> REVIEW\s+4\s+50\.0%/);
    expect(s.stdout).toMatch(/FREQUENT_REFUNDER\s+4\s+0/);
    expect(s.stdout).toMatch(/rf-4\s+APPROVE\s+REVIEW\s+\+FREQUENT_REFUNDER/);
    expect(s.stdout).toContain('what changed');
    expect(await svc.sql('select count(*) as n from decisions')).toEqual(before);

    // The release by name@version, machine output.
    const j = await cli(['simulate', 'strict-refunds@1.0.0', '--cases', 'cases.json', '--json']);
    expect(j.code).toBe(0);
    expect(JSON.parse(j.stdout)).toMatchObject({ status: 'completed', summary: { total: 8, changed: 4, transitions: { 'APPROVE->REVIEW': 4 } } });
  });

  it('simulate prints the API’s validation errors with their paths and exits 1; usage mistakes exit 2', async () => {
    const bad = cases(3);
    bad[2]!.requestedAmount = 0;
    await writeFile(join(work, 'bad-cases.json'), JSON.stringify(bad));
    const r = await cli(['simulate', 'release.json', '--cases', 'bad-cases.json']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error VALIDATION_FAILED:');
    expect(r.stderr).toContain('  /cases/2/requestedAmount: ');

    const usage = await cli(['simulate', 'release.json']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('usage: decisions simulate');
    const unknownOption = await cli(['simulate', 'release.json', '--cases', 'cases.json', '--bogus']);
    expect(unknownOption.code).toBe(2);
  });

  it('simulate follows a background run (more than 1,000 cases) with progress on stderr', async () => {
    await writeFile(join(work, 'many.json'), JSON.stringify(cases(1200, 'many')));
    const r = await cli(['simulate', 'release.json', '--cases', 'many.json', '--show', '2']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/progress +\d+%/);
    expect(r.stderr).toContain('1,200/1,200 cases');
    expect(r.stdout).toContain('1,200 cases, 600 changed (50.0%)');
    expect(r.stdout).toContain('changed cases (2 of 600 shown)');
  });

  it('simulate replays stored decisions of a time window', async () => {
    const created: string[] = [];
    for (const c of cases(4, 'stored')) {
      const d = await svc.request('POST', '/v1/decisions/refund', { key: service, idempotencyKey: newKey('dec'), body: { case: c } });
      expect(d.status).toBe(201);
      created.push(d.body.createdAt);
    }
    const to = new Date(Date.parse(created[3]!) + 1).toISOString();
    const r = await cli(['simulate', 'release.json', '--replay-from', created[0]!, '--replay-to', to]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`vs the stored decisions from ${created[0]} to ${to}`);
    expect(r.stdout).toContain('4 cases, 0 changed');
    const empty = await cli(['simulate', 'release.json', '--replay-from', '2020-01-01T00:00:00Z', '--replay-to', '2020-01-02T00:00:00Z']);
    expect(empty.stdout).toContain('no cases to compare');
  });

  it('activate needs the publisher role; activate, active and rollback move the tenant between releases', async () => {
    const asAuthor = await cli(['activate', RELEASE.name, RELEASE.version]);
    expect(asAuthor.code).toBe(1);
    expect(asAuthor.stderr).toContain('error FORBIDDEN:');

    const a = await cli(['activate', RELEASE.name, RELEASE.version], { key: publisher });
    expect(a.code).toBe(0);
    expect(a.stdout).toBe('active: strict-refunds@1.0.0 (frequent-refunders@1.0.0, redemption-gate@1.0.0, refund-risk@1.0.0)\n');
    expect((await cli(['active'], { key: publisher })).stdout).toContain('active: strict-refunds@1.0.0');

    // The new active release is now the baseline: the same candidate changes nothing.
    const s = await cli(['simulate', 'release.json', '--cases', 'cases.json']);
    expect(s.stdout).toContain('candidate strict-refunds@1.0.0 vs the active release strict-refunds@1.0.0');
    expect(s.stdout).toContain('8 cases, 0 changed');

    const rb = await cli(['rollback'], { key: publisher });
    expect(rb.code).toBe(0);
    expect(rb.stdout).toContain('rolled back; active: default@1.8.0');
    const none = await cli(['rollback'], { key: publisher });
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/^error [A-Z_]+: /);
  });

  it('says so when the service cannot be reached, and sends the given --idempotency-key', async () => {
    const down = await cli(['publish', PACK, '--url', 'http://127.0.0.1:9']);
    expect(down.code).toBe(1);
    expect(down.stderr).toContain('error: cannot reach http://127.0.0.1:9');

    const key = newKey('cli');
    await cli(['simulate', 'release.json', '--cases', 'cases.json', '--idempotency-key', key]);
    const replay = await svc.request('POST', '/v1/simulations', { key: author, idempotencyKey: key, body: { domain: 'refund', release: RELEASE, cases: cases(8) } });
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
  });
});

describe('a new decision type: init --type → validate → test → build → publish → release → activate → decide', () => {
  const TYPE = 'payout-approval/decision-types/payout-approval/1.0.0.json';
  const TYPE_PACK = 'payout-approval/rule-packs/payout-approval-rules/1.0.0.json';
  const BUNDLE = 'payout-approval/policies/bundles/payout-approval-risk/1.0.0.tar.gz';
  const BUILTIN = ['refund', 'redemption', 'refund-policy', 'refund-risk', 'redemption-gate'].map((n) => `${n}=1.0.0`);
  // A tenant of its own, so the releases above and below do not meet.
  let typeAuthor: string;
  let typePublisher: string;
  let typeService: string;

  beforeAll(async () => {
    // The pinned OPA CLI (`decisions build` would install it too; CI has it already).
    execFileSync('bash', [join(repoRoot, 'scripts/opa.sh'), 'ensure'], { stdio: 'ignore' });
    typeAuthor = await svc.issueKey('payco', ['author']);
    typePublisher = await svc.issueKey('payco', ['publisher']);
    typeService = await svc.issueKey('payco', ['service']);
  }, 300_000);

  it('init --type scaffolds the type, its pack and its policy in a folder of their own, and refuses to overwrite them', async () => {
    const init = await cli(['init', '--type', 'payout-approval'], { key: typeAuthor });
    expect(init).toMatchObject({ code: 0, stderr: '' });
    expect(init.stdout).toContain('created decision type payout-approval@1.0.0 in payout-approval/');
    expect(init.stdout).toContain(`${TYPE_PACK}  rule pack of kind payout-approval-policy: 4 rules, 6 embedded tests pass`);
    expect(init.stdout).toContain('payout-approval/policies/payout-approval-risk/');
    const type = JSON.parse(await readFile(join(work, TYPE), 'utf8'));
    expect(type).toMatchObject({ kind: 'decision-type', name: 'payout-approval', version: '1.0.0', outcomes: ['DENY', 'REVIEW', 'APPROVE'] });
    expect(type.pipeline.map((s: { step: string }) => s.step)).toEqual(['derive', 'policy', 'rules']);
    const manifest = JSON.parse(await readFile(join(work, 'payout-approval/policies/payout-approval-risk/.manifest'), 'utf8'));
    expect(manifest.metadata).toEqual({ name: 'payout-approval-risk', version: '1.0.0', entrypoints: ['payout_approval/assessment'] });

    const again = await cli(['init', '--type', 'payout-approval']);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`${TYPE} already exists`);
    expect((await cli(['init', '--type', 'Payout_Approval'])).code).toBe(2);
  });

  it('validate checks the type and its pack; test runs the pack’s cases and opa test, and the type’s only once the bundle is built', async () => {
    const v = await cli(['validate', 'payout-approval']);
    expect(v.code).toBe(0);
    expect(v.stdout).toContain(`ok  payout-approval-rules@1.0.0 (payout-approval-policy, 4 rules)  ${TYPE_PACK}`);
    expect(v.stdout).toContain('ok  payout-approval@1.0.0 (decision type: derive → policy payout_approval/assessment → rules payout-approval-policy; DENY > REVIEW > APPROVE; 4 tests)');

    const t = await cli(['test', 'payout-approval']);
    expect(t.code).toBe(0);
    expect(t.stdout).toContain('ok   payout-approval-rules@1.0.0  6 passed, 0 failed');
    expect(t.stdout).toContain('skip payout-approval@1.0.0  type cases not run: no built bundle exposes payout_approval/assessment in payout-approval/policies/bundles (run: decisions build payout-approval)');
    expect(t.stdout).toContain('ok   payout-approval/policies (opa test): 3 of 3 passed');
  });

  it('build makes the Wasm bundle (once); test then runs the type’s cases on the pack and the bundle', async () => {
    const b = await cli(['build', 'payout-approval']);
    expect(b.code).toBe(0);
    expect(b.stdout).toBe(`built  ${BUNDLE}\n`);
    expect((await cli(['build', 'payout-approval'])).stdout).toBe(`up to date  ${BUNDLE}\n`);

    const t = await cli(['test', 'payout-approval', '--json']);
    expect(t.code).toBe(0);
    const report = JSON.parse(t.stdout);
    expect(report).toMatchObject({ passed: 10, failed: 0, policyFolders: [{ folder: 'payout-approval', ok: true, passed: 3, total: 3 }] });
    expect(report.types).toEqual([
      { file: TYPE, type: 'payout-approval@1.0.0', ran: true, components: { 'payout-approval': '1.0.0', 'payout-approval-risk': '1.0.0', 'payout-approval-rules': '1.0.0' }, passed: 4, failures: [] },
    ]);
  });

  it('test names a type case that a pack change breaks, and a pack condition the type does not type-check', async () => {
    await cp(join(work, 'payout-approval'), join(work, 'edited'), { recursive: true });
    const file = join(work, 'edited/rule-packs/payout-approval-rules/1.0.0.json');
    const pack = JSON.parse(await readFile(file, 'utf8'));
    pack.parameters.reviewAbove = 70000;
    pack.tests.cases = pack.tests.cases.filter((c: { name: string }) => c.name !== 'one more goes to review');
    await writeFile(file, JSON.stringify(pack));
    const t = await cli(['test', 'edited', '--no-opa']);
    expect(t.code).toBe(1);
    expect(t.stdout).toContain('FAIL payout-approval@1.0.0  3 passed, 1 failed');
    expect(t.stdout).toContain('✗ a large amount goes to review: expected outcome REVIEW, got APPROVE');

    // risk.scroe: the pack declares it, the type's policy step makes no such fact.
    pack.factSchema.properties.risk.properties.scroe = { type: 'integer' };
    pack.rules[0].conditions.all[0].path = '$.scroe';
    pack.tests.cases = pack.tests.cases.filter((c: { name: string }) => c.name !== 'a score at denyAtScore is denied');
    await writeFile(file, JSON.stringify(pack));
    const c = await cli(['test', 'edited', '--no-opa']);
    expect(c.code).toBe(1);
    expect(c.stdout).toContain('FAIL payout-approval@1.0.0  cannot run its cases: RELEASE_TYPE_CHECK_FAILED');
    expect(c.stdout).toMatch(/✗ \/components\/payout-approval-rules\/rules\/0\/conditions\/all\/0\/path: .*'scroe'/);
  });

  it('publish uploads the bundle, the pack and the type (again: same content); a broken type is refused locally with file and path', async () => {
    const key = { key: typeAuthor };
    expect(await cli(['publish', BUNDLE], key)).toMatchObject({ code: 0, stdout: 'published policy bundle payout-approval-risk@1.0.0\n' });
    expect(await cli(['publish', TYPE_PACK], key)).toMatchObject({ code: 0, stdout: 'published rule pack payout-approval-rules@1.0.0\n' });
    expect(await cli(['publish', TYPE], key)).toMatchObject({ code: 0, stdout: 'published decision type payout-approval@1.0.0\n' });
    expect(await cli(['publish', TYPE], key)).toMatchObject({ code: 0, stdout: 'already published (same content) decision type payout-approval@1.0.0\n' });
    const stored = await svc.request('GET', '/v1/decision-types/payout-approval/1.0.0', { key: typeAuthor });
    expect(stored.body).toEqual(JSON.parse(await readFile(join(work, TYPE), 'utf8')));

    const type = JSON.parse(await readFile(join(work, TYPE), 'utf8'));
    type.description = 'Another text under the same version';
    await writeFile(join(work, 'type-conflict.json'), JSON.stringify(type));
    const conflict = await cli(['publish', 'type-conflict.json'], key);
    expect(conflict.code).toBe(1);
    expect(conflict.stderr).toMatch(/^error DECISION_TYPE_VERSION_EXISTS: /);

    type.version = '1.0.1';
    type.outcomes = ['DENY', 'APPROVE'];
    await writeFile(join(work, 'type-broken.json'), JSON.stringify(type));
    const broken = await cli(['publish', 'type-broken.json'], key);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toContain('error DECISION_TYPE_INVALID: type-broken.json: ');
    expect(broken.stderr).toContain("  /tests/cases/3/expect/outcome: type-broken.json: 'REVIEW' is not one of the outcomes (DENY, APPROVE)");
    expect((await svc.request('GET', '/v1/decision-types/payout-approval/1.0.1', { key: typeAuthor })).status).toBe(404);
  });

  it('release names the type’s components with the built-in ones; activate runs every case; the type decides over HTTP', async () => {
    const components = ['payout-approval=1.0.0', 'payout-approval-rules=1.0.0', 'payout-approval-risk=1.0.0', ...BUILTIN];
    const r = await cli(['release', 'payouts', '1.0.0', ...components.flatMap((c) => ['-c', c])], { key: typeAuthor });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      'created release payouts@1.0.0 (payout-approval@1.0.0, payout-approval-rules@1.0.0, payout-approval-risk@1.0.0, refund@1.0.0, redemption@1.0.0, refund-policy@1.0.0, refund-risk@1.0.0, redemption-gate@1.0.0)\n',
    );
    const a = await cli(['activate', 'payouts', '1.0.0'], { key: typePublisher });
    expect(a.code).toBe(0);
    expect(a.stdout).toMatch(/^active: payouts@1\.0\.0 \(.*payout-approval@1\.0\.0/);

    const payout = (patch: Record<string, unknown>) => ({
      requestId: 'po-1',
      accountId: 'acct-9',
      amount: 2500,
      currency: 'EUR',
      account: { ageDays: 800, incidents90d: 0 },
      recent: [{ amount: 1000 }],
      ...patch,
    });
    const decide = (c: Record<string, unknown>) => svc.request('POST', '/v1/decisions/payout-approval', { key: typeService, idempotencyKey: newKey('po'), body: { case: c } });
    const ok = await decide(payout({}));
    expect(ok.status).toBe(201);
    expect(ok.body).toMatchObject({
      type: 'payout-approval',
      requestId: 'po-1',
      accountId: 'acct-9',
      outcome: 'APPROVE',
      reasons: [],
      riskScore: 0,
      approvedAmount: 2500,
      priority: 'EXPEDITED',
      release: { name: 'payouts', version: '1.0.0' },
    });
    expect(ok.body.trace.map((t: { rule: string }) => t.rule)).toEqual(['payout_approval.risk', 'risk-too-high', 'recent-total-cap', 'large-amount', 'established-account']);

    const risky = await decide(payout({ requestId: 'po-2', account: { ageDays: 5, incidents90d: 3 }, amount: 80000 }));
    expect(risky.body).toMatchObject({ outcome: 'DENY', riskScore: 90, approvedAmount: 0, priority: 'STANDARD' });
    expect(risky.body.reasons.map((x: { code: string; source: string }) => [x.code, x.source])).toEqual([
      ['RISK_TOO_HIGH', 'payout-approval-rules@1.0.0'],
      ['AMOUNT_OVER_REVIEW_LIMIT', 'payout-approval-rules@1.0.0'],
    ]);
    const bad = await decide(payout({ amount: 0 }));
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: { path: string }) => e.path)).toEqual(['/case/amount']);
    // Refunds still decide on the same release.
    const refund = await svc.request('POST', '/v1/decisions/refund', { key: typeService, idempotencyKey: newKey('rf'), body: { case: refundCase({ refundId: 'rf-payco' }) } });
    expect(refund.body).toMatchObject({ type: 'refund', outcome: 'APPROVE' });
  });
});
