/**
 * `decisions publish <pack.json|type.json|bundle.tar.gz>`: uploads a rule pack, a decision type, or a policy bundle under
 * its manifest's name and version.
 */
import { readFile } from 'node:fs/promises';
import { DomainError } from '../../../libs/errors/index.js';
import { readBundle } from '../../../libs/policies/index.js';
import { loadPackFile } from '../../../libs/rules/index.js';
import type { Command } from '../command.js';
import { loadTypeFile } from '../content.js';
import { CliError } from '../output.js';

const isGzip = (b: Uint8Array) => b.length > 2 && b[0] === 0x1f && b[1] === 0x8b;

export const publish: Command = {
  name: 'publish',
  args: '<pack.json|type.json|bundle.tar.gz>',
  summary: 'upload a rule pack (POST /v1/rule-packs), a decision type (POST /v1/decision-types) or a policy bundle (POST /v1/policy-bundles?name=&version=)',
  async run({ io, positionals, client }) {
    if (positionals.length !== 1) throw new CliError('publish needs one file: a pack or decision type .json, or a bundle .tar.gz', 2);
    const file = positionals[0]!;
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
    } catch {
      throw new CliError(`${file}: no such file`);
    }

    let what: string;
    let answer;
    if (isGzip(bytes)) {
      let bundle;
      try {
        bundle = readBundle(bytes);
      } catch (e) {
        if (e instanceof DomainError) throw new DomainError(e.code, `${file}: ${e.message}`, e.kind, e.errors);
        throw e;
      }
      const meta = bundle.manifest.metadata ?? {};
      const name = typeof meta.name === 'string' ? meta.name : undefined;
      const version = typeof meta.version === 'string' ? meta.version : bundle.manifest.revision || undefined;
      if (!name || !version) throw new CliError(`${file}: the bundle's /.manifest names no metadata.name and metadata.version (or revision)`);
      what = `policy bundle ${name}@${version}`;
      answer = await client().postBytes(`/v1/policy-bundles?name=${encodeURIComponent(name)}&version=${encodeURIComponent(version)}`, bytes, 'application/gzip');
    } else {
      let json: unknown;
      try {
        json = JSON.parse(bytes.toString('utf8'));
      } catch {
        json = undefined; // loadPackFile names the file and the JSON error
      }
      // Checked here first, so a mistake is reported with the file and JSON path before anything is sent.
      if ((json as { kind?: unknown } | undefined)?.kind === 'decision-type') {
        const { doc } = await loadTypeFile(file, json);
        what = `decision type ${doc.name}@${doc.version}`;
        answer = await client().post('/v1/decision-types', json);
      } else {
        const pack = await loadPackFile(file);
        what = `rule pack ${pack.name}@${pack.version}`;
        answer = await client().post('/v1/rule-packs', json);
      }
    }
    if (io.json) io.out(JSON.stringify(answer.body, null, 2));
    else io.out(`${answer.status === 201 ? 'published' : 'already published (same content)'} ${what}`);
    return 0;
  },
};
