"""Every task refuses bad flag values before doing any work, in one line, without a traceback.

The tasks are discovered from ``invoke --list`` and their flags from the task objects, so a new
task (or flag) is covered without editing this file: boolean flags and flags of a known name get
their bad values automatically; a string flag of a new name gets a generic bad value, and the
test fails until the task refuses it before any work (or until BAD_VALUES names better ones).

Each case runs the real CLI (``python -m invoke ...``) from the project root, with Docker and
the network made unreachable and the cache and build folders in a temporary folder: a task
that started working before checking its input would fail on Docker or the network with a
message that does not name the bad flag, and the test would say so. No Docker daemon needed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
TIMEOUT = 60

# Bad values per flag name (the task function's parameter name). Known good values are chosen
# for required positional arguments when another flag is the one under test.
BAD_VALUES: dict[str, list[str]] = {
    "channel": ["banana", ""],
    "source": ["banana"],
    "base_url": ["ftp://mirror.example/dotnet"],
    "local_path": ["/nonexistent/dotnet"],
    "path": ["/"],
    "bubble": ["nosuch"],
    "inputbubble": ["maybe"],
    "mode": ["fastest", ""],
    "modes": ["fastest", ",", "full,fastest"],
    "extra_runs": ["-1", "abc"],
    "frontier_runs": ["0", "x"],
    "probe": ["sometimes", "health"],
    "extra": ["foo"],
    "parallelism": ["-3", "abc"],
    "variant": ["9", ""],
    "image": ["Not A Ref!"],
    "app": ["/nonexistent/publish"],
    "target": ["/nonexistent", "Not_A_Ref"],
    "runs": ["0", "abc"],
    "images": ["bad key!"],
    "registry": ["https://registry.example.com", "Not A Host/x", "registry.example.com/Upper", ""],
}
GENERIC_BAD = ["?!no such value!?"]
GENERIC_BAD_INT = ["abc", "-3"]
GOOD_POSITIONAL: dict[str, str] = {"variant": "1", "target": str(ROOT / "docker"), "registry": "localhost:5000/team"}


@dataclass(frozen=True)
class Flag:
    name: str        # parameter name (base_url)
    cli: str         # --base-url
    kind: type
    positional: bool


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, "-m", "invoke", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=TIMEOUT, stdin=subprocess.DEVNULL)


def _isolated_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INVOKE_", "DCI_"))}
    dead_proxy = "http://127.0.0.1:9"  # discard port: anything that goes to the network fails at once
    env.update({
        "DOCKER_HOST": f"unix://{tmp}/no-docker.sock",
        "HTTP_PROXY": dead_proxy, "HTTPS_PROXY": dead_proxy, "http_proxy": dead_proxy, "https_proxy": dead_proxy,
        "NO_PROXY": "", "no_proxy": "",
        "XDG_CACHE_HOME": str(tmp / "cache"),
        "INVOKE_DCI_BUILD_DIR": str(tmp / "build"),
        "INVOKE_DCI_LOCK_FILE": str(tmp / "dci.lock.json"),
        "COLUMNS": "200",
    })
    return env


def discover_tasks() -> list[str]:
    out = subprocess.run([PYTHON, "-m", "invoke", "--list", "--list-format=json"], cwd=ROOT, capture_output=True,
                         text=True, timeout=TIMEOUT, check=True).stdout
    return [t["name"] for t in json.loads(out)["tasks"]]


def task_flags(name: str) -> list[Flag]:
    from invoke import Collection

    import tasks

    task = Collection.from_module(tasks)[name]
    return [Flag(a.name, "--" + a.names[0], a.kind, a.positional) for a in task.get_arguments()]


TASKS = discover_tasks()
FLAGS = {t: task_flags(t) for t in TASKS}


def bad_values(flag: Flag) -> list[str]:
    if flag.kind is bool:
        return ["bogus"]
    if flag.name in BAD_VALUES:
        return BAD_VALUES[flag.name]
    return GENERIC_BAD_INT if flag.kind is int else GENERIC_BAD


def argv_for(task: str, flag: Flag, value: str) -> list[str]:
    """The task with ``flag`` set to ``value`` and every other required argument a good value."""
    argv = [task]
    for other in FLAGS[task]:
        if other.positional and other.name != flag.name:
            argv += [other.cli, GOOD_POSITIONAL.get(other.name, "1")]
    argv += [f"{flag.cli}={value}"] if flag.kind is bool else [flag.cli, value]
    return argv


BAD_CASES = [(t, f, v) for t in TASKS for f in FLAGS[t] for v in bad_values(f)]
# -h too where a positional argument would take it as its value (invoke build -h)
HELP_CASES = [(t, "--help") for t in TASKS] + [(t, "-h") for t in TASKS if any(f.positional for f in FLAGS[t])]
CHANNEL_TASKS = [t for t in TASKS if any(f.name == "channel" for f in FLAGS[t])] + [t for t in ("base-image",) if t in TASKS]


def _case_id(case) -> str:
    task, flag, value = case
    return f"{task}-{flag.cli}={value or 'EMPTY'}"


@pytest.fixture(scope="module")
def cli(tmp_path_factory):
    """Every CLI case of this module, run concurrently once; maps an argv tuple to its result."""
    tmp = tmp_path_factory.mktemp("badinput")
    env = _isolated_env(tmp)
    channel_env = {**env, "INVOKE_DCI_CHANNEL": "banana"}
    jobs: dict[tuple, tuple[list[str], dict[str, str]]] = {}
    for task, flag, value in BAD_CASES:
        argv = argv_for(task, flag, value)
        jobs[tuple(argv)] = (argv, env)
    for task, h in HELP_CASES:
        jobs[(task, h)] = ([task, h], env)
    for task in CHANNEL_TASKS:
        argv = [task] + [a for f in FLAGS[task] if f.positional for a in (f.cli, GOOD_POSITIONAL.get(f.name, "1"))]
        jobs[("config-channel", *argv)] = (argv, channel_env)
    with ThreadPoolExecutor(max_workers=max(2, min(8, os.cpu_count() or 2))) as pool:
        futures = {key: pool.submit(_run, argv, e) for key, (argv, e) in jobs.items()}
        return {key: f.result() for key, f in futures.items()}


def _output(res: subprocess.CompletedProcess) -> str:
    return res.stdout + res.stderr


def test_tasks_are_discovered():
    assert {"build", "crossgen", "inspect", "report", "download"} <= set(TASKS)
    for task in TASKS:
        missing = [f.name for f in FLAGS[task] if f.positional and f.name not in GOOD_POSITIONAL]
        assert not missing, f"{task}: add a good value for positional {missing} to GOOD_POSITIONAL"


@pytest.mark.parametrize("case", BAD_CASES, ids=[_case_id(c) for c in BAD_CASES])
def test_bad_flag_value_is_refused_before_any_work(cli, case):
    task, flag, value = case
    argv = argv_for(task, flag, value)
    res = cli[tuple(argv)]
    out = _output(res)
    shown = "invoke " + " ".join(repr(a) if not a or " " in a else a for a in argv)
    assert res.returncode != 0, f"{shown} was accepted:\n{out}"
    assert "Traceback" not in out, f"{shown} ended in a traceback:\n{out}"
    lines = [line for line in out.splitlines() if line.strip()]
    if flag.kind is bool:  # invoke's own parser refuses a value after a switch
        assert any(repr(value) in line for line in lines), f"{shown}: no line names {value!r}:\n{out}"
        return
    name = flag.cli.removeprefix("--")
    naming = [line for line in lines if line.startswith("error:") and name in line and (value in line)]
    assert naming, f"{shown}: no one-line error naming {flag.cli} and {value!r} (it must fail before Docker/network):\n{out}"
    assert "Docker daemon" not in out and "127.0.0.1:9" not in out, f"{shown}: reached Docker or the network first:\n{out}"


@pytest.mark.parametrize("case", HELP_CASES, ids=[f"{t}{h}" for t, h in HELP_CASES])
def test_task_help_exits_0(cli, case):
    task, h = case
    res = cli[(task, h)]
    out = _output(res)
    assert res.returncode == 0, f"invoke {task} {h} -> {res.returncode}:\n{out}"
    assert "Traceback" not in out and "error:" not in out, out
    assert "Usage:" in out and task in out, out
    for flag in FLAGS[task]:  # a switch that defaults to on is listed as --[no-]<name>
        assert re.search(rf"--(\[no-\])?{re.escape(flag.cli[2:])}\b", out), f"invoke {task} {h} does not list {flag.cli}:\n{out}"


@pytest.mark.parametrize("task", CHANNEL_TASKS)
def test_bad_configured_channel_is_refused_before_any_work(cli, task):
    """dci.channel from the configuration (here INVOKE_DCI_CHANNEL) is checked as the flag is."""
    argv = [task] + [a for f in FLAGS[task] if f.positional for a in (f.cli, GOOD_POSITIONAL.get(f.name, "1"))]
    res = cli[("config-channel", *argv)]
    out = _output(res)
    assert res.returncode != 0, out
    assert "Traceback" not in out, out
    assert any(line.startswith("error:") and "channel" in line and "banana" in line for line in out.splitlines()), out
    assert "Docker daemon" not in out, out


# --- the friendly decorator: what escapes a task body ---------------------------------------


def _wrapped(exc: BaseException):
    import tasks

    def body(c, target, json_out=False):
        raise exc

    body.__name__ = "inspect"
    return tasks.friendly(body)


def _exit_code_and_output(capsys, exc: BaseException) -> tuple[int, str]:
    from invoke import Exit

    with pytest.raises(Exit) as info:
        _wrapped(exc)(None, target="nosuch:image", json_out=True)
    return info.value.code, capsys.readouterr().err


def test_docker_exception_becomes_one_line_naming_the_input(capsys):
    import docker.errors

    code, err = _exit_code_and_output(capsys, docker.errors.APIError("400 Client Error: Bad Request (\"invalid reference format\")"))
    assert code == 1
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    assert "nosuch:image" in lines[0] and "--json-out" in lines[0] and "invalid reference format" in lines[0]
    assert "Traceback" not in err


def test_requests_exception_becomes_one_line(capsys):
    import requests

    code, err = _exit_code_and_output(capsys, requests.ConnectionError("Max retries exceeded\nwith url: /x"))
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 1 and len(lines) == 1 and "network" in lines[0] and "nosuch:image" in lines[0], err


def test_keyboard_interrupt_exits_130_with_one_line(capsys):
    code, err = _exit_code_and_output(capsys, KeyboardInterrupt())
    assert code == 130
    assert [line for line in err.splitlines() if line.strip()] == ["interrupted (inspect)"]


def test_unexpected_exception_is_one_line_unless_asked(capsys, monkeypatch):
    monkeypatch.delenv("DCI_TRACEBACK", raising=False)
    code, err = _exit_code_and_output(capsys, ValueError("boom"))
    assert code == 1 and "unexpected ValueError: boom" in err and len(err.strip().splitlines()) == 1
    monkeypatch.setenv("DCI_TRACEBACK", "1")
    with pytest.raises(ValueError):
        _wrapped(ValueError("boom"))(None, target="x")


def test_dci_error_is_printed_as_one_unwrapped_line(capsys):
    from crossgen.core.errors import DciError

    long_fix = "choose one of: " + ", ".join(f"option-{i} [x]" for i in range(40))
    code, err = _exit_code_and_output(capsys, DciError("--variant '9'", "no such variant", long_fix))
    assert code == 1
    assert err.strip() == f"error: --variant '9': no such variant -- {long_fix}"


# --- the checks themselves (crossgen/inputs.py), in process -----------------------------------

GOOD_REFS = ["debian:trixie-slim", "dotnet-composite/runtime:10.0-trixie-slim-composite", "localhost:5000/a/b:1",
             "registry.example.com/x/y@sha256:" + "a" * 64, "sha256:" + "b" * 64, "0123456789ab", "a__b.c-d/e"]
BAD_REFS = ["", "/nonexistent", "Not A Ref!", "lower/UPPER:1", "Upper", "a:b:c", "a//b", "-a", "a:", "a@sha256:zz", "a/", "x" * 300]


@pytest.mark.parametrize("ref", GOOD_REFS)
def test_image_reference_accepted(ref):
    from crossgen import inputs

    assert inputs.is_image_reference(ref)
    assert inputs.image_reference("--image", ref) == ref


@pytest.mark.parametrize("ref", BAD_REFS)
def test_image_reference_refused(ref):
    from crossgen import inputs
    from crossgen.core.errors import DciError

    assert not inputs.is_image_reference(ref)
    with pytest.raises(DciError) as info:
        inputs.image_reference("--image", ref)
    assert info.value.what.startswith("--image") and info.value.fix


def test_inspect_target_says_what_it_is(tmp_path):
    from crossgen import inputs
    from crossgen.core.errors import DciError

    assert inputs.inspect_target("target", str(tmp_path)) == (str(tmp_path), tmp_path)
    assert inputs.inspect_target("target", "debian:trixie-slim") == ("debian:trixie-slim", None)
    with pytest.raises(DciError, match="does not exist") as info:
        inputs.inspect_target("target", str(tmp_path / "missing"))
    assert "not a valid image reference" in info.value.cause
    with pytest.raises(DciError, match="neither an existing folder nor a valid image reference"):
        inputs.inspect_target("target", "Not_A_Ref")


@pytest.mark.parametrize("value,minimum,expected", [("0", 0, 0), ("4", 0, 4), (" 10 ", 1, 10), (7, 1, 7), ("+3", 1, 3)])
def test_count_accepted(value, minimum, expected):
    from crossgen import inputs

    assert inputs.count("--n", value, minimum=minimum, example="--n=1") == expected


@pytest.mark.parametrize("value,minimum", [("-3", 0), ("0", 1), ("abc", 0), ("1.5", 0), ("", 0), (True, 0), (-1, 0), ("1e3", 0)])
def test_count_refused(value, minimum):
    from crossgen import inputs
    from crossgen.core.errors import DciError

    with pytest.raises(DciError) as info:
        inputs.count("--n", value, minimum=minimum, example="--n=1")
    assert info.value.what.startswith("--n ") and info.value.fix


@pytest.mark.parametrize("value,expected", [("10.0", "10.0"), ("10.0.15", "10.0.15"), ("LTS", "lts"), ("latest", "latest")])
def test_channel_accepted(value, expected):
    from crossgen import inputs

    got = inputs.channel("--channel", value)
    assert got == expected and type(got) is str


@pytest.mark.parametrize("value", ["banana", "", "10.0.x", "v10", "10.0.15.1.2"])
def test_channel_refused_with_the_accepted_forms(value):
    from crossgen import inputs
    from crossgen.core.errors import DciError

    with pytest.raises(DciError) as info:
        inputs.channel("--channel", value)
    assert info.value.what == f"--channel {value!r}"
    assert all(word in info.value.fix for word in ("10.0", "10.0.15", "latest", "lts", "sts"))


def test_other_checks(tmp_path):
    from crossgen import inputs
    from crossgen.core.errors import DciError

    assert inputs.source("--source", "nuget,local") == "nuget,local"
    assert inputs.http_url("--base-url", "https://mirror.example/dotnet") == "https://mirror.example/dotnet"
    assert inputs.crossgen_arguments("--extra", ["--instruction-set:x86-64-v3", "-O"]) == ("--instruction-set:x86-64-v3", "-O")
    assert inputs.image_key_patterns("--images", "runtime-*, sample-hello-composite,") == ("runtime-*", "sample-hello-composite")
    assert inputs.file_to_write("--path", str(tmp_path / "new" / "x.json")) == tmp_path / "new" / "x.json"
    assert inputs.existing_folder("--app", str(tmp_path), "fix") == tmp_path.resolve()
    (tmp_path / "file").write_text("")
    for call in (
        lambda: inputs.source("--source", "ftp"),
        lambda: inputs.http_url("--base-url", "file:///srv/dotnet"),
        lambda: inputs.http_url("--base-url", "https://"),
        lambda: inputs.crossgen_arguments("--extra", ["System.Runtime.dll"]),
        lambda: inputs.crossgen_arguments("--extra", ["--"]),
        lambda: inputs.image_key_patterns("--images", "Runtime Composite"),
        lambda: inputs.file_to_write("--path", str(tmp_path)),
        lambda: inputs.file_to_write("--path", str(tmp_path / "file" / "x.json")),
        lambda: inputs.existing_folder("--app", str(tmp_path / "file"), "fix"),
        lambda: inputs.existing_folder("--app", str(tmp_path / "missing"), "fix"),
    ):
        with pytest.raises(DciError) as info:
            call()
        assert info.value.what.startswith("--") and info.value.fix
