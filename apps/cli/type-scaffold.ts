/**
 * The files `decisions init --type <name>` writes: a decision type, a rule pack of a kind of its own and a Rego policy,
 * laid out as the service's content root is (decision-types/, rule-packs/, policies/), modelled on
 * test/fixtures/goodwill-credit. The case is generic on purpose: a request for an amount by an account.
 */

/** The names a scaffold derives from the type's name, so the three parts find each other. */
export interface ScaffoldNames {
  type: string;
  pack: string;
  packKind: string;
  bundle: string;
  /** The Rego package (a Rego identifier) and the root of the bundle's data. */
  regoPackage: string;
  entrypoint: string;
}

export function scaffoldNames(name: string): ScaffoldNames {
  const snake = name.replaceAll('-', '_');
  // A Rego package is an identifier; a kebab name may start with a digit.
  const regoPackage = /^[0-9]/.test(snake) ? `t_${snake}` : snake;
  return { type: name, pack: `${name}-rules`, packKind: `${name}-policy`, bundle: `${name}-risk`, regoPackage, entrypoint: `${regoPackage}/assessment` };
}

/** Paths relative to the scaffold's folder. */
export function scaffoldPaths(n: ScaffoldNames): { type: string; pack: string; policy: string; bundle: string } {
  return {
    type: `decision-types/${n.type}/1.0.0.json`,
    pack: `rule-packs/${n.pack}/1.0.0.json`,
    policy: `policies/${n.bundle}`,
    bundle: `policies/bundles/${n.bundle}/1.0.0.tar.gz`,
  };
}

const SCHEMA = 'https://json-schema.org/draft/2020-12/schema';

/** The decision type: input schema, derive → policy → rules, outcomes, output fields and cases that pass once the bundle is built. */
export function typeDocument(n: ScaffoldNames): Record<string, unknown> {
  const id = { type: 'string', minLength: 1, maxLength: 255 };
  return {
    kind: 'decision-type',
    name: n.type,
    version: '1.0.0',
    description:
      `${n.type}: an account asks for an amount; the ${n.bundle} policy scores the account's history and the ${n.packKind} pack denies, ` +
      'reviews or approves. DENY over REVIEW over APPROVE. Scaffolded by `decisions init --type`; describe what it decides.',
    input: {
      $schema: SCHEMA,
      type: 'object',
      additionalProperties: false,
      required: ['requestId', 'accountId', 'amount', 'currency', 'account', 'recent'],
      properties: {
        requestId: { ...id, description: 'Names the case: stored decisions and simulations report it.' },
        accountId: id,
        amount: { type: 'integer', minimum: 1, description: 'Minor units.' },
        currency: { type: 'string', format: 'currency', description: 'ISO 4217 code.' },
        account: {
          type: 'object',
          additionalProperties: false,
          required: ['ageDays', 'incidents90d'],
          properties: {
            ageDays: { type: 'integer', minimum: 0 },
            incidents90d: { type: 'integer', minimum: 0, description: 'Incidents (chargebacks, fraud reports) in the last 90 days.' },
          },
        },
        recent: {
          type: 'array',
          maxItems: 100,
          description: "The account's recent requests of this kind (say the last 30 days).",
          items: { type: 'object', additionalProperties: false, required: ['amount'], properties: { amount: { type: 'integer', minimum: 0 } } },
        },
      },
    },
    caseRef: '/requestId',
    caseFields: ['requestId', 'accountId', 'currency'],
    pipeline: [
      { step: 'derive', as: 'derived', fields: { recentTotal: { sum: '/recent', field: '/amount' }, recentCount: { count: '/recent' } } },
      {
        step: 'policy',
        entrypoint: n.entrypoint,
        as: 'risk',
        outputSchema: {
          type: 'object',
          required: ['score', 'flags'],
          properties: { score: { type: 'integer', minimum: 0, maximum: 100 }, flags: { type: 'array', items: { type: 'string' } } },
        },
        trace: [{ rule: `${n.regoPackage}.risk`, fired: { path: '/score', notEquals: 0 }, fields: { score: '/score', flags: '/flags' } }],
      },
      { step: 'rules', packKind: n.packKind },
    ],
    outcomes: ['DENY', 'REVIEW', 'APPROVE'],
    output: {
      riskScore: { from: '/risk/score' },
      approvedAmount: { from: '/amount', when: ['APPROVE'], otherwise: 0 },
      priority: { event: 'PRIORITY', param: 'level', default: 'STANDARD' },
    },
    tests: {
      defaults: {
        requestId: 'test-1',
        accountId: 'acct-1',
        amount: 1500,
        currency: 'EUR',
        account: { ageDays: 400, incidents90d: 0 },
        recent: [],
      },
      cases: [
        {
          name: "an established account's small request is approved and expedited",
          expect: { outcome: 'APPROVE', reasons: [], output: { riskScore: 0, approvedAmount: 1500, priority: 'EXPEDITED' } },
        },
        {
          name: 'a new account with prior incidents is denied',
          case: { account: { ageDays: 3, incidents90d: 2 } },
          expect: { outcome: 'DENY', reasons: ['RISK_TOO_HIGH'], output: { riskScore: 90, approvedAmount: 0, priority: 'STANDARD' } },
        },
        {
          name: 'recent requests at the cap are denied',
          case: { recent: [{ amount: 60000 }, { amount: 40000 }] },
          expect: { outcome: 'DENY', reasons: ['RECENT_TOTAL_OVER_CAP'] },
        },
        {
          name: 'a large amount goes to review',
          case: { amount: 60000 },
          expect: { outcome: 'REVIEW', reasons: ['AMOUNT_OVER_REVIEW_LIMIT'], output: { approvedAmount: 0 } },
        },
      ],
    },
  };
}

