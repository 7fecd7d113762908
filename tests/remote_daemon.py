"""A second Docker daemon standing in for a shared build host that cannot see this machine's files.

:class:`RemoteDaemon` starts ``scripts/remote-dockerd.sh``: dockerd in a mount namespace of its own
where an empty tmpfs covers /tmp, $HOME and the folders named in ``hide`` (the checkout, the build
folder, the download cache), with its own data root, exec root (so its own managed containerd), pid
file and log under a state folder in /var/lib/dci-remote-docker, listening on
``tcp://127.0.0.1:<free port>`` only, with no bridge, iptables or masquerading::

    with RemoteDaemon.start(hide=[project_root, build_dir]) as remote:
        env = dict(os.environ, DOCKER_HOST=remote.url)
        remote.sees(build_dir)      # what a bind mount of that client path shows: None or [] (nothing)

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

    def sees(self, client_path: Path) -> list[str] | None:
        """What a container of the remote daemon finds when ``client_path`` is bind-mounted into it
        (``docker run --mount type=bind,source=client_path``): None when the daemon has no such path,
        else the names there ([] = an empty folder: nothing of the client's either way). A ``--mount``
        bind, unlike ``-v``, never creates a missing source, so probing leaves nothing behind."""
        from docker.types import Mount

        api = self.api()
        image = self.probe_image()
        host = api.create_host_config(mounts=[Mount("/x", str(client_path), type="bind", read_only=True)], network_mode="none")
        try:
            cid = api.create_container(image, ["/bin/busybox", "ls", "-A", "/x"], host_config=host, network_disabled=True)["Id"]
        except docker.errors.APIError as exc:
            if "does not exist" in str(exc):
                return None
            raise
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


# --- the tasks, run as a user would, against the remote daemon -----------------------------------

@dataclass
class RemoteBuild:
    """What ``invoke lock`` + ``invoke build --variant 1 --locked --images ...`` made on the remote daemon.

    ``record`` is the build record (build-all.json: every image's key, ref and image ID); ``lock_file``
    is what it was built from: build on another daemon with the same lock file and settings to
    compare image IDs (:meth:`image_ids`)."""

    daemon: RemoteDaemon
    settings: object          # crossgen.core.settings.Settings
    env: dict[str, str]       # the environment the tasks ran in (DOCKER_HOST, build folder, prefix, lock file)
    lock_file: Path
    record: dict
    variants: tuple[str, ...]
    seconds: dict[str, float]  # wall time of each task run so far

    def image_ids(self) -> dict[str, str]:
        """{image key: image ID} of the build."""
        return {i["key"]: i["image_id"] for i in self.record["images"]}

    def invoke(self, *args: str, timeout: float = 1800) -> subprocess.CompletedProcess:
        return run_task(self.env, self.seconds, *args, timeout=timeout)


def run_task(env: dict[str, str], seconds: dict[str, float], *args: str, timeout: float = 1800) -> subprocess.CompletedProcess:
    """``python -m invoke <args>`` from the checkout, as a user runs it; its wall time goes to ``seconds``;
    output is kept in the build folder's logs (task-<name>.log) and its tail shown on failure."""
    import sys

    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "invoke", "-r", str(ROOT), *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    name = " ".join(args)
    seconds[name] = round(time.monotonic() - start, 1)
    logs = Path(env["INVOKE_DCI_BUILD_DIR"]) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    (logs / f"task-{args[0]}.log").write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-40:])
        raise AssertionError(f"`invoke {name}` against DOCKER_HOST={env.get('DOCKER_HOST')} exited {proc.returncode}:\n{tail}")
    return proc


# Variant 1's runtime and ASP.NET images and a console and a web sample's images on them: what a task
# sends a remote daemon and runs there, each kind once. The SDK image (a 0.5 GB layer to send, build,
# rewrite and verify) and the broad samples' images add nothing the remote daemon has not seen already;
# the suite's own build makes and verifies them.
REMOTE_IMAGES = ("runtime-*", "aspnet-*", "sample-hello-*", "sample-web-*")


def build_on_remote(daemon: RemoteDaemon, build_dir: Path, *, variants: tuple[str, ...] = ("1",),
                    images: tuple[str, ...] = REMOTE_IMAGES) -> RemoteBuild:
    """Lock, make the OS base and runtime-deps, build ``images`` of ``variants`` (`build --images`) on
    ``daemon`` into a fresh build folder and image prefix (nothing on the remote daemon to begin with)."""
    import json
    import uuid

    from tests.pipeline_support import e2e_settings, task_env

    prefix = f"dci-remote-{uuid.uuid4().hex[:8]}/"
    lock_file = build_dir / "dci.lock.json"
    settings = e2e_settings(image_prefix=prefix, base_image=f"{prefix}debian:trixie-slim", build_dir=build_dir, lock_file=lock_file)
    env = task_env(settings, DOCKER_HOST=daemon.url, INVOKE_DCI_LOCK_FILE=str(lock_file), COLUMNS="200")
    for key in ("DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "DOCKER_CONTEXT"):
        env.pop(key, None)
    seconds: dict[str, float] = {}
    run_task(env, seconds, "lock")
    run_task(env, seconds, "base-image")
    run_task(env, seconds, "build", "--variant", ",".join(variants), "--locked", "--images", ",".join(images))
    record = json.loads((build_dir / "build-all.json").read_text())
    return RemoteBuild(daemon, settings, env, lock_file, record, variants, seconds)
