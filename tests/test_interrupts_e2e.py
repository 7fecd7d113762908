"""Ctrl-C in the middle of the long tasks on the suite's real images: `build-all` while it rebuilds
images, `report` while it measures startup. Each ends with one line "interrupted (<task>)" and
exit code 130, leaves no container of the project behind, no half-written record, and the next
run finishes from what was complete. (`crossgen` and `verify` are covered in test_docker_faults.)
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from crossgen import dockerio
from tests.pipeline_support import SESSION_IMAGES, suite_containers, task_env

pytestmark = [pytest.mark.slow, pytest.mark.docker]

ROOT = Path(__file__).resolve().parent.parent


def _interrupt(args: list[str], env: dict, out_path: Path, when) -> tuple[int, str]:
    """Run ``invoke *args``; once ``when(text so far)`` is true, send SIGINT; return (exit code, output)."""
    with open(out_path, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "invoke", *args], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            deadline = time.monotonic() + 600
            while not when(out_path.read_text()):
                assert proc.poll() is None, out_path.read_text()[-3000:]
                assert time.monotonic() < deadline, "the moment to interrupt never came"
                time.sleep(0.2)
            proc.send_signal(signal.SIGINT)
            code = proc.wait(60)
        finally:
            if proc.poll() is None:
                proc.kill()
    return code, out_path.read_text()


def _assert_interrupted(code: int, text: str, task: str) -> None:
    lines = [line for line in text.splitlines() if line.strip()]
    assert code == 130, text[-3000:]
    assert lines[-1].strip() == f"interrupted ({task})" and "Traceback" not in text, text[-3000:]


def test_ctrl_c_during_build_all_then_the_rerun_finishes(built_images, tmp_path):
    settings, api, outcomes = built_images
    env = task_env(settings)  # the suite's images and build folder
    record = settings.workspace.build_record
    before = record.read_text()
    # one leaf image missing: build-all rebuilds it; interrupt while it is being built
    leaf = outcomes["sample-service-composite"].ref
    api.remove_image(leaf, force=True)
    # the session's images (SESSION_IMAGES): build-all would first build the three the session leaves out
    args = ["build-all", "--images", ",".join(SESSION_IMAGES)]
    code, text = _interrupt(args, env, tmp_path / "build-all.txt", lambda t: f"==> Building {leaf}" in t)
    _assert_interrupted(code, text, "build-all")
    assert not suite_containers(api), "a container was left behind"
    assert record.read_text() == before, "the build record was rewritten by an interrupted build"
    assert not list(settings.workspace.contexts.glob("*")), "a half-staged context was left behind"
    again = subprocess.run([sys.executable, "-m", "invoke", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                           timeout=1800, stdin=subprocess.DEVNULL)
    assert again.returncode == 0, again.stderr[-3000:]
    assert json.loads(record.read_text())["finished_at"] != json.loads(before)["finished_at"]
    assert dockerio.image_info(api, leaf), "the rerun did not build the missing image"
    assert not suite_containers(api)


def test_ctrl_c_during_report_leaves_no_container_and_the_old_report(built_images, tmp_path):
    settings, api, _ = built_images
    env = task_env(settings)  # the suite's images and build folder
    report_json = settings.workspace.report / "report.json"
    before = report_json.read_text() if report_json.is_file() else None
    args = ["report", "--runs", "3", "--no-registry", "--no-charts", "--no-readme", "--no-warm-build", "--no-rebuild-check", "--modes", "none",
            "--images", "runtime-no-composite,runtime-composite"]
    code, text = _interrupt(args, env, tmp_path / "report.txt", lambda t: "startup: round warm-up done" in t)
    _assert_interrupted(code, text, "report")
    assert not suite_containers(api), "a startup container was left behind"
    assert (report_json.read_text() if report_json.is_file() else None) == before, "report.json was half-written"
    again = subprocess.run([sys.executable, "-m", "invoke", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                           timeout=1800, stdin=subprocess.DEVNULL)
    assert again.returncode == 0, again.stderr[-3000:]
    assert json.loads(report_json.read_text())["startup"]["runs_per_pair"] == 3