/** The rule pack the type's rules step takes: the facts it reads, every threshold a parameter, boundary cases. */
export function packDocument(n: ScaffoldNames): Record<string, unknown> {
  return {
    name: n.pack,
    version: '1.0.0',
    kind: n.packKind,
    description: `${n.type} rules: deny risky accounts and accounts at the recent-total cap, review large amounts, expedite established accounts.`,
    factSchema: {
      $schema: SCHEMA,
      type: 'object',
      description: `The facts of a ${n.type} decision this pack reads (the case, the derived values and the risk score); more may be declared.`,
      required: ['amount', 'account', 'derived', 'risk'],
      properties: {
        amount: { type: 'integer', minimum: 1 },
        account: { type: 'object', required: ['ageDays'], properties: { ageDays: { type: 'integer', minimum: 0 } } },
        derived: { type: 'object', required: ['recentTotal'], properties: { recentTotal: { type: 'number' } } },
        risk: { type: 'object', required: ['score'], properties: { score: { type: 'integer', minimum: 0 } } },
      },
    },
    parameters: { denyAtScore: 60, recentTotalCap: 100000, reviewAbove: 50000, expediteAfterDays: 365 },
    rules: [
      {
        name: 'risk-too-high',
        priority: 100,
        conditions: { all: [{ fact: 'risk', path: '$.score', operator: 'greaterThanInclusive', value: { param: 'denyAtScore' } }] },
        event: { type: 'DENY', params: { code: 'RISK_TOO_HIGH', message: "The account's history is too risky for an automatic decision." } },
      },
      {
        name: 'recent-total-cap',
        priority: 100,
        conditions: { all: [{ fact: 'derived', path: '$.recentTotal', operator: 'greaterThanInclusive', value: { param: 'recentTotalCap' } }] },
        event: { type: 'DENY', params: { code: 'RECENT_TOTAL_OVER_CAP', message: 'Recent requests already reach the cap.' } },
      },
      {
        name: 'large-amount',
        priority: 50,
        conditions: { all: [{ fact: 'amount', operator: 'greaterThan', value: { param: 'reviewAbove' } }] },
        event: { type: 'REVIEW', params: { code: 'AMOUNT_OVER_REVIEW_LIMIT', message: 'An amount this large needs a person to look at it.' } },
      },
      {
        name: 'established-account',
        priority: 10,
        description: 'Not an outcome: the type answers its `level` as the priority output field.',
        conditions: { all: [{ fact: 'account', path: '$.ageDays', operator: 'greaterThanInclusive', value: { param: 'expediteAfterDays' } }] },
        event: { type: 'PRIORITY', params: { code: 'ESTABLISHED_ACCOUNT', level: 'EXPEDITED' } },
      },
    ],
    tests: {
      defaults: { amount: 1500, account: { ageDays: 10 }, derived: { recentTotal: 0 }, risk: { score: 0 } },
      cases: [
        { name: 'a clean request fires nothing', expect: { events: [] } },
        { name: 'an established account is expedited', facts: { account: { ageDays: 365 } }, expect: { events: [{ type: 'PRIORITY', params: { level: 'EXPEDITED' } }] } },
        { name: 'a score at denyAtScore is denied', facts: { risk: { score: 60 } }, expect: { events: [{ type: 'DENY', params: { code: 'RISK_TOO_HIGH' } }] } },
        {
          name: 'recent requests at recentTotalCap are denied',
          facts: { derived: { recentTotal: 100000 } },
          expect: { events: [{ type: 'DENY', params: { code: 'RECENT_TOTAL_OVER_CAP' } }] },
        },
        { name: 'exactly reviewAbove needs no review', facts: { amount: 50000 }, expect: { events: [] } },
        { name: 'one more goes to review', facts: { amount: 50001 }, expect: { events: [{ type: 'REVIEW', params: { code: 'AMOUNT_OVER_REVIEW_LIMIT' } }] } },
      ],
    },
  };
}

