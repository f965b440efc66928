#!/usr/bin/env bash
# The HTTP contract: docs/openapi.json, generated from the code, and the typed client generated from it.
# Usage: scripts/openapi.sh write|check-stale|lint
#   write        docs/openapi.json from the controllers (no port, in-memory store), then test/support/api-client.d.ts
#   check-stale  fail when either committed file differs from what the code gives (CI)
#   lint         Redocly CLI, redocly.yaml's rules; offline and without telemetry
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

DOCUMENT=docs/openapi.json
CLIENT=test/support/api-client.d.ts
BIN=node_modules/.bin

build() { npm run build --silent >/dev/null 2>&1 || npm run build; }

# Run where no redocly.yaml is: openapi-typescript would take that file's `apis` (the lint's) instead of its arguments.
client() {
  local out dir
  out="$(realpath -m "$1")"
  dir="$(mktemp -d)"
  (cd "$dir" && "$repo/$BIN/openapi-typescript" "$repo/$DOCUMENT" --empty-objects-unknown --output "$out" >/dev/null)
  rm -rf "$dir"
}

cmd_write() {
  build
  node dist/apps/decision-api/openapi/write.js
  client "$CLIENT"
  echo "wrote $CLIENT"
}

cmd_check_stale() {
  build
  node dist/apps/decision-api/openapi/write.js --check
  local tmp
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' RETURN
  client "$tmp/api-client.d.ts"
  if ! cmp -s "$tmp/api-client.d.ts" "$CLIENT"; then
    echo "$CLIENT is stale: run npm run openapi and commit it" >&2
    diff -u "$CLIENT" "$tmp/api-client.d.ts" | head -40 >&2 || true
    return 1
  fi
  echo "$CLIENT is up to date"
}

cmd_lint() {
  # Telemetry is off in redocly.yaml too; the update notice would ask the registry.
  REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true "$BIN/redocly" lint --max-problems 1000
}

case "${1:-}" in
  write) cmd_write ;;
  check-stale) cmd_check_stale ;;
  lint) cmd_lint ;;
  *)
    echo "usage: $0 write|check-stale|lint" >&2
    exit 2
    ;;
esac
