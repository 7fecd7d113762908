"""`invoke report`: sizes, layer sharing, startup and build cost of the variants, side by side.

Everything in the report is measured on this machine in this run, or read from the records the
builds wrote; nothing is typed in. The report measures the images as they are: building them (and
timing a warm or cold build-all) is the pipeline's job, which then calls :func:`run`. Steps (each
can be turned off, see ``ReportOptions``):

1. uncompressed sizes per image and layer from the daemon (``measure`` / ``sizes``);
2. compressed sizes: push to a local registry, read the manifests (``registry``);
3. startup inside running containers (``startup``);
4. the analysis against the baseline (``analyse``);
5. build/report/report.json, report.md and PNG charts (``render``, ``charts``); the headline table
   in the terminal and in README.md (between the ``report:latest`` markers).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import docker

from crossgen import dockerio
from crossgen.core import ui
from crossgen.core.errors import DciError
from crossgen.core.files import atomic_write_text
from crossgen.core.settings import Settings
from crossgen.images import baseimage
from crossgen.images.catalog import CATALOG
from crossgen.report import approaches, frontier, pulls, sizes
from crossgen.report.analyse import (
    build_summary,
    compare_with_previous,
    images_section,
    layer_identity,
    notes,
    scenarios_section,
    update_build_history,
    verdicts,
)
from crossgen.report.measure import (
    base_os,
    explain_layer_difference,
    load_build_record,
    machine_info,
    measure_compressed,
    measure_sizes,
    run_startup,
    select_images,
)
from crossgen.report.render import markdown, update_readme

SCHEMA_VERSION = 3   # 3: the frontier (compile modes); 2: startup summaries name their sample's kind
INSPECT_LIMIT = 200_000_000   # stream images to compare two same-source layers only below this layer size


@dataclass
class ReportOptions:
    runs: int = 10
    registry: bool = True
    startup: bool = True
    warm_build: bool = True
    images: tuple[str, ...] = ()          # fnmatch patterns on image keys; empty = all
    fresh_registry: bool = False
    readme: bool = True
    charts: bool = True
    inspect_layers: bool = True           # stream two same-source layers to say how they differ
    cold_build: bool = False              # time a cold build-all into a scratch prefix and build folder (minutes)
    seed: int = 20201
    modes: tuple[str, ...] = ()           # compile modes of the frontier (empty: no frontier)
    frontier_runs: int = 20               # frontier: startup runs per point
    extra_runs: int = 5                   # frontier: runs without AVX2 and with a dropped page cache
    channels: tuple[str, ...] = ()        # .NET channels to compare (each built by the pipeline first)
    rebuild_check: bool = True            # build every image again without cache: same image ID? (minutes)
    pulls: bool = False                   # real pulls onto a private containerd: classic builds (given) against these
    os_bases: tuple[str, ...] = ()        # OS bases measured beside the configured one (the approaches table)


@dataclass
class Timer:
    seconds: dict[str, float] = field(default_factory=dict)

    def add(self, name: str, start: float) -> None:
        self.seconds[name] = round(time.monotonic() - start, 1)


def require_charts() -> None:
    """--charts needs matplotlib (an optional dependency): fail before measuring, not after; without
    charts it is never imported."""
    try:
        import crossgen.report.charts  # noqa: F401
    except ImportError as exc:
        raise DciError("--charts", f"needs matplotlib, which cannot be imported ({exc})",
                       "install python3-matplotlib (scripts/bootstrap.sh does) or pip install '.[report]', or pass --no-charts") from None


def _frontier_points(api: docker.APIClient, settings: Settings, opts: ReportOptions) -> list[frontier.Point]:
    """The frontier's points, checked before anything is measured: every image they run on exists."""
    points = frontier.plan_points(settings, opts.modes)
    # an app that an approach could not make (Native AOT, trimming: the build record says why) has no point;
    # nor has a variant build-all leaves out when it was not built (build --variant N makes it)
    record = load_build_record(settings) if settings.workspace.build_record.is_file() else {}
    not_built = {i["key"] for i in record.get("not_built", [])}
    optional = {v.number for v in CATALOG.variants if not v.in_build_all}
    points = [p for p in points if p.image_key not in not_built
              and not (p.variant in optional and not dockerio.image_info(api, p.ref))]
    missing = [r for r in dict.fromkeys(p.ref for p in points) if not dockerio.image_info(api, r)]
    if missing:
        raise DciError(", ".join(missing[:3]) + (" ..." if len(missing) > 3 else ""), "not present locally (frontier images)",
                       "let `invoke report` build them (drop --no-warm-build), run `invoke build-all --mode <mode>` for each mode, "
                       "or pass --modes none")
    return points


