"""The report's arithmetic and output without Docker: ChainIDs, sharing rules, history mapping,
statistics, verdicts, markdown/README and charts on synthetic inputs."""

from __future__ import annotations

import hashlib
import itertools
import json
import random

import pytest

from crossgen.report import run as report
from crossgen.report import analyse as report_analyse
from crossgen.report import render as report_render
from crossgen.report import sizes
from crossgen.report import startup
from crossgen.core.errors import DciError


def _digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _image(key: str, layers: list[tuple[str, int, int]], config: tuple[str, int] | None = ("cfg", 1000)) -> sizes.ImageSizes:
    """layers: (content name, uncompressed, compressed); the blob digest depends on the content only."""
    diff_ids = [_digest("diff:" + name) for name, _, _ in layers]
    chains = sizes.chain_ids(diff_ids)
    img = sizes.ImageSizes(key, key, _digest("id:" + key), sum(u for _, u, _ in layers))
    for i, ((name, u, c), d, ch) in enumerate(zip(layers, diff_ids, chains)):
        img.layers.append(sizes.Layer(i, d, ch, u, name, _digest("blob:" + name) if c is not None else None, c))
    if config:
        img.config_digest, img.config_size = _digest(f"config:{key}"), config[1]
    return img


# --- ChainID ------------------------------------------------------------------------------


def test_chain_id_follows_the_oci_definition():
    a, b, c = _digest("a"), _digest("b"), _digest("c")
    ab = "sha256:" + hashlib.sha256(f"{a} {b}".encode()).hexdigest()
    abc = "sha256:" + hashlib.sha256(f"{ab} {c}".encode()).hexdigest()
    assert sizes.chain_ids([a, b, c]) == [a, ab, abc]
    assert sizes.chain_ids([]) == []


def test_same_layer_on_another_base_gets_another_chain_id():
    a, b, x = _digest("a"), _digest("b"), _digest("x")
    assert sizes.chain_ids([a, x])[1] != sizes.chain_ids([b, x])[1]
    assert sizes.chain_ids([a, x, b])[:2] == sizes.chain_ids([a, x])  # a prefix does not depend on what follows


# --- sharing rules: compared with a brute-force model -----------------------------------


def _brute_force(images: list[sizes.ImageSizes]) -> tuple[int, int]:
    """On disk: a layer is identified by the tuple of all DiffIDs up to it. Pull: by blob digest."""
    disk: dict[tuple, int] = {}
    pull: dict[str, int] = {}
    for img in images:
        for i, layer in enumerate(img.layers):
            disk[tuple(l.diff_id for l in img.layers[: i + 1])] = layer.size
            pull[layer.blob_digest] = layer.blob_size
        pull[img.config_digest] = img.config_size
    return sum(disk.values()), sum(pull.values())


def test_disk_and_pull_bytes_on_a_known_case():
    base = ("base", 1000, 400)
    a = _image("a", [base, ("x", 30, 20)])
    b = _image("b", [base, ("y", 50, 45), ("x", 30, 20)])  # the same x on another chain
    c = _image("c", [base, ("x", 30, 20), ("z", 70, 60)])  # a child of a
    assert sizes.disk_bytes([a, b]) == 1000 + 30 + 50 + 30
    assert sizes.pull_bytes([a, b]) == 400 + 20 + 45 + a.config_size + b.config_size
    assert sizes.pull_uncompressed_bytes([a, b]) == 1000 + 30 + 50
    assert sizes.disk_bytes([a, c]) == c.size
    assert sizes.disk_bytes([a]) == a.size


