#!/usr/bin/env bash
# Runs the merge's snippets as a one-off Fargate task: registers deploy/ecs/task-definition.json
# with its ${...} placeholders filled in from the environment, runs SNIPPETS_PARALLELISM
# copies (they share a batched snippet's key ranges), waits for them to stop and exits with
# the highest exit code of their runner containers. Called by deploy/run.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${AWS_REGION:?set AWS_REGION}"
: "${ECS_CLUSTER:?set ECS_CLUSTER to the cluster that runs the task}"
: "${ECS_SUBNETS:?set ECS_SUBNETS to the subnet ids, comma-separated, that can reach the database}"
: "${ECS_SECURITY_GROUPS:?set ECS_SECURITY_GROUPS to the security group ids, comma-separated}"
: "${ECS_TASK_ROLE_ARN:?set ECS_TASK_ROLE_ARN to the role the snippets run as}"
: "${ECS_EXECUTION_ROLE_ARN:?set ECS_EXECUTION_ROLE_ARN to the role that pulls the image and reads the secret}"
: "${ECS_DATABASE_URL_SECRET_ARN:?set ECS_DATABASE_URL_SECRET_ARN to the Secrets Manager secret or SSM parameter holding DATABASE_URL}"
export ECS_LOG_GROUP=${ECS_LOG_GROUP:-/snippets/example-snippets}
export ECS_CPU=${ECS_CPU:-512} ECS_MEMORY=${ECS_MEMORY:-1024}
export SNIPPETS_EXECUTED_BY=${SNIPPETS_EXECUTED_BY:-ci}
# Its entries are whitespace-separated: on one line they fit in a JSON string.
SNIPPETS_INPUTS=$(printf '%s' "${SNIPPETS_INPUTS:-}" | tr -s '[:space:]' ' ')
export SNIPPETS_INPUTS
assign_public_ip=${ECS_ASSIGN_PUBLIC_IP:-DISABLED}
report_dir=${SNIPPETS_REPORT_DIR:-reports/run}
if [ "$SNIPPETS_PARALLELISM" -gt 10 ]; then
  echo "SNIPPETS_PARALLELISM $SNIPPETS_PARALLELISM is more than the 10 tasks one ECS run-task starts; use 10 or fewer" >&2
  exit 2
fi

# Only these are substituted, so no other $ in the file is touched.
# shellcheck disable=SC2016 # envsubst reads the ${...} names, not their values
placeholders='${AWS_REGION} ${ECS_CPU} ${ECS_MEMORY} ${ECS_TASK_ROLE_ARN} ${ECS_EXECUTION_ROLE_ARN} ${ECS_DATABASE_URL_SECRET_ARN} ${ECS_INPUT_TOKEN_SECRET_ARN} ${ECS_LOG_GROUP} ${SNIPPETS_IMAGE} ${SNIPPETS_EXPECT} ${SNIPPETS_LOCK_HOLDER} ${SNIPPETS_WORKERS} ${SNIPPETS_APPROVED_BY} ${SNIPPETS_GIT_SHA} ${SNIPPETS_CI_RUN_URL} ${SNIPPETS_EXECUTED_BY} ${SNIPPETS_INPUTS}'
rendered=$(mktemp)
trap 'rm -f "$rendered"' EXIT
# Without ECS_INPUT_TOKEN_SECRET_ARN (S3 inputs need no token: the task role reads them) the
# task gets no SNIPPETS_INPUT_TOKEN secret: its line is left out.
envsubst "$placeholders" < deploy/ecs/task-definition.json |
  if [ -n "${ECS_INPUT_TOKEN_SECRET_ARN:-}" ]; then cat; else grep -v '"name": "SNIPPETS_INPUT_TOKEN"'; fi > "$rendered"

task_definition=$(aws ecs register-task-definition --cli-input-json "file://$rendered" \
  --query taskDefinition.taskDefinitionArn --output text)
echo "registered $task_definition"
tasks=$(aws ecs run-task --cluster "$ECS_CLUSTER" --launch-type FARGATE --task-definition "$task_definition" \
  --count "$SNIPPETS_PARALLELISM" --started-by snippets-ci \
  --network-configuration "awsvpcConfiguration={subnets=[$ECS_SUBNETS],securityGroups=[$ECS_SECURITY_GROUPS],assignPublicIp=$assign_public_ip}" \
  --query 'tasks[].taskArn' --output text)
started=$(wc -w <<<"$tasks")
if [ "$started" -ne "$SNIPPETS_PARALLELISM" ]; then
  echo "ECS started $started of $SNIPPETS_PARALLELISM task(s) ($tasks); see the run-task failures in its output" >&2
  exit 1
fi
echo "started $tasks"

# `aws ecs wait tasks-stopped` gives up after 10 minutes; a long run needs several.
deadline=$((SECONDS + SNIPPETS_DEADLINE_SECONDS))
# shellcheck disable=SC2086 # $tasks is a list of ARNs
until aws ecs wait tasks-stopped --cluster "$ECS_CLUSTER" --tasks $tasks 2>/dev/null; do
  aws ecs describe-tasks --cluster "$ECS_CLUSTER" --tasks $tasks --query 'tasks[].lastStatus' --output text
  if [ "$SECONDS" -gt "$deadline" ]; then
    # The runner gets SIGTERM: an atomic snippet rolls back, a batched one resumes next run.
    for task in $tasks; do aws ecs stop-task --cluster "$ECS_CLUSTER" --task "$task" --reason "past SNIPPETS_DEADLINE_SECONDS" >/dev/null; done
    echo "the run took longer than SNIPPETS_DEADLINE_SECONDS ($SNIPPETS_DEADLINE_SECONDS s); stopped it" >&2
    exit 1
  fi
done

# The runner's output, for the published reports.
mkdir -p "$report_dir"
for task in $tasks; do
  aws logs get-log-events --log-group-name "$ECS_LOG_GROUP" --log-stream-name "snippets/runner/${task##*/}" \
    --start-from-head --query 'events[].message' --output text > "$report_dir/ecs-${task##*/}.log" ||
    echo "could not read the log of $task from $ECS_LOG_GROUP; see CloudWatch" >&2
done

# A container that never started (no image, no secret) has no exit code: that is a failure.
status=0
# shellcheck disable=SC2016,SC2086 # a JMESPath literal; a list of ARNs
while read -r arn code reason; do
  echo "$arn exited with ${code} ${reason}"
  if [ "$code" = None ]; then code=1; fi
  if [ "$code" -gt "$status" ]; then status=$code; fi
done < <(aws ecs describe-tasks --cluster "$ECS_CLUSTER" --tasks $tasks \
  --query 'tasks[].[taskArn, containers[?name==`runner`] | [0].exitCode, stoppedReason]' --output text)
exit "$status"
