"""The variant catalog: declared once, and everything downstream follows an added entry.

These tests add a variant (and a sample) to a copy of the catalog and check that staging,
building, verify's sample runs, startup targets, scenarios and chart rows all pick it up with no
other edit. The end-to-end counterpart (a real build, verify and report of an added variant) is in
``test_catalog_e2e.py``.
"""

from __future__ import annotations

import pytest

from crossgen.core.errors import DciError
from crossgen.images.catalog import CATALOG, IMAGES, RUNTIME_DEPS, SAMPLES, VARIANTS, AppImage, Catalog, Image, Sample, Variant
from crossgen.images.specs import image_ref, spec_for
from crossgen.report import sizes, startup
from tests.pipeline_support import e2e_settings
from tests.test_variants_stage import fake_acquired, fake_compiled, fake_root

EXTRA_IMAGE = Image("runtime-composite-again", "runtime", "composite-again", "runtime", RUNTIME_DEPS, ("runtime",))
EXTRA = Variant(9, "again", "the runtime composite once more", "9 again", "#2ca02c",
                builds=("runtime-composite-again",), roles={"runtime": "runtime-composite-again"},
                runs={"console": "runtime-composite-again"})


def extended(**more) -> Catalog:
    return Catalog(variants=VARIANTS + (EXTRA,), images=IMAGES + (EXTRA_IMAGE,), **more)


def test_building_a_variant_builds_the_bases_of_its_images_first():
    """Variant 4 builds on variant 2's runtime image and variant 3 on runtime-deps: the order a build
    takes puts every base before the image on it."""
    assert [i.key for i in CATALOG.images_of(CATALOG.variant(4))] == [
        "runtime-composite", "aspnet-composed-composite", "sdk-aspnet-composed-composite"]
    for v in CATALOG.variants:
        order = [RUNTIME_DEPS] + [i.key for i in CATALOG.images_of(v)]
        for img in CATALOG.images_of(v):
            assert order.index(img.base) < order.index(img.key), (v.number, img.key)


def test_tags_are_unique():
    s = e2e_settings()
    refs = [image_ref(s, CATALOG, k) for k in CATALOG.images]
    assert len(refs) == len(set(refs))


def test_an_image_holds_its_bases_composites():
    """What a base holds, the image on it holds too (verify reads these from the labels)."""
    for img in CATALOG.images.values():
        if img.base != RUNTIME_DEPS:
            assert set(CATALOG.images[img.base].bubbles) <= set(img.bubbles), img.key


def test_broken_declarations_are_refused():
    with pytest.raises(DciError, match="base 'nowhere' is not declared"):
        Catalog(images=IMAGES + (Image("x", "runtime", "x", "runtime", "nowhere"),))
    with pytest.raises(DciError, match="undeclared image 'ghost'"):
        Catalog(variants=VARIANTS + (Variant(9, "g", "g", "g", "#000", builds=("ghost",)),))
    with pytest.raises(DciError, match="numbers must be unique"):
        Catalog(variants=VARIANTS + (Variant(2, "dup", "dup", "dup", "#000"),))
    with pytest.raises(DciError, match="declared twice"):
        Catalog(images=IMAGES + (Image("runtime-composite", "runtime", "other", "runtime", RUNTIME_DEPS),))


def test_an_added_variant_is_staged_compiled_run_and_measured(tmp_path):
    cat = extended()
    v = cat.variant("9")
    assert v is cat.variant("again")
    # staged and built: its image spec, FROM runtime-deps, with the runtime composite overlaid
    s = e2e_settings()
    acquired = fake_acquired(fake_root(tmp_path))
    compiled = {"runtime": fake_compiled(tmp_path, "runtime", "shared/Microsoft.NETCore.App/10.0.15/framework-r2r.dll", [])}
    [spec] = [spec_for(s, acquired, cat, i, compiled) for i in cat.images_of(v)]
    assert spec.ref == f"{s.image_prefix}runtime:10.0-trixie-slim-composite-again" and spec.base.endswith("runtime-deps:10.0-trixie-slim")
    assert spec.labels["io.github.dotnet-composite-images.variant"] == "9"
    assert cat.bubbles_of([v]) == ("runtime",)
    # verify runs the console samples on it; startup measures them there
    assert cat.runner(v, cat.sample("hello")) == "runtime-composite-again" and cat.runner(v, cat.sample("web")) is None
    targets = startup.default_targets(cat)
    assert [t.variants for t in targets if t.image_key == "runtime-composite-again"] == [(9,), (9,)]  # hello and broad
    # sizes: it is in the scenarios whose roles it has, and in the chart rows
    scen = {sc.id: sc.images for sc in sizes.default_scenarios(cat)}
    assert scen["aspnet"].get(9) is None and 9 not in scen["runtime+aspnet"]
    assert cat.compared_roles(v) == {"runtime": "runtime-composite-again"}
    assert cat.variants_of_image("runtime-composite-again") == (9,)
    assert cat.variants_of_image(RUNTIME_DEPS)[-1] == 9


def test_an_added_sample_gets_app_images_runs_and_targets():
    cat = Catalog(samples=SAMPLES + (Sample("extra", "console"),))
    assert "sample-extra-composite" in cat.images and "sample-extra-no-composite" in cat.images
    assert cat.images["sample-extra-no-composite"].base == "runtime-no-composite"
    assert cat.images["sample-extra-composite"].bubbles == ("app-extra",)
    keys = {(t.sample, t.image_key) for t in startup.default_targets(cat)}
    assert {("extra", "runtime-no-composite"), ("extra", "runtime-composite"), ("extra", "sample-extra-composite")} <= keys
    assert "sample-extra-composite" in dict(
        (sc.id, sc.images) for sc in sizes.default_scenarios(cat))["apps"][5]