@pytest.mark.parametrize("seed", range(25))
def test_sharing_rules_match_a_brute_force_model(seed):
    rng = random.Random(seed)
    contents = {f"L{i}": (rng.randint(1, 10_000), rng.randint(1, 5_000)) for i in range(6)}
    images = []
    for k in range(rng.randint(1, 6)):
        names = ["base"] + [rng.choice(list(contents)) for _ in range(rng.randint(0, 4))]
        layers = [(n, *(contents.get(n) or (5_000, 2_000))) for n in names]
        images.append(_image(f"i{k}", layers, ("cfg", rng.randint(100, 900))))
    disk, pull = _brute_force(images)
    assert sizes.disk_bytes(images) == disk
    assert sizes.pull_bytes(images) == pull
    # a set never costs more than its parts, nor less than its biggest member
    assert max(i.size for i in images) <= sizes.disk_bytes(images) <= sum(i.size for i in images)
    # sharing by content (DiffID) can only be as good as or better than by chain
    assert sizes.pull_uncompressed_bytes(images) <= sizes.disk_bytes(images)


def test_pull_bytes_unknown_without_registry_figures():
    a = _image("a", [("base", 10, None)], config=None)
    assert a.compressed is None
    assert sizes.pull_bytes([a]) is None
    fig = sizes.figures({"a": a}, ["a"])
    assert fig["pull_bytes"] is None and fig["sum_compressed_bytes"] is None and fig["disk_bytes"] == 10
    assert sizes.figures({"a": a}, ["a", "b"])["missing"] == ["b"]


def test_scenarios_deploy_the_images_of_the_2020_experiment():
    """What each deployment puts on a machine, per variant (variant 3's runtime is variant 2's composite
    runtime image; the apps scenario compares the framework-dependent apps with the self-contained ones, on
    the samples every app variant has: variant 5 leaves the minimal ones out)."""
    scen = {sc.id: sc for sc in sizes.default_scenarios()}
    assert scen["aspnet"].images == {1: ("aspnet-no-composite",), 2: ("aspnet-runtime-composite",), 3: ("aspnet-composite",),
                                     4: ("aspnet-composed-composite",)}
    assert scen["runtime+aspnet"].images[3] == ("runtime-composite", "aspnet-composite")
    assert scen["runtime+aspnet+sdk"].images[4] == ("runtime-composite", "aspnet-composed-composite", "sdk-aspnet-composed-composite")
    assert scen["apps"].images == {1: ("sample-broad-no-composite", "sample-service-no-composite"),
                                   5: ("sample-broad-composite", "sample-service-composite"),
                                   **{n: tuple(f"sample-{s}-{suffix}" for s in ("broad", "service"))
                                      for n, suffix in ((6, "trimmed-composite"), (7, "aot"), (8, "sdk-composite"))}}
    assert scen["with-baseline"].images[2] == ("runtime-no-composite", "aspnet-no-composite", "sdk-no-composite",
                                               "runtime-composite", "aspnet-runtime-composite", "sdk-runtime-composite")
    assert not scen["with-baseline"].compare and all(sc.compare for k, sc in scen.items() if "with-baseline" not in k)
    assert scen["aspnet-with-baseline"].images[2] == ("aspnet-no-composite", "aspnet-runtime-composite")


def test_pull_scenarios_put_a_variant_on_a_node_that_has_the_baselines_images():
    """report --pulls: each scenario marked ``pulls``, per variant with its roles; the baseline (nothing to pull) is left out."""
    from crossgen.images.catalog import CATALOG

    got = {p.id: p for p in CATALOG.pull_scenarios()}
    assert got["aspnet-with-baseline/2"].have == ("aspnet-no-composite",)
    assert got["aspnet-with-baseline/2"].want == ("aspnet-runtime-composite",)
    assert got["with-baseline/3"].have == ("runtime-no-composite", "aspnet-no-composite", "sdk-no-composite")
    assert got["with-baseline/3"].want == ("runtime-composite", "aspnet-composite", "sdk-aspnet-composite")
    assert not any(p.variant in (1, 5) for p in got.values())
    assert {p.id.split("/")[0] for p in got.values()} == {sc.id for sc in CATALOG.scenarios if sc.pulls}


