"""dockerio's Container and error translation without a daemon (a stand-in API object), and the
compiler's log: program output is text, never markup."""

from __future__ import annotations

import io
import os
import signal
import time

import docker.errors
import pytest
import requests.exceptions
import urllib3.exceptions
from rich.console import Console

from crossgen import dockerio
from crossgen.compile.compiler import CompileLog
from crossgen.core import ui
from crossgen.core.errors import DciError

MARKUP_LINE = "Microsoft.NETCore.App 10.0.15 [/usr/share/dotnet/shared/Microsoft.NETCore.App] [bold]x[/bold]"


class FakeAPI:
    """Records the calls; ``wait`` and ``remove_container`` do what the test says."""

    def __init__(self, *, wait=None, remove=None, image_arch="amd64"):
        self.calls: list[str] = []
        self._wait = wait or (lambda: {"StatusCode": 0})
        self._remove = remove or (lambda: None)
        self.image_arch = image_arch

    def version(self):
        return {"Arch": "amd64", "Version": "20.10.24"}

    def inspect_image(self, ref):
        return {"Id": "sha256:" + "0" * 64, "Architecture": self.image_arch}

    def create_host_config(self, **kw):
        self.host_config = kw
        return kw

    def create_container(self, image, **kw):
        self.calls.append("create")
        self.labels = kw["labels"]
        return {"Id": "c0ffee" * 10}

    def start(self, cid):
        self.calls.append("start")

    def wait(self, cid, timeout=None):
        self.calls.append("wait")
        return self._wait()

    def logs(self, cid, stream=False, follow=False):
        return iter([]) if stream else b""

    def inspect_container(self, cid):
        return {"State": {"Running": False, "OOMKilled": False}}

    def remove_container(self, cid, force=False):
        self.calls.append("remove")
        return self._remove()


def lost_connection():
    raise requests.exceptions.ConnectionError(urllib3.exceptions.ProtocolError("Connection aborted.", FileNotFoundError(2, "No such file")))


def read_timeout():
    time.sleep(0.05)
    raise requests.exceptions.ConnectionError(urllib3.exceptions.ReadTimeoutError(None, None, "Read timed out."))


def test_created_with_the_project_label_and_removed_on_exit():
    api = FakeAPI()
    with dockerio.Container(api, "img", ["x"], labels={dockerio.label("role"): "t"}) as box:
        box.start()
        assert box.wait(5) == 0
    assert api.calls == ["create", "start", "wait", "remove"]
    assert api.labels[dockerio.LABEL_PROJECT] == dockerio.PROJECT and api.labels[dockerio.label("role")] == "t"


@pytest.mark.parametrize("exc", [ValueError("boom"), KeyboardInterrupt(), DciError("a", "b")])
def test_removed_whatever_ends_the_block(exc):
    api = FakeAPI()
    with pytest.raises(type(exc)):
        with dockerio.Container(api, "img"):
            raise exc
    assert api.calls[-1] == "remove"


def test_the_timeout_fires_without_any_output():
    api = FakeAPI(wait=read_timeout)
    start = time.monotonic()
    with pytest.raises(dockerio.ContainerTimeout) as err:
        with dockerio.Container(api, "some/image:1", step="the step") as box:
            box.start()
            box.follow()
            box.wait(0.5)
    assert time.monotonic() - start < 5
    text = str(err.value)
    assert "the step" in text and "some/image:1" in text and "0.5 s" in text and "without printing anything" in text
    assert api.calls.count("remove") == 1  # removed at the deadline, not again on exit


def test_a_lost_daemon_is_a_dci_error_naming_the_step():
    api = FakeAPI(wait=lost_connection, remove=lost_connection)
    with pytest.raises(dockerio.DaemonLost) as err:
        with dockerio.Container(api, "some/image:1", step="the step") as box:
            box.start()
            box.wait(30)
    text = str(err.value)
    assert "the step" in text and "some/image:1" in text and "stopped answering" in text
    assert "urllib3" not in text and "Connection aborted" not in text
    assert err.value.__suppress_context__


def test_an_exit_code_is_not_trusted_when_the_daemon_is_gone_right_after():
    """The daemon stopping kills the container (exit 143) and then goes away: say so."""
    api = FakeAPI(wait=lambda: {"StatusCode": 143}, remove=lost_connection)
    with pytest.raises(dockerio.DaemonLost):
        with dockerio.Container(api, "img", step="s") as box:
            box.start()
            assert box.wait(30) == 143


