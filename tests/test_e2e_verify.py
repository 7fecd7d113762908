"""End to end: `invoke verify`'s checks pass on every built image, and each check fails, naming
the image and the check, when its condition is broken on purpose (images derived in the test)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from crossgen import dockerio
from crossgen import pipeline
from crossgen.verify import checks as verify
from crossgen.compile.samples import publish
from tests.pipeline_support import TEST_PREFIX, suite_containers

pytestmark = [pytest.mark.slow, pytest.mark.docker]

TAG = "10.0-trixie-slim"
RUNTIME_COMPOSITE = f"{TEST_PREFIX}runtime:{TAG}-composite"
RUNTIME_BASELINE = f"{TEST_PREFIX}runtime:{TAG}-no-composite"
ASPNET_COMPOSITE = f"{TEST_PREFIX}aspnet:{TAG}-composite"


@pytest.fixture(scope="module")
def verified(built_images):
    settings, api, _ = built_images
    checks = pipeline.verify_images(api, settings)
    return settings, api, checks


def test_every_check_passes_on_every_built_image(verified):
    settings, _, checks = verified
    failed = [f"{c.image} {c.name}: {c.detail}" for c in checks if not c.passed]
    assert not failed, "\n".join(failed)
    written = json.loads((settings.build_dir / "verify" / "verify.json").read_text())
    assert len(written) == len(checks)
    assert all(str(w["data"].get("image_id", "")).startswith("sha256:") for w in written), "invoke push needs the verified image IDs"
    names = {c.name for c in checks}
    assert {"structure", "conventions", "list-runtimes", "console-runs", "web-answers", "sdk-builds", "r2r-used"} <= names


def test_verify_reports_jit_counts_and_composites_beat_the_baseline(verified):
    _, _, checks = verified
    r2r_checks = {c.image: c.data for c in checks if c.name == "r2r-used"}
    table = "\n".join(f"{img}: {d['jit_r2r']} with R2R, {d['jit_no_r2r']} without, baseline {d['jit_baseline']}" for img, d in sorted(r2r_checks.items()))
    print("\nJIT-compiled methods\n" + table)
    for img, d in r2r_checks.items():
        assert d["jit_r2r"] * 2 < d["jit_no_r2r"], img
        if d["jit_baseline"] is not None:
            assert d["jit_r2r"] <= d["jit_baseline"], img


def test_runtime_and_aspnet_images_run_what_the_sdk_image_built(verified):
    _, _, checks = verified
    runs = [c for c in checks if c.name in ("console-runs", "web-answers") and ":" in c.data.get("app_built_by", "")]
    by_image = {c.image for c in runs}
    assert f"{TEST_PREFIX}runtime:{TAG}-no-composite" in by_image
    assert f"{TEST_PREFIX}aspnet:{TAG}-runtime-composite" in by_image  # variant 2's: its SDK image is on the composite
    assert all(c.data["app_built_by"].startswith(f"sdk:{TEST_PREFIX}sdk:") for c in runs)
    # the session builds no SDK image of variant 4 (tests/pipeline_support.SESSION_IMAGES): its images run
    # what this machine's SDK built
    composed = [c for c in checks if c.image == f"{TEST_PREFIX}aspnet:{TAG}-composed-composite" and c.name == "web-answers"]
    assert composed and all(c.data["app_built_by"] == "host SDK" for c in composed)


# -- each check fails when its condition is broken ---------------------------------------------------

def derive(api, base: str, name: str, lines: list[str], tmp_path: Path, files: dict[str, Path] | None = None) -> str:
    """Build a small image FROM ``base`` (labels are inherited, so it claims what the base claims)."""
    ctx = tmp_path / name
    ctx.mkdir()
    for rel, src in (files or {}).items():
        shutil.copy2(src, ctx / rel)
    (ctx / "Dockerfile").write_text(f"FROM {base}\n" + "\n".join(lines) + "\n")
    ref = f"{TEST_PREFIX}broken:{name}"
    dockerio.build(api, ctx, ref, labels={dockerio.label("role-override"): "broken-test"})
    return ref


@pytest.fixture
def fx_dir(built_images):
    settings, api, _ = built_images
    env = verify.image_env(api, RUNTIME_COMPOSITE)
    return f"/usr/share/dotnet/shared/Microsoft.NETCore.App/{env['DOTNET_VERSION']}"


def test_missing_composite_fails_structure_and_run(built_images, tmp_path, fx_dir):
    settings, api, _ = built_images
    ref = derive(api, RUNTIME_COMPOSITE, "no-composite-file", [f"RUN rm {fx_dir}/framework-r2r.dll"], tmp_path)
    check = verify.verify_structure(api, verify.claim_of(api, ref))
    assert not check.passed and check.image == ref and check.name == "structure"
    assert "composite framework-r2r.dll is missing" in check.detail
    run = verify.check_console(api, ref, publish(settings, "hello"))
    assert not run.passed and run.name == "console-runs"


def test_component_swapped_for_plain_r2r_fails_structure(built_images, tmp_path, fx_dir):
    settings, api, _ = built_images
    original = next((settings.build_dir / "layout").glob("*/dotnet/shared/Microsoft.NETCore.App/*/System.Collections.dll"))
    ref = derive(api, RUNTIME_COMPOSITE, "swapped-component", [f"COPY System.Collections.dll {fx_dir}/System.Collections.dll"],
                 tmp_path, {"System.Collections.dll": original})
    check = verify.verify_structure(api, verify.claim_of(api, ref))
    assert not check.passed
    assert "1 of" in check.detail and "System.Collections.dll: r2r" in check.detail


def test_web_app_that_never_answers_fails(built_images):
    settings, api, _ = built_images
    hello = publish(settings, "hello")  # a console app: it exits and never listens
    check = verify.check_web(api, ASPNET_COMPOSITE, hello, timeout=8)
    assert not check.passed and check.image == ASPNET_COMPOSITE and check.name == "web-answers"
    assert "no HTTP 200" in check.detail
    assert not suite_containers(api, f"{dockerio.label('role')}=verify")


def test_r2r_disabled_in_the_image_fails_r2r_used(built_images, tmp_path):
    settings, api, _ = built_images
    ref = derive(api, RUNTIME_COMPOSITE, "r2r-off", ["ENV DOTNET_ReadyToRun=0"], tmp_path)
    hello = publish(settings, "hello")
    on, off = verify.jit_counts(api, ref, hello, web=False)
    check = verify.check_r2r_used(ref, on, off, None, composite=True)
    assert not check.passed and "R2R code is not (much) used" in check.detail


def test_a_composite_that_jits_more_than_the_baseline_on_the_broad_sample_fails_verify(built_images, tmp_path):
    """The JIT rule on a judged sample, broken on purpose: the composite runtime image with AVX2 turned
    off (its x86-64-v3 code is rejected and JIT-compiled) verified after the baseline, as `verify` does."""
    from crossgen import pipeline

    settings, api, outcomes = built_images
    ref = derive(api, RUNTIME_COMPOSITE, "no-avx2", ["ENV DOTNET_EnableAVX2=0"], tmp_path)
    own = settings.with_overrides(build_dir=tmp_path / "build")  # the suite's verify record stays as it is
    checks = pipeline.verify_images(api, own, [outcomes["runtime-no-composite"].ref, ref])
    rule = {c.data.get("sample"): c for c in checks if c.image == ref and c.name == "r2r-used"}
    assert set(rule) == {"hello", "broad"}
    assert not rule["broad"].passed and "more than the baseline's" in rule["broad"].detail, rule["broad"].detail
    assert rule["broad"].data["jit_r2r"] > rule["broad"].data["jit_baseline"]


def test_a_console_app_can_crash_on_the_single_runtime_and_aspnet_composite(built_images):
    """Why variant 3 runs console apps on its runtime image: on the one runtime+ASP.NET composite, the
    broad sample stops in System.Text.Json code that needs an ASP.NET Core assembly a console app's
    host never loads. If a runtime or compiler fixes this, this test says so."""
    settings, api, _ = built_images
    run = verify.run_console(api, ASPNET_COMPOSITE, publish(settings, "broad"))
    assert run.exit_code != 0
    assert "Could not load file or assembly 'Microsoft.AspNetCore.Http.Abstractions" in run.output and "System.Text.Json" in run.output


def test_composite_jitting_more_than_baseline_fails():
    check = verify.check_r2r_used("img", 150, 2400, 120, composite=True)
    assert not check.passed and "more than the baseline's 120" in check.detail
    assert verify.check_r2r_used("img", 100, 2400, 120, composite=True).passed


def test_conventions_catch_world_writable_files_and_wrong_versions(built_images, tmp_path):
    _, api, _ = built_images
    ref = derive(api, RUNTIME_BASELINE, "conventions", ["RUN touch /opt/oops && chmod 0666 /opt/oops", "ENV DOTNET_VERSION=10.0.99"], tmp_path)
    claim = verify.claim_of(api, ref)
    conv = verify.check_conventions(api, claim)
    assert not conv.passed and "/opt/oops" in conv.detail
    lr = verify.check_list_runtimes(api, claim)
    assert not lr.passed and "DOTNET_VERSION=10.0.99 not among the runtimes" in lr.detail


# -- app compatibility: predicted, then shown for real -----------------------------------------------

def test_app_with_its_own_framework_assembly_collides_with_the_composite(built_images):
    settings, api, _ = built_images
    app = publish(settings, "collide")
    predicted = verify.check_app_compat(api, RUNTIME_COMPOSITE, app.path)
    assert not predicted.passed
    assert "System.Text.Json.dll 11.0.0.0 (app) replaces the component in framework-r2r.dll" in predicted.detail

    crash = verify.run_console(api, RUNTIME_COMPOSITE, app)
    assert crash.exit_code != 0
    assert "MVID mismatch" in crash.output and "System.Text.Json" in crash.output

    fine = verify.check_app_compat(api, RUNTIME_BASELINE, app.path)
    assert fine.passed
    ok = verify.run_console(api, RUNTIME_BASELINE, app)
    assert ok.exit_code == 0 and "System.Text.Json 11.0.0.0" in ok.output


def test_plain_app_does_not_collide(built_images):
    settings, api, _ = built_images
    check = verify.check_app_compat(api, ASPNET_COMPOSITE, publish(settings, "web").path)
    assert check.passed, check.detail
