#!/usr/bin/env bash
# Logs docker in to the registry of SNIPPETS_IMAGE_REPOSITORY: ECR with the AWS
# credentials the job already has, any other registry with SNIPPETS_REGISTRY_USERNAME and
# SNIPPETS_REGISTRY_PASSWORD. The password goes through stdin, never the command line.
set -euo pipefail
: "${SNIPPETS_IMAGE_REPOSITORY:?set SNIPPETS_IMAGE_REPOSITORY to the repository to push the runner image to}"
registry=${SNIPPETS_IMAGE_REPOSITORY%%/*}

case "$registry" in
  *.dkr.ecr.*.amazonaws.com)
    aws ecr get-login-password | docker login --username AWS --password-stdin "$registry" ;;
  *)
    : "${SNIPPETS_REGISTRY_USERNAME:?set SNIPPETS_REGISTRY_USERNAME (and SNIPPETS_REGISTRY_PASSWORD) for $registry}"
    printenv SNIPPETS_REGISTRY_PASSWORD | docker login --username "$SNIPPETS_REGISTRY_USERNAME" --password-stdin "$registry" ;;
esac