def test_sdk_errors_become_dci_errors():
    with pytest.raises(dockerio.DockerRefused) as err:
        with dockerio._talking("image x", "copying /nope out"):
            raise docker.errors.NotFound("404", explanation="Could not find the file /nope in container")
    assert "image x" in str(err.value) and "Could not find the file /nope" in str(err.value)
    with pytest.raises(dockerio.DaemonLost):
        with dockerio._talking("image x", "building it"):
            lost_connection()


def test_ctrl_c_is_held_back_while_a_container_is_created_or_removed():
    done = []
    with pytest.raises(KeyboardInterrupt):
        with dockerio._interrupts_deferred():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
            done.append(True)  # the block ran to its end
    assert done == [True]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.fixture
def captured(monkeypatch):
    def make(terminal: bool) -> io.StringIO:
        buf = io.StringIO()
        monkeypatch.setattr(ui, "console", Console(file=buf, width=200, force_terminal=terminal, highlight=False))
        return buf
    return make


@pytest.mark.parametrize("terminal", [False, True])
def test_compiler_lines_go_to_the_log_and_stay_text(tmp_path, captured, terminal):
    out = captured(terminal)
    path = tmp_path / "logs" / "crossgen-runtime.log"
    with CompileLog(path, "runtime", 300) as log:
        log.note("started")
        for i in range(300):
            log.line(f"Compiling /work/in/shared/Microsoft.NETCore.App/10.0.15/A{i}.dll")
        log.line(MARKUP_LINE)
        log.line("DCI_PEAK_MEMORY_BYTES=1")
        log.show_tail()
    text = path.read_text()
    assert text.count("Compiling ") == 300 and MARKUP_LINE in text and "DCI_PEAK" not in text
    assert log.lines == 301
    shown = out.getvalue()
    assert MARKUP_LINE in shown  # the tail, literally
    assert str(path) in shown
    if not terminal:  # no progress display: only the tail reached the terminal
        assert "A100.dll" not in shown and shown.count("Compiling ") == len(log.tail()) - 1


def test_detail_shows_markup_like_text_as_text(captured):
    out = captured(True)
    ui.detail(MARKUP_LINE)
    assert MARKUP_LINE in out.getvalue()


def test_an_unreachable_docker_host_is_a_typed_error_naming_it(monkeypatch):
    """Nothing listens at DOCKER_HOST: DaemonUnreachable (an Unreachable), naming DOCKER_HOST, the
    operating system's reason and what to do; it comes at once, not after the long step timeout."""
    from crossgen.core.errors import Unreachable

    port = dockerio.free_port()  # nothing listens there right now
    monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{port}")
    start = time.monotonic()
    with pytest.raises(dockerio.DaemonUnreachable) as e:
        dockerio.connect()
    assert time.monotonic() - start < dockerio.CONNECT_TIMEOUT
    assert isinstance(e.value, Unreachable)
    assert e.value.what == f"Docker daemon at tcp://127.0.0.1:{port} (DOCKER_HOST)"
    assert "Connection refused" in e.value.cause
    assert "correct DOCKER_HOST" in e.value.fix and "unset DOCKER_HOST" in e.value.fix


def test_without_docker_host_the_error_says_it_is_not_set(monkeypatch, tmp_path):
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.setattr(dockerio, "daemon_address", lambda: f"unix://{tmp_path}/no.sock")
    with pytest.raises(dockerio.DaemonUnreachable) as e:
        dockerio.connect()
    assert "DOCKER_HOST is not set" in e.value.what and "bootstrap.sh" in e.value.fix


def test_an_image_of_another_architecture_runs_with_an_init_as_pid_1():
    """qemu-user as PID 1 cannot die of the signal an aborting program raises: the container would hang
    to its time limit. Docker's init runs it as a child instead; an image of the daemon's architecture
    runs as it would anywhere, its program PID 1."""
    arm = FakeAPI(image_arch="arm64")
    with dockerio.Container(arm, "img-arm64", ["x"]):
        pass
    assert arm.host_config.get("init") is True
    native = FakeAPI()
    with dockerio.Container(native, "img", ["x"]):
        pass
    assert "init" not in native.host_config
