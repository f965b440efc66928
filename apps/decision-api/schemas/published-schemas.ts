/**
 * The JSON Schemas of the platform's documents, as published at /schemas/<name>.json (api-contract.md §5, §7): the very
 * schemas the service and the CLI validate with. Each `$id` is `https://decision-platform.dev/schemas/<name>.json`:
 * absolute (JSON Schema wants an absolute `$id`, and ajv keys compiled schemas by it), the same on every deployment, and
 * its path is where every running service serves it.
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
