"""The size/startup frontier: every (variant, compile mode) on every sample of the catalog, and the
compile mode each bubble should default to.

A **point** is one sample on the image that runs it for one variant built in one compile mode (the
baseline once: it holds no composite). For each point: the size of that image (uncompressed from
the daemon; compressed from the local registry when pushed), the startup median with min-max over
interleaved runs, the JIT-compiled methods, and two starts users meet: on a CPU without AVX2
(``DOTNET_EnableAVX2=0``: code compiled for x86-64-v3 is rejected and JIT-compiled) and with the
page cache dropped first (as root, where ``/proc/sys/vm/drop_caches`` can be written). Every image
runs with the same runtime settings.

The **rule** for a bubble's default: on every sample whose image holds the bubble, a mode passes
when its JIT count is not above the baseline's and its startup is not above the baseline's; among
the passing modes the one with the smallest images; when none passes, the one with the fewest
JIT-compiled methods. "Above the baseline's" is judged on all runs, not on two medians alone: the
point's median is higher *and* a one-sided Mann-Whitney U test (SciPy) says its runs are above the
baseline's at the 5 % level, for the startup times and for the JIT counts alike. Two medians of 20
noisy runs differ by a few per cent on identical images, and a web app's JIT count moves by tens of
methods from run to run (background work around the first request); a rule that read those differences
flipped between two runs.
"""

from __future__ import annotations

import os
import statistics
from dataclasses import asdict, dataclass, field

import docker

from crossgen.compile.modes import MODES, apply_mode, bubble_mode
from crossgen.compile.samples import publish_source
from crossgen.core import ui
from crossgen.core.settings import Settings
from crossgen.images.baseimage import os_tag
from crossgen.images.catalog import CATALOG, RUNTIME_DEPS, Catalog
from crossgen.images.specs import image_ref
from crossgen.report import sizes, startup

BASELINE = "baseline"          # the mode name of the baseline's points
CONFIGURED = "default"         # the images build-all makes: each bubble in its configured mode, plain tags
DROP_CACHES = "/proc/sys/vm/drop_caches"


@dataclass
class Point:
    variant: int
    mode: str                  # a compile mode, "default" (the configured modes) or "baseline"
    sample: str
    kind: str
    image_key: str
    ref: str
    bubbles: list[str]
    size: int = 0
    compressed: int | None = None
    median_ms: float | None = None
    min_ms: float | None = None
    max_ms: float | None = None
    runs: int = 0
    failed: int = 0
    jit: float | None = None
    jit_no_avx2: float | None = None
    cold_median_ms: float | None = None
    size_ratio: float | None = None
    startup_ratio: float | None = None
    jit_ratio: float | None = None
    slower_p: float | None = None      # one-sided Mann-Whitney U: runs slower than the baseline's (None: baseline, under 3 runs)
    more_jit_p: float | None = None    # the same test on the runs' JIT counts (None also: under 3 runs)
    passes: bool | None = None         # JIT and startup not measurably above the baseline's (None: baseline / not measured)
    pareto: bool = False
    values_ms: list[float] = field(default_factory=list)
    jit_values: list[int] = field(default_factory=list)

    @property
    def target_key(self) -> str:
        return self.image_key if self.mode in (BASELINE, CONFIGURED) else f"{self.image_key}~{self.mode}"


def plan_points(settings: Settings, modes: tuple[str, ...], catalog: Catalog = CATALOG) -> list[Point]:
    """Every point of the frontier (nothing measured yet): the baseline, what build-all makes (the
    configured modes), and each composite variant in each of ``modes`` (a variant that compiles no
    bubble, Native AOT or the SDK's own composite, has no compile mode: its configured point only)."""
    points: list[Point] = []
    for v in catalog.variants:
        compiled = bool(catalog.bubbles_of([v]))
        for mode in (BASELINE,) if v.baseline else (CONFIGURED, *modes) if compiled else (CONFIGURED,):
            s_mode = settings if mode in (BASELINE, CONFIGURED) else apply_mode(settings, mode)
            for s in catalog.samples:
                key = catalog.runner(v, s)
                if key is None:
                    continue
                bubbles = sorted({"app" if b.startswith("app-") else b for b in catalog.images[key].bubbles})
                points.append(Point(v.number, mode, s.name, s.kind, key, image_ref(s_mode, catalog, key), bubbles))
    return points


