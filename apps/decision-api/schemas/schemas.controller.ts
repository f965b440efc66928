/** GET /schemas/<name>.json: the platform's document schemas at stable, public URLs (their `$id`s name these paths). */
import { Controller, Get, Header } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { Public } from '../auth/roles.js';
import { ApiAnswers, ref } from '../openapi/contract.js';
import { PUBLISHED_SCHEMAS } from './published-schemas.js';

const SCHEMA_TYPE = 'application/schema+json';

// Read once: the schemas are part of the deployed code.
const published = Object.fromEntries(Object.entries(PUBLISHED_SCHEMAS).map(([name, load]) => [name, JSON.stringify(load())])) as Record<
  keyof typeof PUBLISHED_SCHEMAS,
  string
>;

@ApiTags('schemas')
@Public()
@Controller('schemas')
export class SchemasController {
  @Get('rule-pack.json')
  @Header('content-type', SCHEMA_TYPE)
  @Header('cache-control', 'public, max-age=300')
  @ApiOperation({ summary: 'The JSON Schema of a rule pack (POST /v1/rule-packs; the CLI validates packs with it)' })
  @ApiAnswers({ status: 200, description: 'The schema', type: SCHEMA_TYPE, schema: ref('JsonSchema') }, 400)
  rulePack(): string {
    return published['rule-pack'];
  }

  @Get('decision-type.json')
  @Header('content-type', SCHEMA_TYPE)
  @Header('cache-control', 'public, max-age=300')
  @ApiOperation({ summary: 'The JSON Schema of a decision type (POST /v1/decision-types)' })
  @ApiAnswers({ status: 200, description: 'The schema', type: SCHEMA_TYPE, schema: ref('JsonSchema') }, 400)
  decisionType(): string {
    return published['decision-type'];
  }

  @Get('release-manifest.json')
  @Header('content-type', SCHEMA_TYPE)
  @Header('cache-control', 'public, max-age=300')
  @ApiOperation({ summary: 'The JSON Schema of a release manifest (POST /v1/releases, a simulation\'s candidate release)' })
  @ApiAnswers({ status: 200, description: 'The schema', type: SCHEMA_TYPE, schema: ref('JsonSchema') }, 400)
  releaseManifest(): string {
    return published['release-manifest'];
  }
}
