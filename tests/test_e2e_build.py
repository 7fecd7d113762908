"""End to end: real NuGet feed, real Crossgen2 in containers, real Docker builds and containers.

One session-wide build of all five variants (cold on a new machine: several minutes; but three images:
tests/pipeline_support.SESSION_IMAGES), then checks on what it produced,
then a second build that must reuse everything.
"""

from __future__ import annotations

import hashlib
import json
import time
import urllib.request
from pathlib import Path

import pytest

from crossgen import dockerio, pipeline
from crossgen.compile import r2r
from crossgen.images.catalog import CATALOG
from crossgen.verify import checks as verify
from tests.pipeline_support import SESSION_IMAGES, TEST_PREFIX, build_everything, session_images

pytestmark = [pytest.mark.slow, pytest.mark.docker]

TAG = "10.0-trixie-slim"
EXPECTED = {
    "runtime-deps": f"{TEST_PREFIX}runtime-deps:{TAG}",
    "runtime-no-composite": f"{TEST_PREFIX}runtime:{TAG}-no-composite",
    "aspnet-no-composite": f"{TEST_PREFIX}aspnet:{TAG}-no-composite",
    "sdk-no-composite": f"{TEST_PREFIX}sdk:{TAG}-no-composite",
    "runtime-composite": f"{TEST_PREFIX}runtime:{TAG}-composite",
    "aspnet-runtime-composite": f"{TEST_PREFIX}aspnet:{TAG}-runtime-composite",
    "sdk-runtime-composite": f"{TEST_PREFIX}sdk:{TAG}-runtime-composite",
    "aspnet-composite": f"{TEST_PREFIX}aspnet:{TAG}-composite",
    "aspnet-composed-composite": f"{TEST_PREFIX}aspnet:{TAG}-composed-composite",
    "sample-hello-no-composite": f"{TEST_PREFIX}sample-hello:{TAG}-no-composite",
    "sample-web-no-composite": f"{TEST_PREFIX}sample-web:{TAG}-no-composite",
    "sample-broad-no-composite": f"{TEST_PREFIX}sample-broad:{TAG}-no-composite",
    # variant 5 (self-contained composite) is built for the service-shaped samples only, and the session
    # leaves the broad one out (SESSION_IMAGES)
    "sample-service-composite": f"{TEST_PREFIX}sample-service:{TAG}-composite",
}


@pytest.fixture
def built(built_images):
    return built_images


def test_every_image_of_every_variant_is_built(built):
    """Every image the session asked for, and no other: the record names what was built."""
    settings, api, outcomes = built
    refs = {o.ref for o in outcomes.values()}
    missing = [ref for ref in EXPECTED.values() if ref not in refs]
    assert not missing
    record = json.loads((settings.build_dir / "build-all.json").read_text())
    assert {i["key"] for i in record["images"]} - {"os", "crossgen2"} == CATALOG.with_bases(session_images())
    assert set(EXPECTED) < CATALOG.with_bases(session_images())
    assert not {"sdk-aspnet-composite", "sdk-aspnet-composed-composite", "sample-broad-composite"} & set(outcomes)
    for ref in EXPECTED.values():
        labels = dockerio.image_labels(dockerio.image_info(api, ref))
        assert labels[dockerio.LABEL_PROJECT] == dockerio.PROJECT
        assert labels[dockerio.label("input-digest")]


def test_images_carry_provenance_labels(built):
    _, api, _ = built
    labels = dockerio.image_labels(dockerio.image_info(api, EXPECTED["aspnet-composed-composite"]))
    assert labels[dockerio.label("variant")] == "4"
    assert labels[dockerio.label("bubble")] == "runtime,aspnet-composed"
    assert labels[dockerio.label("dotnet-version")].startswith("10.0.")
    args = json.loads(labels[dockerio.label("crossgen2-args")])
    assert "--composite" in args["runtime"] and "--inputbubble" in args["runtime"]
    assert any(a.startswith("--inputbubbleref:") for a in args["aspnet-composed"])
    assert labels[dockerio.label("crossgen2-version")] == labels[dockerio.label("dotnet-version")]


