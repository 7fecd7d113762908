"""`report.run` end to end on the images of the end-to-end build (prefix dci-test/, build/test):
a subset of images (no SDKs, to keep the pushes short), one startup run, a real registry."""

from __future__ import annotations

import json

import pytest

from crossgen.report import run as report
from tests.pipeline_support import build_everything, e2e_settings

pytestmark = [pytest.mark.slow, pytest.mark.docker]

IMAGES = ("runtime-*", "aspnet-no-composite", "aspnet-composite", "sample-service-*")


@pytest.fixture(scope="module")
def result():
    settings = e2e_settings()
    api, _ = build_everything(settings)
    opts = report.ReportOptions(runs=1, images=IMAGES, warm_build=False, readme=False)
    return settings, report.run(api, settings, opts)


def test_report_files_are_written(result):
    settings, r = result
    out = settings.build_dir / "report"
    on_disk = json.loads((out / "report.json").read_text())
    assert on_disk["schema_version"] == report.SCHEMA_VERSION
    assert on_disk["generated_at"] == r["generated_at"]
    md = (out / "report.md").read_text()
    assert "## Headline" in md and "chain-id" in md
    assert sorted(p.split("/")[-1] for p in r["charts"]) == ["approaches.png", "layers.png", "scenarios.png", "startup.png"]
    assert "## The smallest image per approach" in md
    for p in r["charts"]:
        assert (out / p.split("/")[-1]).stat().st_size > 10_000


def test_report_measures_what_was_selected(result):
    _, r = result
    keys = {i["key"] for i in r["images"]}
    assert keys == {"runtime-deps", "runtime-no-composite", "runtime-composite", "aspnet-no-composite", "aspnet-composite",
                    "sample-service-no-composite", "sample-service-composite"}
    for img in r["images"]:
        assert img["compressed_bytes"] and img["compressed_bytes"] < img["uncompressed_bytes"]
        assert sum(l["uncompressed_bytes"] for l in img["layers"]) == img["uncompressed_bytes"]
        assert sum(l["compressed_bytes"] for l in img["layers"]) == img["compressed_bytes"]
    scen = {s["id"]: s for s in r["scenarios"]}
    assert scen["runtime+aspnet+sdk"]["variants"]["1"]["missing"] == ["sdk-no-composite"]
    assert scen["runtime+aspnet"]["variants"]["3"]["disk_rule"] == "chain-id"
    assert scen["runtime+aspnet"]["variants"]["3"]["pull_rule"] == "blob-digest"
    assert r["machine"]["cores"] and r["dotnet_version"] and r["base_os"]


def test_report_states_a_verdict_per_measure(result):
    _, r = result
    measures = {(d["variant"], d["measure"]) for d in r["verdicts"]}
    assert {(2, "uncompressed"), (2, "compressed"), (2, "startup")} <= measures  # its aspnet image is not selected
    assert {(3, "uncompressed"), (3, "compressed"), (3, "disk"), (3, "pull"), (3, "startup")} <= measures
    for d in r["verdicts"]:  # the verdict agrees with the measured numbers it names
        assert ("beats the baseline" in d["statement"]) == (d["value"] < d["baseline"]), d
        assert f"{d['value'] / 1e6:.1f} MB" in d["statement"] if d["measure"] in ("uncompressed", "compressed") else True


def test_the_approaches_table_reads_the_measured_images(result):
    """service: the baseline runs it on its ASP.NET image plus the app's layer, variant 5 in its own image;
    the sizes are the measured images' (the app layer from the baseline's app image), the winners are
    among the measured rows."""
    _, r = result
    rows = {(x["sample"], x["variant"]): x for x in r["approaches"]["rows"]}
    images = {i["key"]: i for i in r["images"]}
    app = images["sample-service-no-composite"]
    app_layer = sum(l["uncompressed_bytes"] for l in app["layers"] if l["owner"] == "sample-service-no-composite")
    assert 0 < app_layer < 10_000_000
    assert rows[("service", 1)]["uncompressed_bytes"] == images["aspnet-no-composite"]["uncompressed_bytes"] + app_layer
    assert rows[("service", 5)]["uncompressed_bytes"] == images["sample-service-composite"]["uncompressed_bytes"]
    assert rows[("service", 5)]["startup_ms"] > 0 and rows[("service", 5)]["jit_methods"] is not None
    smallest = r["approaches"]["winners"]["service"]["smallest"]
    measured = [x["uncompressed_bytes"] for x in r["approaches"]["rows"] if x["sample"] == "service" and x["uncompressed_bytes"]]
    assert smallest["uncompressed_bytes"] == min(measured)
