"""Startup measurement machinery: long-running containers, docker exec, interleaving, modes.

The first tests use a stand-in console "app" (a shell script in a small image built from the OS
base image) whose startup time and JIT count are known by construction; the last one runs the
real samples on images of the end-to-end build (slow: that build is shared with test_e2e_build).
"""

from __future__ import annotations

import collections
import uuid

import pytest

from crossgen.images import baseimage
from crossgen import dockerio
from crossgen.report import startup
from crossgen.compile.samples import Sample
from tests.pipeline_support import e2e_settings

pytestmark = pytest.mark.docker

# Prints how long it ran since DCI_START_NS (after sleeping $DELAY) and a "JIT count" that shows
# whether DOTNET_ReadyToRun=0 reached it.
APP = r"""#!/bin/sh
sleep "$DELAY"
now=$(date +%s%N)
echo "startup-ms: $(( (now - DCI_START_NS) / 1000000 ))"
if [ "${DOTNET_ReadyToRun:-1}" = 0 ]; then echo "jit-methods: 900"; else echo "jit-methods: 9"; fi
exit "${EXIT_CODE:-0}"
"""


@pytest.fixture(scope="module")
def fake_apps(tmp_path_factory):
    """Three images whose /app/hello sleeps 0.20 s (baseline), 0.05 s (faster) or fails."""
    api = dockerio.connect()
    settings = e2e_settings()
    baseimage.ensure_os_image(api, settings)
    ctx = tmp_path_factory.mktemp("fake-app")
    (ctx / "hello").write_text(APP)
    (ctx / "hello").chmod(0o755)
    tag = uuid.uuid4().hex[:10]
    refs = {}
    for key, delay, code in (("slow", "0.20", 0), ("fast", "0.05", 0), ("broken", "0", 3)):
        (ctx / f"Dockerfile.{key}").write_text(
            f"FROM {settings.base_image}\nENV DELAY={delay} EXIT_CODE={code}\nCOPY hello /app/hello\n")
        refs[key] = f"dci-report-test/fake-{key}:{tag}"
        dockerio.build(api, ctx, refs[key], dockerfile=f"Dockerfile.{key}")
    try:
        yield api, refs
    finally:
        for ref in refs.values():
            try:
                api.remove_image(ref, force=True)
            except Exception:
                pass


def _bench_containers(api, refs):
    flt = {"label": f"{dockerio.label('role')}=startup-bench"}
    return [c for c in api.containers(all=True, filters=flt) if c["Image"] in refs.values()]


def test_console_runs_interleaved_in_both_modes(fake_apps, tmp_path):
    api, refs = fake_apps
    targets = [startup.Target("hello", "console", "slow", (1,), self_contained=True),
               startup.Target("hello", "console", "fast", (2,), self_contained=True)]
    app = Sample("hello", tmp_path, "x")
    runs, summaries = startup.measure(api, targets, refs, {"hello": app}, runs=4, log=lambda _: None)
    assert len(runs) == 4 * 2 * 2 and not [r for r in runs if r.error]
    per_round = collections.Counter(r.round for r in runs)
    assert per_round == {0: 4, 1: 4, 2: 4, 3: 4}  # each round runs every (image, mode) pair once
    orders = {tuple((r.target, r.mode) for r in runs if r.round == n) for n in range(4)}
    assert len(orders) > 1, "the order inside rounds is not shuffled"
    by = {(s.image_key, s.mode): s for s in summaries}
    assert by[("slow", "default")].jit_median == 9 and by[("slow", "r2r-off")].jit_median == 900
    for s in summaries:
        assert s.runs == 4 and s.failed == 0
        # the app measured from DCI_START_NS, so it saw at least its own sleep, and less than the host did
        assert s.min_ms >= (200 if s.image_key == "slow" else 50)
        assert all(r.ms <= r.host_ms for r in runs if r.target == s.target)
    assert by[("slow", "default")].ratio_to_baseline == 1.0
    assert by[("fast", "default")].ratio_to_baseline < 0.75
    assert not _bench_containers(api, refs), "the measurement containers were not removed"


def test_a_failing_app_is_reported_not_measured(fake_apps, tmp_path):
    api, refs = fake_apps
    targets = [startup.Target("hello", "console", "broken", (1,), self_contained=True)]
    runs, summaries = startup.measure(api, targets, refs, {"hello": Sample("hello", tmp_path, "x")}, runs=2,
                                      modes=("default",), log=lambda _: None)
    assert all(r.error.startswith("exit 3") for r in runs)
    assert summaries[0].failed == 2 and summaries[0].median_ms is None
    assert not _bench_containers(api, refs)


@pytest.mark.slow
def test_real_samples_on_built_images():
    """hello and web on the baseline and a composite image of the end-to-end build, 2 runs each."""
    from crossgen.compile.samples import publish
    from tests.pipeline_support import build_everything

    settings = e2e_settings()
    api, outcomes = build_everything(settings)
    refs = {o.key: o.ref for o in outcomes}
    targets = [t for t in startup.default_targets() if t.image_key in ("runtime-no-composite", "runtime-composite",
                                                                       "aspnet-no-composite", "aspnet-composite")
               and t.sample in ("hello", "web")]
    apps = {name: publish(settings, name) for name in ("hello", "web")}
    runs, summaries = startup.measure(api, targets, refs, apps, runs=2, log=lambda _: None)
    assert not [r.error for r in runs if r.error]
    by = {(s.target, s.mode): s for s in summaries}
    for t in targets:
        default, off = by[(t.id, "default")], by[(t.id, "r2r-off")]
        assert 0 < default.median_ms < 60_000
        # with ReadyToRun ignored, the JIT compiles far more methods
        assert off.jit_min > 3 * default.jit_max, t.id
    # a composite framework leaves the JIT less to do than per-assembly R2R code
    assert by[("web@aspnet-composite", "default")].jit_median < by[("web@aspnet-no-composite", "default")].jit_median
