"""The report's "smallest image per approach" table: rows from the measured images and startup runs."""

from __future__ import annotations

from crossgen.images.catalog import CATALOG, Catalog, Sample
from crossgen.report import approaches, render


def _image(key: str, layers: list[tuple[str, int, int]]) -> dict:
    """A measured image: (owner, uncompressed, compressed) per layer."""
    return {"key": key, "ref": f"x/{key}", "uncompressed_bytes": sum(u for _, u, _ in layers),
            "compressed_bytes": sum(c for _, _, c in layers),
            "layers": [{"owner": o, "uncompressed_bytes": u, "compressed_bytes": c} for o, u, c in layers]}


def _summary(sample: str, key: str, ms: float, jit: int, mode: str = "default") -> dict:
    return {"sample": sample, "image_key": key, "mode": mode, "median_ms": ms, "jit_median": jit, "runs": 5, "failed": 0}


CAT = Catalog(samples=(Sample("web", "web"),))
DEPS = ("runtime-deps", 100, 40)
IMAGES = [
    _image("aspnet-no-composite", [DEPS, ("runtime-no-composite", 70, 30), ("aspnet-no-composite", 20, 8)]),
    _image("sample-web-no-composite", [DEPS, ("runtime-no-composite", 70, 30), ("aspnet-no-composite", 20, 8),
                                       ("sample-web-no-composite", 3, 1)]),
    _image("aspnet-composite", [DEPS, ("aspnet-composite", 85, 33)]),
    _image("sample-web-composite", [DEPS, ("sample-web-composite", 95, 37)]),
]
SUMMARIES = [_summary("web", "aspnet-no-composite", 400, 600), _summary("web", "aspnet-no-composite", 900, 9000, "r2r-off"),
             _summary("web", "aspnet-composite", 380, 180), _summary("web", "sample-web-composite", 250, 30)]


def test_a_framework_image_counts_the_app_layer_measured_on_the_baseline_app_image():
    rows = approaches.rows_for(CAT, IMAGES, SUMMARIES, {"not_built": []}, "trixie-slim")
    by = {r["variant"]: r for r in rows}
    assert by[3]["image_key"] == "aspnet-composite" and by[3]["app_layer_from"] == "sample-web-no-composite"
    assert (by[3]["uncompressed_bytes"], by[3]["compressed_bytes"]) == (100 + 85 + 3, 40 + 33 + 1)
    # an app image holds its app: counted as it is
    assert by[5]["app_layer_from"] is None and by[5]["uncompressed_bytes"] == 195
    # the default mode's startup, not DOTNET_ReadyToRun=0's
    assert (by[1]["startup_ms"], by[1]["jit_methods"]) == (400, 600)
    # variants 2 and 4: their images were not measured in this run: no size, no startup
    assert by[2]["uncompressed_bytes"] is None and by[2]["startup_ms"] is None


def test_winners_are_the_smallest_and_the_fastest_measured_and_not_built_rows_say_why():
    record = {"not_built": [{"key": "aspnet-runtime-composite", "why": "its base runtime-composite was not built"}],
              "publishes": {"sample-web-composite": {"warnings": {"IL2026": 2}}}}
    section = approaches.section([("trixie-slim", IMAGES, SUMMARIES, record)], CAT)
    won = section["winners"]["web"]
    assert won["smallest"]["variant"] == 3          # 188 bytes: smaller than the baseline's 193 and variant 5's 195
    assert won["fastest"]["variant"] == 5
    assert won["smallest_compressed"]["variant"] == 3
    text = "\n".join(render.md_approaches({"approaches": section}))
    assert "| trixie-slim | 2 composite .NET runtime | not built |" in text and "its base runtime-composite was not built" in text
    assert "smallest: variant 3" in text and "fastest to start: variant 5" in text
    assert "warnings IL2026 x2" in text


def test_every_variant_says_what_its_approach_gives_up():
    assert all(v.gives_up for v in CATALOG.variants)


