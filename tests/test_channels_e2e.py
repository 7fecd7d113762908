"""End to end on other channels than 10.0: .NET 8.0 (LTS, an older Crossgen2 that spells the
instruction set its own way, samples built for net8.0) and .NET 11.0 (no SDK on this machine targets
it: samples built for net10.0 and rolled forward). Variants 1 and 2 are built for real, verified, and
compared by the report's channel table (variant 3 on every channel: `invoke report --channels`; left out
here to keep CI under its time budget). As `invoke report --channels` does, each channel builds in the
suite's build folder with a build record of its own: the training programs' hot list and the samples
of a framework are shared; every Crossgen2 result, layout and image is keyed by its own inputs.

An SDK image holds a working SDK of its channel or is not built: the machine's SDK (10.0) never goes
into an 8.0 or 11.0 SDK image.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import replace

import pytest

from crossgen import dockerio, pipeline
from crossgen.acquire.cache import Cache
from crossgen.acquire.http import new_session
from crossgen.images.catalog import CATALOG, Catalog
from crossgen.report import render
from crossgen.report import run as report_run
from tests.pipeline_support import TEST_PREFIX, e2e_settings

pytestmark = [pytest.mark.slow, pytest.mark.docker]

CHANNELS = ("8.0", "11.0")
# Variants 1 and 2 without variant 1's app images (the framework-dependent samples each in an image of
# its own: what variant 5's apps are compared with, and variant 5 is not built here): CI's time goes to
# what differs between channels. verify runs one console and one web sample (hello, web) on every
# framework image of the channel; the broad samples run on the 10.0 images (test_e2e_verify) and on every
# channel in the report's channel table (`invoke report --channels`; test_the_report_compares_channels).
FRAMEWORK_ONLY = Catalog(variants=(replace(CATALOG.baseline, apps=()), CATALOG.variant(2)),
                         samples=(CATALOG.sample("hello"), CATALOG.sample("web")))


def _host_sdk_majors() -> set[int]:
    out = subprocess.run(["dotnet", "--list-sdks"], capture_output=True, text=True, check=True).stdout
    return {int(line.split(".")[0]) for line in out.splitlines() if line[:1].isdigit()}


@pytest.fixture(scope="module")
def channel_builds(tmp_path_factory):
    """Variants 1 and 2 of each channel (framework images), each channel's build record apart."""
    api = dockerio.connect()
    records = tmp_path_factory.mktemp("channels")
    built = {}
    for channel in CHANNELS:
        settings = e2e_settings(channel=channel)
        path = records / f"build-{channel}.json"
        outcomes = pipeline.build_variants(api, settings, new_session(), Cache(settings.cache_dir), catalog=FRAMEWORK_ONLY,
                                           selected=[FRAMEWORK_ONLY.variant(n) for n in ("1", "2")], record_path=path)
        built[channel] = (settings, outcomes, json.loads(path.read_text()))
    return api, built


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_channel_builds_and_every_image_it_built_passes_verify(channel_builds, channel):
    api, built = channel_builds
    settings, outcomes, record = built[channel]
    assert record["dotnet_version"].startswith(channel + ".") and record["channel"] == channel
    made = {o.key: o for o in outcomes if not o.not_built}
    for key in ("runtime-no-composite", "aspnet-no-composite", "runtime-composite", "aspnet-runtime-composite"):
        assert made[key].ref == f"{TEST_PREFIX}{CATALOG.images[key].repo}:{channel}-trixie-slim-{CATALOG.images[key].suffix}"
        assert made[key].image_id
    # SDK images: a working SDK of the channel, or not built with the reason in the build record
    has_sdk = int(channel.split(".")[0]) in _host_sdk_majors()
    sdk_keys = {"sdk-no-composite", "sdk-runtime-composite"}
    skipped = {n["key"]: n["why"] for n in record["not_built"]}
    if has_sdk:
        assert sdk_keys <= set(made)
    else:
        assert set(skipped) == sdk_keys and not sdk_keys & set(made)
        assert all(f"no {channel} SDK from the configured sources" in why for why in skipped.values())
    assert all(o["key"] not in skipped for o in record["images"])

    checks = pipeline.verify_images(api, settings, [i["ref"] for i in record["images"] if i["key"] not in ("os", "runtime-deps", "crossgen2")],
                                    catalog=FRAMEWORK_ONLY)
    failed = [f"{c.image} {c.name}: {c.detail}" for c in checks if not c.passed]
    assert not failed, "\n".join(failed)
    runtimes = [c for c in checks if c.name == "list-runtimes"]
    assert runtimes and all(f"Microsoft.NETCore.App {channel}." in c.detail for c in runtimes)
    # every composite of the channel runs the samples with fewer JIT-compiled methods than its baseline
    r2r = [c for c in checks if c.name == "r2r-used" and c.data["jit_baseline"] is not None]
    assert r2r and all(c.data["jit_r2r"] <= c.data["jit_baseline"] for c in r2r)
    runs = [c for c in checks if c.name in ("console-runs", "web-answers")]
    names = {c.data["sample"] for c in runs}
    assert names == {"hello", "web"}
    if int(channel.split(".")[0]) > max(_host_sdk_majors()):
        # no SDK here targets the channel: the samples were built for the SDK's own framework and rolled
        # forward, and each run says so
        assert all("rolled forward" in c.detail and "RollForward=Major" in c.data["built_as"] for c in runs)
    else:
        assert not any("built_as" in c.data for c in runs)


def test_every_channel_stands_on_one_runtime_deps(channel_builds):
    """runtime-deps holds no .NET: each channel's tag names one image, which the last channel tagged
    instead of building it again (the first channel, or the suite's 10.0 build, had built it)."""
    _, built = channel_builds
    deps = {ch: next(o for o in outcomes if o.key == "runtime-deps") for ch, (_, outcomes, _) in built.items()}
    assert {o.ref.rsplit(":", 1)[1].split("-")[0] for o in deps.values()} == set(CHANNELS)
    assert len({o.image_id for o in deps.values()}) == 1
    assert deps[CHANNELS[-1]].skipped and deps[CHANNELS[-1]].seconds == 0


def test_the_report_compares_channels(channel_builds):
    api, built = channel_builds
    opts = report_run.ReportOptions(runs=1, channels=CHANNELS)
    section = report_run.channels_section(api, [(s, record) for s, _, record in built.values()], opts, report_run.Timer())
    assert [c["channel"] for c in section["channels"]] == list(CHANNELS)
    for ch in section["channels"]:
        points = ch["points"]
        # variants 1 and 2 were built (variant 4's console points run on variant 2's runtime image, which is there too)
        assert {1, 2} <= {p["variant"] for p in points}
        assert all(p["median_ms"] is not None and p["jit"] is not None and p["size"] > 0 for p in points)
        assert all(p["jit_ratio"] is not None for p in points if p["variant"] != 1)
    table = "\n".join(render.md_channels({"channels": section}))
    assert "8.0: image MB / startup ms / JIT" in table and "11.0: image MB / startup ms / JIT" in table
    assert "8.0 (.NET 8.0." in table and "11.0 (.NET 11.0." in table
