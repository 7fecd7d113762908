"""The frontier's logic on made-up points: ratios, the rule, Pareto-best points and the default mode
per bubble (the measurements themselves run in test_frontier_e2e and `invoke report`)."""

from __future__ import annotations

from crossgen.compile.modes import MODES
from crossgen.images.catalog import CATALOG
from crossgen.images.specs import image_ref
from crossgen.report.frontier import BASELINE, CONFIGURED, Point, choose_defaults, judge, plan_points, recommend
from tests.pipeline_support import e2e_settings


def point(variant, mode, sample, size, ms, jit, bubbles=("runtime",), spread=2.0, jit_spread=0, runs=20):
    """``runs`` runs around ``ms`` (median ``ms``), ``spread`` ms either side; their JIT counts
    around ``jit`` (median ``jit``), ``jit_spread`` methods either side."""
    values = [ms + spread * ((i % 5) - 2) / 2 for i in range(runs)]
    jits = [jit + jit_spread * ((i % 5) - 2) // 2 for i in range(runs)]
    return Point(variant, mode, sample, "console", "k", "r", list(bubbles) if mode != BASELINE else [], size=size,
                 median_ms=ms, min_ms=min(values), max_ms=max(values), jit=jit, values_ms=values, jit_values=jits)


def test_every_variant_and_mode_is_a_point_and_the_baseline_once():
    s = e2e_settings()
    points = plan_points(s, tuple(MODES))
    samples = len(CATALOG.samples)
    assert len([p for p in points if p.mode == BASELINE]) == samples
    compiled = {v.number for v in CATALOG.variants if not v.baseline and CATALOG.bubbles_of([v])}
    assert compiled == {2, 3, 4, 5, 6}  # Native AOT (7) and the SDK's composite (8) compile no bubble: no compile mode
    for mode in MODES:
        mine = [p for p in points if p.mode == mode]
        assert {p.variant for p in mine} == compiled
        assert all(p.ref.endswith(f"-{mode}") for p in mine)  # the images built with --mode <mode>
    assert all(p.bubbles for p in points if p.mode not in (BASELINE, CONFIGURED))
    assert not any(p.bubbles for p in points if p.variant in (7, 8))
    configured = [p for p in points if p.mode == CONFIGURED]  # what build-all makes, under its plain tags
    assert {p.variant for p in configured} == {v.number for v in CATALOG.variants if not v.baseline}
    assert all(p.ref == image_ref(s, CATALOG, p.image_key) for p in configured)
    v3 = [p for p in points if p.variant == 3 and p.mode == "hot"]
    assert {p.sample for p in v3} == {s.name for s in CATALOG.samples}
    assert all(p.bubbles == (["aspnet"] if p.kind == "web" else ["runtime"]) for p in v3)  # console apps: its runtime image


def test_the_rule_needs_both_jit_and_startup_not_above_the_baseline():
    pts = [point(1, BASELINE, "a", 100, 50.0, 300), point(2, "full", "a", 120, 40.0, 100), point(2, "partial", "a", 80, 45.0, 400),
           point(2, "hot", "a", 90, 51.0, 200)]
    judge(pts)
    assert [p.passes for p in pts] == [None, True, False, False]
    assert pts[1].size_ratio == 1.2 and pts[1].startup_ratio == 0.8 and round(pts[2].jit_ratio, 3) == 1.333
    # Pareto: full (fastest) and partial (smallest) are best; hot is beaten by partial on both; the baseline by partial
    assert [p.pareto for p in pts] == [False, True, True, False]


def test_startup_above_the_baseline_means_measurably_slower_not_a_higher_median():
    """Two medians of noisy runs differ on identical images: a point fails on startup only when its
    runs are slower than the baseline's by a one-sided Mann-Whitney U test (5 %)."""
    base = point(1, BASELINE, "a", 100, 50.0, 300, spread=10.0)
    noisy = point(2, "hot", "a", 100, 50.5, 300, spread=10.0)     # 1 % higher median, runs overlap
    slower = point(2, "full", "a", 100, 60.0, 300, spread=10.0)   # 20 % higher
    judge([base, noisy, slower])
    assert noisy.passes is True and noisy.slower_p > 0.05 and noisy.startup_ratio == 1.01
    assert slower.passes is False and slower.slower_p < 0.05


def test_more_jit_than_the_baseline_means_measurably_more_not_a_higher_median():
    """A web app's JIT count moves by tens of methods from run to run: a point fails on JIT only when
    its runs' counts are above the baseline's by the same test; with too few runs to test, a higher
    median fails (a start time alone does not)."""
    base = point(1, BASELINE, "a", 100, 50.0, 1800, jit_spread=20)
    noisy = point(2, "partial", "a", 80, 50.0, 1804, jit_spread=20)   # 4 methods more at the median, counts overlap
    more = point(2, "full", "a", 80, 50.0, 1811, jit_spread=2)        # 11 more, every run above the baseline's median
    judge([base, noisy, more])
    assert noisy.passes is True and noisy.more_jit_p > 0.05 and noisy.jit_ratio > 1
    assert more.passes is False and more.more_jit_p < 0.05
    few = [point(1, BASELINE, "a", 100, 50.0, 1800, runs=2), point(2, "hot", "a", 80, 60.0, 1801, runs=2),
           point(2, "full", "a", 80, 60.0, 1800, runs=2)]
    judge(few)
    assert [p.passes for p in few[1:]] == [False, True] and few[1].more_jit_p is None and few[2].slower_p is None


def test_the_default_is_the_smallest_passing_mode_else_the_fewest_jit():
    pts = [point(1, BASELINE, "a", 100, 50.0, 300), point(1, BASELINE, "b", 100, 50.0, 300),
           point(2, "full", "a", 120, 40.0, 100), point(2, "full", "b", 120, 40.0, 100),
           point(2, "hot", "a", 90, 45.0, 200), point(2, "hot", "b", 90, 49.0, 250),
           point(2, "partial", "a", 80, 45.0, 200), point(2, "partial", "b", 80, 55.0, 250)]
    judge(pts)
    d = choose_defaults(pts)["runtime"]
    assert d["mode"] == "hot" and d["modes"]["partial"]["failing"] == ["b on variant 2"]
    rec = recommend([p for p in pts if p.sample == "a"])
    assert (rec["variant"], rec["mode"]) == (2, "partial")  # for app a alone, partial passes and is the smallest
    worse = [point(1, BASELINE, "a", 100, 50.0, 300), point(2, "full", "a", 120, 60.0, 100), point(2, "partial", "a", 80, 70.0, 400)]
    judge(worse)
    d = choose_defaults(worse)["runtime"]
    assert d["mode"] == "full" and "no mode passes" in d["why"]
    assert recommend(worse)["mode"] == "full" and "no image passes" in recommend(worse)["why"]
    assert recommend([worse[0]]) is None


def test_the_frontier_tables_show_every_point_and_the_defaults():
    from dataclasses import asdict

    from crossgen.report.render import md_frontier, md_frontier_grid

    pts = [point(1, BASELINE, "a", 100_000_000, 50.0, 300), point(2, "full", "a", 120_000_000, 40.0, 100),
           point(2, "partial", "a", 80_000_000, 55.0, 400)]
    judge(pts)
    fr = {"runs": 20, "cold_cache_skipped": "", "points": [asdict(p) for p in pts], "defaults": choose_defaults(pts)}
    table = "\n".join(md_frontier({"frontier": fr}))
    assert "| a | 2 | partial | 80.0 (x0.80) |" in table and "| fail |" in table and "**best**" in table
    assert "`runtime`: **full**" in table
    grid = "\n".join(md_frontier_grid({"frontier": fr}))
    assert "| 2 | full | **1.20 / 0.80 / 0.33** |" in grid and "| 2 | partial | **0.80 / 1.10 / 1.33** ✗ |" in grid
    assert "`runtime` **full**" in grid
    assert "not the rule's" not in table + grid  # the configured mode is not known: nothing is claimed


def test_the_tables_say_when_the_configured_mode_is_not_the_rules():
    from dataclasses import asdict

    from crossgen.report.render import md_frontier, md_frontier_grid

    pts = [point(1, BASELINE, "a", 100_000_000, 50.0, 300), point(2, "full", "a", 120_000_000, 40.0, 100),
           point(2, "hot", "a", 90_000_000, 45.0, 200)]
    judge(pts)
    for configured, said in (("full", True), ("hot", False)):
        defaults = choose_defaults(pts, {"runtime": configured})
        assert defaults["runtime"]["mode"] == "hot" and defaults["runtime"]["configured"] == configured
        fr = {"runs": 20, "cold_cache_skipped": "", "points": [asdict(p) for p in pts], "defaults": defaults}
        for lines in (md_frontier({"frontier": fr}), md_frontier_grid({"frontier": fr})):
            text = "\n".join(lines)
            assert ("The settings compile `runtime` in **full**, not the rule's hot: set `dci.crossgen.mode.runtime: hot`"
                    in text) == said, text
