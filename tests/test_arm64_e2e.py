"""End to end on linux-arm64, the lean way CI runs it: the arm64 runtime composite (variant 2, the runtime
bubble in ``partial`` mode: the quickest whole compile) compiled by the x64 Crossgen2, on a distroless
arm64 runtime-deps (``distroless-extra``: the console samples format with a culture, de-DE, which plain
distroless, globalization-invariant, refuses), built for linux/arm64 and verified by running it under qemu;
beside it the web sample compiled ahead of time for arm64 (variant 7: ILCompiler runs here, Debian's cross
gcc links), its image tried, then verified, under qemu.

The distroless runtime-deps is laid out by this machine's OS base from Debian's arm64 packages (apt's
foreign architecture; only the loader check runs arm64 code), so no arm64 OS base is made and no apt
runs under emulation. Verify runs under emulation only on the runtime composite: its structure (every
composite targets linux-arm64), no shell, the conventions, the console samples and that its ReadyToRun
code is used. The slim arm64 base (mmdebstrap chrootless, apt under qemu) is left to a run by hand
(README, "linux-arm64"). Needs the bootstrap's emulation (qemu-user-static with binfmt_misc) and the
arm64 cross-compiler; images carry the suite's prefix (DCI_TEST_PREFIX), the build its own folder. The
test prints where its time went and the image sizes."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from crossgen import dockerio, pipeline
from crossgen.acquire.cache import Cache
from crossgen.acquire.http import new_session
from crossgen.acquire.model import PACK_IDS
from crossgen.acquire.sources import NuGetSource
from crossgen.acquire.versionspec import as_spec
from crossgen.compile.samples import publish
from crossgen.images import baseimage
from crossgen.images.catalog import CATALOG
from crossgen.verify import checks as verify
from tests.pipeline_support import e2e_settings

pytestmark = [pytest.mark.slow, pytest.mark.docker]

VARIANTS = (2, 7)
IMAGES = ("runtime-deps", "runtime-composite", "aspnet-runtime-composite", "sample-web-aot")
ONLY = {"runtime-composite", "aspnet-runtime-composite", "sdk-runtime-composite", "sample-web-aot"}


@pytest.fixture(scope="module")
def arm64_build():
    base = e2e_settings(rid="linux-arm64", os="distroless-extra")
    # partial: only the profiled methods get code, no training runs for a hot list; verify compares no
    # baseline here (none is built), so what partial leaves to the JIT is not held against it
    settings = replace(base, crossgen=replace(base.crossgen, mode={**base.crossgen.mode, "runtime": "partial"}))
    api = dockerio.connect()
    session = new_session()
    start = time.monotonic()
    outcomes = pipeline.build_variants(api, settings, session, Cache(settings.cache_dir),
                                       selected=[CATALOG.variant(n) for n in VARIANTS], only=ONLY)
    built = time.monotonic()
    by_key = {o.key: o for o in outcomes}
    checks = pipeline.verify_images(api, settings, refs=[by_key["runtime-composite"].ref, by_key["sample-web-aot"].ref])
    done = time.monotonic()
    images = sum(o.seconds for o in outcomes if not o.skipped)
    print(f"\narm64 e2e: {done - start:.0f} s: build {built - start:.0f} s (images {images:.0f} s: "
          + ", ".join(f"{o.key} {o.seconds:.0f} s" for o in outcomes if o.image_id and not o.skipped)
          + f"; the rest acquiring, publishing and Crossgen2), verify under emulation {done - built:.0f} s")
    print("arm64 image sizes (bytes): " + ", ".join(f"{k} {by_key[k].size:,}" for k in IMAGES))
    return settings, api, session, outcomes, checks


def test_the_version_is_the_newest_the_arm64_packs_and_crossgen2_all_serve(arm64_build):
    settings, api, session, outcomes, _ = arm64_build
    nuget = NuGetSource(session, settings)
    spec = as_spec(settings.channel)
    served = [set(spec.select(nuget.versions(pid))) for pid in (
        PACK_IDS["runtime"].format(rid="linux-arm64"), PACK_IDS["aspnetcore"].format(rid="linux-arm64"),
        PACK_IDS["crossgen2"].format(host_rid="linux-x64"))]
    common = set.intersection(*served)
    newest = max(common, key=lambda v: tuple(int(p) for p in v.split("-")[0].split(".")))
    labels = {o.key: dockerio.image_labels(dockerio.image_info(api, o.ref)) for o in outcomes if o.image_id}
    assert labels["runtime-composite"][dockerio.label("dotnet-version")] == newest
    assert labels["runtime-composite"][dockerio.label("rid")] == "linux-arm64"


def test_arm64_images_are_arm64_tagged_apart_and_no_arm64_os_base_is_made(arm64_build):
    settings, api, _, outcomes, _ = arm64_build
    by_key = {o.key: o for o in outcomes}
    for key in IMAGES:
        ref = by_key[key].ref
        assert ref.endswith("-arm64v8") and "-distroless-extra-" in ref, ref
        info = dockerio.image_info(api, ref)
        assert info["Architecture"] == "arm64" and info["Os"] == "linux", (ref, info["Architecture"])
    # the distroless installer is this machine's OS base: no arm64 one is needed, none is made
    installer = baseimage.os_image(baseimage.os_base_settings(settings))
    assert by_key["os"].ref == installer != baseimage.os_image(settings)
    assert dockerio.image_info(api, installer)["Architecture"] == "amd64"
    assert baseimage.os_image(settings) not in {o.ref for o in outcomes}
    # its package records are the arm64 packages'
    records = baseimage.recorded_packages(api, by_key["runtime-deps"].ref)
    assert {"libc6", "libssl3t64", "libicu76", "tzdata", "ca-certificates"} <= set(records)
    # Crossgen2 ran here, on this machine's runtime-deps (x64), not under emulation
    tool = dockerio.image_info(api, by_key["crossgen2"].ref)
    assert tool["Architecture"] == "amd64"
    sdk = by_key["sdk-runtime-composite"]
    assert sdk.not_built and "no shell" in sdk.not_built and not sdk.image_id


def test_the_plan_for_slim_arm64_names_both_os_bases_it_stands_on(arm64_build):
    """`--dry-run` on slim arm64 names the arm64 OS base (runtime-deps' apt runs in it) and this machine's
    (under the Crossgen2 image), as the build makes them; nothing is built."""
    settings, api, session, _, _ = arm64_build
    slim = settings.with_overrides(os="slim")
    steps = pipeline.plan_build(api, slim, session, Cache(slim.cache_dir), selected=[CATALOG.variant(2)])
    bases = {s.name: s for s in steps if s.kind == "base"}
    target, here = baseimage.os_image(slim), baseimage.os_image(baseimage.with_shell(slim))
    assert target != here and {target, here} <= set(bases), sorted(bases)
    assert not bases[here].todo  # made by the build above (the distroless installer)
    assert bases[target].todo == (dockerio.image_info(api, target) is None)


def test_every_verify_check_passes_under_emulation(arm64_build):
    settings, _, _, outcomes, checks = arm64_build
    failed = [f"{c.image} {c.name}: {c.detail}" for c in checks if not c.passed]
    assert not failed, "\n".join(failed)
    ref = {o.key: o for o in outcomes}["runtime-composite"].ref
    names = {c.name for c in checks if c.image == ref}
    for name in ("structure", "no-shell", "conventions", "list-runtimes", "console-runs", "r2r-used"):
        assert name in names, name
    structure = [c for c in checks if c.name == "structure" and not c.data.get("native")]
    assert structure and all(c.data["targets"] == ["linux-arm64"] and c.data["architecture"] == "arm64" for c in structure)
    assert (settings.workspace.verify / "verify.json").is_file() and settings.workspace.verify.name == "verify-arm64"


def test_the_composite_is_used_under_emulation(arm64_build):
    """The arm64 composite's code is what runs: far fewer JIT-compiled methods with ReadyToRun than without."""
    _, _, _, _, checks = arm64_build
    r2r = [c for c in checks if c.name == "r2r-used" and not c.data.get("not_applicable")]
    assert r2r
    for c in r2r:
        assert c.data["jit_r2r"] * 2 < c.data["jit_no_r2r"], (c.image, c.data)


def test_native_aot_for_arm64_is_linked_here_and_answers_under_emulation(arm64_build):
    """The web sample compiled ahead of time for arm64 on this x64 machine: its executable is arm64 (the
    structure check reads its ELF machine), and the image answers HTTP under qemu with no JIT."""
    _, _, _, outcomes, checks = arm64_build
    ref = {o.key: o for o in outcomes}["sample-web-aot"].ref
    by = {c.name: c for c in checks if c.image == ref}
    assert by["structure"].passed and by["structure"].data["native"], by["structure"].detail
    assert by["web-answers"].passed and by["web-answers"].data["jit_methods"] == 0, by["web-answers"].detail


def test_a_program_that_aborts_under_emulation_ends_with_its_signal(arm64_build):
    """An unhandled exception aborts a .NET program (SIGABRT). Under qemu-user as PID 1 the container ran
    on to its time limit (qemu waits for the signal it sends itself, which a PID namespace's init never
    gets); with Docker's init as PID 1 it ends at once with 128 + 6. Here hello asks for de-DE with
    globalization-invariant mode forced on."""
    settings, api, _, outcomes, _ = arm64_build
    ref = {o.key: o for o in outcomes}["runtime-composite"].ref
    run = verify.run_console(api, ref, publish(settings, "hello"), env={"DOTNET_SYSTEM_GLOBALIZATION_INVARIANT": "true"},
                             timeout=verify.CONSOLE_TIMEOUT_S)
    assert run.exit_code == 134 and "CultureNotFoundException" in run.output, (run.exit_code, run.output[-500:])
