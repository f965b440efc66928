/** `decisions build`: OPA Wasm bundles from policies/ (scripts/opa.sh build), one per policy and version. */
import { spawn } from 'node:child_process';
import type { Command } from '../command.js';

export const build: Command = {
  name: 'build',
  args: '',
  summary: 'build policies/<name>/ into policies/bundles/<name>/<version>.tar.gz (opa build -t wasm)',
  run({ io }) {
    return new Promise((done, fail) => {
      const child = spawn('bash', ['scripts/opa.sh', 'build'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      const forward = (b: Buffer) => {
        output += b.toString();
        if (!io.json) process.stderr.write(b);
      };
      child.stdout.on('data', forward);
      child.stderr.on('data', forward);
      child.on('error', fail);
      child.on('close', (code) => {
        const bundles = [...output.matchAll(/opa\.sh: (?:wrote (\S+)|(\S+) is up to date)/g)].map((m) => ({ file: m[1] ?? m[2], changed: m[1] !== undefined }));
        if (io.json) io.out(JSON.stringify({ ok: code === 0, bundles }, null, 2));
        else if (code === 0) for (const b of bundles) io.out(`${b.changed ? 'built' : 'up to date'}  ${b.file}`);
        done(code ?? 1);
      });
    });
  },
};