/** policies/<bundle>/: file name → content. Weights, thresholds and the cap are data, the Rego says what each flag reads. */
export function policyFiles(n: ScaffoldNames): Record<string, string> {
  const p = n.regoPackage;
  const manifest = { revision: '1.0.0', roots: [p], metadata: { name: n.bundle, version: '1.0.0', entrypoints: [n.entrypoint] } };
  const data = { [p]: { params: { new_account_days: 30, incidents_after: 2, weights: { NEW_ACCOUNT: 30, PRIOR_INCIDENTS: 60 }, score_cap: 100 } } };
  return {
    '.manifest': `${JSON.stringify(manifest, null, 2)}\n`,
    'data.json': `${JSON.stringify(data, null, 2)}\n`,
    'risk.rego': `# ${n.type} risk: flags raised by the account's history, weighted into a score.
# Every threshold, weight and the cap are data (data.json), so changing one is a new bundle version.
package ${p}

import rego.v1

settings := data.${p}.params

flags contains "NEW_ACCOUNT" if input.account.ageDays < settings.new_account_days

flags contains "PRIOR_INCIDENTS" if input.account.incidents90d >= settings.incidents_after

score := min([sum([settings.weights[f] | some f in flags]), settings.score_cap])

# The entrypoint (${n.entrypoint}): the score and the flags that made it, sorted so the output is stable.
assessment := {"score": score, "flags": sort(flags)}
`,
    'risk_test.rego': `package ${p}_test

import data.${p}
import rego.v1

test_an_established_account_scores_zero if {
	${p}.assessment == {"score": 0, "flags": []} with input as {"account": {"ageDays": 400, "incidents90d": 0}}
}

test_a_new_account_with_incidents_adds_up if {
	${p}.assessment == {"score": 90, "flags": ["NEW_ACCOUNT", "PRIOR_INCIDENTS"]} with input as {"account": {"ageDays": 3, "incidents90d": 2}}
}

test_the_score_is_capped if {
	${p}.assessment.score == 100 with input as {"account": {"ageDays": 0, "incidents90d": 9}}
		with data.${p}.params.weights as {"NEW_ACCOUNT": 80, "PRIOR_INCIDENTS": 80}
}
`,
  };
}
