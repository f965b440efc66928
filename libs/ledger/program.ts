/** Reward programs: rule packs of kind `reward-program` whose parameters hold every number the ledger uses. */
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { compareSemver, isName, isSemver } from '../names/index.js';
import { DomainError, type ErrorDetail } from '../errors/index.js';
import type { RulePack } from '../rules/index.js';

export type RewardTiming = 'instant' | 'statement';
export type ClawbackMode = 'immediate' | 'statement' | 'none';

/** The pack kind that defines a reward program. */
export const REWARD_PROGRAM_KIND = 'reward-program';

/** The `parameters` of a reward-program pack (see rewardProgramParametersSchema for each field's meaning). */
export interface RewardProgramParameters {
  ratesBps: Readonly<Record<string, number>>;
  defaultRateBps: number;
  monthlyCap: number;
  rewardTiming: RewardTiming;
  clawback: ClawbackMode;
  crossPeriodClawback: boolean;
  negativeBalances: boolean;
  minBalanceAfterRedemption: number;
  graceDays: number;
  autoRedeemAtClose: boolean;
}

/** A validated, frozen program. */
export interface RewardProgram extends RewardProgramParameters {
  readonly name: string;
  readonly version: string;
  /** `name@version`: pinned on accounts and recorded on every entry. */
  readonly ref: string;
}

export interface ProgramResolver {
  /** `ref` is `name@version`, or a bare `name` meaning its newest version. @throws DomainError PROGRAM_NOT_FOUND */
  resolve(tenant: string, ref: string): Promise<RewardProgram>;
}

const MAX_MONEY = Number.MAX_SAFE_INTEGER;
const bps = { type: 'integer', minimum: 0, maximum: 10_000 };

/** JSON Schema 2020-12 of a reward program's `parameters`: every field required, nothing else allowed. */
export const rewardProgramParametersSchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'https://decision-platform.local/schemas/reward-program-parameters.schema.json',
  title: 'Reward program parameters',
  type: 'object',
  additionalProperties: false,
  required: [
    'ratesBps',
    'defaultRateBps',
    'monthlyCap',
    'rewardTiming',
    'clawback',
    'crossPeriodClawback',
    'negativeBalances',
    'minBalanceAfterRedemption',
    'graceDays',
    'autoRedeemAtClose',
  ],
  properties: {
    ratesBps: {
      description: 'Reward rate per category in basis points (500 = 5%). Categories are matched exactly.',
      type: 'object',
      propertyNames: { pattern: '^[A-Z][A-Z0-9_]*$', maxLength: 64 },
      additionalProperties: bps,
    },
    defaultRateBps: { ...bps, description: 'Rate of categories not listed in ratesBps.' },
    monthlyCap: {
      description: 'Most reward granted per billing period, all categories together, in minor units.',
      type: 'integer',
      minimum: 0,
      maximum: MAX_MONEY,
    },
    rewardTiming: {
      description: 'instant: Algorithm 1 at settlement; statement: at statement close (Algorithm 4 phase 3).',
      enum: ['instant', 'statement'],
    },
    clawback: {
      description: 'When refunds of rewarded purchases reduce the reward: immediate (Algorithm 2 at once), statement (at the next close), none (never).',
      enum: ['immediate', 'statement', 'none'],
    },
    crossPeriodClawback: {
      description: 'Whether a refund falling in a later period than the reward is clawed back (false reproduces the paper\'s V2).',
      type: 'boolean',
    },
    negativeBalances: {
      description: 'false floors the balance at 0 on clawback, discarding the debt (the paper\'s V3(a)).',
      type: 'boolean',
    },
    minBalanceAfterRedemption: {
      description: 'Algorithm 3 guard (b): a redemption must leave at least this balance.',
      type: 'integer',
      minimum: -MAX_MONEY,
      maximum: MAX_MONEY,
    },
    graceDays: {
      description: 'Algorithm 3 guard (a): redemptions are held for this many days after each statement close.',
      type: 'integer',
      minimum: 0,
      maximum: 366,
    },
    autoRedeemAtClose: { description: 'Redeem the whole positive balance at each statement close.', type: 'boolean' },
  },
} as const;

let parametersValidator: ValidateFunction | undefined;

function validator(): ValidateFunction {
  parametersValidator ??= new Ajv2020({ allErrors: true, strict: true, strictTypes: false }).compile(rewardProgramParametersSchema);
  return parametersValidator;
}

/**
 * The program a reward-program pack describes. Only `kind`, `name`, `version` and `parameters`
 * are read: the pack's rules and fact schema are not the ledger's business (validatePack checks them).
 * @throws DomainError REWARD_PROGRAM_INVALID (unprocessable) listing every problem with a JSON pointer into the pack.
 */
