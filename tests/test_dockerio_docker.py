"""The Docker door on a real daemon, with tiny busybox images (no registry, a few seconds in all):
Container's life cycle, timeouts that fire on silent containers, compile steps that cache
nothing when they fail, compiler output in a log file, verify and startup runs that hang.
Every container must be gone afterwards (checked by the project label and the image)."""

from __future__ import annotations

import io
import subprocess
import sys
import time
import uuid
from dataclasses import replace
from pathlib import Path

import pytest
from rich.console import Console

from crossgen import dockerio
from crossgen.compile import compiler
from crossgen.compile.bubbles import get_bubble
from crossgen.compile.samples import Sample
from crossgen.core import ui
from crossgen.core.errors import DciError
from crossgen.report import startup
from crossgen.verify import checks
from tests import tiny_images as ti
from tests.pipeline_support import e2e_settings

pytestmark = pytest.mark.docker

MARKUP_LINE = "[/usr/share/dotnet/shared/Microsoft.NETCore.App]"


@pytest.fixture(scope="module")
def api():
    return dockerio.connect()


@pytest.fixture(scope="module")
def images(api):
    made: dict[str, str] = {}
    made["plain"] = ti.make_image(api, "plain")
    made["crossgen2"] = ti.fake_crossgen2(api)
    made["hang-web"] = ti.make_image(api, "hang", entrypoint=["sleep", "600"])
    made["exits"] = ti.make_image(api, "exits", entrypoint=["sh", "-c", f"echo 'starting {MARKUP_LINE}'; exit 3"])
    made["slow-app"] = ti.make_image(api, "slow-app", files={"app/hello": "#!/bin/sh\nsleep 600\n"})
    try:
        yield made
    finally:
        ti.remove_images(api, made.values())


@pytest.fixture
def captured(monkeypatch):
    buf = io.StringIO()
    monkeypatch.setattr(ui, "console", Console(file=buf, width=250, highlight=False))
    return buf


def test_container_life_cycle(api, images, tmp_path):
    tag = uuid.uuid4().hex
    with dockerio.Container(api, images["plain"], ["sh", "-c", "cat /work/in/a.txt; echo err >&2; sleep 600"],
                            step="life cycle", labels={dockerio.label("test"): tag}) as box:
        box.put("/work/in", _tar({"a.txt": "from the host\n"}))
        box.start()
        assert box.exec(["sh", "-c", "echo made > /work/out/b.txt; echo $FOO"], {"FOO": "bar"}) == (0, "bar\n")
        assert box.exec(["sh", "-c", "exit 4"]).exit_code == 4
        with pytest.raises(dockerio.ContainerTimeout):
            box.exec(["sleep", "30"], timeout=0.5)
        ex = box.exec_detached(["sleep", "0.2"])
        time.sleep(0.6)
        assert box.exec_info(ex)["Running"] is False and box.exec_info(ex)["ExitCode"] == 0
        box.copy_out("/work/out/b.txt", tmp_path)
        assert (tmp_path / "b.txt").read_text() == "made\n"
        time.sleep(0.2)
        assert sorted(box.logs().splitlines()) == ["err", "from the host"]  # stdout and stderr
        assert box.state()["Running"]
        labelled = dockerio.containers_with_label(api, dockerio.label("test"), tag)
        assert [c["Id"] for c in labelled] == [box.id]
    assert not dockerio.containers_with_label(api, dockerio.label("test"), tag)


def _tar(files: dict[str, str]) -> bytes:
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, text in files.items():
            ti_ = tarfile.TarInfo(name)
            ti_.size = len(text.encode())
            tf.addfile(ti_, io.BytesIO(text.encode()))
    return buf.getvalue()


def test_a_killed_process_s_containers_are_removed_by_the_next_connect(api, images):
    """SIGKILL leaves no chance to remove a container: the next connect() on this host removes it,
    and leaves alone the containers of processes that still run (this one's)."""
    tag = uuid.uuid4().hex
    script = (f"from crossgen import dockerio\n"
              f"api = dockerio.connect()\n"
              f"with dockerio.Container(api, {images['plain']!r}, ['sleep', '600'], labels={{dockerio.label('test'): {tag!r}}}) as box:\n"
              f"    box.start()\n"
              f"    print('running', flush=True)\n"
              f"    box.wait(600)\n")
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=Path(__file__).resolve().parent.parent, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "running"
    finally:
        proc.kill()
        proc.wait()
    left = dockerio.containers_with_label(api, dockerio.label("test"), tag)
    assert len(left) == 1 and left[0]["Labels"][dockerio.LABEL_OWNER].split(":")[-2] == str(proc.pid)  # host:boot:pid:start
    with dockerio.Container(api, images["plain"], ["sleep", "600"], labels={dockerio.label("test"): tag + "-alive"}) as alive:
        alive.start()
        dockerio.connect()
        assert not dockerio.containers_with_label(api, dockerio.label("test"), tag)
        assert [c["Id"] for c in dockerio.containers_with_label(api, dockerio.label("test"), tag + "-alive")] == [alive.id]


