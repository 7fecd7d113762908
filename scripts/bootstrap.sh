#!/usr/bin/env bash
# Prepare this machine for dotnet-composite-images. Idempotent and quick when all is in place:
#   1. Debian packages: Docker Engine (docker.io), mmdebstrap, Python and its libraries;
#   2. a Docker daemon: when none answers (and DOCKER_HOST is not set), start dockerd with the
#      network rule's flags, wait for it, log to build/logs/dockerd.log;
#   3. emulation of linux-arm64 (--rid linux-arm64): qemu-user-static registered with binfmt_misc,
#      binfmt_misc mounted when it is not;
#   4. a virtual environment .venv (Debian's python3 + its packages; pip where PyPI answers)
#      in which this project is importable.
# Every failure stops the script with a message that says what to do.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LOG_DIR="$ROOT/build/logs"
VENV="$ROOT/.venv"
mkdir -p "$LOG_DIR"

say() { printf '[bootstrap] %s\n' "$*" >&2; }
die() { printf '[bootstrap] ERROR: %s\n' "$*" >&2; exit 1; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 && SUDO="sudo" || SUDO=""
fi

# --- 1. Debian packages ---------------------------------------------------------------
SYSTEM_PACKAGES=(docker.io mmdebstrap curl ca-certificates python3 python3-venv python3-pip
                 gcc zlib1g-dev  # the C toolchain Native AOT links with (variant 7: CppCompilerAndLinker=gcc)
                 docker-registry busybox-static
                 # linux-arm64 (--rid linux-arm64): qemu runs arm64 programs (mmdebstrap's maintainer scripts: arch-test checks it, RUN
                 # steps, the images under verify); the cross-compiler builds the arm64 `dotnet` host (NuGet has none)
                 qemu-user-static binfmt-support arch-test gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
PYTHON_PACKAGES=(python3-invoke python3-docker python3-packaging python3-requests python3-pytest
                 python3-pefile python3-rich python3-jinja2 python3-matplotlib python3-pytest-xdist python3-scipy)

missing_packages() {
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
  done
}

pypi_answers() {
  curl -s -m 5 -o /dev/null -w '%{http_code}' https://pypi.org/simple/pip/ 2>/dev/null | grep -q '^200$'
}

wanted=("${SYSTEM_PACKAGES[@]}")
USE_PIP=0
if pypi_answers; then USE_PIP=1; else wanted+=("${PYTHON_PACKAGES[@]}"); fi
mapfile -t missing < <(missing_packages "${wanted[@]}")
if [ "${#missing[@]}" -gt 0 ]; then
  command -v apt-get >/dev/null 2>&1 || die "missing packages ${missing[*]} and no apt-get: install them by hand."
  [ "$(id -u)" -eq 0 ] || [ -n "$SUDO" ] || die "missing packages ${missing[*]}: run this script as root or install sudo."
  say "installing Debian packages: ${missing[*]} (log: build/logs/apt.log)"
  if ! { $SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y \
        --no-install-recommends "${missing[@]}"; } >"$LOG_DIR/apt.log" 2>&1; then
    tail -n 20 "$LOG_DIR/apt.log" >&2
    die "apt-get could not install ${missing[*]}; see build/logs/apt.log (is the Debian archive reachable?)."
  fi
fi

command -v dotnet >/dev/null 2>&1 || [ -n "${DOTNET_ROOT:-}" ] || \
  die "no .NET SDK found (dotnet on PATH or DOTNET_ROOT): it provides the dotnet host and builds the sample apps."

# --- 2. Docker daemon -------------------------------------------------------------------
docker_answers() {
  if [ -n "${DOCKER_HOST:-}" ]; then
    /usr/bin/docker version >/dev/null 2>&1
  else
    curl -s -m 3 --unix-socket /var/run/docker.sock http://localhost/_ping 2>/dev/null | grep -q OK
  fi
}

if ! docker_answers; then
  [ -z "${DOCKER_HOST:-}" ] || die "no Docker daemon answers at DOCKER_HOST=$DOCKER_HOST: start it or unset DOCKER_HOST."
  command -v dockerd >/dev/null 2>&1 || die "dockerd is not installed (package docker.io)."
  [ "$(id -u)" -eq 0 ] || die "no Docker daemon answers and starting dockerd needs root: start it as root."
  say "starting dockerd (network rule: --bridge=none --iptables=false --ip-masq=false; log: build/logs/dockerd.log)"
  setsid nohup dockerd --bridge=none --iptables=false --ip-masq=false \
    >>"$LOG_DIR/dockerd.log" 2>&1 < /dev/null &
  for _ in $(seq 1 60); do
    docker_answers && break
    sleep 1
  done
  if ! docker_answers; then
    tail -n 20 "$LOG_DIR/dockerd.log" >&2
    die "dockerd did not answer within 60 s; see build/logs/dockerd.log."
  fi
  say "dockerd is up"
fi

# --- 3. emulation of linux-arm64 ----------------------------------------------------------
# The kernel runs arm64 executables through qemu when binfmt_misc has an enabled qemu-aarch64 entry with
# the F flag (the interpreter opened once, so it works inside containers). Mounting binfmt_misc and
# registering entries needs root; a machine without them still builds and verifies x64 images.
BINFMT=/proc/sys/fs/binfmt_misc
arm64_emulation() { [ -f "$BINFMT/qemu-aarch64" ] && head -n 1 "$BINFMT/qemu-aarch64" | grep -qx enabled; }
if ! arm64_emulation; then
  if [ "$(id -u)" -ne 0 ]; then
    say "WARNING: no arm64 emulation (binfmt_misc qemu-aarch64) and not root: --rid linux-arm64 will not work; run this script as root."
  else
    if [ ! -f "$BINFMT/status" ]; then
      say "mounting binfmt_misc on $BINFMT"
      mount -t binfmt_misc binfmt_misc "$BINFMT" >>"$LOG_DIR/binfmt.log" 2>&1 || \
        die "could not mount binfmt_misc on $BINFMT (see build/logs/binfmt.log): a container without that right cannot emulate arm64; run on the machine itself."
    fi
    say "registering qemu-user-static with binfmt_misc (update-binfmts --enable; log: build/logs/binfmt.log)"
    update-binfmts --enable >>"$LOG_DIR/binfmt.log" 2>&1 || true
    if ! arm64_emulation && [ -f /usr/share/binfmts/qemu-aarch64 ]; then
      update-binfmts --import qemu-aarch64 >>"$LOG_DIR/binfmt.log" 2>&1 || true
      update-binfmts --enable qemu-aarch64 >>"$LOG_DIR/binfmt.log" 2>&1 || true
    fi
    arm64_emulation || die "qemu-aarch64 is not registered with binfmt_misc after update-binfmts (see build/logs/binfmt.log); reinstall qemu-user-static binfmt-support."
    grep -q '^flags:.*F' "$BINFMT/qemu-aarch64" || \
      die "the qemu-aarch64 binfmt entry lacks the F flag: containers cannot find qemu. Remove it (echo -1 > $BINFMT/qemu-aarch64) and run this script again."
    say "arm64 emulation ready (qemu-aarch64 registered)"
  fi
fi

# --- 4. Python environment --------------------------------------------------------------
if [ ! -x "$VENV/bin/python" ]; then
  say "creating .venv (Debian's /usr/bin/python3 with its system packages)"
  /usr/bin/python3 -m venv --system-site-packages "$VENV" || die "could not create .venv (package python3-venv)."
fi
if [ "$USE_PIP" -eq 1 ]; then
  "$VENV/bin/python" -m pip install -q -e "$ROOT[test,report]" >"$LOG_DIR/pip.log" 2>&1 || \
    die "pip install failed; see build/logs/pip.log."
else
  # Make the project importable from the venv without a build step (PyPI is out of reach).
  site=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  echo "$ROOT" >"$site/dotnet_composite_images.pth"
fi
"$VENV/bin/python" - <<'PY' || die "Python dependencies are not importable from .venv; see the error above."
import docker, invoke, jinja2, packaging, pefile, pytest, requests, rich  # noqa: F401
PY
say "ready (python: $VENV/bin/python, docker: $(/usr/bin/docker version --format '{{.Server.Version}}' 2>/dev/null || echo '?'))"
