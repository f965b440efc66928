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
  responses: Record<string, { description: string; headers?: Record<string, unknown>; content?: Record<string, { schema?: unknown; 'x-item-schema'?: unknown }> }>;
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

  /**
   * The document's path template a concrete path (no query) is an instance of, for this method; a template with more
   * literal segments wins (/v1/releases/shadow/report over /v1/releases/{name}/{version}). Undefined when none is.
   */
  template(method: string, path: string): string | undefined {
    const segments = path.split('/');
    let best: { template: string; literals: number } | undefined;
    for (const [template, item] of Object.entries(this.doc.paths)) {
      if (!item[method.toLowerCase() as (typeof METHODS)[number]]) continue;
      const parts = template.split('/');
      if (parts.length !== segments.length) continue;
      let literals = 0;
      const fits = parts.every((p, i) => {
        if (/^\{[^}]+\}$/.test(p)) return segments[i] !== '';
        literals += 1;
        return p === segments[i];
      });
      if (fits && (!best || literals > best.literals)) best = { template, literals };
    }
    return best?.template;
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

  /**
   * check() on an answer as it came off the wire: JSON media types are parsed (unparsable is a problem), NDJSON is split
   * into lines, each checked against the schema its media type names in `x-item-schema`, and text stays a string.
   */
  checkText(method: string, path: string, status: number, contentType: string | null, text: string): string[] {
    const type = (contentType ?? '').split(';')[0]!.trim();
    if (type === 'application/x-ndjson') {
      const op = this.operation(method, path);
      const media = op.responses[String(status)]?.content?.[type];
      const first = this.check(method, path, status, contentType, text);
      if (first.length > 0 || !media) return first;
      if (!media['x-item-schema']) return [`${method} ${path} ${status} ${type} names no x-item-schema for its lines`];
      const key = `${method} ${path} ${status} ${type} line`;
      let validate = this.compiled.get(key);
      if (!validate) {
        validate = this.ajv.compile(this.absolute(media['x-item-schema']) as object);
        this.compiled.set(key, validate);
      }
      const lines = text.split('\n').filter((l) => l !== '');
      return lines.flatMap((line, i) => {
        let row: unknown;
        try {
          row = JSON.parse(line);
        } catch {
          return [`${key} ${i + 1} is not JSON: ${line.slice(0, 100)}`];
        }
        return validate(row) ? [] : [`${key} ${i + 1}: ${this.ajv.errorsText(validate.errors)}`];
      });
    }
    if (text === '') return this.check(method, path, status, contentType, undefined);
    if (type === 'application/json' || type.endsWith('+json')) {
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        return [`${method} ${path} ${status} answered ${type} that is not JSON: ${text.slice(0, 100)}`];
      }
      return this.check(method, path, status, contentType, body);
    }
    return this.check(method, path, status, contentType, text);
  }

  /** An openapi-fetch middleware that fails the call whose answer the document does not describe. */
  middleware(): Middleware {
    return {
      onResponse: async ({ request, response, schemaPath }) => {
        const text = await response.clone().text();
        const problems = this.checkText(request.method, schemaPath, response.status, response.headers.get('content-type'), text);
        if (problems.length > 0) throw new Error(`answer off the OpenAPI document:\n${problems.join('\n')}`);
        return undefined;
      },
    };
  }
}