# --- daemon history -> layers ---------------------------------------------------------


def _history(*steps):
    """steps oldest first as (size, created_by); the API lists them newest first."""
    return [{"Size": s, "CreatedBy": c} for s, c in reversed(steps)]


def test_history_layers_skip_metadata_steps():
    info = {"Id": "sha256:x", "RootFS": {"Layers": ["d1", "d2", "d3"]}}
    hist = _history((100, "import"), (0, "/bin/sh -c #(nop)  ENV A=1"), (50, "/bin/sh -c #(nop) COPY dir:1 in /x"),
                    (0, "/bin/sh -c #(nop)  LABEL a=b"), (7, "/bin/sh -c ln -s a b"), (0, "/bin/sh -c #(nop) WORKDIR /app"))
    assert sizes.history_layers(info, hist) == [(100, "import"), (50, "/bin/sh -c #(nop) COPY dir:1 in /x"), (7, "/bin/sh -c ln -s a b")]


def test_history_layers_keep_an_empty_run_layer():
    info = {"Id": "sha256:x", "RootFS": {"Layers": ["d1", "d2", "d3"]}}
    hist = _history((100, "import"), (0, "/bin/sh -c rm -f /nothing"), (0, "/bin/sh -c #(nop)  ENV A=1"), (5, "/bin/sh -c #(nop) COPY f in /"))
    assert [s for s, _ in sizes.history_layers(info, hist)] == [100, 0, 5]


def test_history_layers_refuse_to_guess():
    info = {"Id": "sha256:x", "RootFS": {"Layers": ["d1", "d2"]}}
    with pytest.raises(DciError):
        sizes.history_layers(info, _history((100, "import"), (0, "/bin/sh -c true"), (0, "/bin/sh -c false")))


# --- startup statistics -------------------------------------------------------------------


def test_parse_values_from_sample_output():
    out = "Hello from .NET 10\nwork: {}\nstartup-ms: 123.4\njit-methods: 56\n"
    assert startup.parse_value(out, "startup-ms") == 123.4
    assert startup.parse_value(out, "jit-methods") == 56
    assert startup.parse_value(out, "first-request-ms") is None


def test_summaries_and_ratios():
    targets = [startup.Target("hello", "console", "base", (1,)), startup.Target("hello", "console", "comp", (2,))]
    refs = {"base": "r/base", "comp": "r/comp"}
    runs = []
    for i, (b, c) in enumerate([(100, 60), (120, 50), (110, 55), (90, 70)]):
        runs.append(startup.Run("hello@base", "default", i, b, 100, 0))
        runs.append(startup.Run("hello@comp", "default", i, c, 10 + i, 0))
    runs.append(startup.Run("hello@comp", "default", 9, None, None, 0, error="exit 1"))
    s = {x.target: x for x in startup.summarize(targets, refs, runs, ("default",))}
    assert s["hello@base"].median_ms == 105 and s["hello@base"].ratio_to_baseline == 1.0
    assert s["hello@comp"].median_ms == 57.5 and s["hello@comp"].failed == 1 and s["hello@comp"].runs == 5
    assert s["hello@comp"].ratio_to_baseline == round(57.5 / 105, 4)
    assert (s["hello@comp"].min_ms, s["hello@comp"].max_ms, s["hello@comp"].jit_min, s["hello@comp"].jit_max) == (50, 70, 10, 13)


# --- build records ----------------------------------------------------------------------


def _record(built: bool, compiled: bool, when: str) -> dict:
    return {"finished_at": when, "seconds": 10.0, "dotnet_version": "10.0.1",
            "images": [{"key": "os", "skipped": True, "seconds": 0}, {"key": "runtime-deps", "skipped": not built, "seconds": 3.0}],
            "bubbles": {"runtime": {"reused": not compiled}}}