def test_layers_are_shared_along_each_chain(built):
    """aspnet builds on runtime and sdk on aspnet: every lower layer is reused, not copied."""
    _, api, _ = built

    def layers(ref):
        return dockerio.image_info(api, ref)["RootFS"]["Layers"]

    for lower, upper in [
        ("runtime-deps", "runtime-no-composite"),
        ("runtime-no-composite", "aspnet-no-composite"),
        ("aspnet-no-composite", "sdk-no-composite"),
        ("runtime-composite", "aspnet-runtime-composite"),
        ("runtime-composite", "aspnet-composed-composite"),
        ("runtime-deps", "aspnet-composite"),
        ("runtime-deps", "sample-service-composite"),
    ]:
        low, up = layers(EXPECTED[lower]), layers(EXPECTED[upper])
        assert up[: len(low)] == low, (lower, upper)
        assert len(up) > len(low)


@pytest.mark.parametrize("key", [k for k in EXPECTED if k.startswith(("runtime-", "aspnet-", "sdk-")) and k != "runtime-deps"])
def test_every_framework_image_starts(built, key):
    _, api, _ = built
    res = dockerio.run(api, EXPECTED[key], ["dotnet", "--info"], timeout=120)
    assert res.exit_code == 0, res.output
    assert "Microsoft.NETCore.App 10.0." in res.output
    if key.startswith(("aspnet", "sdk")):
        assert "Microsoft.AspNetCore.App 10.0." in res.output
    if key.startswith("sdk"):
        assert ".NET SDK" in res.output


def test_console_app_images_start(built):
    _, api, _ = built
    for key in ("sample-hello-no-composite", "sample-broad-no-composite"):
        res = dockerio.run(api, EXPECTED[key], None, timeout=120)
        assert res.exit_code == 0, res.output
        assert "Hello from .NET 10.0." in res.output


def _get(url: str, deadline: float) -> str:
    delay = 0.1
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                return resp.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 1.0)


@pytest.mark.parametrize("key", ["sample-web-no-composite", "sample-service-composite"])
def test_web_app_images_answer_http(built, key):
    _, api, _ = built
    port = dockerio.free_port()
    container = api.create_container(
        EXPECTED[key], environment={"ASPNETCORE_HTTP_PORTS": "", "ASPNETCORE_URLS": f"http://127.0.0.1:{port}"},
        host_config=api.create_host_config(network_mode="host"), labels={dockerio.LABEL_PROJECT: dockerio.PROJECT},
    )
    try:
        api.start(container)
        body = _get(f"http://127.0.0.1:{port}/", time.monotonic() + 30)
        assert "Hello from .NET 10.0." in body
    finally:
        api.remove_container(container, force=True)


@pytest.mark.parametrize(
    "key,expect",
    [
        ("aspnet-no-composite", {"Microsoft.NETCore.App": None, "Microsoft.AspNetCore.App": None}),
        ("aspnet-runtime-composite", {"Microsoft.NETCore.App": "framework-r2r.dll", "Microsoft.AspNetCore.App": None}),
        ("aspnet-composite", {"Microsoft.NETCore.App": "framework-aspnet-r2r.dll", "Microsoft.AspNetCore.App": "framework-aspnet-r2r.dll"}),
        ("aspnet-composed-composite", {"Microsoft.NETCore.App": "framework-r2r.dll", "Microsoft.AspNetCore.App": "aspnetcore-r2r.dll"}),
    ],
)
def test_each_variant_has_the_promised_composite_structure(built, key, expect):
    _, api, _ = built
    claim = verify.claim_of(api, EXPECTED[key])
    if key in ("aspnet-composite", "aspnet-composed-composite"):
        # NuGet-shipped assemblies are kept out of the ASP.NET composites (invoke.yaml crossgen.exclude)
        assert "Microsoft.Extensions.Logging.Abstractions.dll" in claim.excluded
    else:
        assert not claim.excluded
    infos = verify.image_structure(api, EXPECTED[key])
    check = verify.check_structure(infos, EXPECTED[key], expect, excluded=claim.excluded)
    assert check.passed, check.detail


def test_self_contained_app_is_one_composite(built):
    settings, api, _ = built
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        dockerio.copy_out(api, EXPECTED["sample-service-composite"], "/app", Path(tmp))
        infos = r2r.classify_tree(Path(tmp) / "app")
    kinds = r2r.summarize(infos)
    assert kinds.get("composite") == 1
    assert set(kinds["owners"]) == {"service.r2r.dll"}
    components = [i for i in infos if i.kind == r2r.Kind.COMPONENT]
    assert any(i.path == "service.dll" for i in components)
    assert any(i.path == "System.Private.CoreLib.dll" for i in components)
    assert any(i.path == "Microsoft.AspNetCore.Server.Kestrel.Core.dll" for i in components)


