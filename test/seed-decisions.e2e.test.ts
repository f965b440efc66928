/**
 * scripts/seed-decisions.ts (`npm run seed`), the replay walkthroughs' data, as a newcomer runs it: a real process over
 * HTTP against a running service, with a key it creates through ADMIN_TOKEN or one it is given; run twice, it decides
 * nothing twice.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from './support/content-root.js';
import { ADMIN_TOKEN, TestService } from './support/harness.js';

const exec = promisify(execFile);
const script = join(repoRoot, 'scripts', 'seed-decisions.ts');

let svc: TestService;

beforeAll(async () => {
  svc = await TestService.start('seed_decisions');
});
afterAll(async () => {
  await svc?.stop();
});

async function seed(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [script, '--url', svc.baseUrl, ...args], { env: { ...process.env, ADMIN_TOKEN: '', SEED_API_KEY: '', ...env } });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

const stored = (tenant: string) =>
  svc.sql<{ key: string; outcome: string; created: string }>(
    `select idempotency_key as key, outcome, to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as created from decisions where tenant = ? order by idempotency_key`,
    [tenant],
  );

describe('npm run seed', () => {
  it('decides the example cases round after round, each round alike, and prints the replay window', async () => {
    const r = await seed(['--decisions', '160', '--tenant', 'seeded', '--concurrency', '4'], { ADMIN_TOKEN });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('seeded 160 refund decisions for tenant seeded: 160 new, 0 already there (same Idempotency-Key)');

    const rows = await stored('seeded');
    expect(rows).toHaveLength(160);
    // Cases 151…160 are the file's first ten again, with refund, order and customer ids of their own: decided alike.
    const outcome = new Map(rows.map((d) => [d.key, d.outcome]));
    for (let i = 1; i <= 10; i++) {
      const id = `rf_sim_${String(i).padStart(3, '0')}`;
      expect([id, outcome.get(`seed-${id}_2`)]).toEqual([id, outcome.get(`seed-${id}_1`)]);
    }
    const times = rows.map((d) => d.created).sort();
    const window = /--replay-from (\S+) --replay-to (\S+)/.exec(r.stdout);
    expect(window?.[1]).toBe(times[0]);
    expect(Date.parse(window![2]!)).toBe(Date.parse(times[times.length - 1]!) + 1);
  });

  it('run again, it replays what is stored and decides nothing twice; with --key it uses that key', async () => {
    const key = await svc.issueKey('seeded', ['service']);
    const r = await seed(['--decisions', '200', '--tenant', 'seeded', '--key', key]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('seeded 200 refund decisions for tenant seeded: 40 new, 160 already there (same Idempotency-Key)');
    expect(await stored('seeded')).toHaveLength(200);
  });

  it('says what it needs when it has no key, and refuses a bad count', async () => {
    const none = await seed(['--decisions', '10']);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('seed: give a key with the service role (--key or SEED_API_KEY), or set ADMIN_TOKEN');
    const bad = await seed(['--decisions', 'many'], { ADMIN_TOKEN });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('seed: --decisions must be a whole number from 1 to 100000, not "many"');
  });
});
