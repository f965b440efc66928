/** Request bodies of the simulation endpoints (api-contract.md §6), as JSON Schema 2020-12. */
import { releaseManifestSchema } from '../../../libs/decisions/index.js';
import { NAME_MAX_LENGTH, NAME_PATTERN } from '../../../libs/names/index.js';

/** Supplied cases per request; the 1 MiB body limit usually bites first (a case is 0.6–1 KiB). */
export const MAX_CASES = 10_000;
/** Stored decisions one replay may re-decide. */
export const MAX_REPLAY = 100_000;
export const DEFAULT_REPLAY_LIMIT = 10_000;
/** Events of one ledger what-if script. */
export const MAX_LEDGER_EVENTS = 10_000;


/** A candidate release: a manifest, as POST /v1/releases takes it (it need not be stored). */
export const candidateReleaseSchema = releaseManifestSchema;

export const simulationSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['domain', 'release'],
  properties: {
    /** A decision type of the candidate release (refund, or a tenant's own). */
    domain: { type: 'string', pattern: NAME_PATTERN, maxLength: NAME_MAX_LENGTH },
    release: candidateReleaseSchema,
    /** Each case is checked against the candidate type's input schema. */
    cases: { type: 'array', minItems: 1, maxItems: MAX_CASES, items: { type: 'object' } },
    /**
     * The platform's feature values each case is decided with: `stored` (a replay's default: as each decision recorded
     * them), `recompute` (a backtest: counted from today's history as of each case's time) or `none` (supplied cases'
     * default: an empty history, so only the callers' values count; refused for a replay).
     */
    features: { enum: ['stored', 'recompute', 'none'] },
    replay: {
      type: 'object',
      additionalProperties: false,
      required: ['from', 'to'],
      properties: {
        from: { type: 'string', format: 'date-time' },
        to: { type: 'string', format: 'date-time' },
        limit: { type: 'integer', minimum: 1, maximum: MAX_REPLAY },
      },
    },
  },
} as const;

export const ledgerSimulationSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['program', 'events'],
  properties: {
    /** A rule pack of kind reward-program; validatePack checks it in depth. */
    program: { type: 'object' },
    /** validateLedgerEvents checks each event. */
    events: { type: 'array', maxItems: MAX_LEDGER_EVENTS },
    account: {
      type: 'object',
      additionalProperties: false,
      properties: {
        accountId: { type: 'string', minLength: 1, maxLength: 255 },
        currency: { type: 'string', format: 'currency' },
        cycleAnchorDay: { type: 'integer', minimum: 1, maximum: 28 },
      },
    },
  },
} as const;
