"""App approaches (issue 13): how a sample is published is one catalog entry (``PUBLISH_KINDS``), and
everything downstream (folder, digest, bubble, image, verify) follows it. Pure logic here; the real
publishes, builds and runs are in ``test_approaches_e2e.py``."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from crossgen import pipeline
from crossgen.compile import r2r
from crossgen.compile.samples import (
    FRAMEWORK_DEPENDENT, SELF_CONTAINED, _mode, analysis_warnings, cross_aot, pin_targets, planned, publish_errors, record_path, source_digest,
)
from crossgen.core.errors import DciError
from crossgen.images.catalog import (
    CATALOG, PUBLISH_KINDS, RUNTIME_DEPS, VARIANTS, AppImage, Catalog, Sample, Variant, app_bubble, for_app, publish_kind,
)
from crossgen.verify.checks import Check, failure_reason, native_app_structure, not_applicable_r2r
from tests.pipeline_support import e2e_settings

# Lines as `dotnet publish` prints them: MSBuild repeats each warning in its closing summary.
TRIM_WARNING = ("/src/hello/Program.cs(10): Trim analysis warning IL2026: Program.<Main>$(String[]): Using member "
                "'System.Text.Json.JsonSerializer.Serialize<Dictionary`2<Int32,Int32>>(...)' which has 'RequiresUnreferencedCodeAttribute' "
                "can break functionality when trimming application code. [/src/hello/hello.csproj]")
AOT_WARNING = ("/src/hello/Program.cs(10): AOT analysis warning IL3050: Program.<Main>$(String[]): Using member "
               "'System.Text.Json.JsonSerializer.Serialize<...>' which has 'RequiresDynamicCodeAttribute' [/src/hello/hello.csproj]")


# the same call site, as the Roslyn analyzer reports it at build time
ANALYZER_WARNING = ("/src/hello/Program.cs(10,12): warning IL2026: Using member 'System.Text.Json.JsonSerializer.Serialize<TValue>"
                    "(TValue, JsonSerializerOptions)' which has 'RequiresUnreferencedCodeAttribute' [/src/hello/hello.csproj]")
FRAMEWORK_WARNING = "ILLink : Trim analysis warning IL2104: Assembly 'Some.Library' produced trim warnings. [/src/hello/hello.csproj]"


def test_warnings_are_counted_once_per_call_site_by_code():
    output = "\n".join(["  Determining projects to restore...", ANALYZER_WARNING, TRIM_WARNING, AOT_WARNING, "  Generating native code",
                        TRIM_WARNING.replace("(10)", "(12)"), FRAMEWORK_WARNING, "Build succeeded.", ANALYZER_WARNING, TRIM_WARNING,
                        AOT_WARNING, FRAMEWORK_WARNING, "    2 Warning(s)"])
    assert analysis_warnings(output) == {"IL2026": 2, "IL2104": 1, "IL3050": 1}
    assert analysis_warnings("  hello -> /out/\nBuild succeeded.\n    0 Warning(s)") == {}
    # a compiler warning is not a trimming/AOT one
    assert analysis_warnings("Program.cs(3,1): warning CS8600: Converting null literal") == {}


def test_a_failed_publish_is_explained_by_the_compilers_own_errors():
    out = "\n".join(["  Restored /src/x/x.csproj", "/root/.nuget/ilcompiler/build/Microsoft.NETCore.Native.Publish.targets(73,5): error : "
                     "Overriding System.Private.CoreLib.dll with a newer version is not supported. [/src/x/x.csproj]",
                     "Build FAILED.", "/root/.nuget/ilcompiler/build/Microsoft.NETCore.Native.Publish.targets(73,5): error : "
                     "Overriding System.Private.CoreLib.dll with a newer version is not supported. [/src/x/x.csproj]", "    1 Error(s)"])
    reason = publish_errors(out)
    assert reason.count("Overriding System.Private.CoreLib.dll") == 1 and "[/src/x/x.csproj]" not in reason
    assert publish_errors("a\nb\nsomething went wrong") == "a | b | something went wrong"  # no error line: the last lines


def test_publish_kinds_are_declared_once_and_found_by_name():
    names = [p.name for p in PUBLISH_KINDS]
    assert names == ["fd", "sc", "trimmed", "aot", "sdk-composite"] and len(set(names)) == len(names)
    assert publish_kind("fd") is FRAMEWORK_DEPENDENT and publish_kind("sc") is SELF_CONTAINED
    aot = publish_kind("aot")
    assert aot.native and aot.self_contained and not aot.pin_runtime and aot.entry("web") == "web"
    assert ("PublishAot", "true") in aot.properties and "-p:PublishAot=true" in aot.flags()
    assert publish_kind("trimmed").entry("web") == "web.dll" and "-p:PublishTrimmed=true" in publish_kind("trimmed").flags()
    assert publish_kind("sdk-composite").sdk_composite and publish_kind("sdk-composite").pin_crossgen2
    with pytest.raises(DciError, match="choose one of: fd, sc"):
        publish_kind("jit-only")


def test_versions_are_pinned_for_self_contained_publishes_but_not_for_native_aot():
    assert pin_targets(FRAMEWORK_DEPENDENT, "10.0.15", None) is None
    sc = pin_targets(SELF_CONTAINED, "10.0.15", "10.0.15")
    assert 'LatestRuntimeFrameworkVersion="10.0.15"' in sc and "Crossgen2" not in sc
    # the SDK's own ReadyToRun takes our Crossgen2's version (the SDK would take its own, 10.0.12 with SDK 10.0.401)
    sdk = pin_targets(publish_kind("sdk-composite"), "10.0.15", "10.0.15")
    assert 'LatestRuntimeFrameworkVersion="10.0.15"' in sdk and 'Crossgen2PackVersion="10.0.15"' in sdk
    # the NativeAOT runtime pack must match the SDK's ILCompiler pack: a newer runtime pack is refused
    assert pin_targets(publish_kind("aot"), "10.0.15", None) is None
    assert pin_targets(publish_kind("trimmed"), "10.0.15", None) is not None


def test_native_aot_for_another_architecture_is_linked_by_debians_cross_gcc(monkeypatch, tmp_path):
    """Only Native AOT for another architecture than this x64 machine's crosses: its link goes to
    aarch64-linux-gnu-gcc, and the clang-style --target the SDK adds is taken out (gcc refuses it)."""
    aot = publish_kind("aot")
    assert cross_aot(aot, "linux-x64") is None and cross_aot(SELF_CONTAINED, "linux-arm64") is None
    assert cross_aot(publish_kind("trimmed"), "linux-arm64") is None  # IL: nothing is linked
    targets, flags = cross_aot(aot, "linux-arm64")
    assert flags == ["-p:CppCompilerAndLinker=aarch64-linux-gnu-gcc", "-p:ObjCopyName=aarch64-linux-gnu-objcopy"]
    assert '<LinkerArg Remove="--target=$(TargetTriple)" />' in targets and 'AfterTargets="SetupOSSpecificProps"' in targets
    import xml.etree.ElementTree as ET
    ET.fromstring(targets)  # a well-formed project file
    monkeypatch.setenv("PATH", str(tmp_path))  # no cross compiler
    with pytest.raises(DciError) as err:
        cross_aot(aot, "linux-arm64")
    assert "aarch64-linux-gnu-gcc" in err.value.cause and "gcc-aarch64-linux-gnu" in err.value.fix
    with pytest.raises(DciError, match="only for x64, arm64"):
        cross_aot(aot, "linux-riscv64")


def test_each_approach_publishes_into_its_own_folder_and_self_contained_keeps_its_old_one():
    s = e2e_settings()
    src = s.project_root / "samples" / "hello"
    folders = {}
    for kind in PUBLISH_KINDS:
        rid = "linux-x64" if kind.self_contained else None
        sample, _ = planned(s, "hello", kind=kind, rid=rid, runtime_version="10.0.15" if rid else None, crossgen2_version="10.0.15")
        folders[kind.name] = sample.path.name
        assert sample.kind == kind.name and record_path(sample.path).name == sample.path.name + ".publish.json"
    assert len(set(folders.values())) == len(folders)
    # the self-contained folder (variant 5's) is named and hashed as before the approaches came
    assert folders["sc"] == f"hello-sc-linux-x64-10.0.15-{source_digest(src, 'sc-linux-x64-10.0.15')}"
    assert folders["fd"] == f"hello-fd-{source_digest(src, 'fd')}"
    assert folders["aot"].startswith("hello-aot-linux-x64-sdk-")  # the SDK's own packs (the record says which)
    assert _mode(publish_kind("sdk-composite"), "linux-x64", "10.0.15", crossgen2_version="10.0.14") == "sdk-composite-linux-x64-10.0.15-cg10.0.14"
    with pytest.raises(DciError, match="runtime identifier"):
        _mode(publish_kind("trimmed"), None, "10.0.15")


def test_the_catalog_compiles_an_app_bubble_per_sample_and_approach():
    assert app_bubble("app", "sc", "web") == "app-web"  # variant 5's results and tags as they were
    assert app_bubble("app", "trimmed", "web") == "app-trimmed-web"
    assert CATALOG.images["sample-web-trimmed-composite"].bubbles == ("app-trimmed-web",)
    assert CATALOG.images["sample-web-aot"].bubbles == () and CATALOG.images["sample-web-sdk-composite"].bubbles == ()
    assert CATALOG.images["sample-web-aot"].self_contained and CATALOG.images["sample-web-aot"].approach.native
    assert not CATALOG.images["sample-web-no-composite"].self_contained
    v6, v7, v8 = (CATALOG.variant(n) for n in (6, 7, 8))
    assert CATALOG.bubbles_of([v6]) == ("app",) and CATALOG.bubbles_of([v7]) == () and CATALOG.bubbles_of([v8]) == ()
    images = CATALOG.build_order(CATALOG.selection([v6, v7]))
    assert CATALOG.publish_kinds(images)["hello"] == ("fd", "trimmed", "aot")
    everything = CATALOG.publish_kinds(CATALOG.build_order(CATALOG.selection(None)))
    assert everything["service"] == ("fd", "sc") and everything["web"] == ("fd",)  # variant 5: not the minimal samples
    for v in (v6, v7, v8):
        assert v.built_with == (1,) and v.runs == {"console": "app", "web": "app"} and not v.in_build_all
        assert CATALOG.runner(v, CATALOG.sample("web")) == f"sample-web-{v.apps[0].suffix}"


def test_an_added_approach_is_one_entry():
    v = Variant(11, "sc-again", "self-contained again", "11", "#000",
                apps=(AppImage("sc-again", {"console": RUNTIME_DEPS, "web": RUNTIME_DEPS}, publish="trimmed"),),
                runs={"console": "app", "web": "app"}, built_with=(1,))
    cat = Catalog(variants=VARIANTS + (v,))
    assert [i.key for i in cat.images_of(v)] == [f"sample-{n}-sc-again" for n in ("hello", "web", "broad", "service")]
    assert cat.publish_kinds(cat.images_of(v))["broad"] == ("fd", "trimmed")
    with pytest.raises(DciError, match="not declared"):
        Catalog(variants=VARIANTS + (Variant(11, "x", "x", "x", "#000", apps=(AppImage("x", {"console": RUNTIME_DEPS, "web": RUNTIME_DEPS},
                                                                                             publish="wasm"),)),))
    with pytest.raises(DciError, match="self-contained publish"):
        Catalog(variants=VARIANTS + (Variant(11, "x", "x", "x", "#000", apps=(AppImage("x", {"console": RUNTIME_DEPS, "web": RUNTIME_DEPS},
                                                                                             publish="fd", bubble="app"),)),))


def test_a_users_app_gets_the_framework_dependent_and_self_contained_variants_only():
    cat = for_app(Sample("mine", "web", source="/src/mine", probe="/"))
    assert [v.number for v in cat.variants] == [1, 2, 3, 4, 5]
    assert [v.number for v in for_app(Sample("mine", "web", source="/x", probe="/"), self_contained=False).variants] == [1, 2, 3, 4]


def test_a_failed_run_is_explained_by_the_runtimes_words():
    out = ("Unhandled exception. System.InvalidOperationException: Reflection-based serialization has been disabled for this "
           "application.\n   at System.Text.Json.ThrowHelper.ThrowInvalidOperationException_JsonSerializerIsReflectionDisabled() + 0x27\n")
    check = Check("img", "console-runs", False, "exit 134: Unhandled exception.", {"output": out})
    assert failure_reason(check).startswith("Unhandled exception. System.InvalidOperationException: Reflection-based serialization")
    check = Check("img", "web-answers", False, "no HTTP 200 within the time limit (40 s); logs: ", {"logs": ""})
    assert failure_reason(check) == "no HTTP 200 within the time limit (40 s); logs: "


def test_native_aot_has_no_r2r_to_check_and_says_why():
    check = not_applicable_r2r("img", 0, "Native AOT: no JIT, no ReadyToRun code")
    assert check.passed and check.name == "r2r-used" and check.data["jit_r2r"] == 0
    assert "not applicable" in check.detail and check.data["not_applicable"]


def test_a_native_app_folder_holds_an_executable_and_no_managed_assembly(tmp_path):
    app = tmp_path / "app"
    app.mkdir()
    exe = app / "web"
    exe.write_bytes(b"\x7fELF" + b"\0" * 60)
    os.chmod(exe, 0o755)
    assert native_app_structure(r2r.classify_tree(app), app, "img", "web").passed
    exe.chmod(0o644)
    assert "not executable" in native_app_structure(r2r.classify_tree(app), app, "img", "web").detail
    exe.chmod(0o755)
    # a managed assembly beside it (a real one, from the SDK's dotnet layout) is not what Native AOT makes
    dotnet = Path(shutil.which("dotnet") or "/usr/share/dotnet/dotnet").resolve().parent
    shutil.copy(next(dotnet.glob("shared/Microsoft.NETCore.App/*/System.Runtime.dll")), app / "System.Runtime.dll")
    check = native_app_structure(r2r.classify_tree(app), app, "img", "web")
    assert not check.passed and "managed assemblies" in check.detail
    assert "no /app/hello" in native_app_structure([], app, "img", "hello").detail


def test_a_native_executable_must_be_for_the_images_architecture(tmp_path):
    """An x64 executable in an arm64 image would run on this x64 machine, natively, and pass every run:
    the structure check reads its ELF machine (the real one of this machine's `true`, an x64 executable)."""
    app = tmp_path / "app"
    app.mkdir()
    shutil.copy(shutil.which("true"), app / "web")
    assert native_app_structure([], app, "img", "web", "linux-x64").passed
    check = native_app_structure([], app, "img", "web", "linux-arm64")
    assert not check.passed and "executable for x64, built for linux-arm64 (arm64)" in check.detail


def test_an_app_that_runs_only_with_its_readytorun_code_fails_the_r2r_check_with_the_runtimes_reason():
    from crossgen.verify.checks import check_r2r_used

    why = "Unhandled exception. System.TypeLoadException: Method 'GetEnumerator' in type 'X509Certificate2Collection' ..."
    check = check_r2r_used("img", 24, None, None, composite=True, reasons=("", why))
    assert not check.passed and "runs only with its ReadyToRun code" in check.detail and "TypeLoadException" in check.detail
    check = check_r2r_used("img", None, None, None, composite=True, reasons=("", ""))
    assert not check.passed and "did not report its JIT count" in check.detail
    assert check_r2r_used("img", 24, 6700, None, composite=True, reasons=("", "")).passed


def test_the_sdks_own_composite_is_measured_against_the_baseline_but_not_held_to_it():
    """The SDK's composite (variant 8) is built to compare with: JIT-compiling more than the baseline fails
    this tool's composites, and is said, not failed, for the SDK's; its ReadyToRun code must still be used."""
    from crossgen.verify.checks import check_r2r_used

    ours = check_r2r_used("img", 115, 2566, 111, composite=True)
    assert not ours.passed and "more than the baseline's 111" in ours.detail
    sdk = check_r2r_used("img", 115, 2566, 111, composite=True, held=False)
    assert sdk.passed and "more than the baseline" in sdk.detail and sdk.data["jit_baseline"] == 111
    assert "more than" not in check_r2r_used("img", 100, 2566, 111, composite=True, held=False).detail
    assert not check_r2r_used("img", 2000, 2566, 111, composite=True, held=False).passed  # R2R code not used


def test_the_run_check_gives_the_count_with_readytorun_and_only_the_run_without_it_is_added(monkeypatch):
    """verify's r2r-used: the console-runs / web-answers check already ran the sample as it is; its count
    is taken, and the sample runs once more, with DOTNET_ReadyToRun=0 only. A run check that reported
    no count gives the reason in the runtime's words."""
    from crossgen.verify import checks

    calls = []
    monkeypatch.setattr(checks, "jit_count", lambda api, ref, sample, web, env=None: (calls.append(env), checks.JitRun(6700))[1])
    reasons: list[str] = []
    ran = Check("img", "console-runs", True, "exit 0: Hello", {"jit_methods": 24, "output": "Hello"})
    assert checks.jit_counts(None, "img", None, False, reasons, ran=ran) == (24, 6700)
    assert calls == [checks.R2R_OFF] and reasons == ["", ""]
    failed = Check("img", "console-runs", False, "exit 134", {"jit_methods": None, "output": "Unhandled exception. System.TypeLoadException: gone"})
    reasons.clear()
    assert checks.jit_counts(None, "img", None, False, reasons, ran=failed) == (None, 6700)
    assert "System.TypeLoadException: gone" in reasons[0] and reasons[1] == ""
    calls.clear()
    assert checks.jit_counts(None, "img", None, False) == (6700, 6700) and calls == [{}, checks.R2R_OFF]  # no run check: both runs


def test_a_web_failure_names_the_exception_the_server_logged_even_far_before_the_end_of_its_logs():
    from crossgen.verify.checks import first_exception

    logs = ("info: Microsoft.Hosting.Lifetime[14]\n      Now listening on: http://127.0.0.1:5000\n"
            "fail: Microsoft.AspNetCore.Server.Kestrel[13]\n      An unhandled exception was thrown by the application.\n"
            "      System.NotSupportedException: JsonTypeInfo metadata for type 'OrderRequest' was not provided.\n"
            + "         at Microsoft.AspNetCore.Routing.EndpointRoutingMiddleware.Invoke(HttpContext httpContext)\n" * 40)
    check = Check("x/web:1", "web-answers", False, "no HTTP 200 within the time limit (40 s); logs: " + logs[-300:],
                  {"logs": logs[-1500:], "exception": first_exception(logs)})
    assert "OrderRequest" not in check.data["logs"]   # what is kept of the logs no longer shows it
    assert failure_reason(check).startswith("System.NotSupportedException: JsonTypeInfo metadata for type 'OrderRequest'")


def test_an_exception_a_single_line_logger_wrote_after_its_message_is_found():
    from crossgen.verify.checks import first_exception

    line = ('19:10:24.668 fail: Microsoft.AspNetCore.Server.Kestrel[13] Connection id "0HN", Request id "0HN:01": An unhandled '
            "exception was thrown by the application. System.NotSupportedException: JsonTypeInfo metadata for type 'OrderRequest' "
            "was not provided by TypeInfoResolver")
    assert first_exception("info: started\n" + line) == ("System.NotSupportedException: JsonTypeInfo metadata for type 'OrderRequest' "
                                                          "was not provided by TypeInfoResolver")
    assert first_exception("info: Microsoft.Hosting.Lifetime[14] Now listening on: http://127.0.0.1:5000") == ""


def test_trial_runs_are_remembered_by_the_images_input_digest(tmp_path):
    path = tmp_path / "build" / "trials.json"
    trials = pipeline.Trials(path)
    assert trials.get("d1") is None and trials.get(None) is None  # nothing tried yet: every image is tried
    trials.put("d1", "")
    trials.put("d2", "Native AOT apps: published, but fails at run time: NotSupportedException")
    again = pipeline.Trials(path)  # what a later build reads
    assert again.get("d1") == "" and again.get("d2").endswith("NotSupportedException") and again.get("d3") is None
    trials.put(None, "no digest: nothing to remember it by")
    assert set(json.loads(path.read_text())) == {"d1", "d2"}
    path.write_text("{half a file")
    assert again.get("d1") is None  # unreadable: tried again, as if never tried


def test_a_trial_that_ran_out_of_time_is_not_remembered(tmp_path):
    path = tmp_path / "trials.json"
    trials = pipeline.Trials(path)
    slow = pipeline.TrialRun("Native AOT apps: published, but fails at run time: still running after 120 s", timed_out=True)
    why = trials.record("d1", slow)
    assert why.startswith(slow.why) and "not remembered" in why  # not kept this time, and the build says why
    assert trials.get("d1") is None and not path.exists()        # the next build tries it again
    failed = pipeline.TrialRun("Trimmed apps: published, but fails at run time: NotSupportedException")
    assert trials.record("d1", failed) == failed.why and trials.get("d1") == failed.why
    assert trials.record("d2", pipeline.TrialRun()) == "" and trials.get("d2") == ""


def test_a_trial_whose_run_without_readytorun_ran_out_of_time_says_so(monkeypatch):
    """The trial's second run (its composite's code off) that does not end in time is a timeout too, not
    a program that fails without its ReadyToRun code: the build does not remember it."""
    from crossgen.verify import checks

    img = CATALOG.images["sample-hello-trimmed-composite"]
    monkeypatch.setattr(checks, "check_console", lambda api, ref, sample: Check(ref, "console-runs", True, "exit 0", {}))
    monkeypatch.setattr(checks, "jit_count", lambda *a: checks.JitRun(None, "no exit in time", timed_out=True))
    run = pipeline.trial_run(None, CATALOG, img, "img")
    assert run.timed_out and run.why.endswith("it fails: no exit in time")
    monkeypatch.setattr(checks, "jit_count", lambda *a: checks.JitRun(None, "System.TypeLoadException: gone"))
    run = pipeline.trial_run(None, CATALOG, img, "img")
    assert not run.timed_out and run.why.endswith("System.TypeLoadException: gone")
