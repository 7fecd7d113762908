"""The only door to containerd: a private daemon for one measurement, and pulls through ``ctr``.

Kubernetes nodes keep images in containerd, whose content store is keyed by blob digest: a pull
fetches only the blobs the node does not hold yet. To measure that (not to assume it), the report
starts a containerd of its own — its own root, state and socket in a temporary folder, a minimal
configuration (no CRI, no runtimes, no exotic snapshotters: it answers in a fraction of a second) —
pulls with ``ctr images pull`` and stops it and removes its folder when the ``with`` block ends,
also on errors and Ctrl-C::

    with Containerd.start() as node:
        node.pull("127.0.0.1:5000/dotnet-composite/runtime:10.0-trixie-slim-composite")

The content store is ``isolated`` between namespaces (containerd's default shares a blob that
another namespace already holds without fetching it again), and a new daemon is one node with an
empty store: nothing pulled for one measurement can be reused by the next.

Only registries on 127.0.0.1 are pulled from, over plain HTTP.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from crossgen.core.errors import DciError

CONTAINERD = "/usr/bin/containerd"
CTR = "/usr/bin/ctr"
NAMESPACE = "dci"

# Plugins a pull-only node does not need: the Kubernetes CRI, the runtimes and task services,
# and the snapshotters that need a special file system.
DISABLED_PLUGINS = (
    "io.containerd.grpc.v1.cri",
    "io.containerd.snapshotter.v1.aufs",
    "io.containerd.snapshotter.v1.btrfs",
    "io.containerd.snapshotter.v1.devmapper",
    "io.containerd.snapshotter.v1.zfs",
    "io.containerd.runtime.v1.linux",
    "io.containerd.runtime.v2.task",
    "io.containerd.monitor.v1.cgroups",
    "io.containerd.service.v1.tasks-service",
    "io.containerd.grpc.v1.tasks",
    "io.containerd.internal.v1.restart",
    "io.containerd.internal.v1.tracing",
    "io.containerd.tracing.processor.v1.otlp",
)

CONFIG_TEMPLATE = """\
# Written by dotnet-composite-images (crossgen/dockerio/containerd.py) for one private containerd.
version = 2
root = {root}
state = {state}
disabled_plugins = {disabled}

[grpc]
  address = {address}

[ttrpc]
  address = {ttrpc}

[debug]
  address = ""
  level = "warn"

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = {opt}

[plugins."io.containerd.metadata.v1.bolt"]
  content_sharing_policy = "isolated"