def test_bubble_records_describe_inputs_and_timing(built):
    settings, _, _ = built
    record = json.loads((settings.build_dir / "build-all.json").read_text())
    apps = {i.bubbles[0] for i in CATALOG.app_images(CATALOG.variant(5))}
    assert apps == {"app-broad", "app-service"}  # variant 5: not on the minimal samples
    assert set(record["bubbles"]) == {"runtime", "aspnet", "aspnet-composed", "app-service"}  # the session's (SESSION_IMAGES)
    for name, b in record["bubbles"].items():
        assert b["composite"]["size"] > 1_000_000, name
        assert b["seconds"] > 0
        folder = settings.build_dir / "crossgen" / name / b["key"][:16]
        full = json.loads((folder / "record.json").read_text())
        assert full["crossgen2_version"].startswith("10.0.")
        assert all(len(i["sha256"]) == 64 for i in full["inputs"])
        assert (folder / "out" / full["composite"]["path"]).is_file()


def test_second_build_reuses_everything(built):
    """Nothing changed: no Crossgen2 run, no image rebuilt."""
    settings, _, _ = built
    start = time.monotonic()
    _, outcomes = build_everything(settings)
    elapsed = time.monotonic() - start
    rebuilt = [o.ref for o in outcomes if not o.skipped]
    assert not rebuilt
    record = json.loads((settings.build_dir / "build-all.json").read_text())
    assert all(b["reused"] for b in record["bubbles"].values())
    print(f"warm build of {len(outcomes)} images: {elapsed:.1f} s")


# --- plan apart from act: build-all --dry-run --------------------------------------------------------


def _plan(settings, api):
    from crossgen import pipeline
    from crossgen.acquire.cache import Cache
    from crossgen.acquire.http import new_session

    return pipeline.plan_build(api, settings, new_session(), Cache(settings.cache_dir), only=session_images())


def test_dry_run_after_a_build_has_nothing_to_do(built):
    settings, api, outcomes = built
    steps = _plan(settings, api)
    assert not [s for s in steps if s.todo], [s for s in steps if s.todo]
    kinds = {s.kind for s in steps}
    assert kinds == {"base", "tool", "sample", "profile", "bubble", "image"}  # profile: the hot list of the default mode
    assert {s.name for s in steps if s.kind == "image"} == {o.ref for o in outcomes.values() if o.key not in ("os", "runtime-deps", "crossgen2")}


def test_dry_run_says_what_a_change_rebuilds_and_builds_nothing(built):
    """Compiling two bubbles in full instead of their configured mode: their composites and every image holding
    them would be made anew; the baseline's images stay; nothing is built by asking."""
    from dataclasses import replace

    settings, api, _ = built
    ids_before = {r: dockerio.image_info(api, r)["Id"] for r in EXPECTED.values()}
    changed = replace(settings, crossgen=replace(settings.crossgen, mode={**settings.crossgen.mode, "runtime": "full", "aspnet": "full"}))
    steps = {(s.kind, s.name): s for s in _plan(changed, api)}
    assert steps[("bubble", "runtime")].todo and "no cached result" in steps[("bubble", "runtime")].reason
    assert steps[("bubble", "aspnet")].todo
    assert not steps[("bubble", "aspnet-composed")].todo  # its mode did not change
    composite = steps[("image", EXPECTED["aspnet-runtime-composite"])]
    assert composite.todo and composite.reason == "bubble runtime is compiled anew"
    assert not steps[("image", EXPECTED["aspnet-no-composite"])].todo
    assert {r: dockerio.image_info(api, r)["Id"] for r in EXPECTED.values()} == ids_before


