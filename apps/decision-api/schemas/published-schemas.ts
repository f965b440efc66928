/**
 * The JSON Schemas of the platform's documents, as published at /schemas/<name>.json (api-contract.md §5, §7): the very
 * schemas the service and the CLI validate with. Each carries a canonical `$id`,
 * `https://decision-platform.dev/schemas/<name>.json` (absolute, as JSON Schema wants, and the key ajv compiles it under
 * in the service and the CLI alike); the served copy's `$id` names the URL it is served at (schemas.controller.ts).
 */
import { loadDecisionTypeSchema, releaseManifestSchema } from '../../../libs/decisions/index.js';
import { loadPackSchema } from '../../../libs/rules/index.js';

export const SCHEMA_BASE = 'https://decision-platform.dev/schemas/';

export const PUBLISHED_SCHEMAS = {
  'rule-pack': (): Record<string, unknown> => loadPackSchema(),
  'decision-type': (): Record<string, unknown> => loadDecisionTypeSchema(),
  // The manifest schema is embedded in other request schemas (a simulation's candidate release), all compiled by one
  // ajv: an `$id` in the shared constant would be registered twice there, so only the published copy carries one.
  'release-manifest': (): Record<string, unknown> => ({
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: `${SCHEMA_BASE}release-manifest.json`,
    title: 'Release manifest',
    description: 'A release: exact versions of the packs, bundles and decision types it is made of (POST /v1/releases).',
    ...releaseManifestSchema,
  }),
} as const;

export type PublishedSchema = keyof typeof PUBLISHED_SCHEMAS;