"""


class ContainerdError(DciError):
    """A private containerd that would not start, or a ``ctr`` command that failed."""


def _toml(value) -> str:
    return json.dumps(value)  # a JSON string or list of strings is a TOML basic string / array


def _loopback_only(ref: str) -> None:
    host = ref.split("/", 1)[0]
    if "/" not in ref or not (host.startswith("127.0.0.1:") or host == "127.0.0.1"):
        raise ContainerdError(f"image reference {ref}", "names no registry on 127.0.0.1",
                              "pull from a local registry only: 127.0.0.1:PORT/repository:tag")


def _mounts_under(folder: Path) -> list[str]:
    """Mount points below ``folder`` (an unpack interrupted half-way can leave one), deepest first."""
    try:
        lines = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return []
    prefix = str(folder) + "/"
    points = [line.split()[1].replace("\\040", " ") for line in lines if len(line.split()) > 1]
    return sorted((p for p in points if p.startswith(prefix)), key=len, reverse=True)


@dataclass
class Containerd:
    """A running private ``containerd``; use :meth:`start` as a context manager."""

    folder: Path
    process: subprocess.Popen | None
    ctr: str = CTR

    @property
    def address(self) -> str:
        return str(self.folder / "containerd.sock")

    @property
    def log_path(self) -> Path:
        return self.folder / "containerd.log"

    # --- life cycle -------------------------------------------------------------------

    @classmethod
    def start(cls, *, parent: Path | None = None, binary: str = CONTAINERD, ctr: str = CTR,
              timeout: float = 30.0) -> "Containerd":
        """Start a containerd in a new temporary folder (under ``parent``, else the system's); it is
        removed again by :meth:`stop` (the ``with`` block's end)."""
        for tool, package in ((binary, "containerd"), (ctr, "containerd")):
            if not (Path(tool).is_file() and os.access(tool, os.X_OK)):
                raise ContainerdError(f"containerd tool {tool}", "not found",
                                      f"install Debian's {package} package (apt-get install containerd), or leave out the pull measurement")
        if parent is not None:
            Path(parent).mkdir(parents=True, exist_ok=True)
        # a short path: the socket's path must fit in 108 bytes
        folder = Path(tempfile.mkdtemp(prefix="dci-ctd-", dir=str(parent) if parent else None)).resolve()
        node = cls(folder, None, ctr)
        try:
            if len(node.address) > 100:
                raise ContainerdError(f"folder {folder}", "too long a path for containerd's socket",
                                      "give a shorter parent folder (or none: the system's temporary folder)")
            config = folder / "config.toml"
            config.write_text(CONFIG_TEMPLATE.format(
                root=_toml(str(folder / "root")), state=_toml(str(folder / "state")), disabled=_toml(list(DISABLED_PLUGINS)),
                address=_toml(node.address), ttrpc=_toml(node.address + ".ttrpc"), opt=_toml(str(folder / "opt"))))
            with open(node.log_path, "ab") as log:
                node.process = subprocess.Popen([binary, "--config", str(config)], stdout=log, stderr=subprocess.STDOUT,
                                                stdin=subprocess.DEVNULL, start_new_session=True)
            node._wait_ready(timeout)
            return node
        except BaseException:  # Ctrl-C or a failure while starting: nothing is left running or on disk
            node.stop()
            raise

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        delay = 0.02
        last = ""
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise ContainerdError(f"containerd in {self.folder}", f"exited at start with code {self.process.returncode}: "
                                      f"{self._log_tail()}", "see the message; is another containerd using the same folder?")
            try:
                proc = subprocess.run([self.ctr, "-a", self.address, "version"], capture_output=True, text=True, timeout=10)
                if proc.returncode == 0 and "Server:" in proc.stdout:
                    return
                last = (proc.stderr or proc.stdout).strip()[-200:]
            except subprocess.TimeoutExpired:
                last = "ctr version did not answer within 10 s"
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
        raise ContainerdError(f"containerd in {self.folder}", f"`ctr version` got no answer within {timeout:.0f} s ({last})",
                              "a busy machine may need longer; see its log line: " + self._log_tail())

    def _log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace").strip()[-300:] or "(empty log)"
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        """Stop the daemon (TERM, then KILL) and remove its folder; safe to call twice."""
        proc, self.process = self.process, None
        try:
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(15)
        finally:
            if self.folder.exists():
                for point in _mounts_under(self.folder):
                    subprocess.run(["umount", "-l", point], capture_output=True, timeout=30)
                shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> "Containerd":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- ctr ----------------------------------------------------------------------------

    def _ctr(self, args: list[str], *, what: str, timeout: float, fix: str) -> str:
        if self.process is None:
            raise ContainerdError(what, "the private containerd is not running", "use the node inside its `with` block")
        cmd = [self.ctr, "-a", self.address, *args]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise ContainerdError(what, f"`ctr {' '.join(args)}` still running after {timeout:g} s", fix) from None
        if proc.returncode != 0:
            detail = (proc.stderr or proc.stdout).strip().splitlines()
            raise ContainerdError(what, f"`ctr {' '.join(args)}` failed (exit {proc.returncode}): {' '.join(detail[-3:])[:400]}", fix)
        return proc.stdout

    def pull(self, ref: str, *, namespace: str = NAMESPACE, timeout: float = 1200) -> None:
        """``ctr images pull --plain-http`` of ``ref`` (a 127.0.0.1 registry) into ``namespace``:
        every blob the node does not hold is fetched, then the layers are unpacked."""
        _loopback_only(ref)
        self._ctr(["-n", namespace, "images", "pull", "--plain-http", ref], what=f"pull of {ref} into containerd",
                  timeout=timeout, fix="check that the registry serves it (curl http://HOST/v2/REPO/manifests/TAG) and see "
                                       f"{self.log_path} while the node runs")

    def images(self, *, namespace: str = NAMESPACE) -> list[str]:
        """The image names of ``namespace``."""
        out = self._ctr(["-n", namespace, "images", "ls", "-q"], what=f"containerd namespace {namespace}", timeout=60,
                        fix="see the node's log")
        return [line.strip() for line in out.splitlines() if line.strip()]

    def content(self, *, namespace: str = NAMESPACE) -> dict[str, int]:
        """Blob digest -> size of every blob ``namespace`` holds."""
        out = self._ctr(["-n", namespace, "content", "ls", "-q"], what=f"containerd namespace {namespace}", timeout=60,
                        fix="see the node's log")
        digests = [line.strip() for line in out.splitlines() if line.strip()]
        sizes: dict[str, int] = {}
        blobs = self.folder / "root" / "io.containerd.content.v1.content" / "blobs"
        for d in digests:
            algo, _, hexpart = d.partition(":")
            path = blobs / algo / hexpart
            sizes[d] = path.stat().st_size if path.is_file() else -1
        return sizes