def test_build_kinds():
    assert report_analyse.classify_build(_record(True, True, "t1")) == "cold"
    assert report_analyse.classify_build(_record(False, False, "t2")) == "warm"
    assert report_analyse.classify_build(_record(True, False, "t3")) == "partial"
    # some of build-all's images only (build --variant, --images), every one built from nothing: not a cold build-all
    assert report_analyse.classify_build(_record(True, True, "t4") | {"whole": False}) == "partial"
    assert report_analyse.classify_build(_record(False, False, "t5") | {"whole": False}) == "partial"
    assert report_analyse.classify_build(_record(True, True, "t6") | {"whole": True}) == "cold"


def test_build_history_keeps_each_record_once(tmp_path):
    from crossgen.core.settings import Settings

    s = Settings(project_root=tmp_path, build_dir=tmp_path / "build")
    report_analyse.update_build_history(s, _record(True, True, "t1"))
    report_analyse.update_build_history(s, _record(True, True, "t1"))
    hist = report_analyse.update_build_history(s, _record(False, False, "t2"))
    assert [(h["finished_at"], h["kind"]) for h in hist] == [("t1", "cold"), ("t2", "warm")]


# --- verdicts, markdown, README, charts -------------------------------------------------


def synthetic_report(seed: int = 1) -> dict:
    rng = random.Random(seed)
    base = ("base", 78_000_000, 30_000_000)
    deps = ("deps", 42_000_000, 15_000_000)
    content = {"rt-il": (83_000_000, 30_000_000), "rt-comp": (93_000_000, 33_000_000), "asp": (27_000_000, 9_000_000),
               "aspc": (130_000_000, 45_000_000), "comp": (15_000_000, 5_000_000), "sdk": (530_000_000, 190_000_000),
               "hello": (20_000, 8_000), "web": (30_000, 9_000), "hsc": (93_000_000, 35_000_000), "wsc": (130_000_000, 47_000_000)}

    def img(key, *names):
        return _image(key, [base, deps] + [(n, *content[n]) for n in names])

    chains = {
        "runtime-no-composite": ("rt-il",), "aspnet-no-composite": ("rt-il", "asp"), "sdk-no-composite": ("rt-il", "asp", "sdk"),
        "sample-broad-no-composite": ("rt-il", "hello"), "sample-service-no-composite": ("rt-il", "asp", "web"),
        "runtime-composite": ("rt-comp",), "aspnet-runtime-composite": ("rt-comp", "asp"), "sdk-runtime-composite": ("rt-comp", "asp", "sdk"),
        "aspnet-composite": ("aspc",), "sdk-aspnet-composite": ("aspc", "sdk"),
        "aspnet-composed-composite": ("rt-comp", "comp"), "sdk-aspnet-composed-composite": ("rt-comp", "comp", "sdk"),
        "sample-broad-composite": ("hsc",), "sample-service-composite": ("wsc",),
    }
    measured = {k: img(k, *names) for k, names in chains.items()}
    images = [{"key": k, "ref": f"test/{k}:1"} for k in chains]
    scen, across = report_analyse.scenarios_section(measured)
    targets = startup.default_targets()
    runs = []
    for t, mode, i in itertools.product(targets, startup.REPORT_MODES, range(10)):
        runs.append(startup.Run(t.id, mode, i, rng.uniform(100, 200) * (2 if mode != "default" else 1), rng.randint(10, 20), 0))
    sums = startup.summarize(targets, {t.image_key: t.image_key for t in targets}, runs)
    r = {
        "schema_version": report.SCHEMA_VERSION, "generated_at": "2026-01-01T00:00:00Z", "seconds": 1.0,
        "machine": {"cores": 2, "memory_bytes": 2**34, "cpu_model": "test cpu", "kernel": "6", "docker_version": "20.10"},
        "dotnet_version": "10.0.15", "base_os": "Debian test", "rules": dict(sizes.RULES), "timings": {},
        "images": report_analyse.images_section(measured, images, {}), "scenarios": scen, "across_variants": across,
        "startup": {"runs_per_pair": 10, "warmup_rounds": 1, "seed": 1, "load_before": [], "load_after": [],
                    "measure": {"console": "h", "web": "w"}, "summaries": [s.to_dict() for s in sums], "runs": []},
        "registry": None,
        "build": {"bubbles": {"runtime": {"seconds": 50, "peak_memory_bytes": 10**9, "input_bytes": 60_000_000,
                                          "output_bytes": 70_000_000, "composite": {"size": 49_000_000}, "reused": True}},
                  "last": None, "cold": None, "warm": None, "warm_measured_seconds": None},
    }
    r["verdicts"] = report_analyse.verdicts(r)
    r["notes"] = report_analyse.notes(r)
    return r


