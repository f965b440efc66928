import type { FastifyRequest } from 'fastify';
import { SchemasController } from './schemas.controller.js';

const request = (host: string | undefined, protocol: 'http' | 'https' = 'http') => ({ headers: host === undefined ? {} : { host }, protocol }) as unknown as FastifyRequest;
const idOf = (body: string) => (JSON.parse(body) as { $id: string }).$id;

describe('the served schemas $id', () => {
  const fromRequest = new SchemasController({ publicBaseUrl: undefined });

  it('names the origin the request came to when PUBLIC_BASE_URL is unset', () => {
    expect(idOf(fromRequest.rulePack(request('decisions.internal:3000')))).toBe('http://decisions.internal:3000/schemas/rule-pack.json');
    expect(idOf(fromRequest.decisionType(request('[::1]:8443', 'https')))).toBe('https://[::1]:8443/schemas/decision-type.json');
  });

  it('falls back to the canonical $id for a missing or malformed Host', () => {
    expect(idOf(fromRequest.releaseManifest(request(undefined)))).toBe('https://decision-platform.dev/schemas/release-manifest.json');
    for (const host of ['evil.example/x', 'a b', 'host:port', '"quoted"']) {
      expect(idOf(fromRequest.rulePack(request(host)))).toBe('https://decision-platform.dev/schemas/rule-pack.json');
    }
  });

  it('names PUBLIC_BASE_URL when set, whatever the Host', () => {
    const configured = new SchemasController({ publicBaseUrl: 'https://decisions.example.com/platform' });
    expect(idOf(configured.rulePack(request('127.0.0.1:3000')))).toBe('https://decisions.example.com/platform/schemas/rule-pack.json');
  });

  it('keeps the schema otherwise whole, $id where the schema has it', () => {
    const body = JSON.parse(fromRequest.rulePack(request('h:1'))) as Record<string, unknown>;
    expect(Object.keys(body).slice(0, 2)).toEqual(['$schema', '$id']);
    expect(body.title).toBeDefined();
  });
});
