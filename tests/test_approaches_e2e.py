"""The app approaches (variants 6-8: trimmed composite, Native AOT, the SDK's own composite) built,
verified and recorded for real: real `dotnet publish` (ILLink, ILCompiler with gcc, the SDK's
Crossgen2), our Crossgen2 over the trimmed output, Docker builds, containers.

On a catalog of one console and one web sample (``hello``, ``web``) for variants 6 and 7, and of the
console sample alone for variant 8 (the SDK's composite compiles the whole framework the app uses in
every publish: the runtime for a console app, the runtime and ASP.NET Core for a web app, the costliest
publish of the suite, about a minute and a half here): build-all leaves these variants out (each publishes every
sample again), so the suite's one build does not make them. The build records go to files of this test
(the suite's build-all.json stays as it is); images, build folder and prefix are the suite's
(DCI_TEST_PREFIX, DCI_TEST_BUILD_DIR), so the baseline's images are shared.
"""

from __future__ import annotations

import json

import pytest

from crossgen import dockerio, pipeline
from crossgen.acquire.cache import Cache
from crossgen.acquire.http import new_session
from crossgen.images.catalog import CATALOG, Catalog
from crossgen.verify import checks as verify
from tests.pipeline_support import e2e_settings

pytestmark = [pytest.mark.slow, pytest.mark.docker]

SMALL = Catalog(samples=(CATALOG.sample("hello"), CATALOG.sample("web")))
HELLO = Catalog(samples=(CATALOG.sample("hello"),))
BUILDS = ((SMALL, (6, 7)), (HELLO, (8,)))
APPROACHES = (6, 7, 8)


@pytest.fixture(scope="module")
def approaches(tmp_path_factory):
    """Both builds' outcomes by key, and one record: images, not built and publishes of both."""
    settings = e2e_settings()
    api = dockerio.connect()
    built: dict = {}
    record: dict = {"images": [], "not_built": [], "publishes": {}, "bubbles": {}}
    for n, (catalog, numbers) in enumerate(BUILDS):
        record_path = tmp_path_factory.mktemp("approaches") / f"build-{n}.json"
        outcomes = pipeline.build_variants(api, settings, new_session(), Cache(settings.cache_dir), catalog=catalog,
                                           selected=[catalog.variant(v) for v in numbers], record_path=record_path)
        built.update({o.key: o for o in outcomes})
        one = json.loads(record_path.read_text())
        for k in ("images", "not_built"):
            record[k] += one[k]
        for k in ("publishes", "bubbles"):
            record[k].update(one[k])
        record["dotnet_version"] = one["dotnet_version"]
    return settings, api, built, record


def _app_keys(numbers=APPROACHES) -> set[str]:
    return {i.key for catalog, ns in BUILDS for v in ns if v in numbers for i in catalog.app_images(catalog.variant(v))}


def test_every_approach_makes_an_image_or_says_why_not(approaches):
    _, api, built, record = approaches
    keys = _app_keys()
    assert keys <= set(built)
    not_built = {o["key"]: o["why"] for o in record["not_built"]}
    assert set(not_built) | {i["key"] for i in record["images"]} >= keys
    # the SDK's own composite changes nothing the program does: built
    assert "sample-hello-sdk-composite" in {i["key"] for i in record["images"]}
    # the web sample (minimal API, slim builder) compiled ahead of time runs
    assert "sample-web-aot" in {i["key"] for i in record["images"]}
    # trimmed, it runs on its composite's code only: its trimmed IL alone (JIT, DOTNET_ReadyToRun=0, as on a
    # CPU without the composite's instruction set) stops at a type trimming left incomplete (type validation
    # is skipped for ReadyToRun code); not built, in the runtime's words
    why = not_built["sample-web-trimmed-composite"]
    assert "runs only with its ReadyToRun code" in why and "TypeLoadException" in why, why
    assert dockerio.image_info(api, built["sample-web-trimmed-composite"].ref) is None
    # hello serializes with reflection: trimmed or AOT-compiled it publishes, with warnings, and then the
    # runtime refuses (reflection-based serialization is off); the reason is the runtime's own words
    for key in ("sample-hello-aot", "sample-hello-trimmed-composite"):
        assert "fails at run time" in not_built[key] and "Reflection-based serialization has been disabled" in not_built[key], not_built
        assert dockerio.image_info(api, built[key].ref) is None  # nothing left under its tag