def _frontier(api: docker.APIClient, settings: Settings, opts: ReportOptions, points: list[frontier.Point], timer: Timer) -> dict:
    """Every (variant, compile mode) on every sample: sizes (compressed through the registry when
    ``opts.registry``), startup, JIT counts, and the default mode per bubble."""
    refs = list(dict.fromkeys(p.ref for p in points))
    ui.step(f"Frontier: {len(points)} points ({len(opts.modes)} compile modes and the default build), {len(refs)} images")
    start = time.monotonic()
    measured = _sized(api, settings, refs, opts.registry)
    section = frontier.measure(api, settings, points, runs=opts.frontier_runs, extra_runs=opts.extra_runs, seed=opts.seed,
                               registry_sizes=measured)
    timer.add("frontier", start)
    return section


def _sized(api: docker.APIClient, settings: Settings, refs: list[str], registry: bool) -> dict:
    """{ref: sizes} of each image, compressed through the registry when ``registry``."""
    measured = {r: sizes.image_sizes(api, r, r) for r in refs}
    if registry:
        measure_compressed(api, settings, [{"key": r, "ref": r} for r in refs], measured, fresh=False)
    return measured


def framework_modes_section(api: docker.APIClient, bases: list[Settings], opts: ReportOptions, timer: Timer) -> dict | None:
    """The framework images on each OS base of ``bases`` as built and in each of ``opts.modes``
    (:func:`frontier.framework_points`), those that exist: sizes, compressed through the registry when
    ``opts.registry``. What a compile mode and an OS base do to the images a service is built on."""
    rows = [r for r in frontier.framework_points(bases, opts.modes) if dockerio.image_info(api, r["ref"])]
    if not rows:
        return None
    start = time.monotonic()
    refs = list(dict.fromkeys(r["ref"] for r in rows))
    ui.step(f"Framework images on {len(bases)} OS bases and {len(opts.modes)} compile modes: sizes of {len(refs)} images")
    measured = _sized(api, bases[0], refs, opts.registry)
    for r in rows:
        r["uncompressed_bytes"], r["compressed_bytes"] = measured[r["ref"]].size, measured[r["ref"]].compressed
    timer.add("framework_modes", start)
    return {"modes": list(opts.modes), "rows": rows}


def channels_section(api: docker.APIClient, channel_builds: list[tuple[Settings, dict]], opts: ReportOptions, timer: Timer) -> dict:
    """Each channel's build (settings with its resolved channel, build record): every sample on the image
    that runs it per variant, as build-all makes them, against that channel's own baseline: image size,
    startup median (``opts.runs`` interleaved runs) and JIT-compiled methods."""
    start = time.monotonic()
    out: dict[str, Any] = {"runs": opts.runs, "channels": []}
    for s, record in channel_builds:
        points = [p for p in frontier.plan_points(s, ()) if dockerio.image_info(api, p.ref)]
        ui.step(f"Channel {s.channel} (.NET {record.get('dotnet_version')}): {len(points)} points, {opts.runs} runs each")
        measured = frontier.measure(api, s, points, runs=opts.runs, extra_runs=0, seed=opts.seed)
        out["channels"].append({"channel": s.channel, "dotnet_version": record.get("dotnet_version"),
                                "not_built": record.get("not_built", []), "points": measured["points"]})
    timer.add("channels", start)
    return out


def _pull_sets(api: docker.APIClient, opts: ReportOptions, images: list[dict], classic: dict[str, str] | None) -> tuple[dict, dict] | None:
    """(before, after) for ``opts.pulls``: the classic builds the caller made, and the measured images
    (the reproducible ones); checked before anything is measured."""
    if not opts.pulls:
        return None
    if not classic:
        raise DciError("--pulls", "no classic builds (reproducible=False) of the images were given to compare with",
                       "let `invoke report --pulls` build them (the pipeline passes them as classic_builds), or leave out --pulls")
    missing = [ref for ref in classic.values() if not dockerio.image_info(api, ref)]
    if missing:
        raise DciError(", ".join(missing[:3]) + (" ..." if len(missing) > 3 else ""), "not present locally (classic builds for --pulls)",
                       "build them again (the pipeline's classic build for --pulls), or leave out --pulls")
    return dict(classic), {i["key"]: i["ref"] for i in images}


CARRIED = ("frontier", "channels", "pulls")  # sections a run may leave out; an earlier run's are kept, dated


