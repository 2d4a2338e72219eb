#!/usr/bin/env bash
# Fetches the production dumps named in SNIPPETS_DUMP_URLS and runs every gate on them:
#   ci/gates.sh REPORT_DIR
# SNIPPETS_DUMP_URLS: space-separated s3:// URLs (a directory-format dump ends with /) or
# local paths. DATABASE_URL: a PostgreSQL server for scratch databases, never production.
set -euo pipefail
report_dir=${1:?usage: ci/gates.sh REPORT_DIR}
: "${SNIPPETS_DUMP_URLS:?set SNIPPETS_DUMP_URLS to the production dump(s) to rehearse on, e.g. s3://acme-dumps/example-snippets/latest.dump}"
: "${DATABASE_URL:?set DATABASE_URL to a scratch PostgreSQL server (the CI service container), never production}"

mkdir -p .dumps
args=()
i=0
for url in $SNIPPETS_DUMP_URLS; do
  i=$((i + 1))
  case "$url" in
    s3://*/)
      file=".dumps/$i-$(basename "$url")"
      aws s3 cp --recursive --only-show-errors "$url" "$file" ;;
    s3://*)
      file=".dumps/$i-$(basename "$url")"
      aws s3 cp --only-show-errors "$url" "$file" ;;
    *) file=$url ;;
  esac
  args+=(--dump "$file")
done
exec npx --no-install snippet-gates check --report-dir "$report_dir" "${args[@]}"
