#!/usr/bin/env bash
# Prints the commit a main run counts its snippets from: the first candidate (the last
# successful run's commit, then the previous run's) that is an ancestor of HEAD; else
# HEAD's first parent; else, on a root commit, HEAD itself.
#   BASE=$(ci/base.sh LAST_SUCCESSFUL PREVIOUS)
set -euo pipefail
for candidate in "$@"; do
  if [ -n "$candidate" ] && git merge-base --is-ancestor "$candidate" HEAD 2>/dev/null; then
    echo "$candidate"
    exit 0
  fi
done
git rev-parse --verify --quiet 'HEAD^' || git rev-parse HEAD
