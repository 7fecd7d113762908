"""End to end on linux-arm64: the arm64 runtime composite (variant 2) compiled by the x64 Crossgen2,
staged on an arm64 Debian base, built for linux/arm64 and verified by running it under qemu (every
check verify runs on x64). Needs the bootstrap's emulation (qemu-user-static with binfmt_misc) and the
arm64 cross-compiler; images carry the suite's prefix (DCI_TEST_PREFIX), the build its own folder."""

from __future__ import annotations

import time

import pytest

from crossgen import dockerio, pipeline
from crossgen.acquire.cache import Cache
from crossgen.acquire.http import new_session
from crossgen.acquire.model import PACK_IDS
from crossgen.acquire.sources import NuGetSource
from crossgen.acquire.versionspec import as_spec
from crossgen.images import baseimage
from crossgen.images.catalog import CATALOG
from tests.pipeline_support import e2e_settings

pytestmark = [pytest.mark.slow, pytest.mark.docker]

VARIANTS = (2,)


@pytest.fixture(scope="module")
def arm64_build():
    settings = e2e_settings(rid="linux-arm64")
    api = dockerio.connect()
    session = new_session()
    start = time.monotonic()
    outcomes = pipeline.build_variants(api, settings, session, Cache(settings.cache_dir),
                                       selected=[CATALOG.variant(n) for n in VARIANTS])
    built = time.monotonic()
    checks = pipeline.verify_images(api, settings)
    done = time.monotonic()
    print(f"\narm64 e2e: build {built - start:.0f} s, verify under emulation {done - built:.0f} s")
    return settings, api, session, outcomes, checks


def test_the_version_is_the_newest_the_arm64_packs_and_crossgen2_all_serve(arm64_build):
    settings, _, session, outcomes, _ = arm64_build
    nuget = NuGetSource(session, settings)
    spec = as_spec(settings.channel)
    served = [set(spec.select(nuget.versions(pid))) for pid in (
        PACK_IDS["runtime"].format(rid="linux-arm64"), PACK_IDS["aspnetcore"].format(rid="linux-arm64"),
        PACK_IDS["crossgen2"].format(host_rid="linux-x64"))]
    common = set.intersection(*served)
    newest = max(common, key=lambda v: tuple(int(p) for p in v.split("-")[0].split(".")))
    labels = {o.key: dockerio.image_labels(dockerio.image_info(arm64_build[1], o.ref)) for o in outcomes if o.image_id}
    assert labels["runtime-composite"][dockerio.label("dotnet-version")] == newest
    assert labels["runtime-composite"][dockerio.label("rid")] == "linux-arm64"


def test_arm64_images_are_arm64_tagged_apart_and_the_sdk_image_is_not_built(arm64_build):
    settings, api, _, outcomes, _ = arm64_build
    by_key = {o.key: o for o in outcomes}
    for key in ("runtime-deps", "runtime-composite", "aspnet-runtime-composite"):
        ref = by_key[key].ref
        assert ref.endswith("-arm64v8"), ref
        info = dockerio.image_info(api, ref)
        assert info["Architecture"] == "arm64" and info["Os"] == "linux", (ref, info["Architecture"])
    assert dockerio.image_info(api, baseimage.os_image(settings))["Architecture"] == "arm64"
    # Crossgen2 ran here, on this machine's runtime-deps (x64), not under emulation
    tool = dockerio.image_info(api, by_key["crossgen2"].ref)
    assert tool["Architecture"] == "amd64"
    sdk = by_key["sdk-runtime-composite"]
    assert sdk.not_built and "linux-arm64" in sdk.not_built and not sdk.image_id
    size = {k: by_key[k].size for k in ("runtime-deps", "runtime-composite", "aspnet-runtime-composite")}
    print("\narm64 image sizes (bytes): " + ", ".join(f"{k} {v:,}" for k, v in size.items()))


def test_every_verify_check_passes_under_emulation(arm64_build):
    settings, _, _, _, checks = arm64_build
    failed = [f"{c.image} {c.name}: {c.detail}" for c in checks if not c.passed]
    assert not failed, "\n".join(failed)
    by = {(c.image.split(":")[1], c.name) for c in checks}
    tag = "10.0-trixie-slim-composite-arm64v8"
    for name in ("structure", "conventions", "list-runtimes", "console-runs", "r2r-used"):
        assert (tag, name) in by, name
    assert ("10.0-trixie-slim-runtime-composite-arm64v8", "web-answers") in by
    structure = [c for c in checks if c.name == "structure"]
    assert structure and all(c.data["targets"] == ["linux-arm64"] and c.data["architecture"] == "arm64" for c in structure)
    assert (settings.workspace.verify / "verify.json").is_file() and settings.workspace.verify.name == "verify-arm64"


def test_the_composite_is_used_under_emulation(arm64_build):
    """The arm64 composite's code is what runs: far fewer JIT-compiled methods with ReadyToRun than without."""
    _, _, _, _, checks = arm64_build
    r2r = [c for c in checks if c.name == "r2r-used"]
    assert r2r
    for c in r2r:
        assert c.data["jit_r2r"] * 2 < c.data["jit_no_r2r"], (c.image, c.data)