export function programFromPack(pack: RulePack): RewardProgram {
  const raw = pack as unknown;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw invalidProgram([{ path: '', message: 'a reward program must be a rule pack object' }]);
  }
  const p = raw as Record<string, unknown>;
  const errors: ErrorDetail[] = [];
  if (p['kind'] !== REWARD_PROGRAM_KIND) {
    errors.push({ path: '/kind', message: `must be '${REWARD_PROGRAM_KIND}', got ${JSON.stringify(p['kind']) ?? 'nothing'}` });
  }
  if (typeof p['name'] !== 'string' || !isName(p['name'])) {
    errors.push({ path: '/name', message: 'must be a lower-kebab-case pack name' });
  }
  if (typeof p['version'] !== 'string' || !isSemver(p['version'])) {
    errors.push({ path: '/version', message: 'must be a semantic version (MAJOR.MINOR.PATCH)' });
  }
  const validate = validator();
  if (!validate(p['parameters'])) errors.push(...ajvDetails(validate.errors, '/parameters'));
  if (errors.length > 0) throw invalidProgram(errors, p);

  const params = p['parameters'] as RewardProgramParameters;
  const name = p['name'] as string;
  const version = p['version'] as string;
  return Object.freeze({
    name,
    version,
    ref: `${name}@${version}`,
    ratesBps: Object.freeze({ ...params.ratesBps }),
    defaultRateBps: params.defaultRateBps,
    monthlyCap: params.monthlyCap,
    rewardTiming: params.rewardTiming,
    clawback: params.clawback,
    crossPeriodClawback: params.crossPeriodClawback,
    negativeBalances: params.negativeBalances,
    minBalanceAfterRedemption: params.minBalanceAfterRedemption,
    graceDays: params.graceDays,
    autoRedeemAtClose: params.autoRedeemAtClose,
  });
}

/** The rate of a category: its own entry in ratesBps (own properties only), else defaultRateBps. */
export function rateBpsOf(program: RewardProgramParameters, category: string): number {
  return Object.hasOwn(program.ratesBps, category) ? program.ratesBps[category]! : program.defaultRateBps;
}

/** Resolves programs from a fixed list (the same for every tenant): exact `name@version`, or a bare name → newest version. */
export class StaticProgramResolver implements ProgramResolver {
  private readonly byRef = new Map<string, RewardProgram>();
  private readonly newest = new Map<string, RewardProgram>();

  constructor(programs: readonly RewardProgram[]) {
    for (const program of programs) {
      this.byRef.set(program.ref, program);
      const current = this.newest.get(program.name);
      if (!current || compareSemver(program.version, current.version) > 0) this.newest.set(program.name, program);
    }
  }

  resolve(_tenant: string, ref: string): Promise<RewardProgram> {
    const program = ref.includes('@') ? this.byRef.get(ref) : this.newest.get(ref);
    if (!program) {
      return Promise.reject(
        new DomainError('PROGRAM_NOT_FOUND', `no reward program ${ref}`, 'unprocessable', [{ path: '/program', message: `no reward program ${ref}` }]),
      );
    }
    return Promise.resolve(program);
  }
}

function invalidProgram(errors: ErrorDetail[], pack?: Record<string, unknown>): DomainError {
  const ref = typeof pack?.['name'] === 'string' && typeof pack['version'] === 'string' ? ` ${pack['name']}@${pack['version']}` : '';
  const first = errors[0]!;
  return new DomainError(
    'REWARD_PROGRAM_INVALID',
    `reward program${ref} is invalid: ${errors.length} error(s); first: ${first.path || '/'}: ${first.message}`,
    'unprocessable',
    errors,
  );
}

function ajvDetails(errors: readonly ErrorObject[] | null | undefined, prefix: string): ErrorDetail[] {
  const out: ErrorDetail[] = [];
  const seen = new Set<string>();
  for (const e of errors ?? []) {
    if (e.keyword === 'propertyNames') continue; // the nested pattern error names the key
    const params = e.params as Record<string, unknown>;
    let path = prefix + e.instancePath;
    let message = e.message ?? 'is invalid';
    if (e.propertyName !== undefined) {
      path = `${path}/${escapePointer(e.propertyName)}`;
      message = `category '${e.propertyName}' must be UPPER_SNAKE_CASE (at most 64 characters)`;
    } else if (e.keyword === 'required') {
      path = `${path}/${String(params['missingProperty'])}`;
      message = `missing required property '${String(params['missingProperty'])}'`;
    } else if (e.keyword === 'additionalProperties') {
      path = `${path}/${escapePointer(String(params['additionalProperty']))}`;
      message = `unknown property '${String(params['additionalProperty'])}'`;
    } else if (e.keyword === 'enum') {
      message = `must be one of ${(params['allowedValues'] as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    }
    const key = `${path}\u0000${message}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push({ path, message });
    }
  }
  return out;
}

function escapePointer(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}
