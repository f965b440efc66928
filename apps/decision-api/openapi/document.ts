/**
 * The OpenAPI document: generated from the controllers' decorators, completed with the named schemas
 * (openapi/components.ts), the security schemes and `security: []` on public routes, and sorted so that the same code
 * always gives the same bytes (docs/openapi.json is committed and checked for staleness).
 */
import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import { ReleaseRegistry } from '../releases/release.registry.js';
import { componentSchemas } from './components.js';
import { ADMIN_TOKEN_SCHEME, API_KEY_SCHEME, METRICS_TOKEN_SCHEME, problemResponseObject } from './contract.js';


const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'] as const;

/** Object keys in a stable order, recursively, where order carries no meaning (paths, components, responses). */
function sortKeys<T extends Record<string, unknown>>(o: T, compare?: (a: string, b: string) => number): T {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (compare ? compare(a, b) : a < b ? -1 : a > b ? 1 : 0))) as T;
}

const TAGS: Record<string, string> = {
  admin: 'Operator calls, authorised by ADMIN_TOKEN',
  'api-keys': "A tenant's API keys: list, revoke, rotate",
  audit: "The tenant's audit log",
  decisions: 'Decide cases, read and replay stored decisions',
  'decision-types': 'Decision types: rules as data',
  docs: 'This document',
  health: 'Liveness and readiness probes',
  ledger: 'The reward ledger',
  operations: 'Metrics for operators',
  refunds: 'Refunds and their payouts',
  releases: 'Rule packs, policy bundles and releases',
  reviews: 'The review queue',
  schemas: 'The JSON Schemas of the platform documents',
  simulations: 'What-if simulations',
  subjects: "Data subjects' rights",
  webhooks: 'Webhook endpoints and deliveries',
};

/**
 * Paths that differ only in their parameters' names (GET /v1/decisions/{id}, POST /v1/decisions/{type}) are one path
 * to the router and must be one in OpenAPI: the later ones' operations move under the first's name, their parameter
 * renamed and described.
 */
function mergeEquivalentPaths(paths: OpenAPIObject['paths']): OpenAPIObject['paths'] {
  const shape = (p: string) => p.replace(/\{[^}]+\}/g, '{}');
  const names = (p: string) => [...p.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!);
  const out: OpenAPIObject['paths'] = {};
  const first = new Map<string, string>();
  for (const path of Object.keys(paths).sort()) {
    const into = first.get(shape(path));
    if (!into) {
      first.set(shape(path), path);
      out[path] = paths[path]!;
      continue;
    }
    const [from, to] = [names(path), names(into)];
    for (const m of METHODS) {
      const op = paths[path]![m];
      if (!op) continue;
      if (out[into]![m]) throw new Error(`${m.toUpperCase()} ${path} and ${into} are the same route`);
      op.parameters = op.parameters?.map((p) => {
        if ('$ref' in p || p.in !== 'path') return p;
        const i = from.indexOf(p.name);
        return i < 0 || from[i] === to[i] ? p : { ...p, name: to[i]!, description: `The ${from[i]}${p.description ? `: ${p.description}` : ''}` };
      });
      out[into]![m] = op;
    }
  }
  return out;
}