def test_verdicts_say_who_wins_and_by_what_ratio():
    r = synthetic_report()
    by = {(d["variant"], d["measure"], d["subject"]): d for d in r["verdicts"]}
    asp2 = by[(2, "uncompressed", "aspnet image")]
    assert asp2["ratio"] == round((78e6 + 42e6 + 93e6 + 27e6) / (78e6 + 42e6 + 83e6 + 27e6), 4)
    assert asp2["beats"] is False and "does NOT beat" in asp2["statement"]
    asp4 = by[(4, "uncompressed", "aspnet image")]
    assert asp4["beats"] is True and "beats the baseline" in asp4["statement"]
    # every composite variant gets a startup verdict in both modes
    for v in (2, 3, 4, 5):
        assert {d["measure"] for d in r["verdicts"] if d["variant"] == v} >= {"startup", "startup-r2r-off", "uncompressed"}
    # disk verdicts follow the ChainID rule: variant 2 runtime+aspnet+sdk holds its own runtime layer
    full = next(s for s in r["scenarios"] if s["id"] == "runtime+aspnet+sdk")
    assert full["variants"]["2"]["disk_bytes"] == full["variants"]["1"]["disk_bytes"] + 10_000_000
    assert r["notes"], "losing measures must come with a note"


def test_markdown_and_readme_block(tmp_path):
    r = synthetic_report()
    # a target measured without its baseline (e.g. --images leaves the baseline out), and one whose
    # app did not report its JIT count: rendered as such, not a crash
    r["startup"]["summaries"][0].update(ratio_to_baseline=None)
    r["startup"]["summaries"][1].update(jit_median=None, jit_min=None, jit_max=None)
    md = report_render.markdown(r)
    assert "no baseline" in md
    for heading in ("## Headline", "## Sizes per image", "## Sharing per deployment scenario", "## Startup", "## Build cost"):
        assert heading in md
    assert "chain-id" in md and "blob-digest" in md
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\nbefore\n{report_render.README_BEGIN}\nold table\n{report_render.README_END}\nafter\n")
    assert report_render.update_readme(readme, r)
    text = readme.read_text()
    assert "old table" not in text and "before" in text and "after" in text
    assert "10.0.15" in text and "Debian test" in text and "2 cores" in text
    assert report_render.update_readme(readme, r) and readme.read_text() == text  # idempotent
    plain = tmp_path / "OTHER.md"
    plain.write_text("no markers\n")
    assert not report_render.update_readme(plain, r) and plain.read_text() == "no markers\n"
    json.dumps(r)  # the report is JSON as it stands


def test_charts_render(tmp_path):
    from crossgen.report import charts

    paths = charts.draw_all(synthetic_report(), tmp_path)
    assert [p.name for p in paths] == ["layers.png", "scenarios.png", "startup.png"]
    for p in paths:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 10_000