def test_dry_run_task_prints_the_plan(built):
    """`invoke build-all --dry-run` on the suite's images (same prefix, build folder and source)."""
    import subprocess
    import sys

    from tests.pipeline_support import task_env

    settings, _, _ = built
    env = task_env(settings, COLUMNS="200")
    p = subprocess.run([sys.executable, "-m", "invoke", "build-all", "--dry-run", "--images", ",".join(SESSION_IMAGES)],
                       cwd=settings.project_root, env=env,
                       capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    out = " ".join((p.stdout + p.stderr).split())
    assert p.returncode == 0, out
    assert "dry run: would publish 0 samples, compile 0 bubbles and build 0 images" in out
    assert "build plan (dry run)" in out and "Traceback" not in out


def test_identical_layers_are_one_blob(built):
    """Same files, same DiffID, whatever image they are in: the plain ASP.NET Core layer of variants 1
    and 2, the SDK layer of every SDK image, the `ln -s /usr/bin/dotnet` layer of every runtime image."""
    _, api, _ = built

    def layers(key):
        return dockerio.image_info(api, EXPECTED[key])["RootFS"]["Layers"]

    assert layers("aspnet-no-composite")[-1] == layers("aspnet-runtime-composite")[-1]
    assert layers("runtime-no-composite")[-2] != layers("runtime-composite")[-2]  # the frameworks differ
    assert layers("runtime-no-composite")[-1] == layers("runtime-composite")[-1]
    sdk_layers = {key: layers(key)[-1] for key in EXPECTED if key.startswith("sdk-")}
    assert len(sdk_layers) == 2 and len(set(sdk_layers.values())) == 1, sdk_layers  # two builds, on two bases, one blob


def test_images_carry_fixed_times_and_no_build_container(built):
    """Every image's created time and history times are SOURCE_DATE_EPOCH; no build container ID."""
    _, api, _ = built
    times = set()
    for ref in EXPECTED.values():
        info = dockerio.image_info(api, ref)
        assert not info.get("Container"), ref
        history = dockerio.image_history(api, info["Id"])
        assert info["Created"].startswith(time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(history[0]["Created"]))), ref
        times |= {h["Created"] for h in history}
    assert len(times) == 2, times  # the .NET images' epoch, and the OS base's own entry (its Debian archive's date)


def test_rebuilt_without_cache_the_images_are_the_same(built):
    """The report's "reproducible" column: variant 2's runtime composite and the ASP.NET image on it built
    again from the same inputs under another prefix, with no build cache, give the same image IDs
    (runtime-deps and the Crossgen2 image included). Variant 1's runtime, ASP.NET and sample images are
    built twice on two daemons by test_remote_daemon_e2e; the SDK layer is built twice in the session's
    build, on two bases, and is one blob (test_identical_layers_are_one_blob)."""
    settings, api, outcomes = built
    checked = pipeline.rebuild_check(api, settings, ("runtime-deps", "crossgen2", "runtime-composite", "aspnet-runtime-composite"))
    assert {"runtime-deps", "crossgen2", "runtime-composite", "aspnet-runtime-composite"} == set(checked)
    different = {k: v for k, v in checked.items() if not v["same"]}
    assert not different, different
    assert checked["runtime-composite"]["image_id"] == outcomes["runtime-composite"].image_id
    assert not [t for img in api.images() for t in img.get("RepoTags") or [] if t.startswith(pipeline.REBUILD_PREFIX)]


def test_crossgen2_is_deterministic(built, tmp_path):
    """The same inputs compiled twice by the real Crossgen2 give a byte-identical composite and stubs
    (what makes the composite images reproducible at all). A small bubble: four assemblies of the
    host's .NET compiled as a self-contained app's composite."""
    from dataclasses import replace

    from crossgen.compile import compiler
    from crossgen.compile.bubbles import get_bubble
    from tests.tiny_images import stand_in_app

    settings, api, outcomes = built
    made = stand_in_app(tmp_path)
    assert made, "no host .NET to take assemblies from"
    app, name = made
    root = settings.dotnet_root or Path("/usr/share/dotnet")  # where stand_in_app took the other three from
    corelib = sorted(root.glob("shared/Microsoft.NETCore.App/*/System.Private.CoreLib.dll"))[-1]
    (app / "System.Private.CoreLib.dll").write_bytes(corelib.read_bytes())
    settings = settings.with_overrides(build_dir=tmp_path / "build")
    settings = replace(settings, crossgen=replace(settings.crossgen, mode={"app": "full"}, mibc=False))
    cg = compiler.Crossgen2("test", Path("/nonexistent"), "0" * 128, image=outcomes["crossgen2"].ref)
    results = []
    for _ in range(2):
        r = compiler.compile_bubble(api, settings, get_bubble("app"), None, cg, app_dir=app, app_name=name, force=True, timeout=900)
        results.append({p.relative_to(r.out_dir).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
                        for p in sorted(r.out_dir.rglob("*")) if p.is_file()})
    assert results[0] == results[1]
    assert any(k.endswith(".r2r.dll") for k in results[0]) and len(results[0]) >= 5  # the composite and four stubs
