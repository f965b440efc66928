/**
 * GET /schemas/<name>.json: the platform's document schemas at stable, public URLs. Each is served with its `$id` naming
 * the URL it is served at: PUBLIC_BASE_URL's origin when set, else the origin the request came to (its Host header; a
 * malformed one falls back to the canonical `$id`).
 */
import { Controller, Get, Header, Inject, Req } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { Public } from '../auth/roles.js';
import type { AppConfig } from '../config.js';
import { ApiAnswers, ref } from '../openapi/contract.js';
import { APP_CONFIG } from '../tokens.js';
import { PUBLISHED_SCHEMAS, type PublishedSchema, SCHEMA_BASE } from './published-schemas.js';

const SCHEMA_TYPE = 'application/schema+json';

// Read once: the schemas are part of the deployed code.
const published = Object.fromEntries(Object.entries(PUBLISHED_SCHEMAS).map(([name, load]) => [name, load()])) as Record<PublishedSchema, Record<string, unknown>>;

/** A Host header as RFC 9110 allows it here: a name or IPv4 address, or a bracketed IPv6 address, and an optional port. */
const HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::\d{1,5})?$/;

@ApiTags('schemas')
@Public()
@Controller('schemas')
export class SchemasController {
  constructor(@Inject(APP_CONFIG) private readonly config: Pick<AppConfig, 'publicBaseUrl'>) {}

  /** The schema with its `$id` naming where it is served (key order kept: `$id` stays where the schema has it). */
  private serve(name: PublishedSchema, req: FastifyRequest): string {
    const host = req.headers.host;
    const base = this.config.publicBaseUrl
      ? `${this.config.publicBaseUrl}/schemas/`
      : host !== undefined && HOST.test(host)
        ? `${req.protocol}://${host}/schemas/`
        : SCHEMA_BASE;
    return JSON.stringify({ ...published[name], $id: `${base}${name}.json` });
  }

  @Get('rule-pack.json')
  @Header('content-type', SCHEMA_TYPE)
  @Header('cache-control', 'public, max-age=300')
  @ApiOperation({ summary: 'The JSON Schema of a rule pack (POST /v1/rule-packs; the CLI validates packs with it)' })
  @ApiAnswers({ status: 200, description: 'The schema', type: SCHEMA_TYPE, schema: ref('JsonSchema') }, 400)
  rulePack(@Req() req: FastifyRequest): string {
    return this.serve('rule-pack', req);
  }

  @Get('decision-type.json')
  @Header('content-type', SCHEMA_TYPE)
  @Header('cache-control', 'public, max-age=300')
  @ApiOperation({ summary: 'The JSON Schema of a decision type (POST /v1/decision-types)' })
  @ApiAnswers({ status: 200, description: 'The schema', type: SCHEMA_TYPE, schema: ref('JsonSchema') }, 400)
  decisionType(@Req() req: FastifyRequest): string {
    return this.serve('decision-type', req);
  }

  @Get('release-manifest.json')
  @Header('content-type', SCHEMA_TYPE)
  @Header('cache-control', 'public, max-age=300')
  @ApiOperation({ summary: 'The JSON Schema of a release manifest (POST /v1/releases, a simulation\'s candidate release)' })
  @ApiAnswers({ status: 200, description: 'The schema', type: SCHEMA_TYPE, schema: ref('JsonSchema') }, 400)
  releaseManifest(@Req() req: FastifyRequest): string {
    return this.serve('release-manifest', req);
  }
}
