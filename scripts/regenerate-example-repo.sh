#!/usr/bin/env bash
# Regenerates snippet-repos/example-snippets from the snippet-repo template, keeping its
# snippets: run it after changing the template (the drift test says when).
set -euo pipefail
cd "$(dirname "$0")/.."
export NX_DAEMON=false NX_NO_CLOUD=true NX_TUI=false CI=true

repo=snippet-repos/example-snippets
keep=$(mktemp -d)
trap 'rm -rf "$keep"' EXIT
cp -r "$repo/snippets" "$keep/"
rm -rf "$repo"
npx nx g snippet-repo example-snippets --service=@snippets/example-service \
  --serviceImage=ghcr.io/acme/example-service --no-interactive
cp -r "$keep/snippets/." "$repo/snippets/"
npx snippets -C "$repo" manifest
