#!/usr/bin/env bash
# A second Docker daemon that stands in for a remote build host: it cannot see this machine's files.
#
#   scripts/remote-dockerd.sh STATE_DIR PORT [PATH_TO_HIDE...]
#   DOCKER_HOST=tcp://127.0.0.1:PORT .venv/bin/python -m invoke build --variant 1
#
# Runs dockerd (in the foreground; stop it with SIGTERM or Ctrl-C) in a mount namespace of its own
# (unshare -m, private propagation) where an empty tmpfs covers /tmp, $HOME and every PATH_TO_HIDE
# (your checkout, build folder, download cache): a task that bind-mounted, or handed the daemon, a
# path of the client would find nothing there. The main daemon's mounts are detached in that
# namespace. Its data root, exec root (and so its own managed containerd), pid file, daemon.json
# and log (STATE_DIR/dockerd.log) live in STATE_DIR, which must not be under a hidden path; it
# listens on tcp://127.0.0.1:PORT only (no unix socket) and follows the network rule (no bridge,
# no iptables, no masquerading). Needs root. STATE_DIR is left for you to remove (rm -rf) once
# the daemon has stopped.
set -euo pipefail

die() { echo "remote-dockerd: $*" >&2; exit 1; }

if [ "${1:-}" = "--inside" ]; then
  shift
  state=$1 port=$2
  shift 2
  # The main daemon's overlay and netns mounts: nothing of ours, and not kept busy from here.
  awk '{print $5}' /proc/self/mountinfo | grep -E '^/(var/lib/docker|run/docker|var/run/docker)(/|$)' | sort -r |
    while read -r m; do umount -l "$m" 2>/dev/null || true; done
  for p in "$@"; do
    mkdir -p "$p"
    mount -t tmpfs -o mode=0755,size=64m "dci-remote-hidden" "$p"
  done
  mkdir -p /tmp && chmod 1777 /tmp
  cd /
  exec dockerd \
    --data-root "$state/data" --exec-root "$state/exec" --pidfile "$state/dockerd.pid" \
    --config-file "$state/daemon.json" -H "tcp://127.0.0.1:$port" \
    --storage-driver overlay2 --bridge=none --iptables=false --ip-masq=false
fi

[ $# -ge 2 ] || die "usage: $0 STATE_DIR PORT [PATH_TO_HIDE...] (e.g. $0 /var/lib/dci-remote 23750 \"\$PWD\")"
[ "$(id -u)" -eq 0 ] || die "needs root (a mount namespace and dockerd): run it as root."
command -v dockerd >/dev/null 2>&1 || die "dockerd is not installed (package docker.io; scripts/bootstrap.sh installs it)."
command -v unshare >/dev/null 2>&1 || die "unshare is not installed (package util-linux)."
case "$2" in ''|*[!0-9]*) die "PORT '$2' is not a port number: give a free TCP port, e.g. 23750." ;; esac
state=$(realpath -m "$1")
port=$2
shift 2
hidden=()
for p in /tmp "${HOME:-}" "$@"; do
  [ -n "$p" ] || continue
  p=$(realpath -m "$p")
  case "$state/" in "$p"/*) die "STATE_DIR $state is under $p, which the daemon must not see: put it elsewhere (e.g. /var/lib/dci-remote)." ;; esac
  [ "$p" = / ] && die "cannot hide / from the daemon: name the folders to hide (checkout, build folder, cache)."
  hidden+=("$p")
done
# A folder under another hidden one is hidden with it (mounting it too would leave its mount point
# showing in the parent's empty tmpfs).
mapfile -t hidden < <(printf '%s\n' "${hidden[@]}" | sort -u | awk '{ for (i = 1; i <= n; i++) if (index($0 "/", kept[i] "/") == 1) next; kept[++n] = $0; print }')
mkdir -p "$state/data" "$state/exec"
[ -f "$state/daemon.json" ] || echo '{}' >"$state/daemon.json"
exec >>"$state/dockerd.log" 2>&1
echo "remote-dockerd: tcp://127.0.0.1:$port, state $state, hiding: ${hidden[*]}"
exec unshare -m --propagation private -- "$0" --inside "$state" "$port" "${hidden[@]}"
