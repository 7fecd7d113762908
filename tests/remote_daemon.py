"""A second Docker daemon standing in for a shared build host that cannot see this machine's files.

:class:`RemoteDaemon` starts ``scripts/remote-dockerd.sh``: dockerd in a mount namespace of its own
where an empty tmpfs covers /tmp, $HOME and the folders named in ``hide`` (the checkout, the build
folder, the download cache), with its own data root, exec root (so its own managed containerd), pid
file and log under a state folder in /var/lib/dci-remote-docker, listening on
``tcp://127.0.0.1:<free port>`` only, with no bridge, iptables or masquerading::

    with RemoteDaemon.start(hide=[project_root, build_dir]) as remote:
        env = dict(os.environ, DOCKER_HOST=remote.url)
        remote.sees(build_dir)      # what a bind mount of that client path shows: [] (nothing)

Stopping it (SIGTERM, as a service stop does) ends the namespace and its mounts; the state folder is
then removed (anything still mounted under it is detached first).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors

from crossgen import dockerio

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "remote-dockerd.sh"
STATE_PARENT = Path("/var/lib/dci-remote-docker")
PROBE_IMAGE = "dci-remote-probe:busybox"


@dataclass
class RemoteDaemon:
    state: Path
    port: int
    hidden: tuple[Path, ...]
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.state / "dockerd.log"

    def api(self, timeout: int = 120) -> docker.APIClient:
        return docker.APIClient(base_url=self.url, timeout=timeout, version="auto")

    @classmethod
    def start(cls, hide: list[Path] | tuple[Path, ...] = (), *, timeout: float = 60.0) -> "RemoteDaemon":
        """Start it; ``hide``: client folders the daemon must not see (besides /tmp and $HOME)."""
        if os.geteuid() != 0:
            raise RuntimeError("the remote daemon needs root (a mount namespace and dockerd)")
        STATE_PARENT.mkdir(parents=True, exist_ok=True)
        state = Path(tempfile.mkdtemp(prefix="d-", dir=STATE_PARENT))
        hidden = tuple(dict.fromkeys(Path(p).resolve() for p in [Path("/tmp"), Path.home(), *hide]))
        daemon = cls(state, dockerio.free_port(), hidden)
        daemon.proc = subprocess.Popen(
            [str(SCRIPT), str(state), str(daemon.port), *map(str, hidden)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True, cwd="/",
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                docker.APIClient(base_url=daemon.url, timeout=5, version="auto").ping()
                return daemon
            except Exception:
                if daemon.proc.poll() is not None:
                    break
                time.sleep(0.2)
        problem = daemon.proc.stderr.read().decode(errors="replace") if daemon.proc.poll() is not None and daemon.proc.stderr else ""
        tail = daemon.log.read_text(errors="replace")[-2000:] if daemon.log.is_file() else ""
        daemon.stop()
        raise RuntimeError(f"the remote dockerd did not answer /_ping within {timeout:g} s: {problem} {tail}")

    def __enter__(self) -> "RemoteDaemon":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop dockerd (its containers and containerd with it), then remove the state folder."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # the script exec'd into unshare, then dockerd: same process
            try:
                self.proc.wait(90)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        if self.proc is not None and self.proc.stderr:
            self.proc.stderr.close()
        for mount in sorted(_mounts_under(self.state), reverse=True):  # none expected: they lived in its namespace
            subprocess.run(["umount", "-l", mount], capture_output=True)
        shutil.rmtree(self.state, ignore_errors=True)

    # --- what the daemon sees -----------------------------------------------------------------

    def probe_image(self) -> str:
        """A one-file image (static busybox) on the remote daemon, imported through the API."""
        api = self.api()
        if dockerio.image_info(api, PROBE_IMAGE) is None:
            import io
            import tarfile

            busybox = Path("/bin/busybox")
            buf = io.BytesIO()
            with tarfile.open(fileobj=buf, mode="w") as tf:
                tf.add(str(busybox), arcname="bin/busybox")
            repo, _, tag = PROBE_IMAGE.rpartition(":")
            api.import_image_from_data(buf.getvalue(), repository=repo, tag=tag)
        return PROBE_IMAGE

    def sees(self, client_path: Path) -> list[str]:
        """What a container of the remote daemon finds at ``client_path`` when it is bind-mounted
        (``docker run -v client_path:/x``): the names listed there ([] = nothing of the client's)."""
        api = self.api()
        image = self.probe_image()
        host = api.create_host_config(binds=[f"{client_path}:/x:ro"], network_mode="none")
        cid = api.create_container(image, ["/bin/busybox", "ls", "-A", "/x"], host_config=host, network_disabled=True)["Id"]
        try:
            api.start(cid)
            code = api.wait(cid, timeout=60)["StatusCode"]
            out = api.logs(cid, stdout=True, stderr=True).decode(errors="replace")
            if code != 0:
                raise RuntimeError(f"listing {client_path} on the remote daemon failed ({code}): {out}")
            return out.split()
        finally:
            api.remove_container(cid, force=True)


def _mounts_under(folder: Path) -> list[str]:
    prefix = str(folder) + "/"
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return []
    return [f.split()[4] for f in lines if f.split()[4].startswith(prefix) or f.split()[4] == str(folder)]