@pytest.mark.parametrize("exc", [RuntimeError, KeyboardInterrupt])
def test_removed_on_errors_and_ctrl_c(api, images, exc):
    tag = uuid.uuid4().hex
    with pytest.raises(exc):
        with dockerio.Container(api, images["plain"], ["sleep", "600"], labels={dockerio.label("test"): tag}) as box:
            box.start()
            assert dockerio.containers_with_label(api, dockerio.label("test"), tag)
            raise exc()
    assert not dockerio.containers_with_label(api, dockerio.label("test"), tag)


@pytest.mark.parametrize("script, quiet", [("sleep 600", True), ("echo working; sleep 600", False)])
def test_a_silent_container_times_out(api, images, script, quiet):
    start = time.monotonic()
    with pytest.raises(dockerio.ContainerTimeout) as err:
        dockerio.run(api, images["plain"], ["sh", "-c", script], step="hanging step", timeout=2)
    took = time.monotonic() - start
    assert 2 <= took < 8, took
    text = str(err.value)
    assert "hanging step" in text and images["plain"] in text and "after 2 s" in text
    assert ("without printing anything" in text) == quiet
    assert isinstance(err.value, DciError)
    assert not ti.leftover_containers(api, images["plain"])


def test_run_streams_lines_and_copies_out(api, images, tmp_path):
    lines: list[str] = []
    res = dockerio.run(api, images["plain"], ["sh", "-c", "mkdir -p /work/out/d; echo one; echo two > /work/out/d/f; printf 'no newline'"],
                       get=[("/work/out/d", tmp_path)], stream_output=lines.append, timeout=30)
    assert res.exit_code == 0 and res.output == "one\nno newline" and lines == ["one", "no newline"]
    assert (tmp_path / "d" / "f").read_text() == "two\n"
    with pytest.raises(dockerio.DockerRefused) as err:
        dockerio.copy_out(api, images["plain"], "/no/such/path", tmp_path)
    assert "/no/such/path" in str(err.value)
    with pytest.raises(dockerio.DockerRefused) as err:
        dockerio.run(api, "dci-door-test/absent:nothing", ["true"], step="absent image")
    assert "absent image" in str(err.value)
    assert not ti.leftover_containers(api, images["plain"])


# -- compile -----------------------------------------------------------------------------------


def _compile(api, images, tmp_path, app_dir, *extra: str, timeout: float = 60):
    settings = e2e_settings(build_dir=tmp_path / "build")
    # full: what these Docker-door tests compiled before modes existed (no profile, no hot list needed)
    settings = replace(settings, crossgen=replace(settings.crossgen, extra_args=tuple(extra), mode={"app": "full"}))
    cg = compiler.Crossgen2("0.0-test", Path("/nonexistent"), "0" * 128, image=images["crossgen2"])
    app, name = app_dir
    return settings, name, lambda: compiler.compile_bubble(api, settings, get_bubble("app"), None, cg, app_dir=app, app_name=name, timeout=timeout)


def _cache_entries(settings, name) -> list[Path]:
    folder = settings.build_dir / "crossgen" / f"app-{name}"
    return sorted(folder.iterdir()) if folder.exists() else []


def test_a_hanging_compile_times_out_and_caches_nothing(api, images, tmp_path, app_dir, captured):
    settings, name, run = _compile(api, images, tmp_path, app_dir, "--fake-sleep:600", timeout=3)
    start = time.monotonic()
    with pytest.raises(dockerio.ContainerTimeout) as err:
        run()
    assert time.monotonic() - start < 15
    text = str(err.value)
    assert f"bubble app-{name}" in text and images["crossgen2"] in text and "after 3 s" in text
    assert f"crossgen-app-{name}.log" in text
    assert _cache_entries(settings, name) == [], "a half-written cache entry was left"
    assert not ti.leftover_containers(api, images["crossgen2"])


def test_compiler_output_goes_to_the_log_file(api, images, tmp_path, app_dir, captured):
    settings, name, run = _compile(api, images, tmp_path, app_dir)
    result = run()
    assert not result.reused and (result.out_dir / f"{name}.r2r.dll").is_file()
    log = settings.build_dir / "logs" / f"crossgen-app-{name}.log"
    text = log.read_text()
    assert text.count("Compiling /work/in/") == 3 and MARKUP_LINE in text
    shown = captured.getvalue()
    assert "Compiling /work/in/" not in shown, "compiler lines reached the terminal"
    summary = [line for line in shown.splitlines() if "compiled" in line]
    assert len(summary) == 1 and str(log) in summary[0] and "4 lines of compiler output" in summary[0]
    assert [p.name for p in _cache_entries(settings, name)] == [result.record["key"][:16]]
    assert run().reused  # cached: no container at all the second time
    assert not ti.leftover_containers(api, images["crossgen2"])


