#!/usr/bin/env bash
# Prints the GitHub logins that approved the pull requests merged in BASE..HEAD,
# comma-separated, for the ledger's `approved by`. Fails when there are none: only
# reviewed snippets run. Needs the gh CLI with GH_TOKEN (and GH_REPO outside a checkout
# of the GitHub repo).
set -euo pipefail
base=${1:?usage: ci/approvers.sh BASE HEAD}
head=${2:?usage: ci/approvers.sh BASE HEAD}

# First-parent commits of main are the merges (or squashes) themselves.
prs=$(for sha in $(git rev-list --first-parent "$base..$head"); do
  gh api "repos/{owner}/{repo}/commits/$sha/pulls" --jq '.[] | select(.merged_at != null) | .number'
done | sort -un)

# A reviewer approved if their latest deciding review is APPROVED (a later change
# request or a dismissal takes it back; comments do not).
approvers=$(for pr in $prs; do
  gh api --paginate "repos/{owner}/{repo}/pulls/$pr/reviews" \
    --jq '.[] | select(.state == "APPROVED" or .state == "CHANGES_REQUESTED" or .state == "DISMISSED") | "\(.user.login) \(.state)"' |
    awk '{ last[$1] = $2 } END { for (login in last) if (last[login] == "APPROVED") print login }'
done | sort -u | paste -sd, -)

if [ -z "$approvers" ]; then
  echo "no approving review on the pull requests merged in $base..$head (${prs:-none found}); merge snippets through reviewed pull requests" >&2
  exit 1
fi
echo "$approvers"