def framework_points(bases: list[Settings], modes: tuple[str, ...], catalog: Catalog = CATALOG) -> list[dict]:
    """The framework images on each OS base of ``bases`` (settings on that base): runtime-deps and the
    runtime and ASP.NET images of every variant as build-all makes them (mode ``default``), and those a
    compile mode changes in each of ``modes``. One row each (``os``, ``key``, ``mode``, ``ref``), nothing
    measured: the report sizes those that exist."""
    baseline = [i.key for i in catalog.images_of(catalog.baseline) if i.role in ("runtime", "aspnet")]
    compiled = catalog.mode_framework_images()
    rows = []
    for s in bases:
        on = os_tag(s)
        rows.append({"os": on, "key": RUNTIME_DEPS, "mode": CONFIGURED, "ref": image_ref(s, catalog, RUNTIME_DEPS)})
        rows += [{"os": on, "key": k, "mode": CONFIGURED, "ref": image_ref(s, catalog, k)} for k in baseline]
        rows += [{"os": on, "key": k, "mode": m, "ref": image_ref(s if m == CONFIGURED else apply_mode(s, m), catalog, k)}
                 for k in compiled for m in (CONFIGURED, *modes)]
    return rows


def drop_page_cache() -> str:
    """Write back and drop the page cache; "" on success, else why it cannot be done here."""
    try:
        os.sync()
        with open(DROP_CACHES, "w") as f:
            f.write("3\n")
        return ""
    except OSError as exc:
        return f"cannot write {DROP_CACHES} ({exc.strerror or exc}; needs root outside a container)"


def measure(api: docker.APIClient, settings: Settings, points: list[Point], *, runs: int, extra_runs: int, seed: int,
            registry_sizes: dict[str, sizes.ImageSizes] | None = None, catalog: Catalog = CATALOG) -> dict:
    """Sizes and startup of every point (the samples built for ``settings.channel``); the startup runs
    of all points are interleaved."""
    measured = registry_sizes or {}
    for p in points:
        img = measured.get(p.ref) or sizes.image_sizes(api, p.ref, p.ref)
        measured[p.ref] = img
        p.size, p.compressed = img.size, img.compressed
    targets: dict[tuple[str, str], startup.Target] = {}
    refs: dict[str, str] = {}
    for p in points:
        refs[p.target_key] = p.ref
        t = targets.get((p.sample, p.target_key))
        variants = (*t.variants, p.variant) if t else (p.variant,)
        targets[(p.sample, p.target_key)] = startup.Target(p.sample, p.kind, p.target_key, tuple(dict.fromkeys(variants)),
                                                           self_contained=catalog.images[p.image_key].self_contained,
                                                           probe=catalog.sample(p.sample).probe)
    apps = {s.name: publish_source(settings, s.name, s.source, channel=settings.channel)
            for s in catalog.samples if any(p.sample == s.name for p in points)}
    cold_reason = drop_page_cache() if extra_runs else "not asked for"
    env_modes = {"default": runs, "no-avx2": extra_runs, **({"cold-cache": extra_runs} if not cold_reason else {})}
    summaries: list[startup.Summary] = []
    for env_mode, n in env_modes.items():
        if n <= 0:
            continue
        ui.detail(f"frontier: {len(targets)} targets, {n} runs each with {env_mode} settings, interleaved")
        prepare = (lambda _mode: drop_page_cache()) if env_mode == "cold-cache" else None
        _, got = startup.measure(api, list(targets.values()), refs, apps, runs=n, modes=(env_mode,), seed=seed, prepare=prepare)
        summaries += got
    for p in points:
        mine = {s.mode: s for s in summaries if s.sample == p.sample and s.image_key == p.target_key}
        d = mine.get("default")
        if d:
            p.median_ms, p.min_ms, p.max_ms, p.runs, p.failed, p.jit = d.median_ms, d.min_ms, d.max_ms, d.runs, d.failed, d.jit_median
            p.values_ms, p.jit_values = d.values_ms, d.jit_values
        if "no-avx2" in mine:
            p.jit_no_avx2 = mine["no-avx2"].jit_median
        if "cold-cache" in mine:
            p.cold_median_ms = mine["cold-cache"].median_ms
    judge(points)
    return {
        "modes": {m: MODES[m].title for m in dict.fromkeys(p.mode for p in points) if m in MODES},
        "runs": runs, "extra_runs": extra_runs, "seed": seed,
        "env_modes": {"default": startup.MODES["default"], "no-avx2": startup.MODES["no-avx2"],
                      "cold-cache": f"echo 3 > {DROP_CACHES} before each run"},
        "cold_cache_skipped": cold_reason,
        "points": [asdict(p) for p in points],
        "defaults": choose_defaults(points, {b: bubble_mode(settings, b).name for p in points for b in p.bubbles}),
    }


SIGNIFICANCE = 0.05