def test_a_failing_compile_shows_the_end_of_its_log(api, images, tmp_path, app_dir, captured):
    settings, name, run = _compile(api, images, tmp_path, app_dir, "--fake-exit:3")
    with pytest.raises(DciError) as err:
        run()
    log = settings.build_dir / "logs" / f"crossgen-app-{name}.log"
    assert "exited with 3" in str(err.value) and str(log) in str(err.value)
    shown = captured.getvalue()
    assert MARKUP_LINE in shown and "[bold]not markup[/bold]" in shown and "failing on purpose" in shown
    assert str(log) in shown
    assert _cache_entries(settings, name) == []


def test_build_output_is_shown_as_text(api, images, tmp_path, captured):
    (tmp_path / "Dockerfile").write_text(f"FROM {images['plain']}\nRUN echo '{MARKUP_LINE}'\n")
    ref = f"{ti.PREFIX}built:{uuid.uuid4().hex[:10]}"
    try:
        dockerio.build(api, tmp_path, ref, log=ui.detail)
        assert MARKUP_LINE in captured.getvalue()
    finally:
        ti.remove_images(api, [ref])


# -- verify and startup ------------------------------------------------------------------------

def test_verify_runs_that_hang_or_die_are_failing_checks(api, images, monkeypatch):
    check = checks.check_console(api, images["hang-web"], None, timeout=2)
    assert not check.passed and "after 2 s" in check.detail and "console run" in check.detail
    start = time.monotonic()
    web = checks.check_web(api, images["exits"], None, timeout=30)
    assert time.monotonic() - start < 15, "a server that exited was polled until the time limit"
    assert not web.passed and "exited with code 3" in web.detail and MARKUP_LINE in web.detail
    web = checks.check_web(api, images["hang-web"], None, timeout=2)
    assert not web.passed and "no HTTP 200 within the time limit" in web.detail
    for ref in images.values():
        assert not ti.leftover_containers(api, ref)


def test_startup_run_that_never_ends_is_an_error_not_a_hang(api, images, monkeypatch):
    monkeypatch.setattr(startup, "CONSOLE_TIMEOUT_S", 1.0)
    target = startup.Target("hello", "console", "slow", (1,), self_contained=True)
    start = time.monotonic()
    runs, _ = startup.measure(api, [target], {"slow": images["slow-app"]}, {"hello": Sample("hello", Path("/nonexistent"), "x")},
                              runs=1, warmup=0, modes=("default",), log=lambda _: None)
    assert time.monotonic() - start < 15
    assert [r.error for r in runs] == ["no exit within 1 s"]
    assert not ti.leftover_containers(api, images["slow-app"])


TINY_CONSOLE = "#!/bin/sh\necho 'startup-ms: 5'\nif [ \"${DOTNET_ReadyToRun:-1}\" = 0 ]; then echo 'jit-methods: 900'; else echo 'jit-methods: 9'; fi\n"
TINY_WEB = """#!/bin/sh
mkdir -p /tmp/www
echo ok > /tmp/www/index.html
printf 'first-request-ms: 12\\njit-methods: 3\\n' > /tmp/www/jit
exec httpd -f -p "127.0.0.1:${ASPNETCORE_URLS##*:}" -h /tmp/www
"""


def test_startup_measures_console_and_web_runs_in_one_container(api):
    if not ti.static_busybox():
        pytest.fail("needs busybox-static (its httpd stands in for the web sample): run scripts/bootstrap.sh, which installs it")
    ref = ti.make_image(api, "tiny-apps", files={"app/hello": TINY_CONSOLE, "app/web": TINY_WEB})
    try:
        targets = [startup.Target("hello", "console", "tiny", (1,), self_contained=True),
                   startup.Target("web", "web", "tiny", (1,), self_contained=True)]
        apps = {n: Sample(n, Path("/nonexistent"), "x") for n in ("hello", "web")}
        runs, summaries = startup.measure(api, targets, {"tiny": ref}, apps, runs=2, log=lambda _: None)
        assert [r.error for r in runs if r.error] == []
        assert len(runs) == 2 * 2 * 2
        by = {(s.target, s.mode): s for s in summaries}
        assert by[("hello@tiny", "default")].median_ms == 5 and by[("hello@tiny", "r2r-off")].jit_median == 900
        assert by[("web@tiny", "default")].median_ms == 12 and by[("web@tiny", "default")].jit_median == 3
        assert not ti.leftover_containers(api, ref)
    finally:
        ti.remove_images(api, [ref])
