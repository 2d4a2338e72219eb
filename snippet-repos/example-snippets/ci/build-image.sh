#!/usr/bin/env bash
# Builds the runner image FROM the service's image, pushes it tagged with the merge sha and
# prints the pushed reference with its digest (REPOSITORY@sha256:...): the run and its
# ledger rows name exactly the image that ran. Progress goes to stderr.
#   SNIPPETS_IMAGE=$(ci/build-image.sh GIT_SHA)
set -euo pipefail
sha=${1:?usage: ci/build-image.sh GIT_SHA}
: "${SNIPPETS_IMAGE_REPOSITORY:?set SNIPPETS_IMAGE_REPOSITORY to the repository to push the runner image to}"
# The service image's tag: SERVICE_VERSION, else the version of @snippets/example-service the tests ran against.
service_version=${SERVICE_VERSION:-$(node -p "require('@snippets/example-service/package.json').version")}
tag="$SNIPPETS_IMAGE_REPOSITORY:$sha"

docker build --build-arg SERVICE_VERSION="$service_version" --label org.opencontainers.image.revision="$sha" --tag "$tag" . >&2
docker push "$tag" >&2
digest=$(docker inspect --format '{{range .RepoDigests}}{{println .}}{{end}}' "$tag" | grep "^$SNIPPETS_IMAGE_REPOSITORY@sha256:")
echo "$digest"