def above_p(values: list[float], baseline: list[float]) -> float | None:
    """p-value of "these runs' values are above the baseline's" (one-sided Mann-Whitney U); None with
    too few runs to test, 1.0 when every value of both is the same."""
    from scipy.stats import mannwhitneyu

    if len(values) < 3 or len(baseline) < 3:
        return None
    if len({*values, *baseline}) == 1:
        return 1.0
    return round(float(mannwhitneyu(values, baseline, alternative="greater").pvalue), 5)


def _ratio(value, base) -> float | None:
    return round(value / base, 4) if value is not None and base else None


def judge(points: list[Point]) -> None:
    """Ratios to the baseline, the rule per point, and the Pareto-best points per sample (smaller
    image and earlier start: no other point of the sample is at least as good on both and better on one)."""
    base = {p.sample: p for p in points if p.mode == BASELINE}
    for p in points:
        b = base.get(p.sample)
        if not b:
            continue
        p.size_ratio, p.startup_ratio, p.jit_ratio = _ratio(p.size, b.size), _ratio(p.median_ms, b.median_ms), _ratio(p.jit, b.jit)
        if p.mode != BASELINE and None not in (p.jit, p.median_ms, b.jit, b.median_ms):
            p.slower_p, p.more_jit_p = above_p(p.values_ms, b.values_ms), above_p(p.jit_values, b.jit_values)
            # Too few runs to test: a start time alone says nothing; a JIT count, whose noise is small beside what a mode changes, does.
            slower = p.median_ms > b.median_ms and p.slower_p is not None and p.slower_p < SIGNIFICANCE
            more_jit = p.jit > b.jit and (p.more_jit_p is None or p.more_jit_p < SIGNIFICANCE)
            p.passes = not more_jit and not slower
    for sample in dict.fromkeys(p.sample for p in points):
        mine = [p for p in points if p.sample == sample and p.median_ms is not None]
        for p in mine:
            p.pareto = not any(q is not p and q.size <= p.size and q.median_ms <= p.median_ms
                               and (q.size < p.size or q.median_ms < p.median_ms) for q in mine)


def choose_defaults(points: list[Point], configured: dict[str, str] | None = None) -> dict[str, dict]:
    """Per bubble: the mode the rule picks, with the facts it was picked on, and the mode the settings
    give it (``configured``: bubble -> mode name; ``None`` where unknown)."""
    out: dict[str, dict] = {}
    bubbles = sorted({b for p in points for b in p.bubbles})
    for bubble in bubbles:
        per_mode: dict[str, dict] = {}
        for mode in dict.fromkeys(p.mode for p in points if bubble in p.bubbles and p.mode != CONFIGURED):
            mine = [p for p in points if bubble in p.bubbles and p.mode == mode]
            verdicts = [p.passes for p in mine]
            per_mode[mode] = {
                "passes": all(v is True for v in verdicts),
                "measured": all(v is not None for v in verdicts),
                "failing": [f"{p.sample} on variant {p.variant}" for p in mine if p.passes is False],
                "size": statistics.mean(p.size for p in mine),
                "jit": sum(p.jit or 0 for p in mine),
            }
        if not per_mode:  # only the default build was measured: nothing to choose between
            continue
        passing = [m for m, f in per_mode.items() if f["passes"]]
        if passing:
            mode = min(passing, key=lambda m: per_mode[m]["size"])
            why = "passes the rule on every sample; the smallest of " + ", ".join(passing)
        else:
            measured = [m for m, f in per_mode.items() if f["measured"]] or list(per_mode)
            mode = min(measured, key=lambda m: per_mode[m]["jit"])
            why = "no mode passes the rule; the one with the fewest JIT-compiled methods"
        out[bubble] = {"mode": mode, "why": why, "modes": per_mode, "configured": (configured or {}).get(bubble)}
    return out


def recommend(points: list[Point]) -> dict | None:
    """For one app: the image to ship it on. Among the points that pass the rule, the smallest image;
    when none passes, the one with the fewest JIT-compiled methods."""
    measured = [p for p in points if p.mode != BASELINE and p.median_ms is not None and p.jit is not None]
    if not measured:
        return None
    passing = [p for p in measured if p.passes]
    if passing:
        best = min(passing, key=lambda p: (p.size, p.median_ms))
        why = "JIT-compiles no more methods and starts no later than on the baseline; the smallest such image"
    else:
        best = min(measured, key=lambda p: (p.jit, p.size))
        why = "no image passes the rule (JIT and startup not above the baseline's); the fewest JIT-compiled methods"
    return {"variant": best.variant, "mode": best.mode, "ref": best.ref, "size": best.size, "size_ratio": best.size_ratio,
            "startup_ratio": best.startup_ratio, "jit_ratio": best.jit_ratio, "why": why}
