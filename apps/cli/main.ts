/** The authors' CLI (`npx decisions …`): local pack work, OPA bundles, and the release workflow over the API. No framework. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { activate } from './commands/activate.js';
import { audit } from './commands/audit.js';
import { active } from './commands/active.js';
import { build } from './commands/build.js';
import { diff } from './commands/diff.js';
import { init } from './commands/init.js';
import { publish } from './commands/publish.js';
import { release } from './commands/release.js';
import { rollback } from './commands/rollback.js';
import { simulate } from './commands/simulate.js';
import { test } from './commands/test.js';
import { validate } from './commands/validate.js';
import { str, type Command, type OptionSpec } from './command.js';
import { ApiClient } from './http.js';
import { packageRoot } from './opa.js';
import { CliError, printError, processIo } from './output.js';

const COMMANDS: Command[] = [init, validate, test, diff, build, publish, release, simulate, activate, rollback, active, audit];

const GLOBAL: Record<string, OptionSpec> = {
  url: { type: 'string' },
  key: { type: 'string' },
  'idempotency-key': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};

const DEFAULT_URL = 'http://127.0.0.1:3000';

/** The version in the checkout's package.json (the CLI ships with the service, so they share one). */
function version(): string {
  return (JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version;
}

function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return `usage: decisions <command> [arguments] [options]

commands:
${COMMANDS.map((c) => `  ${`${c.name.padEnd(width)}  ${c.args}`.trimEnd()}\n  ${' '.repeat(width)}    ${c.summary}`).join('\n')}

options:
  --url <url>              the decision API (env DECISIONS_URL; default ${DEFAULT_URL})
  --key <api key>          bearer key (env DECISIONS_API_KEY): author to publish and simulate, publisher to activate
  --idempotency-key <key>  for the command's state-changing call (default: a fresh one per call)
  --json                   machine output: one JSON document on stdout
  -h, --help               this text
  -V, --version            the CLI's version

Exit status: 0 success, 1 failure (errors name the file and JSON path, or the API's code and paths), 2 usage.`;
}

export async function run(argv: string[]): Promise<number> {
  // The command is the first argument naming one; options may come before or after it.
  const at = argv.findIndex((a) => COMMANDS.some((c) => c.name === a));
  const command = at >= 0 ? COMMANDS[COMMANDS.findIndex((c) => c.name === argv[at])] : undefined;
  const json = argv.includes('--json');
  const io = processIo(json);
  if (!command) {
    const rest = argv.filter((a) => a !== '--json');
    if (rest.length === 1 && (rest[0] === '--version' || rest[0] === '-V')) {
      io.out(io.json ? JSON.stringify({ version: version() }) : version());
      return 0;
    }
    const asked = argv.some((a) => a === 'help' || a === '--help' || a === '-h');
    if (argv.length === 0 || asked) {
      (asked ? io.out : io.err)(usage());
      return asked ? 0 : 2;
    }
    io.err(`unknown command "${argv.find((a) => !a.startsWith('-')) ?? argv[0]}"\n\n${usage()}`);
    return 2;
  }

  let parsed;
  try {
    parsed = parseArgs({ args: [...argv.slice(0, at), ...argv.slice(at + 1)], options: { ...GLOBAL, ...command.options }, allowPositionals: true, strict: true });
  } catch (e) {
    io.err(`${(e as Error).message}\n\nusage: decisions ${command.name} ${command.args}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.out(`usage: decisions ${command.name} ${command.args}\n\n${command.summary}`);
    return 0;
  }
  const client = () =>
    new ApiClient({
      url: str(values, 'url') ?? process.env.DECISIONS_URL ?? DEFAULT_URL,
      ...((str(values, 'key') ?? process.env.DECISIONS_API_KEY) ? { key: str(values, 'key') ?? process.env.DECISIONS_API_KEY } : {}),
      ...(str(values, 'idempotency-key') ? { idempotencyKey: str(values, 'idempotency-key') } : {}),
    });
  try {
    return await command.run({ io, positionals, values, client });
  } catch (e) {
    printError(io, e);
    if (e instanceof CliError && e.exitCode === 2) io.err(`usage: decisions ${command.name} ${command.args}`);
    return e instanceof CliError ? e.exitCode : 1;
  }
}

process.exitCode = await run(process.argv.slice(2));
