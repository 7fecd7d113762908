"""Faults users hit, caused for real:

* the Docker daemon stops in the middle of a container step (a private ``dockerd`` of the test's
  own: own data root, exec root, pid file and socket under /tmp, no bridge, no iptables): a
  DciError naming the step and the image, no cache entry; after a restart the leftover container
  is what ``invoke clean`` removes, and the rerun works;
* Ctrl-C (SIGINT) to a real ``invoke crossgen`` while Crossgen2 runs: one line "interrupted",
  exit code 130, no container left, no half-written cache entry; the next run reuses the images
  and the download and completes.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

import docker
import pytest

from crossgen import dockerio
from crossgen.compile import compiler
from crossgen.compile.bubbles import get_bubble
from tests import tiny_images as ti
from tests.pipeline_support import TEST_PREFIX, e2e_settings, suite_containers, task_env

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.docker


class PrivateDaemon:
    """A dockerd of the test's own, stopped and started at will (SIGTERM, as a service stop does)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.socket = root / "d.sock"
        self.url = f"unix://{self.socket}"
        self.proc: subprocess.Popen | None = None
        (root / "daemon.json").write_text("{}")

    def start(self) -> None:
        log = open(self.root / "dockerd.log", "ab")
        self.proc = subprocess.Popen(
            ["dockerd", "--data-root", str(self.root / "data"), "--exec-root", str(self.root / "exec"),
             "--pidfile", str(self.root / "dockerd.pid"), "-H", self.url, "--config-file", str(self.root / "daemon.json"),
             "--bridge=none", "--iptables=false", "--ip-masq=false", "--storage-driver=vfs"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                docker.APIClient(base_url=self.url, timeout=5, version="auto").ping()
                return
            except Exception:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.2)
        raise RuntimeError("the private dockerd did not start: " + (self.root / "dockerd.log").read_text()[-2000:])

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def private_daemon(monkeypatch):
    if os.geteuid() != 0 or not shutil.which("dockerd"):
        pytest.fail("needs root and dockerd to run a private Docker daemon (run as scripts/bootstrap.sh sets up)")
    root = Path(tempfile.mkdtemp(prefix="dci-dd-", dir="/tmp"))  # short: unix socket paths are limited
    daemon = PrivateDaemon(root)
    daemon.start()
    monkeypatch.setenv("DOCKER_HOST", daemon.url)
    try:
        yield daemon
    finally:
        daemon.stop()
        shutil.rmtree(root, ignore_errors=True)


def _when_running(url: str, labels: dict[str, str], then, timeout: float = 60) -> threading.Thread:
    """In a thread: once a container with ``labels`` runs (and has for a second), call ``then``."""
    def watch() -> None:
        api = docker.APIClient(base_url=url, timeout=10, version="auto")
        flt = {"label": [f"{k}={v}" for k, v in labels.items()], "status": "running"}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if api.containers(filters=flt):
                time.sleep(1.0)
                then()
                return
            time.sleep(0.1)

    t = threading.Thread(target=watch, daemon=True)
    t.start()
    return t


def test_the_daemon_stopping_mid_step_is_a_clear_error_and_the_rerun_works(private_daemon, tmp_path, app_dir):
    api = dockerio.connect()
    image = ti.fake_crossgen2(api)
    app, name = app_dir
    base = e2e_settings(build_dir=tmp_path / "build")
    cg = compiler.Crossgen2("0.0-test", Path("/nonexistent"), "0" * 128, image=image)

    def compile_with(*extra: str):
        settings = replace(base, crossgen=replace(base.crossgen, extra_args=tuple(extra)))
        return compiler.compile_bubble(api, settings, get_bubble("app"), None, cg, app_dir=app, app_name=name, timeout=120)

    watcher = _when_running(private_daemon.url, {dockerio.label("bubble"): f"app-{name}"}, private_daemon.stop)
    start = time.monotonic()
    with pytest.raises(dockerio.DaemonLost) as err:
        compile_with("--fake-sleep:600")
    watcher.join(5)
    took = time.monotonic() - start
    text = str(err.value)
    print(f"\nafter {took:.1f} s: {text}")
    assert f"Crossgen2 on bubble app-{name}" in text and image in text and "stopped answering" in text, text
    assert "urllib3" not in text and "HTTPConnectionPool" not in text and "Traceback" not in text
    assert took < 60, took
    entries = base.build_dir / "crossgen" / f"app-{name}"
    assert not entries.exists() or not list(entries.iterdir()), "a half-written cache entry was left"

    private_daemon.start()
    api = dockerio.connect()
    left = ti.leftover_containers(api, image)
    assert len(left) == 1, "the container of the interrupted step should be the only one left (stopped)"
    # `invoke clean` removes it (on this private daemon only: DOCKER_HOST points there)
    env = dict(os.environ, INVOKE_DCI_BUILD_DIR=str(tmp_path / "clean-build"))
    done = subprocess.run([sys.executable, "-m", "invoke", "clean"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "removed 1 containers" in done.stderr
    assert not ti.leftover_containers(api, image)
    result = compile_with()
    assert not result.reused and (result.out_dir / f"{name}.r2r.dll").is_file()
    assert not ti.leftover_containers(api, image)


# -- Ctrl-C on a real task ------------------------------------------------------------------------

def _task_env(build_dir: Path) -> dict[str, str]:
    """The tests' image prefix (shared with the end-to-end build) and a build folder of our own."""
    return task_env(e2e_settings(build_dir=build_dir))


def _crossgen_containers(api) -> list[dict]:
    return suite_containers(api, f"{dockerio.label('role')}=crossgen2-run", f"{dockerio.label('bubble')}=runtime")


@pytest.mark.slow
def test_ctrl_c_during_crossgen_leaves_nothing_half_done_and_the_rerun_resumes(tmp_path):
    api = dockerio.connect()
    assert not _crossgen_containers(api), "another run of the runtime bubble is going on"
    build = tmp_path / "build"
    env = _task_env(build)
    # partial mode: the quickest whole compile of the runtime bubble (the profiled methods only, no training runs);
    # what is tested is the interrupt and the resumed run, not the mode
    cmd = [sys.executable, "-m", "invoke", "crossgen", "--bubble", "runtime", "--mode", "partial", "--force"]
    out_path = tmp_path / "first.txt"
    with open(out_path, "w") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        try:
            deadline = time.monotonic() + 900  # the first run of a session may build the base images
            while not any(c["State"] == "running" for c in _crossgen_containers(api)):
                assert proc.poll() is None, out_path.read_text()[-3000:]
                assert time.monotonic() < deadline, "Crossgen2 never started"
                time.sleep(0.2)
            time.sleep(2)  # Crossgen2 is at work
            interrupted_at = time.monotonic()
            proc.send_signal(signal.SIGINT)
            code = proc.wait(60)
        finally:
            if proc.poll() is None:
                proc.kill()
    took = time.monotonic() - interrupted_at
    text = out_path.read_text()
    print("\n" + "\n".join(text.splitlines()[-4:]))
    assert code == 130, text[-3000:]
    assert took < 15, took
    lines = [line for line in text.splitlines() if line.strip()]
    assert lines[-1].strip() == "interrupted (crossgen)" and "Traceback" not in text, text[-3000:]
    assert not _crossgen_containers(api), "the Crossgen2 container was left behind"
    bubble_dir = build / "crossgen" / "runtime"
    assert not bubble_dir.exists() or not list(bubble_dir.iterdir()), f"half-written cache entry: {list(bubble_dir.iterdir())}"
    log = build / "logs" / "crossgen-runtime.log"
    assert log.read_text().rstrip().endswith("interrupted (Ctrl-C): nothing was kept")

    again = subprocess.run(cmd[:-1], cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800, stdin=subprocess.DEVNULL)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "Building " not in again.stderr, "images were rebuilt instead of reused"
    assert "compiled runtime bubble" in again.stderr
    entries = list(bubble_dir.iterdir())
    assert len(entries) == 1 and (entries[0] / compiler.RECORD).is_file()
    assert not _crossgen_containers(api)


FAKE_DOTNET = """#!/bin/sh
case "$1" in
  --list-runtimes) sleep "${FAKE_LIST_SLEEP:-8}"; echo "Microsoft.NETCore.App 10.0.15 [/usr/share/dotnet/shared/Microsoft.NETCore.App]" ;;
  *) echo "Hello from .NET"; echo "jit-methods: 5" ;;
esac
"""


@pytest.mark.slow
def test_ctrl_c_during_verify_leaves_no_container_and_no_record(tmp_path):
    """`invoke verify --image` on a stand-in runtime image whose `dotnet --list-runtimes` takes 8 s."""
    api = dockerio.connect()
    labels = {dockerio.label("role"): "runtime", dockerio.label("variant"): "1", dockerio.label("dotnet-version"): "10.0.15"}
    env_vars = {"DOTNET_VERSION": "10.0.15", "DOTNET_RUNNING_IN_CONTAINER": "true", "APP_UID": "1654", "ASPNETCORE_HTTP_PORTS": "8080"}
    ref = ti.make_image(api, "fake-runtime", files={"usr/bin/dotnet": FAKE_DOTNET}, env=env_vars, labels=labels)
    build = tmp_path / "build"
    env = _task_env(build)
    cmd = [sys.executable, "-m", "invoke", "verify", "--image", ref]
    try:
        out_path = tmp_path / "first.txt"
        with open(out_path, "w") as out:
            proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True)
            try:
                deadline = time.monotonic() + 300  # publishing the samples first
                while not any("--list-runtimes" in c["Command"] for c in ti.leftover_containers(api, ref) if c["State"] == "running"):
                    assert proc.poll() is None, out_path.read_text()[-3000:]
                    assert time.monotonic() < deadline, "verify never reached dotnet --list-runtimes"
                    time.sleep(0.1)
                time.sleep(1)
                proc.send_signal(signal.SIGINT)
                code = proc.wait(60)
            finally:
                if proc.poll() is None:
                    proc.kill()
        text = out_path.read_text()
        print("\n" + "\n".join(text.splitlines()[-3:]))
        assert code == 130 and text.strip().splitlines()[-1].strip() == "interrupted (verify)", text[-3000:]
        assert not ti.leftover_containers(api, ref), "a verify container was left behind"
        assert not (build / "verify" / "verify.json").exists(), "a record of an interrupted verify was written"

        again = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
        assert "Publishing sample" not in again.stderr, "the samples published by the first run were not reused"
        assert again.returncode == 1 and "verify: " in again.stderr, again.stderr[-3000:]  # the stand-in has no framework
        assert (build / "verify" / "verify.json").is_file()
        assert not ti.leftover_containers(api, ref)
    finally:
        ti.remove_images(api, [ref])
