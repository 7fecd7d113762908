"""Unit tests (no Docker): Crossgen2 arguments, staging layouts and each variant's Dockerfile."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from crossgen import dockerio
from crossgen.acquire.acquisition import Acquired, Component
from crossgen.compile.bubbles import BUBBLES, get_bubble
from crossgen.compile.compiler import CompileResult, crossgen_arguments, framework_inputs
from crossgen.core.errors import DciError
from crossgen.acquire.layout import ASPNETCORE, NETCORE, DotnetRoot
from crossgen.compile.samples import Sample
from crossgen.images.stage import stage_dotnet
from crossgen.images.catalog import CATALOG
from crossgen.images.specs import spec_for
from tests.pipeline_support import e2e_settings

PROJECT_ROOT = Path(__file__).resolve().parent.parent

V = "10.0.15"


def fake_root(tmp_path: Path) -> DotnetRoot:
    """A small dotnet root with real files (contents are placeholders, layout is the real one)."""
    root = tmp_path / "layout" / "dotnet"
    for fw, names in ((NETCORE, ["System.Private.CoreLib.dll", "System.Runtime.dll", "libcoreclr.so"]),
                      (ASPNETCORE, ["Microsoft.AspNetCore.dll"])):
        d = root / "shared" / fw / V
        d.mkdir(parents=True)
        for n in names:
            (d / n).write_text(f"original {n}")
    (root / "host" / "fxr" / V).mkdir(parents=True)
    (root / "host" / "fxr" / V / "libhostfxr.so").write_text("fxr")
    (root / "dotnet").write_text("host")
    return DotnetRoot(root, V, V)


def fake_compiled(tmp_path: Path, bubble: str, composite_rel: str, stubs: list[str]) -> CompileResult:
    out = tmp_path / "cg" / bubble
    for rel in stubs + [composite_rel]:
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_text(f"compiled {rel}")
    record = {"key": f"{bubble}-key" * 4, "arguments": ["--composite", "--inputbubble", "-O", "/work/in/x.dll"],
              "composite": {"path": composite_rel, "size": 1}, "crossgen2_version": V}
    return CompileResult(bubble, out, record, False)


def fake_acquired(root: DotnetRoot) -> Acquired:
    a = Acquired(version=V, rid="linux-x64", dotnet_root=root)
    for name in ("runtime", "aspnetcore", "crossgen2"):
        # the layout as the package (SOURCE_DATE_EPOCH comes from its newest file)
        a.components[name] = Component(name, f"pkg.{name}", V, "nuget", f"https://feed/{name}", "ab" * 64, 1, str(root.path))
    return a


# -- Crossgen2 arguments ------------------------------------------------------------------

def test_arguments_runtime_bubble_defaults():
    s = e2e_settings()
    args = crossgen_arguments(s, "framework-r2r.dll", ["/work/in/a.dll", "/work/in/b.dll"], [])
    assert args[0] == "--composite"
    assert "--inputbubble" in args and "-O" in args
    assert "--targetos:linux" in args and "--targetarch:x64" in args
    assert "--out:/work/out/framework-r2r.dll" in args
    assert "--compositerootpath:/work/in" in args
    assert args[-2:] == ["/work/in/a.dll", "/work/in/b.dll"]
    assert not any(a.startswith(("--inputbubbleref", "--reference")) for a in args)
    for bogus in ("--input-bubble", "--targetvr", "--compositeimage"):
        assert not any(a.startswith(bogus) for a in args)


def test_arguments_options_are_honoured():
    s = e2e_settings()
    s = replace(s, crossgen=replace(s.crossgen, inputbubble=False, parallelism=3, extra_args=("--Os",), instruction_set="x86-64-v3"))
    args = crossgen_arguments(s, "x.r2r.dll", ["/work/in/a.dll"], ["/work/in/r.dll"], mibc=True)
    assert "--inputbubble" not in args
    assert "--parallelism:3" in args and "--Os" in args
    assert "--instruction-set:x86-64-v3" in args
    assert any(a.startswith("--mibc:") for a in args)
    assert "--reference:/work/in/r.dll" in args
    assert not any(a.startswith("--inputbubbleref") for a in args)


def test_composed_bubble_keeps_references_out_of_the_bubble():
    s = e2e_settings()
    args = crossgen_arguments(s, "aspnetcore-r2r.dll", ["/work/in/asp.dll"], ["/work/in/rt.dll"])
    assert "--inputbubble" in args
    assert "--inputbubbleref:/work/in/asp.dll" in args
    assert "--inputbubbleref:/work/in/rt.dll" not in args


def test_unknown_bubble_names_the_choices():
    with pytest.raises(DciError) as exc:
        get_bubble("everything")
    assert "runtime" in str(exc.value) and "aspnet-composed" in str(exc.value)


def test_framework_inputs_places_composites_per_bubble():
    """Real framework folder (the installed SDK's): inputs are its managed assemblies only."""
    installed = Path("/usr/share/dotnet")
    ver = sorted(p.name for p in (installed / "shared" / NETCORE).iterdir())[-1]
    aver = sorted(p.name for p in (installed / "shared" / ASPNETCORE).iterdir())[-1]
    root = DotnetRoot(installed, ver, aver)
    files, refs, composite = framework_inputs(BUBBLES["runtime"], root)
    names = {Path(rel).name for rel, _ in files}
    assert "System.Private.CoreLib.dll" in names and not any(n.endswith(".so") for n in names)
    assert composite == f"shared/{NETCORE}/{ver}/framework-r2r.dll" and refs == []
    files, refs, composite = framework_inputs(BUBBLES["aspnet"], root)
    assert {rel.split("/")[1] for rel, _ in files} == {NETCORE, ASPNETCORE}
    assert composite.startswith(f"shared/{NETCORE}/")
    files, refs, composite = framework_inputs(BUBBLES["aspnet-composed"], root)
    assert all(rel.split("/")[1] == ASPNETCORE for rel, _ in files)
    assert refs and all(rel.split("/")[1] == NETCORE for rel, _ in refs)
    assert composite == f"shared/{ASPNETCORE}/{aver}/aspnetcore-r2r.dll"


# -- staging --------------------------------------------------------------------------------

def test_stage_runtime_composite_overlay(tmp_path):
    root = fake_root(tmp_path)
    fx = f"shared/{NETCORE}/{V}"
    c = fake_compiled(tmp_path, "runtime", f"{fx}/framework-r2r.dll", [f"{fx}/System.Private.CoreLib.dll", f"{fx}/System.Runtime.dll"])
    ctx = tmp_path / "ctx"
    stage_dotnet(ctx, root, frameworks=(NETCORE,), host=True, overlays=(c.out_dir,))
    d = ctx / "dotnet"
    assert (d / "dotnet").read_text() == "host"
    assert (d / "host/fxr" / V / "libhostfxr.so").is_file()
    assert (d / fx / "framework-r2r.dll").read_text() == f"compiled {fx}/framework-r2r.dll"
    assert (d / fx / "System.Runtime.dll").read_text().startswith("compiled")
    assert (d / fx / "libcoreclr.so").read_text() == "original libcoreclr.so"
    assert not (d / "shared" / ASPNETCORE).exists()
    # the layout itself is untouched (staging hard-links, and never writes through a link)
    assert (root.path / fx / "System.Runtime.dll").read_text() == "original System.Runtime.dll"


def test_stage_aspnet_only_layer_takes_only_its_part_of_an_overlay(tmp_path):
    root = fake_root(tmp_path)
    afx, fx = f"shared/{ASPNETCORE}/{V}", f"shared/{NETCORE}/{V}"
    c = fake_compiled(tmp_path, "aspnet", f"{fx}/framework-aspnet-r2r.dll", [f"{afx}/Microsoft.AspNetCore.dll", f"{fx}/System.Runtime.dll"])
    ctx = tmp_path / "ctx"
    stage_dotnet(ctx, root, frameworks=(ASPNETCORE,), host=False, overlays=(c.out_dir,))
    d = ctx / "dotnet"
    assert sorted(p.relative_to(d).as_posix() for p in d.rglob("*") if p.is_file()) == [f"{afx}/Microsoft.AspNetCore.dll"]
    assert (d / afx / "Microsoft.AspNetCore.dll").read_text().startswith("compiled")


# -- Dockerfiles per variant -------------------------------------------------------------------

def _dockerfile_from(text: str) -> str:
    return next(line.split()[1] for line in text.splitlines() if line.startswith("FROM "))


@pytest.fixture
def all_specs(tmp_path):
    s = e2e_settings()
    root = fake_root(tmp_path)
    acquired = fake_acquired(root)
    fx, afx = f"shared/{NETCORE}/{V}", f"shared/{ASPNETCORE}/{V}"
    compiled = {
        "runtime": fake_compiled(tmp_path, "runtime", f"{fx}/framework-r2r.dll", []),
        "aspnet": fake_compiled(tmp_path, "aspnet", f"{fx}/framework-aspnet-r2r.dll", []),
        "aspnet-composed": fake_compiled(tmp_path, "aspnet-composed", f"{afx}/aspnetcore-r2r.dll", []),
        **{f"app-{n}": fake_compiled(tmp_path, f"app-{n}", f"{n}.r2r.dll", []) for n in ("hello", "web", "broad", "service")},
        **{f"app-trimmed-{n}": fake_compiled(tmp_path, f"app-trimmed-{n}", f"{n}.r2r.dll", []) for n in ("hello", "web", "broad", "service")},
    }
    apps = {n: {k: Sample(n, tmp_path / f"{n}-{k}", f"d-{k}", kind=k) for k in ("fd", "sc", "trimmed", "aot", "sdk-composite")}
            for n in (s.name for s in CATALOG.samples)}
    return s, {v.number: [spec_for(s, acquired, CATALOG, i, compiled, apps) for i in CATALOG.images_of(v)] for v in CATALOG.variants}


def test_variant_images_stand_on_the_right_bases(all_specs):
    s, specs = all_specs
    p, t = s.image_prefix, "10.0-trixie-slim"
    deps = f"{p}runtime-deps:{t}"
    got = {n: [(sp.ref, _dockerfile_from(sp.dockerfile)) for sp in sps] for n, sps in specs.items()}
    assert got[1] == [
        (f"{p}runtime:{t}-no-composite", deps),
        (f"{p}aspnet:{t}-no-composite", f"{p}runtime:{t}-no-composite"),
        (f"{p}sdk:{t}-no-composite", f"{p}aspnet:{t}-no-composite"),
        # the framework-dependent samples on the baseline (what variant 5's apps are compared with)
        (f"{p}sample-hello:{t}-no-composite", f"{p}runtime:{t}-no-composite"),
        (f"{p}sample-web:{t}-no-composite", f"{p}aspnet:{t}-no-composite"),
        (f"{p}sample-broad:{t}-no-composite", f"{p}runtime:{t}-no-composite"),
        (f"{p}sample-service:{t}-no-composite", f"{p}aspnet:{t}-no-composite"),
    ]
    assert got[2] == [
        (f"{p}runtime:{t}-composite", deps),
        (f"{p}aspnet:{t}-runtime-composite", f"{p}runtime:{t}-composite"),
        (f"{p}sdk:{t}-runtime-composite", f"{p}aspnet:{t}-runtime-composite"),
    ]
    assert got[3] == [(f"{p}aspnet:{t}-composite", deps), (f"{p}sdk:{t}-aspnet-composite", f"{p}aspnet:{t}-composite")]
    assert got[4][1:] == [
        (f"{p}aspnet:{t}-composed-composite", f"{p}runtime:{t}-composite"),
        (f"{p}sdk:{t}-aspnet-composed-composite", f"{p}aspnet:{t}-composed-composite"),
    ]
    assert got[4][0] == got[2][0]  # the composed variant reuses variant 2's runtime image
    # the self-contained composite: not for the minimal samples (hello, web)
    assert got[5] == [(f"{p}sample-{n}:{t}-composite", deps) for n in ("broad", "service")]
    # the other app approaches: one image per sample each, on runtime-deps too
    for number, suffix in ((6, "trimmed-composite"), (7, "aot"), (8, "sdk-composite")):
        assert got[number] == [(f"{p}sample-{n}:{t}-{suffix}", deps) for n in ("hello", "web", "broad", "service")]
    for sps in specs.values():
        for sp in sps:
            assert sp.base == _dockerfile_from(sp.dockerfile)


def test_dockerfiles_set_the_official_environment(all_specs):
    _, specs = all_specs
    rt, asp, sdk, hello_fd = specs[1][:4]
    assert f"DOTNET_VERSION={V}" in rt.dockerfile and "COPY usr/ /usr/" in rt.dockerfile
    assert f"ASPNET_VERSION={V}" in asp.dockerfile and "DOTNET_VERSION" not in asp.dockerfile
    assert "DOTNET_SDK_VERSION=" in sdk.dockerfile
    full = specs[3][0].dockerfile
    assert f"DOTNET_VERSION={V}" in full and f"ASPNET_VERSION={V}" in full and "COPY usr/ /usr/" in full
    broad_sc = specs[5][0].dockerfile
    assert 'ENTRYPOINT ["/app/broad"]' in broad_sc and "USER $APP_UID" in broad_sc
    for number in (6, 7, 8):  # trimmed, Native AOT (the native executable, no dotnet host), the SDK's composite
        assert 'ENTRYPOINT ["/app/hello"]' in specs[number][0].dockerfile
    assert 'ENTRYPOINT ["dotnet", "/app/hello.dll"]' in hello_fd.dockerfile
    # no RUN anywhere: every framework and app image builds on an OS base without a shell
    for sps in specs.values():
        for sp in sps:
            if sp.key.startswith(("runtime", "aspnet", "sample")):
                assert "\nRUN " not in sp.dockerfile, sp.key


def test_runtime_layers_stage_the_dotnet_link(all_specs, tmp_path):
    """/usr/bin/dotnet is a link staged in the context (Docker's COPY of a folder keeps it a link)."""
    _, specs = all_specs
    for sp in (specs[1][0], specs[3][0]):  # the runtime image, the one runtime+ASP.NET composite image
        ctx = tmp_path / sp.key
        ctx.mkdir()
        sp.stage(ctx)
        link = ctx / "usr" / "bin" / "dotnet"
        assert link.is_symlink() and str(link.readlink()) == "/usr/share/dotnet/dotnet"
        assert (ctx / "dotnet" / "dotnet").read_text() == "host"
    ctx = tmp_path / "aspnet-layer"
    ctx.mkdir()
    specs[1][1].stage(ctx)  # ASP.NET on the runtime image: no second link
    assert not (ctx / "usr").exists()


def test_labels_name_variant_bubble_and_crossgen(all_specs):
    _, specs = all_specs
    labels = specs[4][1].labels
    assert labels[dockerio.label("variant")] == "4"
    assert labels[dockerio.label("bubble")] == "runtime,aspnet-composed"
    assert json.loads(labels[dockerio.label("crossgen2-args")])["runtime"] == ["--composite", "--inputbubble", "-O"]
    assert dockerio.label("bubble") not in specs[1][0].labels


def test_app_images_say_how_their_app_was_published(all_specs):
    """Each app image names its approach; a trimmed one holds the composite our Crossgen2 made from what
    trimming kept (its own bubble), AOT and the SDK's composite hold none of ours."""
    _, specs = all_specs
    by_variant = {n: next(sp for sp in sps if sp.key == f"sample-broad-{CATALOG.variant(n).apps[0].suffix}")
                  for n, sps in specs.items() if n in (1, 5, 6, 7, 8)}
    assert {n: sp.labels[dockerio.label("publish")] for n, sp in by_variant.items()} == {
        1: "fd", 5: "sc", 6: "trimmed", 7: "aot", 8: "sdk-composite"}
    assert by_variant[5].labels[dockerio.label("bubble")] == "app-broad"
    assert by_variant[6].labels[dockerio.label("bubble")] == "app-trimmed-broad"
    assert dockerio.label("bubble") not in by_variant[7].labels and dockerio.label("bubble") not in by_variant[8].labels
    assert by_variant[7].inputs["sample_dir"] == "broad-aot" and by_variant[6].inputs["sample_dir"] == "broad-trimmed"
    assert dockerio.label("analysis-warnings") in by_variant[7].labels


def test_an_app_that_could_not_be_published_has_no_spec(tmp_path):
    s = e2e_settings()
    apps = {"hello": {"aot": Sample("hello", tmp_path, "", kind="aot", failed="Native AOT: dotnet publish (aot) failed: error X")}}
    img = CATALOG.images["sample-hello-aot"]
    with pytest.raises(DciError, match="error X"):
        spec_for(s, fake_acquired(fake_root(tmp_path)), CATALOG, img, {}, apps)


def test_input_digest_changes_with_inputs(all_specs):
    from crossgen.dockerio.imagebuild import input_digest

    _, specs = all_specs
    spec = specs[2][0]
    d1 = input_digest(spec, "sha256:base")
    assert d1 == input_digest(spec, "sha256:base")
    assert d1 != input_digest(spec, "sha256:other-base")
    assert d1 != input_digest(replace(spec, inputs={**spec.inputs, "crossgen": ["changed"]}), "sha256:base")
    assert d1 != input_digest(replace(spec, dockerfile=spec.dockerfile + "\n# changed"), "sha256:base")


def test_variants_are_found_by_number_or_name():
    assert CATALOG.variant("3").name == "aspnet-composite"
    assert CATALOG.variant("aspnet-composed-composite").number == 4
    assert CATALOG.variant("aot").number == 7
    with pytest.raises(DciError) as exc:
        CATALOG.variant("17")
    assert "no-composite" in str(exc.value)


def test_compile_modes_give_their_crossgen_arguments():
    from crossgen.compile.modes import MODES

    s = e2e_settings()
    ins, unrooted = ["/work/in/a.dll"], ["/work/in/b.dll"]
    full = crossgen_arguments(s, "x.r2r.dll", ins, [], mibc=True, mode=MODES["full"])
    partial = crossgen_arguments(s, "x.r2r.dll", ins, [], mibc=True, mode=MODES["partial"])
    hot = crossgen_arguments(s, "x.r2r.dll", ins, ["/work/in/r.dll"], mibc=True, mode=MODES["hot"], unrooted=unrooted)
    assert "--partial" in partial and "--partial" not in full and "--partial" not in hot
    assert all(any(a.startswith("--mibc:") for a in args) for args in (full, partial, hot))
    assert "--unrooted-input-file-paths:/work/in/b.dll" in hot and "/work/in/b.dll" not in hot
    assert hot[-1] == "/work/in/a.dll" and "--inputbubbleref:/work/in/b.dll" in hot  # unrooted inputs are in the bubble
    with pytest.raises(DciError) as exc:  # partial without a profile would compile nothing
        crossgen_arguments(s, "x.r2r.dll", ins, [], mibc=False, mode=MODES["partial"])
    assert "MIBC" in str(exc.value)


def test_hot_mode_roots_the_hot_assemblies_and_the_apps_own(tmp_path):
    from crossgen.compile.compiler import app_own_assemblies, split_rooted
    from crossgen.compile.modes import MODES

    files = [(f"{n}.dll", tmp_path / f"{n}.dll") for n in ("System.Private.CoreLib", "System.Linq", "System.Xml", "web", "Lib")]
    (tmp_path / "web.deps.json").write_text(json.dumps({
        "targets": {".NETCoreApp,Version=v10.0/linux-x64": {
            "web/1.0.0": {"runtime": {"web.dll": {}}},
            "Lib/2.0.0": {"runtime": {"lib/net10.0/Lib.dll": {}}},
            "runtimepack.Microsoft.NETCore.App.Runtime.linux-x64/10.0.12": {"runtime": {"System.Xml.dll": {}}},
        }},
        "libraries": {"web/1.0.0": {"type": "project"}, "Lib/2.0.0": {"type": "package"},
                      "runtimepack.Microsoft.NETCore.App.Runtime.linux-x64/10.0.12": {"type": "runtimepack"}},
    }))
    own = app_own_assemblies(tmp_path, "web")
    assert own == {"web", "Lib"}
    rooted, unrooted = split_rooted(files, MODES["hot"], frozenset({"System.Private.CoreLib", "System.Linq"}), own)
    assert [p.stem for _, p in rooted] == ["System.Private.CoreLib", "System.Linq", "web", "Lib"]
    assert [p.stem for _, p in unrooted] == ["System.Xml"]
    assert split_rooted(files, MODES["full"], None) == (files, [])
    with pytest.raises(DciError):
        split_rooted(files, MODES["hot"], None)


def test_modes_come_from_invoke_yaml_and_mode_flags_tag_the_images():
    from crossgen.cli import with_mode
    from crossgen.core.settings import ALL_BUBBLES, _bubble_modes
    from crossgen.images.specs import image_ref

    s = e2e_settings()
    assert set(s.crossgen.mode) == set(ALL_BUBBLES)  # invoke.yaml names a mode for every bubble
    assert _bubble_modes("hot") == {b: "hot" for b in ALL_BUBBLES}
    with pytest.raises(DciError) as exc:
        _bubble_modes({"everything": "full"})
    assert "everything" in str(exc.value)
    full = with_mode(s, "full")
    assert set(full.crossgen.mode.values()) == {"full"} and full.crossgen.mode_tag == "full"
    assert image_ref(full, CATALOG, "runtime-composite").endswith("-composite-full")
    assert image_ref(full, CATALOG, "runtime-no-composite") == image_ref(s, CATALOG, "runtime-no-composite")  # no composite, same tag
    assert image_ref(s, CATALOG, "runtime-composite").endswith("-composite")
    assert full.workspace.build_record.name == "build-all-full.json" and s.workspace.build_record.name == "build-all.json"
    assert with_mode(s, "hot", ("runtime",)).crossgen.mode["aspnet"] == s.crossgen.mode["aspnet"]
    with pytest.raises(DciError) as exc:
        with_mode(s, "fastest")
    assert "full" in str(exc.value) and "hot" in str(exc.value)


def test_the_old_partial_setting_is_refused_with_its_replacement():
    from crossgen.core.settings import from_config

    with pytest.raises(DciError) as exc:
        from_config({"dci": {"crossgen": {"partial": ["runtime"]}}}, PROJECT_ROOT)
    assert "crossgen.mode" in str(exc.value)


def test_the_sdk_layer_takes_the_newest_stable_sdk(tmp_path):
    from types import SimpleNamespace

    from crossgen.images.specs import sdk_for

    root = tmp_path / "dotnet"
    for name in ("10.0.100-rc.2.25502.107", "10.0.401", "9.0.300", "latest", "10.0.500-preview.1.26001.1"):
        (root / "sdk" / name).mkdir(parents=True)
        (root / "sdk" / name / "dotnet.runtimeconfig.json").write_text(
            '{"runtimeOptions": {"framework": {"name": "Microsoft.NETCore.App", "version": "%s.0"}}}' % name[:4].rstrip("."))
    s = e2e_settings(dotnet_root=root, local_path=None)
    ten = SimpleNamespace(version="10.0.15", sdk_root=None)
    assert (sdk_for(s, ten).root, sdk_for(s, ten).version) == (root, "10.0.401")
    assert sdk_for(s, SimpleNamespace(version="9.0.23", sdk_root=None)).version == "9.0.300"
    for name in ("10.0.401", "9.0.300"):
        for f in (root / "sdk" / name).iterdir():
            f.unlink()
        (root / "sdk" / name).rmdir()
    assert sdk_for(s, ten).version == "10.0.500-preview.1.26001.1"  # a preview only when there is nothing else
    for p in (root / "sdk").iterdir():
        for f in p.iterdir():
            f.unlink()
        p.rmdir()
    assert sdk_for(s, ten).version is None and "no SDK in" in sdk_for(s, ten).why