def test_layer_identity_finds_same_source_layers_with_other_digests():
    base = ("base", 1000, 400)
    a = _image("a", [base, ("copy-1", 30, 20)])
    b = _image("b", [base, ("copy-2", 30, 22)])
    c = _image("c", [base, ("copy-3", 30, 21)])
    for img in (a, b, c):
        img.layers[1].created_by = "/bin/sh -c #(nop) COPY dir:abc in /x "
    c.layers[1].created_by = "/bin/sh -c #(nop) COPY dir:other in /x "
    groups = report_analyse.layer_identity({"a": a, "b": b, "c": c})
    assert len(groups) == 1
    g = groups[0]
    assert g["diff_ids"] == 2 and sorted(k for ks in g["images"].values() for k in ks) == ["a", "b"]
    assert g["pull_bytes_lost"] == 20  # two blobs of 20 and 22 where one would do


def test_notes_explain_lost_sharing():
    r = synthetic_report()
    text = " ".join(r["notes"])
    # variant 3's aspnet does not stand on its runtime image: the runtime + aspnet note says what they share
    assert "runtime + aspnet, variant 3: its images share 120.0 MB" in text
    assert "Image sizes (" in text and "outweighs the input for runtime" in text


@pytest.mark.parametrize("value, base, beats, word", [
    (90, 100, True, "beats the baseline"),
    (100, 100, False, "ties with the baseline"),
    (101, 100, False, "does NOT beat the baseline"),
    (None, 100, None, "not measured"),
    (100, None, None, "not measured"),
])
def test_a_verdict_compares_value_and_baseline(value, base, beats, word):
    d = report_analyse._verdict(2, "uncompressed", "aspnet image", "daemon image size", value, base, "bytes")
    assert d["beats"] is beats and word in d["statement"]


def test_startup_verdict_says_whether_the_spreads_overlap():
    d = report_analyse._verdict(2, "startup", "hello: console startup", "median", 90, 100, "ms", clear=False)
    assert d["beats"] is True and "spreads overlap (not a clear difference)" in d["statement"]
    d = report_analyse._verdict(2, "startup", "hello: console startup", "median", 90, 100, "ms", clear=True)
    assert "do not overlap" in d["statement"]


def test_nothing_compared_is_not_reported_as_within_spread():
    """A run without startup (or with no image in common) has nothing to compare: None, not True."""
    a, b = synthetic_report(1), synthetic_report(2)
    b["startup"] = {"skipped": "--no-startup"}
    c = report_analyse.compare_with_previous(a, b)
    assert c["startup"] == [] and c["startup_medians_within_spreads"] is None
    b["previous_run"] = c
    assert "not compared" in "\n".join(report_render.md_previous(b))
    b["images"] = []
    assert report_analyse.compare_with_previous(a, b)["sizes_identical"] is None


def test_comparison_with_the_previous_run():
    a, b = synthetic_report(1), synthetic_report(2)
    c = report_analyse.compare_with_previous(a, b)
    assert c["sizes_identical"] and all(x["same_image"] for x in c["sizes"])
    assert len(c["startup"]) == len(b["startup"]["summaries"])
    for x in c["startup"]:
        assert isinstance(x["within_previous_spread"], bool)
    # a changed size and a median far outside the other run's spread are reported as such
    b["images"][0]["uncompressed_bytes"] += 1
    b["startup"]["summaries"][0]["median_ms"] = 10 * a["startup"]["summaries"][0]["max_ms"]
    c = report_analyse.compare_with_previous(a, b)
    assert not c["sizes_identical"] and not c["startup_medians_within_spreads"]
    b["previous_run"] = c
    assert "differ for" in "\n".join(report_render.md_previous(b))
    assert report_analyse.compare_with_previous(None, b) is None


def test_split_ref():
    from crossgen.publish.registry import split_ref

    assert split_ref("dotnet-composite/runtime:10.0-trixie-slim") == ("dotnet-composite/runtime", "10.0-trixie-slim")
    assert split_ref("127.0.0.1:5000/a/b:t") == ("127.0.0.1:5000/a/b", "t")
    assert split_ref("127.0.0.1:5000/a/b") == ("127.0.0.1:5000/a/b", "latest")


