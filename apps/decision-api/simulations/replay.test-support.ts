/** What the replay tests share: the built-in content, and a candidate whose refund-policy reviews more refunds. */
import { resolve } from 'node:path';
import { FileComponentSource, ReleaseCompiler } from '../../../libs/decisions/index.js';

export const files = new FileComponentSource(resolve(import.meta.dirname, '../../..'));

/**
 * Compiles releases from the built-in content, plus `refund-policy@1.1.0-lower`: the shipped refund-policy sending
 * refunds above 4000 to review instead of approving them (a candidate that changes some stored answers).
 */
export const compiler = new ReleaseCompiler({
  pack: async (name, version) => {
    if (name !== 'refund-policy' || version !== '1.1.0-lower') return files.pack(name, version);
    const pack = (await files.pack('refund-policy', '1.0.0')) as { parameters: Record<string, unknown>; tests: { cases: unknown[] } };
    return { ...pack, version, parameters: { ...pack.parameters, autoApproveLimit: 4_000 }, tests: { ...pack.tests, cases: pack.tests.cases.slice(0, 1) } };
  },
  bundle: (name, version) => files.bundle(name, version),
  type: (name, version) => files.type(name, version),
});
