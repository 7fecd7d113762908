"""A compile mode for real: variant 2 built with ``--mode M`` (M: a mode other than the configured
one; partial, the quickest to compile, unless that is the default), tagged and recorded apart from
the default build, then measured on the frontier beside the baseline and the default build: sizes,
startup, JIT counts with and without AVX2, the mode the rule picks, the table and the chart. A
catalog of two variants and two samples keeps it to a few minutes."""

from __future__ import annotations

import json

import pytest

from crossgen import dockerio, pipeline
from crossgen.acquire.cache import Cache
from crossgen.acquire.http import new_session
from crossgen.compile import training
from crossgen.compile.modes import apply_mode
from crossgen.images.catalog import CATALOG, Catalog
from crossgen.report import frontier
from crossgen.report.render import md_frontier

pytestmark = [pytest.mark.slow, pytest.mark.docker]


def test_a_mode_is_built_apart_and_measured_on_the_frontier(built_images, tmp_path):
    settings, api, outcomes = built_images
    default_ref = next(o.ref for o in outcomes.values() if o.key == "runtime-composite")
    mode = "partial" if settings.crossgen.mode.get("runtime") != "partial" else "full"
    other = apply_mode(settings, mode)
    cat = Catalog(variants=(CATALOG.variant(1), CATALOG.variant(2)), samples=(CATALOG.sample("hello"), CATALOG.sample("web")))

    # its runtime and ASP.NET images (the frontier runs the samples on them; its SDK image would only add time)
    built = {o.key: o for o in pipeline.build_variants(api, other, new_session(), Cache(settings.cache_dir),
                                                        selected=[cat.variant(2)], catalog=cat,
                                                        only={"runtime-composite", "aspnet-runtime-composite"})}
    assert "sdk-runtime-composite" not in built
    assert built["runtime-composite"].ref == f"{default_ref}-{mode}"
    assert dockerio.image_info(api, default_ref)["Id"] != dockerio.image_info(api, f"{default_ref}-{mode}")["Id"]
    assert other.workspace.build_record.is_file() and settings.workspace.build_record.is_file()  # each build keeps its record
    record = json.loads(other.workspace.build_record.read_text())["bubbles"]["runtime"]
    default_record = json.loads(settings.workspace.build_record.read_text())["bubbles"]["runtime"]
    assert record["key"] != default_record["key"]
    # the hot list: made by running the training programs (already, if a default mode is hot)
    listed = training.hot_assemblies(settings)
    assert "System.Private.CoreLib" in listed.names and "System.Text.Json" in listed.names and "Microsoft.AspNetCore" in listed.names
    assert not any(n.startswith("train-") or n == training.HOOK for n in listed.names)
    assert json.loads(listed.path.read_text())["programs"].keys() == {name for name, _ in training.TRAINING}

    points = frontier.plan_points(settings, (mode,), cat)
    assert {(p.variant, p.mode) for p in points} == {(1, "baseline"), (2, "default"), (2, mode)}
    section = frontier.measure(api, settings, points, runs=2, extra_runs=1, seed=7, catalog=cat)
    for p in section["points"]:
        assert p["size"] > 50_000_000 and p["failed"] == 0, p
        assert p["median_ms"] is not None and p["jit"] is not None and p["jit_no_avx2"] is not None, p
    composite = [p for p in section["points"] if p["mode"] != "baseline"]
    # the composite is compiled for x86-64-v3: without AVX2 its code is rejected and JIT-compiled
    assert all(p["jit_no_avx2"] > p["jit"] for p in composite), composite
    assert all(p["passes"] in (True, False) and p["size_ratio"] for p in composite)
    chosen = section["defaults"]["runtime"]  # the default build's points are shown, never chosen between
    assert set(section["defaults"]) == {"runtime"} and set(chosen["modes"]) == {mode}
    assert chosen["configured"] == settings.crossgen.mode["runtime"]  # what invoke.yaml compiles it in, beside the pick
    assert chosen["modes"][mode]["passes"] == all(p["passes"] for p in composite if p["mode"] == mode)
    assert ("passes the rule" in chosen["why"]) == chosen["modes"][mode]["passes"]
    assert any(p["pareto"] for p in section["points"] if p["sample"] == "hello")

    report = {"frontier": section}
    table = "\n".join(md_frontier(report))
    assert f"| hello | 2 | {mode} |" in table and f"`runtime`: **{mode}**" in table
    from crossgen.report.charts import frontier_chart

    png = frontier_chart(report, tmp_path / "frontier.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_modes_composite_on_another_os_base_is_sized_beside_the_main_ones(built_images, tmp_path):
    """`report --bases` with the frontier's modes: the framework images a mode changes, built on another
    OS base from the same Crossgen2 output as the main base's (nothing compiled again), and sized beside
    the main base's images, as built and in the mode."""
    from crossgen.report import run as report_run
    from crossgen.report.render import md_framework_modes

    settings, api, _ = built_images
    mode = "partial" if settings.crossgen.mode.get("runtime") != "partial" else "full"
    cat = Catalog(variants=(CATALOG.variant(1), CATALOG.variant(2)), samples=(CATALOG.sample("hello"),))
    distroless = settings.with_overrides(os="distroless")
    records = {}
    for name, s in (("slim", settings), ("distroless", distroless)):  # slim's is up to date after the test above
        built = {o.key: o for o in pipeline.build_modes(api, s, (mode,), cat, record_dir=tmp_path / name, only={"runtime-composite"})}
        assert set(built) >= {"runtime-deps", "runtime-composite"} and "aspnet-runtime-composite" not in built
        records[name] = json.loads((tmp_path / name / f"build-{mode}.json").read_text())
    assert built["runtime-composite"].ref.endswith(f"runtime:10.0-trixie-distroless-composite-{mode}")
    assert records["distroless"]["bubbles"]["runtime"]["key"] == records["slim"]["bubbles"]["runtime"]["key"]
    assert records["distroless"]["bubbles"]["runtime"]["reused"]

    opts = report_run.ReportOptions(modes=(mode,), registry=False)
    section = report_run.framework_modes_section(api, [settings, distroless], opts, report_run.Timer())
    by = {(r["os"], r["key"], r["mode"]): r for r in section["rows"]}
    mine, theirs = by[("trixie-distroless", "runtime-composite", mode)], by[("trixie-slim", "runtime-composite", mode)]
    assert mine["uncompressed_bytes"] == dockerio.image_info(api, mine["ref"])["Size"]
    # the same composite on a base without shell, apt, ICU and tzdata: smaller by what runtime-deps leaves out, no more
    deps = by[("trixie-slim", "runtime-deps", "default")]["uncompressed_bytes"] - by[("trixie-distroless", "runtime-deps", "default")]["uncompressed_bytes"]
    assert deps > 0 and theirs["uncompressed_bytes"] - mine["uncompressed_bytes"] == deps
    # what was not built on distroless (its default build, the ASP.NET images) is not in the section
    assert ("trixie-distroless", "aspnet-runtime-composite", mode) not in by
    table = "\n".join(md_framework_modes({"framework_modes": section}))
    assert "| trixie-distroless | `runtime-composite` |" in table and f"| base | image | default | {mode} |" in table