def carry_over(previous: dict | None, report: dict) -> None:
    """Sections this run did not measure (``--modes none``, no ``--channels``, no ``--pulls``) keep the
    previous report's, marked with the time they were measured (``carried_from``): a partial run does
    not wipe earlier measurements, and never passes them off as its own."""
    for name in CARRIED:
        if report.get(name) or not (previous or {}).get(name):
            continue
        section = dict(previous[name])
        section.setdefault("carried_from", previous.get("generated_at"))
        report[name] = section


def os_bases_section(api: docker.APIClient, os_builds: list[tuple[Settings, dict]], opts: ReportOptions, timer: Timer) -> list[dict]:
    """Each other OS base's build (settings on that base, build record): its images' sizes (compressed
    through the registry when ``opts.registry``) and the startup of the samples on them, as the main
    build's are measured; what the approaches table reads."""
    start = time.monotonic()
    out = []
    for s, record in os_builds:
        images = [i for i in select_images(record, opts.images) if dockerio.image_info(api, i["ref"])]
        ui.step(f"OS base {s.os}: sizes of {len(images)} images" + (", startup" if opts.startup else ""))
        measured = measure_sizes(api, images)
        registry = measure_compressed(api, s, images, measured) if opts.registry and images else None
        section = images_section(measured, images, {p["key"]: p for p in (registry or {}).get("pushes", [])})
        timed: dict = {}
        if opts.startup and images:
            timed = run_startup(api, s, images, opts.runs, opts.seed, version=record.get("dotnet_version"))
        out.append({"os": s.os, "os_tag": record.get("os_tag") or s.os, "record": record, "images": section,
                    "summaries": timed.get("summaries") or [], "load": [timed.get("load_before"), timed.get("load_after")]})
    timer.add("os_bases", start)
    return out


