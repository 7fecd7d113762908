"""Startup time of the sample apps on each variant's image, measured inside running containers.

For every image one container is started (network mode ``host``, entrypoint ``sleep infinity``)
and kept running; each measurement is a ``docker exec`` into it, so container start-up is not
part of any figure. The launching shell takes the time with ``date +%s%N`` right before it
``exec``s the app (env ``DCI_START_NS``); the app reports the milliseconds from there:

* console samples: ``startup-ms`` printed at the end of Main, with ``jit-methods``;
* web samples: ``first-request-ms``, the time at which the first request (GET /, polled from the
  host with back-off on a free 127.0.0.1 port) reached its handler; ``GET /jit`` then reports it
  and the JIT count. The polling interval (at most ``POLL_MAX_S``) bounds the resolution.

Each (image, mode) pair is run ``runs`` times after one unrecorded warm-up round; inside every
round the pairs run in a shuffled order (seeded), so drift on the machine hits every variant
alike. Modes: ``default`` (the image's own settings) and ``r2r-off`` (``DOTNET_ReadyToRun=0``:
all precompiled code ignored, everything JIT-compiled) to show what ReadyToRun itself brings.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import random
import re
import statistics
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

import docker

from crossgen import dockerio
from crossgen.core import ui
from crossgen.core.errors import DciError
from crossgen.compile.samples import Sample
from crossgen.images.catalog import CATALOG, Catalog
from crossgen.verify.shell import Shell, shell_for

MODES: dict[str, dict[str, str]] = {
    "default": {},
    "r2r-off": {"DOTNET_ReadyToRun": "0"},
    "no-avx2": {"DOTNET_EnableAVX2": "0"},   # a CPU without AVX2: x86-64-v3 code is rejected and JIT-compiled
    "cold-cache": {},                         # the page cache dropped before each run (by the caller's prepare)
}
REPORT_MODES = ("default", "r2r-off")      # what the report's startup section runs
POLL_FIRST_S = 0.002
POLL_MAX_S = 0.010
WEB_TIMEOUT_S = 60.0
CONSOLE_TIMEOUT_S = 120.0
PID_FILE = "/tmp/dci-web.pid"
LOG_FILE = "/tmp/dci-web.log"
NOW_NS = "$(date +%s%N)"   # the image's shell; an image without one: busybox's (crossgen/verify/shell.py)
LAUNCH = 'DCI_START_NS=$(date +%s%N); export DCI_START_NS; exec "$@"'
# A user's app reports nothing itself: the runtime lists every method it JIT-compiles (one line each,
# release runtimes since .NET 8) and the shell times the whole process.
JIT_LIST = "/tmp/dci-jit.txt"
JIT_ENV = {"DOTNET_JitStdOutFile": JIT_LIST, "DOTNET_JitDisasmSummary": "1"}
COUNT_JIT = f"echo \"jit-methods: $(cat {JIT_LIST} 2>/dev/null | grep -c 'JIT compiled')\""
APP_OUT = "/tmp/dci-app.log"
TIMED = (f'rm -f {JIT_LIST}; s=$(date +%s%N); "$@" >{APP_OUT} 2>&1; rc=$?; e=$(date +%s%N); '
         f'echo "startup-ms: $(( (e - s) / 1000000 ))"; {COUNT_JIT}; [ $rc -eq 0 ] || tail -c 300 {APP_OUT}; exit $rc')


@dataclass(frozen=True)
class Target:
    """One sample on one image; ``variants`` are the experiment variants it stands for."""

    sample: str                # a sample of the catalog
    kind: str                  # console | web
    image_key: str             # key in build-all.json
    variants: tuple[int, ...]
    self_contained: bool = False
    probe: str = ""            # a user's app: "exit" or the HTTP path to poll ("" = the samples' own protocol)

    @property
    def id(self) -> str:
        return f"{self.sample}@{self.image_key}"


def default_targets(catalog: Catalog = CATALOG) -> list[Target]:
    """Every sample on the image that runs it for each variant (the catalog's ``runs``); an image that
    runs a sample for several variants is one target standing for all of them."""
    grouped: dict[tuple[str, str], list[int]] = {}
    for s in catalog.samples:
        for v in catalog.variants:
            key = catalog.runner(v, s)
            if key:
                grouped.setdefault((s.name, key), []).append(v.number)
    return [Target(name, catalog.sample(name).kind, key, tuple(vs), self_contained=catalog.images[key].self_contained)
            for (name, key), vs in grouped.items()]


@dataclass
class Run:
    target: str
    mode: str
    round: int
    ms: float | None               # startup-ms / first-request-ms as the app measured it
    jit_methods: int | None
    host_ms: float                 # host wall time from exec start to the answer (includes docker exec)
    error: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Summary:
    target: str
    sample: str
    kind: str
    image_key: str
    ref: str
    variants: list[int]
    mode: str
    runs: int
    failed: int
    min_ms: float | None
    median_ms: float | None
    max_ms: float | None
    jit_median: float | None
    jit_min: int | None
    jit_max: int | None
    ratio_to_baseline: float | None = None   # median / baseline median (same sample, same mode)
    values_ms: list[float] = field(default_factory=list)
    jit_values: list[int] = field(default_factory=list)    # each successful run's JIT count (those that reported one)

    def to_dict(self) -> dict:
        return asdict(self)


def parse_value(text: str, name: str) -> float | None:
    m = re.search(rf"{re.escape(name)}: ([0-9]+(?:\.[0-9]+)?)", text)
    return float(m.group(1)) if m else None


class _Bench(dockerio.Container):
    """A long-running container of one image (``sleep infinity``), for ``docker exec`` measurements; its
    ``shell`` runs the launching scripts (an image without a shell: a busybox put in before it starts)."""

    def __init__(self, api: docker.APIClient, ref: str, shell: Shell) -> None:
        sleep = [*shell.argv[:-1], "sleep"] if shell.put else ["sleep"]  # busybox's own sleep applet
        super().__init__(api, ref, [], step="startup measurement", entrypoint=[*sleep, "infinity"], network_mode="host",
                         labels={dockerio.label("role"): "startup-bench"})
        self.shell = shell

    def sh(self, script: str, *args: str) -> list[str]:
        return self.shell.command(script.replace(NOW_NS, self.shell.now_ns), *args)


def _bench_container(api: docker.APIClient, ref: str) -> _Bench:
    return _Bench(api, ref, shell_for(api, ref))


def _argv(target: Target, app: Sample) -> list[str]:
    if target.self_contained:
        return [f"/app/{app.name}"]  # the apphost is named after the assembly
    return ["dotnet", f"/tmp/app/{app.name}/{app.dll}"]


def _console_run(box: _Bench, target: Target, app: Sample, mode: str, rnd: int) -> Run:
    start = time.monotonic()
    script, env = (TIMED, {**MODES[mode], **JIT_ENV}) if target.probe else (LAUNCH, MODES[mode])
    try:
        code, out = box.exec(box.sh(script, "sh", *_argv(target, app)), env, timeout=CONSOLE_TIMEOUT_S)
    except dockerio.ContainerTimeout:
        return Run(target.id, mode, rnd, None, None, round((time.monotonic() - start) * 1000, 1),
                   f"no exit within {CONSOLE_TIMEOUT_S:.0f} s")
    host_ms = (time.monotonic() - start) * 1000
    ms, jit = parse_value(out, "startup-ms"), parse_value(out, "jit-methods")
    error = "" if code == 0 and ms is not None else f"exit {code}: {out.strip()[-300:]}"
    return Run(target.id, mode, rnd, ms, int(jit) if jit is not None else None, round(host_ms, 1), error)


def _get(port: int, path: str, timeout: float = 5.0) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read().decode("utf-8", "replace")
    finally:
        conn.close()


def _web_run(box: _Bench, target: Target, app: Sample, mode: str, rnd: int) -> Run:
    port = dockerio.free_port()
    env = {**MODES[mode], "ASPNETCORE_URLS": f"http://127.0.0.1:{port}", **(JIT_ENV if target.probe else {})}
    script = f'echo $$ > {PID_FILE}; ' + (f"rm -f {JIT_LIST}; " if target.probe else "") + LAUNCH.replace('exec "$@"', f'exec "$@" > {LOG_FILE} 2>&1')
    start = time.monotonic()
    exec_id = box.exec_detached(box.sh(script, "sh", *_argv(target, app)), env)
    delay = POLL_FIRST_S
    ms = jit = None
    error = ""
    host_ms = 0.0
    next_check = start + 0.25
    try:
        while True:
            try:
                status, _ = _get(port, target.probe or "/")
                if status == 200:
                    host_ms = (time.monotonic() - start) * 1000
                    break
            except (ConnectionError, OSError, http.client.HTTPException):
                pass
            now = time.monotonic()
            if now - start > WEB_TIMEOUT_S:
                raise TimeoutError(f"no HTTP 200 within {WEB_TIMEOUT_S:.0f} s")
            if now > next_check:  # a crashed server would otherwise be polled until the timeout
                next_check = now + 0.25
                state = box.exec_info(exec_id)
                if not state.get("Running", False):
                    raise RuntimeError(f"server exited with code {state.get('ExitCode')}")
            time.sleep(delay)
            delay = min(delay * 1.5, POLL_MAX_S)
        if target.probe:  # a user's app: the host's time to the first answer; the runtime's JIT list, complete once it stopped
            _stop_server(box, exec_id)
            _, counted = box.exec(box.sh(COUNT_JIT), timeout=CONSOLE_TIMEOUT_S)
            ms, found = round(host_ms, 1), parse_value(counted, "jit-methods")
            jit = int(found) if found is not None else None
        else:
            status, body = _get(port, "/jit")
            ms, jit_f = parse_value(body, "first-request-ms"), parse_value(body, "jit-methods")
            jit = int(jit_f) if jit_f is not None else None
            if status != 200 or ms is None:
                error = f"GET /jit: HTTP {status}: {body[:200]}"
    except (TimeoutError, RuntimeError) as exc:
        _, log = box.exec(box.sh(f"tail -c 600 {LOG_FILE} 2>/dev/null"), timeout=CONSOLE_TIMEOUT_S)
        error = f"{exc}: {log.strip()}"
    finally:
        _stop_server(box, exec_id)
    return Run(target.id, mode, rnd, ms, jit, round(host_ms, 1), error)


def _stop_server(box: _Bench, exec_id: str) -> None:
    for sig, wait in (("TERM", 10.0), ("KILL", 10.0)):
        if not box.exec_info(exec_id).get("Running", False):
            return
        box.exec(box.sh(f"kill -{sig} $(cat {PID_FILE}) 2>/dev/null; true"), timeout=CONSOLE_TIMEOUT_S)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not box.exec_info(exec_id).get("Running", False):
                return
            time.sleep(0.02)
    raise DciError(box.what, "the web sample did not stop after SIGKILL",
                   "run invoke clean to remove the leftover container, then invoke report again (or --no-startup)")


def measure(
    api: docker.APIClient,
    targets: list[Target],
    refs: dict[str, str],
    apps: dict[str, Sample],
    *,
    runs: int = 10,
    modes: tuple[str, ...] = REPORT_MODES,
    warmup: int = 1,
    seed: int = 20201,
    log: Callable[[str], None] = ui.detail,
    prepare: Callable[[str], object] | None = None,
) -> tuple[list[Run], list[Summary]]:
    """Run every target in every mode ``runs`` times, interleaved; ``refs`` maps image keys to references,
    ``apps`` the sample names to their framework-dependent publish (copied into the containers);
    ``prepare(mode)`` is called right before each run."""
    targets = [t for t in targets if t.image_key in refs]
    if not targets:
        return [], []
    rng = random.Random(seed)
    runs_out: list[Run] = []
    with contextlib.ExitStack() as stack:  # every container removed on the way out, whatever happens
        boxes: dict[str, _Bench] = {}
        for key in dict.fromkeys(t.image_key for t in targets):
            box = boxes[key] = stack.enter_context(_bench_container(api, refs[key]))
            box.shell.prepare(box)
            for name in dict.fromkeys(t.sample for t in targets if t.image_key == key and not t.self_contained):
                box.put("/tmp", dockerio.tar_directory(apps[name].path, arcname=f"app/{apps[name].name}"))
            box.start()
        pairs = [(t, m) for t in targets for m in modes]
        total = (warmup + runs) * len(pairs)
        done = 0
        for rnd in range(-warmup, runs):
            order = pairs[:]
            rng.shuffle(order)
            for t, mode in order:
                fn = _console_run if t.kind == "console" else _web_run
                if prepare is not None:
                    prepare(mode)
                r = fn(boxes[t.image_key], t, apps[t.sample], mode, rnd)
                done += 1
                if r.error:
                    log(f"{t.id} {mode}: {r.error[:200]}")
                if rnd >= 0:
                    runs_out.append(r)
            log(f"startup: round {rnd + 1 if rnd >= 0 else 'warm-up'} done ({done}/{total} runs)")
    return runs_out, summarize(targets, refs, runs_out, modes)


def summarize(targets: list[Target], refs: dict[str, str], runs: list[Run], modes: tuple[str, ...] = REPORT_MODES) -> list[Summary]:
    out: list[Summary] = []
    for t in targets:
        for mode in modes:
            mine = [r for r in runs if r.target == t.id and r.mode == mode]
            ok = [r for r in mine if not r.error and r.ms is not None]
            vals = [float(r.ms) for r in ok if r.ms is not None]
            jits = [r.jit_methods for r in ok if r.jit_methods is not None]
            out.append(Summary(
                t.id, t.sample, t.kind, t.image_key, refs.get(t.image_key, ""), list(t.variants), mode, len(mine), len(mine) - len(ok),
                min(vals) if vals else None, statistics.median(vals) if vals else None, max(vals) if vals else None,
                statistics.median(jits) if jits else None, min(jits) if jits else None, max(jits) if jits else None,
                values_ms=vals, jit_values=jits,
            ))
    for s in out:
        base = next((b for b in out if b.sample == s.sample and b.mode == s.mode and 1 in b.variants), None)
        if base and base.median_ms and s.median_ms is not None:
            s.ratio_to_baseline = round(s.median_ms / base.median_ms, 4)
    return out


def machine_load() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []
