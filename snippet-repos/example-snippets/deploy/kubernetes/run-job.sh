#!/usr/bin/env bash
# Runs the merge's snippets as a Kubernetes Job: fills in deploy/kubernetes/job.yaml's ${...}
# placeholders from the environment, applies it, waits until it completes or fails, saves
# the pods' logs and exits with the highest exit code of its pods. Called by deploy/run.sh;
# kubectl uses KUBECONFIG (or the in-cluster account).
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${K8S_NAMESPACE:?set K8S_NAMESPACE to the namespace to run the Job in}"
: "${K8S_SECRET:?set K8S_SECRET to the Secret holding DATABASE_URL}"
export K8S_SERVICE_ACCOUNT=${K8S_SERVICE_ACCOUNT:-default}
export K8S_CPU=${K8S_CPU:-500m} K8S_MEMORY=${K8S_MEMORY:-1Gi}
export SNIPPETS_EXECUTED_BY=${SNIPPETS_EXECUTED_BY:-ci}
export K8S_INPUT_TOKEN_SECRET=${K8S_INPUT_TOKEN_SECRET:-$K8S_SECRET}
# Its entries are whitespace-separated: on one line they fit in a quoted YAML string.
SNIPPETS_INPUTS=$(printf '%s' "${SNIPPETS_INPUTS:-}" | tr -s '[:space:]' ' ')
export SNIPPETS_INPUTS
# A DNS label: the repo, the merge and the time, so a re-run gets a Job of its own.
SNIPPETS_JOB_NAME="example-snippets-${SNIPPETS_GIT_SHA:0:8}-$(date +%s)"
export SNIPPETS_JOB_NAME
report_dir=${SNIPPETS_REPORT_DIR:-reports/run}

# Only these are substituted, so no other $ in the file is touched.
# shellcheck disable=SC2016 # envsubst reads the ${...} names, not their values
placeholders='${SNIPPETS_JOB_NAME} ${K8S_NAMESPACE} ${K8S_SECRET} ${K8S_INPUT_TOKEN_SECRET} ${K8S_SERVICE_ACCOUNT} ${K8S_CPU} ${K8S_MEMORY} ${SNIPPETS_PARALLELISM} ${SNIPPETS_DEADLINE_SECONDS} ${SNIPPETS_IMAGE} ${SNIPPETS_EXPECT} ${SNIPPETS_LOCK_HOLDER} ${SNIPPETS_WORKERS} ${SNIPPETS_APPROVED_BY} ${SNIPPETS_GIT_SHA} ${SNIPPETS_CI_RUN_URL} ${SNIPPETS_EXECUTED_BY} ${SNIPPETS_INPUTS}'
envsubst "$placeholders" < deploy/kubernetes/job.yaml | kubectl apply -f -
job="job/$SNIPPETS_JOB_NAME"

# `kubectl wait` watches one condition; wait for whichever of the two comes first.
timeout="$((SNIPPETS_DEADLINE_SECONDS + 300))s"
kubectl wait -n "$K8S_NAMESPACE" --for=condition=complete "$job" --timeout="$timeout" >/dev/null 2>&1 &
complete=$!
kubectl wait -n "$K8S_NAMESPACE" --for=condition=failed "$job" --timeout="$timeout" >/dev/null 2>&1 &
failed=$!
wait -n "$complete" "$failed" || true
kill "$complete" "$failed" 2>/dev/null || true

mkdir -p "$report_dir"
kubectl logs -n "$K8S_NAMESPACE" -l "job-name=$SNIPPETS_JOB_NAME" --all-containers --prefix --tail=-1 \
  > "$report_dir/kubernetes-$SNIPPETS_JOB_NAME.log" || echo "could not read the logs of $job" >&2
kubectl get -n "$K8S_NAMESPACE" "$job" -o wide

# Each pod's runner exit code; a pod that never ran has none, which counts as a failure.
status=0
codes=$(kubectl get pods -n "$K8S_NAMESPACE" -l "job-name=$SNIPPETS_JOB_NAME" \
  -o jsonpath='{range .items[*]}{.status.containerStatuses[0].state.terminated.exitCode}{"\n"}{end}')
while read -r code; do
  code=${code:-1}
  if [ "$code" -gt "$status" ]; then status=$code; fi
done <<<"$codes"
if ! kubectl get -n "$K8S_NAMESPACE" "$job" -o jsonpath='{.status.conditions[?(@.type=="Complete")].status}' | grep -q True; then
  echo "$job did not complete (failed, or past activeDeadlineSeconds)" >&2
  if [ "$status" -eq 0 ]; then status=1; fi
fi
exit "$status"