def test_the_readme_view_names_each_samples_winners():
    section = approaches.section([("trixie-slim", IMAGES, SUMMARIES, {})], CAT)
    grid = render.md_approaches_grid({"approaches": section})
    assert grid[2] == ("| web | 0.0: 3 aspnet-composite on trixie-slim | 0.0: 3 aspnet-composite on trixie-slim | "
                       "250: 5 app-composite on trixie-slim |")


def test_a_row_on_a_distroless_base_says_what_the_base_gives_up():
    rows = approaches.rows_for(CAT, IMAGES, SUMMARIES, {"os": "distroless"}, "trixie-distroless")
    assert all("no shell" in r["gives_up"] and "globalization-invariant" in r["gives_up"] for r in rows)
    assert not any("no shell" in r["gives_up"] for r in approaches.rows_for(CAT, IMAGES, SUMMARIES, {"os": "slim"}, "trixie-slim"))


def test_an_image_the_sample_does_not_start_in_wins_nothing():
    """hello formats for de-DE: on a base without ICU every startup run fails; that image is the smallest,
    and must not be named the smallest image for hello."""
    failed = {"sample": "web", "image_key": "sample-web-composite", "mode": "default", "median_ms": None, "jit_median": None,
              "runs": 5, "failed": 5}
    small = [_image("sample-web-composite", [("runtime-deps", 10, 4), ("sample-web-composite", 95, 37)]), *IMAGES[:3]]
    section = approaches.section([("trixie-distroless", small, [SUMMARIES[0], SUMMARIES[2], failed], {"os": "distroless"})], CAT)
    row = next(r for r in section["rows"] if r["variant"] == 5)
    assert row["fails"] and row["uncompressed_bytes"] == 105
    assert section["winners"]["web"]["smallest"]["variant"] == 3
    assert "does not start" in "\n".join(render.md_approaches({"approaches": section}))


def test_framework_points_are_every_base_as_built_and_the_composite_images_in_each_mode():
    from crossgen.report import frontier
    from tests.pipeline_support import e2e_settings

    slim = e2e_settings()
    rows = frontier.framework_points([slim, slim.with_overrides(os="distroless")], ("partial",))
    by = {(r["os"], r["key"], r["mode"]): r["ref"] for r in rows}
    assert by[("trixie-distroless", "aspnet-composite", "partial")].endswith("aspnet:10.0-trixie-distroless-composite-partial")
    assert by[("trixie-slim", "runtime-deps", "default")].endswith("runtime-deps:10.0-trixie-slim")
    # runtime-deps and the baseline hold no composite: as built only
    assert ("trixie-slim", "runtime-no-composite", "partial") not in by and ("trixie-distroless", "runtime-deps", "partial") not in by
    # a compile mode changes the runtime and ASP.NET images of the composite variants, not their SDK images
    assert {k for _, k, m in by if m == "partial"} == {"runtime-composite", "aspnet-runtime-composite", "aspnet-composite",
                                                       "aspnet-composed-composite"}
    assert len(rows) == 2 * (3 + 4 * 2)


def test_the_framework_table_has_a_row_per_base_and_image_and_a_column_per_mode():
    rows = [{"os": "trixie-slim", "key": "runtime-deps", "mode": "default", "uncompressed_bytes": 120_300_000, "compressed_bytes": 45_000_000},
            {"os": "trixie-distroless", "key": "aspnet-composite", "mode": "default", "uncompressed_bytes": 126_200_000,
             "compressed_bytes": None},
            {"os": "trixie-distroless", "key": "aspnet-composite", "mode": "partial", "uncompressed_bytes": 84_700_000,
             "compressed_bytes": 34_600_000}]
    table = render.md_framework_modes({"framework_modes": {"modes": ["full", "partial"], "rows": rows}})
    assert table[2] == "| base | image | default | full | partial |"
    assert "| trixie-slim | `runtime-deps` | 120.3 / 45.0 |  |  |" in table
    assert "| trixie-distroless | `aspnet-composite` | 126.2 / n/a |  | 84.7 / 34.6 |" in table
    assert render.md_framework_modes({}) == []
