/** The console's build: static files in dist/console, served by the service at /console (apps/decision-api/console). */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { defineConfig, type Plugin } from 'vite';

const here = fileURLToPath(new URL('.', import.meta.url));

const outDir = fileURLToPath(new URL('../../dist/console', import.meta.url));

/** .br and .gz next to each built file: the service sends them as the browser accepts (@fastify/static preCompressed). */
function precompress(): Plugin {
  return {
    name: 'precompress',
    apply: 'build',
    async closeBundle() {
      for (const entry of await readdir(outDir, { recursive: true, withFileTypes: true })) {
        if (!entry.isFile() || !/\.(js|css|html|svg|json)$/.test(entry.name)) continue;
        const file = join(entry.parentPath, entry.name);
        const bytes = await readFile(file);
        await writeFile(`${file}.br`, brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }));
        await writeFile(`${file}.gz`, gzipSync(bytes, { level: 9 }));
      }
    },
  };
}

export default defineConfig({
  plugins: [precompress()],
  root: here,
  base: '/console/',
  // No network, no telemetry, no env leaking into the bundle: only VITE_-prefixed variables, and we use none.
  logLevel: 'warn',
  oxc: { jsx: { runtime: 'automatic' } },
  build: {
    outDir,
    emptyOutDir: true,
    target: 'es2022',
    // The bench reports the compressed size of the initial JavaScript (bench/console.ts); no source maps shipped.
    sourcemap: false,
    reportCompressedSize: false,
  },
});