def run(api: docker.APIClient, settings: Settings, opts: ReportOptions, *, warm_seconds: float | None = None,
        cold_measured: dict | None = None, timings: dict[str, float] | None = None,
        channel_builds: list[tuple[Settings, dict]] | None = None, rebuilt: dict[str, dict] | None = None,
        classic_builds: dict[str, str] | None = None, os_builds: list[tuple[Settings, dict]] | None = None,
        started: float | None = None) -> dict:
    """Measure the images of the last build-all, analyse, render; ``warm_seconds``/``cold_measured`` are
    builds the caller timed (the pipeline, which runs the builds), ``timings`` its step times,
    ``channel_builds`` the builds of ``opts.channels`` (settings and build record of each), ``rebuilt`` the
    pipeline's rebuild of every image (key -> image ID, rebuilt ID, same?) for the "reproducible" column,
    ``classic_builds`` (image key -> reference) the same images built with ``reproducible=False`` for
    ``opts.pulls``, ``os_builds`` the builds of ``opts.os_bases`` (settings on each base, build record);
    ``started`` (time.monotonic) when the caller's run began, builds included: the report's ``seconds``."""
    if opts.charts:
        require_charts()

    t0 = time.monotonic() if started is None else started
    timer = Timer()
    timer.seconds.update(timings or {})
    out_dir = settings.workspace.report
    out_dir.mkdir(parents=True, exist_ok=True)
    record = load_build_record(settings)
    if record.get("channel"):  # the channel the build resolved (latest/lts/sts name none): its images' tags, its samples
        settings = settings.with_overrides(channel=record["channel"])
    if cold_measured:
        update_build_history(settings, summary=cold_measured)
    history = update_build_history(settings, record)
    images = select_images(record, opts.images)
    missing = [i["ref"] for i in images if not dockerio.image_info(api, i["ref"])]
    if missing:
        raise DciError(", ".join(missing), "not present locally", "run `invoke build-all` (or pick others with --images)")
    # the frontier is startup runs: --no-startup leaves it out too
    points = _frontier_points(api, settings, opts) if opts.modes and opts.startup else None
    pull_sets = _pull_sets(api, opts, images, classic_builds)

    ui.step(f"Sizes of {len(images)} images from the daemon")
    start = time.monotonic()
    measured = measure_sizes(api, images)
    timer.add("sizes", start)

    registry = None
    if opts.registry:
        ui.step("Compressed sizes: pushing to a local registry")
        start = time.monotonic()
        registry = measure_compressed(api, settings, images, measured, fresh=opts.fresh_registry)
        timer.add("registry", start)

    startup_section: dict[str, Any] = {"skipped": "--no-startup"}
    if opts.startup:
        ui.step(f"Startup: {opts.runs} runs per image and mode, interleaved")
        start = time.monotonic()
        startup_section = run_startup(api, settings, images, opts.runs, opts.seed, version=record.get("dotnet_version"))
        timer.add("startup", start)

    frontier_section = _frontier(api, settings, opts, points, timer) if points else None
    channels = channels_section(api, channel_builds, opts, timer) if channel_builds and opts.startup else None
    other_bases = os_bases_section(api, os_builds, opts, timer) if os_builds else []
    framework_modes = framework_modes_section(api, [settings, *(s for s, _ in os_builds or [])], opts, timer) if opts.modes else None
    pulls_section = None
    if pull_sets:
        start = time.monotonic()
        pulls_section = pulls.measure(api, settings, *pull_sets)
        timer.add("pulls", start)

    deps_ref = next((i["ref"] for i in record["images"] if i["key"] == "runtime-deps"), baseimage.os_image(settings))
    scen, across = scenarios_section(measured)
    ident = layer_identity(measured)
    difference = None
    if ident and opts.inspect_layers and min(g["uncompressed_bytes"] for g in ident) < INSPECT_LIMIT:
        start = time.monotonic()
        small = min(ident, key=lambda g: g["uncompressed_bytes"])
        ui.step(f"Comparing two layers made from the same source ({small['uncompressed_bytes'] / 1e6:.1f} MB)")
        difference = explain_layer_difference(api, measured, small)
        timer.add("layer_difference", start)
    cold = next((h for h in reversed(history) if h["kind"] == "cold"), None)
    warm = next((h for h in reversed(history) if h["kind"] == "warm"), None)
    report: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "options": {"runs": opts.runs, "modes": list(opts.modes), "channels": list(opts.channels), "frontier_runs": opts.frontier_runs, "extra_runs": opts.extra_runs, "registry": opts.registry, "startup": opts.startup, "warm_build": opts.warm_build,
                    "images": list(opts.images), "fresh_registry": opts.fresh_registry, "cold_build": opts.cold_build,
                    "inspect_layers": opts.inspect_layers, "rebuild_check": opts.rebuild_check,
                    "pulls": opts.pulls},
        "machine": machine_info(api),
        "dotnet_version": record.get("dotnet_version"),
        "base_os": base_os(api, deps_ref),
        "rules": dict(sizes.RULES),
        "variants": [{"number": v.number, "name": v.name, "title": v.title} for v in CATALOG.variants],
        "images": images_section(measured, images, {p["key"]: p for p in (registry or {}).get("pushes", [])}, rebuilt),
        "scenarios": scen,
        "across_variants": across,
        "layer_identity": ident,
        "layer_difference": difference,
        "startup": startup_section,
        "frontier": frontier_section,
        "framework_modes": framework_modes,
        "channels": channels,
        "pulls": pulls_section,
        "registry": registry,
        "build": {"bubbles": record.get("bubbles") or {}, "last": build_summary(record), "cold": cold, "warm": warm,
                  "warm_measured_seconds": warm_seconds, "cold_measured": cold_measured, "history": history},
    }
    report["approaches"] = approaches.section(
        [(record.get("os_tag") or settings.os, report["images"], startup_section.get("summaries") or [], record)]
        + [(b["os_tag"], b["images"], b["summaries"], b["record"]) for b in other_bases])
    report["os_bases"] = [{"os": b["os"], "os_tag": b["os_tag"], "dotnet_version": b["record"].get("dotnet_version"), "load": b["load"],
                           "images": [{k: i[k] for k in ("key", "ref", "image_id", "uncompressed_bytes", "compressed_bytes")}
                                      for i in b["images"]]} for b in other_bases]
    report["verdicts"] = verdicts(report)
    report["notes"] = notes(report)
    if opts.charts:
        start = time.monotonic()
        from crossgen.report.charts import draw_all

        report["charts"] = [str(p) for p in draw_all(report, out_dir)]
        timer.add("charts", start)
    previous = None
    if (out_dir / "report.json").is_file():
        try:
            previous = json.loads((out_dir / "report.json").read_text())
        except ValueError:
            previous = None
    carry_over(previous, report)
    report["previous_run"] = compare_with_previous(previous, report)
    report["timings"] = timer.seconds
    report["seconds"] = round(time.monotonic() - t0, 1)
    atomic_write_text(out_dir / "report.json", json.dumps(report, indent=1))
    atomic_write_text(out_dir / "report.md", markdown(report))
    if opts.readme and update_readme(settings.project_root / "README.md", report):
        ui.detail("README.md: latest tables updated")
    return report
