/**
 * The committed OpenAPI document (docs/openapi.json) as a test oracle: which statuses an operation documents, and
 * whether an answer's body matches the schema documented for its status and media type.
 */
import { readFileSync } from 'node:fs';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import type { Middleware } from 'openapi-fetch';

export const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'] as const;

export interface Operation {
  operationId?: string;
  security?: Record<string, string[]>[];
  parameters?: { name: string; in: string; required?: boolean; schema?: unknown }[];
  requestBody?: { content: Record<string, { schema?: unknown }> };
  responses: Record<string, { description: string; content?: Record<string, { schema?: unknown }> }>;
}

export interface OpenApiDocument {
  openapi: string;
  servers?: { url: string }[];
  paths: Record<string, Partial<Record<(typeof METHODS)[number], Operation>>>;
  components: { schemas: Record<string, unknown>; securitySchemes: Record<string, Record<string, unknown>> };
}

export function committedDocument(): OpenApiDocument {
  return JSON.parse(readFileSync(new URL('../../docs/openapi.json', import.meta.url), 'utf8')) as OpenApiDocument;
}

/** Every (method, path, operation) of the document. */
export function operations(doc: OpenApiDocument): { method: string; path: string; op: Operation }[] {
  return Object.entries(doc.paths).flatMap(([path, item]) => METHODS.flatMap((method) => (item[method] ? [{ method, path, op: item[method] }] : [])));
}

const ROOT = 'https://decision-platform.dev/openapi.json';

/** Validates bodies against the document's schemas (JSON Schema 2020-12, as OpenAPI 3.1 is). */
export class ContractValidator {
  private readonly ajv: Ajv2020;
  private readonly compiled = new Map<string, ValidateFunction>();

  constructor(private readonly doc: OpenApiDocument) {
    // Not strict: the document carries OpenAPI's own keywords (discriminator, x-pii) next to JSON Schema's.
    this.ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats.default(this.ajv);
    this.ajv.addSchema(this.absolute({ $id: ROOT, components: doc.components }) as object);
  }

  /** `#/components/…` pointers made absolute, so a response's inline schema resolves them against the document. */
  private absolute(v: unknown): unknown {
    return JSON.parse(JSON.stringify(v).replaceAll('"#/components/', `"${ROOT}#/components/`)) as unknown;
  }

  operation(method: string, path: string): Operation {
    const op = this.doc.paths[path]?.[method.toLowerCase() as (typeof METHODS)[number]];
    if (!op) throw new Error(`${method} ${path} is not in the OpenAPI document`);
    return op;
  }

  /** The problems of an answer against the document: an undocumented status or media type, a body off its schema. */
  check(method: string, path: string, status: number, contentType: string | null, body: unknown): string[] {
    const op = this.operation(method, path);
    const response = op.responses[String(status)];
    if (!response) return [`${method} ${path} answered ${status}, which it does not document (${Object.keys(op.responses).join(', ')})`];
    if (!response.content) return body === undefined ? [] : [`${method} ${path} ${status} has a body but documents none`];
    const type = (contentType ?? '').split(';')[0]!.trim();
    const media = response.content[type];
    if (!media) return [`${method} ${path} ${status} answered ${type}, documented: ${Object.keys(response.content).join(', ')}`];
    const key = `${method} ${path} ${status} ${type}`;
    let validate = this.compiled.get(key);
    if (!validate) {
      validate = this.ajv.compile(this.absolute(media.schema ?? {}) as object);
      this.compiled.set(key, validate);
    }
    return validate(body) ? [] : [`${key}: ${this.ajv.errorsText(validate.errors)}`];
  }

  /** An openapi-fetch middleware that fails the call whose answer the document does not describe. */
  middleware(): Middleware {
    return {
      onResponse: async ({ request, response, schemaPath }) => {
        const text = await response.clone().text();
        const body = text === '' ? undefined : (JSON.parse(text) as unknown);
        const problems = this.check(request.method, schemaPath, response.status, response.headers.get('content-type'), body);
        if (problems.length > 0) throw new Error(`answer off the OpenAPI document:\n${problems.join('\n')}`);
        return undefined;
      },
    };
  }
}
