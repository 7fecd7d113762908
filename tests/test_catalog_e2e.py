"""An added catalog entry is built, verified and reported for real, with no other edit.

Variant 9 (declared only in this test) is the runtime composite once more under another tag. It is
built on the suite's runtime-deps image, from the suite's compiled bubbles (the build folder is shared;
its build record goes to a folder of this test, so the suite's stays as it is), then verified and
measured by the same code paths as the real variants.
"""

from __future__ import annotations

import json

import pytest

from crossgen.acquire.cache import Cache
from crossgen.acquire.http import new_session
from crossgen.images.catalog import CATALOG
from crossgen import pipeline
from crossgen.report import run as report
from tests.test_catalog import EXTRA_IMAGE, extended

pytestmark = [pytest.mark.slow, pytest.mark.docker]


@pytest.fixture
def catalog_with_variant_9(monkeypatch):
    """The shared catalog object, with variant 9 added for this test only."""
    cat = extended()
    for attr in ("variants", "samples", "scenarios", "images"):
        monkeypatch.setattr(CATALOG, attr, getattr(cat, attr))
    return CATALOG


def test_an_added_variant_is_built_verified_and_reported(built_images, catalog_with_variant_9, tmp_path):
    suite, api, _ = built_images
    settings = suite.with_overrides(build_dir=tmp_path / "build")  # where the report reads the record and writes
    v9 = CATALOG.variant("9")

    outcomes = pipeline.build_variants(api, suite, new_session(), Cache(suite.cache_dir), selected=[v9],
                                       record_path=settings.workspace.build_record)
    assert all(b["reused"] for b in json.loads(settings.workspace.build_record.read_text())["bubbles"].values())  # the suite's
    built = {o.key: o for o in outcomes}
    assert EXTRA_IMAGE.key in built
    ref = built[EXTRA_IMAGE.key].ref
    assert ref.endswith(":10.0-trixie-slim-composite-again")

    checks = pipeline.verify_images(api, settings, [ref])
    failed = [f"{c.name}: {c.detail}" for c in checks if not c.passed]
    assert not failed, failed
    assert {"structure", "conventions", "console-runs", "r2r-used"} <= {c.name for c in checks}
    assert {c.data.get("sample") for c in checks if c.name == "console-runs"} == {s.name for s in CATALOG.samples if s.kind == "console"}

    r = report.run(api, settings, report.ReportOptions(runs=1, registry=False, warm_build=False, readme=False, charts=False))
    images = {i["key"]: i for i in r["images"]}
    assert images[EXTRA_IMAGE.key]["variants"] == [9]
    assert images[EXTRA_IMAGE.key]["uncompressed_bytes"] > 50_000_000
    summaries = [s for s in r["startup"]["summaries"] if s["image_key"] == EXTRA_IMAGE.key and s["mode"] == "default"]
    assert {s["sample"] for s in summaries} == {s.name for s in CATALOG.samples if s.kind == "console"}  # one per console sample
    assert all(s["variants"] == [9] and s["failed"] == 0 and s["jit_median"] > 0 for s in summaries), summaries
    md = (settings.build_dir / "report" / "report.md").read_text()
    assert "9 again" in md
    assert json.loads((settings.build_dir / "report" / "report.json").read_text())["variants"][-1]["number"] == 9
