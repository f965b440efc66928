#!/usr/bin/env node
// The authors' CLI; built by `npm run build` into dist/.
await import('../dist/apps/cli/main.js');