export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('Decision platform')
    .setDescription(
      'Refund and custom-type decisions, the reward ledger, releases, simulation, reviews, refunds and webhooks. ' +
        'Errors are application/problem+json; lists answer {items, nextCursor}; every POST that changes state takes an Idempotency-Key. ' +
        'The document schemas are served at /schemas/….',
    )
    .setVersion('1')
    .setOpenAPIVersion('3.1.0')
    .addServer('/', 'This service (relative to where the document is served)')
    .addBearerAuth(
      { type: 'http', scheme: 'bearer', bearerFormat: 'opaque API key (dk_…)', description: 'An API key (dk_…) issued by POST /v1/admin/api-keys; opaque, not a JWT. A key belongs to one tenant and carries roles.' },
      API_KEY_SCHEME,
    )
    .addBearerAuth(
      { type: 'http', scheme: 'bearer', bearerFormat: 'opaque operator token', description: 'The operator secret ADMIN_TOKEN; without it the /v1/admin routes answer 404.' },
      ADMIN_TOKEN_SCHEME,
    )
    .addBearerAuth(
      { type: 'http', scheme: 'bearer', bearerFormat: 'opaque operator token', description: 'METRICS_TOKEN, when set: then GET /metrics needs it.' },
      METRICS_TOKEN_SCHEME,
    )
    .build();
  const doc = SwaggerModule.createDocument(app, config, { operationIdFactory: (controller, method) => `${controller.replace(/Controller$/, '')}_${method}` });

  const refundCase = app.get(ReleaseRegistry).builtinRelease.decisionType('refund').document.input as Record<string, unknown>;
  doc.components = sortKeys({ ...doc.components, schemas: sortKeys({ ...(doc.components?.schemas ?? {}), ...componentSchemas(refundCase) }) });

  // The UI and the document itself are public too.
  doc.paths['/docs/json'] = {
    get: {
      operationId: 'Docs_json',
      summary: 'This OpenAPI document',
      tags: ['docs'],
      responses: {
        '200': { description: 'The OpenAPI 3.1 document', content: { 'application/json': { schema: { type: 'object' } } } },
        '400': problemResponseObject(400),
      },
    },
  };

  doc.components.headers = {
    RequestId: {
      description: "The request's id, on every answer: the caller's x-request-id when usable, else a new UUID (problem+json bodies carry it as requestId)",
      schema: { type: 'string' },
    },
    IdempotentReplayed: {
      description: 'true when this is the stored answer of an earlier request with the same Idempotency-Key (replayed byte for byte, a refusal with the first request\'s requestId); absent otherwise',
      schema: { type: 'string', enum: ['true'] },
    },
  };
  doc.components.parameters = {
    RequestId: {
      name: 'x-request-id',
      in: 'header',
      required: false,
      description: 'Your id for this request, echoed in X-Request-Id, in problem+json and in the access log; one that is too long or has characters other than letters, digits and -_.:;=+/@~ is replaced by a new UUID (never refused)',
      schema: { type: 'string', maxLength: 128 },
    },
    TraceParent: {
      name: 'traceparent',
      in: 'header',
      required: false,
      description: 'W3C Trace Context; its trace id is logged with the request. A malformed one is ignored, not refused',
      schema: { type: 'string' },
    },
  };

  for (const item of Object.values(doc.paths)) {
    for (const m of METHODS) {
      const op = item[m];
      if (!op) continue;
      // Routes that need no key carry an explicit empty requirement: no global requirement applies to them.
      if (!op.security || op.security.length === 0) op.security = [];
      // Fastify reads the body of these methods before any route code (auth included), with or without a body
      // documented: a body too large or of a type no parser takes is refused on every one of them.
      if (m === 'post' || m === 'put' || m === 'patch' || m === 'delete') {
        for (const status of [413, 415] as const) op.responses[status] ??= problemResponseObject(status);
      }
      op.parameters = [...(op.parameters ?? []), { $ref: '#/components/parameters/RequestId' }, { $ref: '#/components/parameters/TraceParent' }];
      const idempotent = op.parameters.some((p) => !('$ref' in p) && p.in === 'header' && p.name.toLowerCase() === 'idempotency-key');
      for (const [status, response] of Object.entries(op.responses)) {
        if (!response || '$ref' in response) continue;
        // Answered before a claim is looked up (a malformed request, no key, a limit) or never stored: not a replay.
        const replayable = idempotent && !['400', '401', '413', '415', '429', '503'].includes(status);
        response.headers = {
          ...response.headers,
          'X-Request-Id': { $ref: '#/components/headers/RequestId' },
          ...(replayable ? { 'Idempotent-Replayed': { $ref: '#/components/headers/IdempotentReplayed' } } : {}),
        };
      }
      op.responses = sortKeys(op.responses);
      if (op.parameters) op.parameters = [...op.parameters].sort((a, b) => ('$ref' in a || '$ref' in b ? 0 : a.in === b.in ? 0 : a.in === 'path' ? -1 : b.in === 'path' ? 1 : 0));
    }
  }
  doc.paths = sortKeys(mergeEquivalentPaths(doc.paths));
  doc.tags = [...new Set(Object.values(doc.paths).flatMap((item) => METHODS.flatMap((m) => item[m]?.tags ?? [])))].sort().map((name) => ({ name, ...(TAGS[name] ? { description: TAGS[name] } : {}) }));
  return doc;
}

/** Serves the document at /docs/json (and the UI at /docs). */
export function setupOpenApi(app: INestApplication): void {
  SwaggerModule.setup('docs', app, () => buildOpenApiDocument(app), { jsonDocumentUrl: 'docs/json' });
}
