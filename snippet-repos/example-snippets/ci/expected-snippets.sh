#!/usr/bin/env bash
# Prints the ids of the snippets that BASE..HEAD adds, comma-separated: the set the run
# must find pending (`snippets run --expect`), so a run never applies anything else.
# The container that runs the snippets has no git checkout, so the set is computed here.
set -euo pipefail
base=${1:?usage: ci/expected-snippets.sh BASE HEAD}
head=${2:?usage: ci/expected-snippets.sh BASE HEAD}

# --no-renames: a renamed file counts as added. Tests and archived snippets do not match.
git diff --name-only --no-renames --diff-filter=A "$base" "$head" -- snippets/ |
  sed -nE 's#^snippets/([0-9]{4}_[a-z0-9]+(_[a-z0-9]+)*)\.ts$#\1#p' |
  paste -sd, -