def test_building_the_app_variant_builds_what_it_is_compared_with():
    five, one = CATALOG.variant(5), CATALOG.variant(1)
    assert CATALOG.selection([five]) == [one, five]
    assert CATALOG.selection([CATALOG.variant(2)]) == [CATALOG.variant(2)]
    # build-all: every variant but those left out of it (the app approaches 6-8, built by name)
    assert CATALOG.selection(None) == [v for v in CATALOG.variants if v.number <= 5]
    assert CATALOG.selection([CATALOG.variant(7)]) == [one, CATALOG.variant(7)]


def test_an_app_only_variant_builds_one_image_per_sample():
    v = Variant(10, "apps-again", "apps", "10", "#000",
                apps=(AppImage("again", {"console": RUNTIME_DEPS, "web": RUNTIME_DEPS}, publish="sc", bubble="app"),),
                runs={"console": "app", "web": "app"})
    cat = Catalog(variants=VARIANTS + (v,))
    assert [i.key for i in cat.images_of(v)] == ["sample-hello-again", "sample-web-again", "sample-broad-again", "sample-service-again"]
    assert cat.bubbles_of([v]) == ("app",)
    assert cat.runner(v, cat.sample("web")) == "sample-web-again"


def test_the_samples_an_image_runs_come_from_the_variants_runs():
    """Verify runs these: variant 3 runs web apps only on its one runtime+ASP.NET composite (a console app
    can crash there), console apps on its runtime image."""
    assert CATALOG.kinds_run_on("aspnet-composite") == {"web"}
    assert CATALOG.runner(CATALOG.variant(3), CATALOG.sample("broad")) == "runtime-composite"
    assert CATALOG.kinds_run_on("runtime-composite") == {"console"}
    assert CATALOG.kinds_run_on("aspnet-composed-composite") == {"web"}
    assert CATALOG.kinds_run_on("sdk-no-composite") == set() and CATALOG.kinds_run_on(None) == set()
    # an SDK image runs what its ASP.NET base runs (web apps: variant 3's composite crashes console ones)
    assert CATALOG.kinds_to_run("sdk-aspnet-composite") == {"web"} and CATALOG.kinds_to_run("sdk-no-composite") == {"web"}
    assert CATALOG.kinds_to_run("runtime-composite") == {"console"} and CATALOG.kinds_to_run(None) == set()


def test_an_image_two_variants_build_is_built_once():
    two, four = CATALOG.variant(2), CATALOG.variant(4)
    keys = [i.key for i in CATALOG.build_order([two, four])]
    assert keys.count("runtime-composite") == 1 and keys.index("runtime-composite") < keys.index("aspnet-composed-composite")
    assert len(CATALOG.build_order(list(CATALOG.variants))) == len(CATALOG.images)


def test_some_images_come_with_the_images_they_stand_on():
    """What `build_variants(only=...)` builds (the report's rebuild check on some images): the keys and
    their bases down to runtime-deps, not their siblings (variant 2's SDK image stays out)."""
    assert CATALOG.with_bases({"aspnet-runtime-composite"}) == {"aspnet-runtime-composite", "runtime-composite", RUNTIME_DEPS}
    assert CATALOG.with_bases({"sdk-aspnet-composed-composite"}) == {
        "sdk-aspnet-composed-composite", "aspnet-composed-composite", "runtime-composite", RUNTIME_DEPS}
    assert CATALOG.with_bases({"crossgen2", RUNTIME_DEPS}) == {"crossgen2", RUNTIME_DEPS}


def test_a_users_app_is_built_only_on_what_its_frontier_runs_it_on():
    """`report --app`: the framework images of the app's kind on every variant and its own composite;
    no SDK image and no image of the other kind."""
    from crossgen.images.catalog import for_app

    cat = for_app(Sample("inventory", "console", source="/src/inventory", probe="exit"))
    runners = cat.runners()
    assert {"runtime-no-composite", "runtime-composite"} <= runners
    assert not any(k.startswith(("sdk-", "aspnet-")) for k in runners)
    assert [i.key for i in cat.app_images(cat.variant(5)) if i.key in runners] == ["app-inventory-composite"]
    assert not {i.key for i in cat.to_build(list(cat.variants), runners)} & {k for k in cat.images if k.startswith("sdk-")}


def test_build_images_takes_the_matching_images_their_bases_and_only_their_bubbles():
    """`invoke build --variant 4 --images 'sdk-*'`: the SDK image, what it stands on and the bubbles
    those hold; `--images 'runtime-*'` of variant 4 leaves its ASP.NET bubble out."""
    four = CATALOG.selection([CATALOG.variant(4)])
    only = CATALOG.keys_matching(four, ("sdk-*",))
    assert only == {"sdk-aspnet-composed-composite"}
    assert [i.key for i in CATALOG.to_build(four, only)] == ["runtime-composite", "aspnet-composed-composite", "sdk-aspnet-composed-composite"]
    runtime = CATALOG.keys_matching(four, ("runtime-*",))
    assert CATALOG.bubbles_of(four, runtime) == ("runtime",) and CATALOG.bubbles_of(four) == ("runtime", "aspnet-composed")
    assert CATALOG.to_build(four) == CATALOG.build_order(four)
    with pytest.raises(DciError) as err:
        CATALOG.keys_matching(four, ("runtime-*", "sample-*"))
    assert "sample-*" in err.value.what and "runtime-composite" in err.value.fix
