/** The JSON Schema of a release manifest (api-contract.md section 5), for every request that carries one. */
import { NAME_MAX_LENGTH, NAME_PATTERN, SEMVER_PATTERN } from '../names/index.js';

const version = { type: 'string', pattern: SEMVER_PATTERN, maxLength: 100 } as const;

export const releaseManifestSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'version', 'components'],
  properties: {
    name: { type: 'string', pattern: NAME_PATTERN, maxLength: NAME_MAX_LENGTH },
    version,
    description: { type: 'string', maxLength: 2000 },
    components: {
      type: 'object',
      minProperties: 1,
      maxProperties: 100,
      propertyNames: { pattern: NAME_PATTERN, maxLength: NAME_MAX_LENGTH },
      additionalProperties: version,
    },
  },
} as const;
