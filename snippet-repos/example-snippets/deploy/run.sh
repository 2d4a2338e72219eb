#!/usr/bin/env bash
# Runs the merge's snippets once, in production, from the pushed runner image. Where it runs
# is SNIPPETS_RUN_ON: docker (on this CI machine, the default), ecs (a Fargate task) or
# kubernetes (a Job). Exits with the runner's exit code: 0 ok, 1 a snippet failed,
# 2 bad input, 3 refused.
#
# Needs: SNIPPETS_IMAGE (REPOSITORY@sha256:...), SNIPPETS_EXPECT (ids, comma-separated),
# SNIPPETS_LOCK_HOLDER, and for the ledger SNIPPETS_APPROVED_BY, SNIPPETS_GIT_SHA,
# SNIPPETS_CI_RUN_URL. docker also needs DATABASE_URL; ecs and kubernetes read it from
# their own secret store (see the README). Snippets with inputs need SNIPPETS_INPUTS (where
# they are) and, for https:// inputs, SNIPPETS_INPUT_TOKEN (ecs and kubernetes: a secret).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${SNIPPETS_IMAGE:?set SNIPPETS_IMAGE to the pushed runner image, REPOSITORY@sha256:...}"
: "${SNIPPETS_EXPECT:?set SNIPPETS_EXPECT to the ids of the snippets the merge adds (ci/expected-snippets.sh)}"
: "${SNIPPETS_LOCK_HOLDER:?set SNIPPETS_LOCK_HOLDER to the holder of the release lock (the CI run)}"
export SNIPPETS_WORKERS=${SNIPPETS_WORKERS:-1}
export SNIPPETS_PARALLELISM=${SNIPPETS_PARALLELISM:-1}
export SNIPPETS_DEADLINE_SECONDS=${SNIPPETS_DEADLINE_SECONDS:-21600}
export SNIPPETS_REPORT_DIR=${SNIPPETS_REPORT_DIR:-reports/run}
mkdir -p "$SNIPPETS_REPORT_DIR"

case "${SNIPPETS_RUN_ON:-docker}" in
  docker)
    : "${DATABASE_URL:?set DATABASE_URL to the production database}"
    # The image may run as another user than this machine's; let it write its reports.
    chmod a+rwx "$SNIPPETS_REPORT_DIR"
    # -e NAME passes the value from this environment without printing it (nothing when it is
    # unset). Host networking reaches the database the way this machine does; s3:// inputs are
    # read with this machine's AWS credentials.
    exec docker run --rm --network host \
      -e DATABASE_URL -e SNIPPETS_APPROVED_BY -e SNIPPETS_GIT_SHA -e SNIPPETS_IMAGE \
      -e SNIPPETS_CI_RUN_URL -e SNIPPETS_LOCK_HOLDER -e SNIPPETS_EXECUTED_BY \
      -e SNIPPETS_INPUTS -e SNIPPETS_INPUT_TOKEN \
      -e AWS_REGION -e AWS_ACCESS_KEY_ID -e AWS_SECRET_ACCESS_KEY -e AWS_SESSION_TOKEN \
      -v "$PWD/$SNIPPETS_REPORT_DIR:/reports" \
      "$SNIPPETS_IMAGE" \
      run --expect "$SNIPPETS_EXPECT" --lock releases --holder "$SNIPPETS_LOCK_HOLDER" \
      --report-dir /reports --workers "$SNIPPETS_WORKERS" ;;
  ecs) exec deploy/ecs/run-task.sh ;;
  kubernetes) exec deploy/kubernetes/run-job.sh ;;
  *)
    echo "SNIPPETS_RUN_ON '$SNIPPETS_RUN_ON' is not one of docker, ecs, kubernetes; set it to one of them" >&2
    exit 2 ;;
esac