def test_layer_categories_follow_the_catalog_roles():
    cat = report_analyse.layer_category
    assert cat(0, "ADD file", "runtime-deps") == "OS base (debian)"
    assert cat(1, "RUN apt-get install -y libicu76", "runtime-deps") == "runtime-deps packages"
    assert cat(2, "COPY dotnet/ /usr/share/dotnet/", "runtime-composite") == ".NET runtime"
    assert cat(3, "COPY dotnet/ /usr/share/dotnet/", "aspnet-runtime-composite") == "ASP.NET Core"
    assert cat(2, "COPY dotnet/ /usr/share/dotnet/", "aspnet-composite") == ".NET runtime + ASP.NET Core"
    assert cat(4, "COPY dotnet/ /usr/share/dotnet/", "sdk-no-composite") == "SDK"
    assert cat(2, "COPY app/ /app/", "sample-service-composite") == "self-contained app"
    assert cat(3, "COPY app/ /app/", "sample-hello-no-composite") == "app (framework-dependent)"
    assert cat(2, "COPY x /x", "not-in-the-catalog") == "other"


def test_reproducible_column_and_line():
    r = synthetic_report()
    assert "Reproducible: not checked in this run" in report_render.reproducible_line(r)
    assert all(report_render.reproducible_text(i) == "not checked" for i in r["images"])
    first, second = r["images"][0], r["images"][1]
    first.update(reproducible=True, rebuilt_id=first["image_id"])
    second.update(reproducible=False, rebuilt_id="sha256:" + "ab" * 32)
    r["layer_identity"] = [{"created_by": "COPY dir:x in /usr/share/dotnet/"}]
    line = report_render.reproducible_line(r)
    assert "1 of 2 images built again" in line and "1 group of same-source layers with more than one DiffID" in line
    md = report_render.markdown(r)
    assert "| yes (same image ID) |" in md and "| NO (rebuilt as `abababababab`) |" in md


def test_pulls_need_the_classic_builds_and_scenarios_whose_images_exist(tmp_path):
    """report --pulls fails before measuring anything when the caller gave no classic builds, and
    pulls.measure when no scenario has its images in both sets (before any registry or containerd)."""
    from crossgen.core.errors import DciError
    from crossgen.core.settings import Settings
    from crossgen.images.catalog import PullScenario
    from crossgen.report import pulls
    from crossgen.report.run import ReportOptions, _pull_sets

    assert _pull_sets(None, ReportOptions(), [], None) is None
    with pytest.raises(DciError, match="--pulls.*classic"):
        _pull_sets(None, ReportOptions(pulls=True), [{"key": "a", "ref": "x/a:1"}], None)
    settings = Settings(project_root=tmp_path, build_dir=tmp_path / "build")
    with pytest.raises(DciError, match="none has all its images in both sets") as err:
        pulls.measure(None, settings, {"a": "x/a:1"}, {"b": "x/b:1"}, [PullScenario("s", "s", 2, ("a",), ("b",))])
    assert "s" in err.value.cause and not (tmp_path / "build").exists()


def test_sections_a_run_leaves_out_are_kept_from_the_previous_run_and_dated():
    from crossgen.report.run import carry_over

    previous = synthetic_report()
    previous["generated_at"] = "2026-11-30T12:00:00Z"
    previous["channels"] = {"runs": 3, "channels": [{"channel": "11.0", "dotnet_version": "11.0.0", "not_built": [], "points": []}]}
    now = synthetic_report()
    now["channels"] = None
    mine = now.get("frontier")
    carry_over(previous, now)
    assert now["channels"]["carried_from"] == "2026-11-30T12:00:00Z"
    assert now.get("frontier") == mine  # measured in this run (or absent in both): left alone
    assert "measured by the report of 2026-11-30T12:00:00Z, not in this run" in "\n".join(report_render.md_channels(now))
    carry_over(None, now)  # a first run has nothing to keep
