"""Distroless OS bases for real: runtime-deps distroless and -extra built from Debian packages (the
archive through apt, as the slim runtime-deps), then verified as `invoke verify` does: no shell or
package manager in the file system, the conventions read through an injected busybox, and the os probe
(a self-contained .NET app run as the image's own user: ICU, time zones, the CA bundle); the distroless
build is reproducible; and a .NET runtime image on distroless-extra runs the console samples."""

from __future__ import annotations

import pytest

from crossgen import dockerio, pipeline
from crossgen.acquire.acquisition import acquire
from crossgen.acquire import lock as lockfile
from crossgen.acquire.cache import Cache
from crossgen.acquire.http import new_session
from crossgen.images import baseimage, specs
from crossgen.images.catalog import CATALOG
from crossgen.verify import checks
from tests.pipeline_support import e2e_settings

pytestmark = [pytest.mark.slow, pytest.mark.docker]

MB = 1_000_000
LIMITS = {"distroless": 20 * MB, "distroless-extra": 60 * MB}   # uncompressed (Ubuntu chiseled: 12.9 MB, chiseled-extra 50.5 MB)


@pytest.fixture(scope="module")
def bases():
    api = dockerio.connect()
    settings = e2e_settings()
    built = {}
    for name in LIMITS:
        s = settings.with_overrides(os=name)
        outcomes = {o.key: o for o in pipeline.base_images(api, s)}
        built[name] = (s, outcomes)
    return api, settings, built


def test_distroless_runtime_deps_are_small_and_verified(bases):
    api, _, built = bases
    for name, (s, outcomes) in built.items():
        deps = outcomes["runtime-deps"]
        assert deps.ref.endswith(f"runtime-deps:10.0-trixie-{name}")
        assert deps.size <= LIMITS[name], f"{deps.ref}: {deps.size / MB:.1f} MB"
        info = dockerio.image_info(api, deps.ref)
        assert info["Config"]["User"] == "1654" and len(info["RootFS"]["Layers"]) == 1  # FROM scratch: its own layer only
        assert outcomes[baseimage.TOOL_BASE].ref.endswith("runtime-deps:10.0-trixie-slim")  # the Crossgen2 image's base
        found = {c.name: c for c in pipeline.verify_images(api, s, [deps.ref])}
        assert sorted(found) == ["conventions", "no-shell", "os-probe"]
        assert all(c.passed for c in found.values()), {k: c.detail for k, c in found.items() if not c.passed}
        probe = found["os-probe"].data["probe"]
        extra = name == "distroless-extra"
        assert probe["icu"].startswith("yes" if extra else "no") and probe["tz"].startswith("yes" if extra else "no")
        assert probe["trust"].startswith("yes") and probe["user"] == "uid=1654 name=app"


def test_the_checks_fail_where_a_shell_or_root_is_there(bases):
    """The same checks on the slim OS base: it has a shell, apt and dpkg, and runs as root."""
    api, _, built = bases
    s, _ = built["distroless"]
    slim = checks.claim_of(api, s.base_image)
    no_shell = checks.check_no_shell(api, slim)
    assert not no_shell.passed and {"/usr/bin/sh", "/usr/bin/dpkg", "/usr/bin/apt-get"} <= set(no_shell.data["found"])


def test_the_distroless_build_is_reproducible(bases):
    api, _, built = bases
    s, outcomes = built["distroless"]
    again = pipeline.base_images(api, s, force=True)
    deps = next(o for o in again if o.key == "runtime-deps")
    assert not deps.skipped and deps.image_id == outcomes["runtime-deps"].image_id