def test_the_publish_record_says_what_each_approach_gives_up(approaches):
    _, _, _, record = approaches
    pubs = record["publishes"]
    assert pubs["sample-hello-aot"]["warnings"].get("IL3050", 0) >= 1 and pubs["sample-hello-aot"]["warnings"].get("IL2026", 0) >= 1
    assert pubs["sample-hello-trimmed-composite"]["warnings"].get("IL2026", 0) >= 1
    assert "IL3050" not in pubs["sample-hello-trimmed-composite"]["warnings"]  # AOT analysis is AOT's only
    assert pubs["sample-web-aot"]["warnings"] == {} and pubs["sample-hello-sdk-composite"]["warnings"] == {}
    assert all(p["seconds"] and p["seconds"] > 0 for p in pubs.values())
    # Native AOT takes the SDK's own ILCompiler and NativeAOT runtime packs (the same version), recorded
    packs = pubs["sample-web-aot"]["packs"]
    ilc = next(v for k, v in packs.items() if k.lower() == "runtime.linux-x64.microsoft.dotnet.ilcompiler")
    assert packs["Microsoft.NETCore.App.Runtime.NativeAOT.linux-x64"] == ilc
    # the SDK's composite: the acquired runtime packs and our Crossgen2's version
    sdk = pubs["sample-hello-sdk-composite"]["packs"]
    assert sdk["Microsoft.NETCore.App.Runtime.linux-x64"] == record["dotnet_version"]
    assert sdk["Microsoft.NETCore.App.Crossgen2.linux-x64"] == record["dotnet_version"]
    # our Crossgen2 compiled what trimming kept, as its own bubble
    assert "app-trimmed-web" in record["bubbles"] and "app-web" not in record["bubbles"]


def test_app_images_are_labelled_with_their_approach(approaches):
    _, api, built, _ = approaches
    labels = dockerio.image_labels(dockerio.image_info(api, built["sample-web-aot"].ref))
    assert labels[dockerio.label("publish")] == "aot" and json.loads(labels[dockerio.label("analysis-warnings")]) == {}
    info = dockerio.image_info(api, built["sample-web-aot"].ref)
    assert info["Config"]["Entrypoint"] == ["/app/web"]
    sdk = dockerio.image_labels(dockerio.image_info(api, built["sample-hello-sdk-composite"].ref))
    assert sdk[dockerio.label("publish")] == "sdk-composite"
    # the native web program is smaller than a console program with the runtime in the SDK's composite
    assert built["sample-web-aot"].size < built["sample-hello-sdk-composite"].size


def test_the_built_approaches_pass_verify(approaches):
    settings, api, built, record = approaches
    refs = [i["ref"] for i in record["images"] if i["key"] in _app_keys()]
    assert len(refs) >= 2
    checks = pipeline.verify_images(api, settings, refs, catalog=SMALL)
    by = {(c.image, c.name): c for c in checks}
    failed = [f"{c.image} {c.name}: {c.detail}" for c in checks if not c.passed]
    assert not failed, failed
    aot = built["sample-web-aot"].ref
    assert by[(aot, "structure")].data["native"] and by[(aot, "web-answers")].data["jit_methods"] == 0
    assert "not applicable" in by[(aot, "r2r-used")].detail
    ref = built["sample-hello-sdk-composite"].ref
    r2r = by[(ref, "r2r-used")]
    assert r2r.data["jit_r2r"] is not None and r2r.data["jit_r2r"] * 2 < r2r.data["jit_no_r2r"], r2r.detail
    assert by[(ref, "structure")].data["expected"] == {".": "hello.r2r.dll"}


def test_a_second_build_neither_builds_what_failed_its_trial_nor_tries_what_ran(approaches, tmp_path, monkeypatch):
    """build/trials.json: the same inputs are not built again to fail again, and an up-to-date image
    that ran is not run again (a trial now would fail this test)."""
    settings, api, built, _ = approaches
    catalog, numbers = BUILDS[0]
    monkeypatch.setattr(pipeline, "trial_run", lambda *a: pytest.fail(f"tried again: {a[3]}"))
    again = {o.key: o for o in pipeline.build_variants(api, settings, new_session(), Cache(settings.cache_dir), catalog=catalog,
                                                       selected=[catalog.variant(v) for v in numbers],
                                                       record_path=tmp_path / "again.json")}
    for key in ("sample-hello-aot", "sample-hello-trimmed-composite", "sample-web-trimmed-composite"):
        assert again[key].not_built.startswith(built[key].not_built) and "trials.json" in again[key].not_built, again[key]
        assert dockerio.image_info(api, again[key].ref) is None
    assert again["sample-web-aot"].skipped and again["sample-web-aot"].image_id == built["sample-web-aot"].image_id


def test_a_trial_that_runs_out_of_time_says_so(approaches):
    """A time limit is told apart from the program's own failure (pipeline.Trials does not remember it):
    the web sample's native image, which answers in well under a second, given a millisecond."""
    _, api, built, _ = approaches
    img = SMALL.images["sample-web-aot"]
    with verify.time_scale(0.0001):
        run = pipeline.trial_run(api, SMALL, img, built["sample-web-aot"].ref)
    assert run.timed_out and "within the time limit" in run.why, run
    assert pipeline.trial_run(api, SMALL, img, built["sample-web-aot"].ref) == pipeline.TrialRun()  # in its own time it runs