def test_the_lock_reads_a_distroless_base_from_its_package_records(bases):
    """No dpkg to ask in a distroless image: `invoke lock --os distroless` reads the status.d records."""
    api, _, built = bases
    s, outcomes = built["distroless"]
    recorded = baseimage.recorded_packages(api, outcomes["runtime-deps"].ref)
    base = baseimage.installed_packages(api, s.base_image)
    assert {"libc6", "libstdc++6", "ca-certificates"} <= set(recorded)
    assert not [p for p in recorded if p.startswith("libicu") or p == "tzdata"]  # globalization-invariant, no zoneinfo
    assert recorded["libc6"] == base["libc6"]  # fetched from the archive state the OS base was made from
    debian = baseimage.debian_packages(api, s)
    assert set(debian) == {"suite", "os", "runtime-deps-distroless"} and "ca-certificates" in debian["runtime-deps-distroless"]
    assert lockfile.debian_differences({"debian": debian}, s.debian_suite, debian) == []
    # a lock written for slim alone says that this base is not in it, and keeps slim's entry when distroless is added
    slim_lock = {"suite": debian["suite"], "os": debian["os"], "runtime-deps": {"libicu76": "76.1-4"}}
    diffs = lockfile.debian_differences({"debian": slim_lock}, s.debian_suite, debian)
    assert diffs == ["runtime-deps-distroless: not in the lock (it was written for another OS base; "
                     "`invoke lock --os` with this base adds it)"]
    assert set(lockfile.merged_debian({"debian": slim_lock}, debian)) == {"suite", "os", "runtime-deps", "runtime-deps-distroless"}


@pytest.fixture(scope="module")
def extra_runtime(bases):
    """The runtime layer (no RUN: /usr/bin/dotnet is a staged link) on distroless-extra."""
    api, _, built = bases
    s, _ = built["distroless-extra"]
    full = acquire(s, new_session(), Cache(s.cache_dir))
    image = CATALOG.images["runtime-no-composite"]
    out = pipeline.build_image(api, specs.spec_for(s, full, CATALOG, image, {}), s.workspace.contexts)
    assert out.ref.endswith("runtime:10.0-trixie-distroless-extra-no-composite")
    return s, full, out


def test_a_runtime_image_on_distroless_extra_runs_the_console_samples(bases, extra_runtime):
    """verify runs the console samples (the hello sample formats for de-DE: ICU is there) and reads
    conventions through busybox."""
    api = bases[0]
    s, _, out = extra_runtime
    found = pipeline.verify_images(api, s, [out.ref])
    failed = {c.name: c.detail for c in found if not c.passed}
    assert not failed
    assert {"no-shell", "structure", "conventions", "list-runtimes", "console-runs", "r2r-used"} <= {c.name for c in found}


def test_the_report_measures_a_shell_less_base_beside_the_main_one(bases, extra_runtime):
    """`report --bases`: the images of another OS base's build are sized and their samples timed (the
    timing script runs through the injected busybox), and the approaches table gets that base's rows."""
    from crossgen.report import approaches
    from crossgen.report import run as report_run

    api = bases[0]
    s, full, out = extra_runtime
    record = {"os": s.os, "os_tag": baseimage.os_tag(s), "dotnet_version": full.version,
              "images": [{"key": out.key, "ref": out.ref, "image_id": out.image_id}], "not_built": []}
    opts = report_run.ReportOptions(runs=1, registry=False)
    measured = report_run.os_bases_section(api, [(s, record)], opts, report_run.Timer())
    assert [b["os"] for b in measured] == ["distroless-extra"]
    image = measured[0]["images"][0]
    assert image["uncompressed_bytes"] == dockerio.image_info(api, out.ref)["Size"]
    timed = {(x["sample"], x["mode"]): x for x in measured[0]["summaries"]}
    assert {("hello", "default"), ("broad", "default")} <= set(timed)
    assert all(x["failed"] == 0 and x["median_ms"] > 0 and x["jit_median"] for x in timed.values()), timed
    rows = approaches.rows_for(CATALOG, measured[0]["images"], measured[0]["summaries"], record, "trixie-distroless-extra")
    hello = next(r for r in rows if r["sample"] == "hello" and r["variant"] == 1)
    assert hello["uncompressed_bytes"] == image["uncompressed_bytes"] and hello["startup_ms"] == timed[("hello", "default")]["median_ms"]
