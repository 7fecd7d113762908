"""Per-channel knowledge (crossgen/core/channels.py) and what reads it: Crossgen2's spelling of the
instruction set, the samples' target framework, the SDK an SDK image may hold, runtime-deps packages."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest

from crossgen.acquire.versionspec import support_type
from crossgen.compile.compiler import crossgen_arguments
from crossgen.compile.samples import retarget, target_for
from crossgen.core import channels
from crossgen.core.errors import DciError
from crossgen.images.baseimage import runtime_deps_packages
from crossgen.images.specs import sdk_for
from tests.pipeline_support import e2e_settings


@pytest.mark.parametrize("version, spelled", [
    ("8.0.34", "x86-x64-v3"), ("9.0.23", "x86-x64-v3"), ("10.0.15", "x86-64-v3"), ("11.0.0", "x86-64-v3"),
    ("12.0.0-preview.1.26000.1", "x86-64-v3"),
])
def test_crossgen2_gets_the_instruction_set_as_its_version_spells_it(version, spelled):
    # 8.0.34 and 9.0.23 refuse x86-64-v3, 10.0 and 11.0.0 refuse x86-x64-v3 (each tried by hand with the feed's packs)
    s = e2e_settings()
    s = replace(s, crossgen=replace(s.crossgen, instruction_set="x86-64-v3"))
    args = crossgen_arguments(s, "x.r2r.dll", ["/work/in/a.dll"], [], crossgen2_version=version)
    assert f"--instruction-set:{spelled}" in args
    # the old spelling in the configuration is translated too, and lists keep their other parts
    assert channels.instruction_set("x86-x64-v3,avx512f", version) == f"{spelled},avx512f"
    assert channels.instruction_set("avx2,bmi2", version) == "avx2,bmi2"


def test_channel_table_and_rules():
    assert [c.channel for c in channels.CHANNELS] == ["8.0", "9.0", "10.0", "11.0"]
    assert channels.channel_info("8.0.34").tfm == "net8.0" and channels.channel_info("11.0.0").tfm == "net11.0"
    assert channels.channel_info("10.0").known and not channels.channel_info("12.0.1").known
    assert channels.channel_info("12.0.1").support == "lts" and channels.channel_info("13.0").support == "sts"
    assert support_type("9.0") == "sts" and support_type("10") == "lts" and support_type("3.1") is None
    assert channels.sdk_targets("10.0.401", "8.0") and channels.sdk_targets("10.0.401", "10.0")
    assert not channels.sdk_targets("10.0.401", "11.0")
    assert channels.runs_on("10.0.12", "10.0.15") and not channels.runs_on("10.0.12", "10.0.10")
    assert not channels.runs_on("10.0.12", "11.0.0") and not channels.runs_on("10.0.12", "8.0.34")


def _layout(root: Path, sdks: dict[str, str]) -> Path:
    """A dotnet layout with a `dotnet` file and SDK folders, each needing the given runtime."""
    root.mkdir(parents=True)
    (root / "dotnet").write_text("#!/bin/sh\n")
    for sdk, runtime in sdks.items():
        folder = root / "sdk" / sdk
        folder.mkdir(parents=True)
        (folder / "dotnet.runtimeconfig.json").write_text(json.dumps(
            {"runtimeOptions": {"tfm": "net10.0", "framework": {"name": "Microsoft.NETCore.App", "version": runtime}}}))
    return root


def test_samples_target_the_channel_or_roll_forward_when_no_sdk_here_targets_it(tmp_path):
    s = e2e_settings(dotnet_root=_layout(tmp_path / "dotnet", {"10.0.401": "10.0.12"}))
    assert target_for(s, "8.0.34").tfm == "net8.0" and not target_for(s, "8.0.34").roll_forward
    assert target_for(s, "10.0.15").tfm == "net10.0"
    newer = target_for(s, "11.0.0")
    assert newer.tfm == "net10.0" and newer.roll_forward and newer.tag == "net10.0-rollforward"
    assert "RollForward=Major" in newer.note and "net11.0" in newer.note and "10.0.401" in newer.note


def test_retarget_rewrites_the_target_framework_of_a_copy(tmp_path):
    project = tmp_path / "app.csproj"
    project.write_text("<Project Sdk=\"Microsoft.NET.Sdk\"><PropertyGroup><TargetFramework>net10.0</TargetFramework>"
                       "</PropertyGroup></Project>")
    retarget(project, "net8.0")
    assert "<TargetFramework>net8.0</TargetFramework>" in project.read_text() and "net10.0" not in project.read_text()
    project.write_text("<Project><PropertyGroup><TargetFrameworks>net8.0;net10.0</TargetFrameworks></PropertyGroup></Project>")
    with pytest.raises(DciError, match="single <TargetFramework>"):
        retarget(project, "net8.0")


def test_an_sdk_image_only_holds_an_sdk_that_starts_on_its_runtime(tmp_path):
    machine = _layout(tmp_path / "machine", {"10.0.401": "10.0.12", "10.0.100": "10.0.0"})
    s = e2e_settings(dotnet_root=machine, local_path=None)
    chosen = sdk_for(s, SimpleNamespace(version="10.0.15", sdk_root=None))
    assert chosen.version == "10.0.401" and chosen.root == machine
    for runtime, channel in (("11.0.0", "11.0"), ("8.0.34", "8.0")):
        none = sdk_for(s, SimpleNamespace(version=runtime, sdk_root=None))
        assert none.version is None and none.root is None
        assert f"no {channel} SDK from the configured sources" in none.why and "SDK 10.0.401" in none.why
    # an older patch than the SDK needs: not that SDK (10.0.100 starts on 10.0.0 and is taken instead)
    assert sdk_for(s, SimpleNamespace(version="10.0.10", sdk_root=None)).version == "10.0.100"
    # a second layout with an 8.0 SDK (dci.local_path) serves the 8.0 images
    other = _layout(tmp_path / "other", {"8.0.416": "8.0.22"})
    s8 = e2e_settings(dotnet_root=machine, local_path=other)
    assert sdk_for(s8, SimpleNamespace(version="8.0.34", sdk_root=None)).version == "8.0.416"


def test_runtime_deps_packages_follow_the_debian_suite():
    s = e2e_settings()
    assert "libicu76" in runtime_deps_packages(replace(s, runtime_deps_packages=(), debian_suite="trixie"))
    assert "libicu72" in runtime_deps_packages(replace(s, runtime_deps_packages=(), debian_suite="bookworm"))
    assert runtime_deps_packages(replace(s, runtime_deps_packages=("libc6",), debian_suite="sid")) == ("libc6",)
    with pytest.raises(DciError, match="dci.runtime_deps_packages"):
        runtime_deps_packages(replace(s, runtime_deps_packages=(), debian_suite="sid"))


def test_channels_flag_takes_channels_once_each_and_names_itself_when_wrong():
    from crossgen.cli import channel_list

    assert channel_list("--channels", "10.0, 11.0,10.0") == ("10.0", "11.0")
    assert channel_list("--channels", None) == () and channel_list("--channels", "") == ()
    with pytest.raises(DciError) as exc:
        channel_list("--channels", "10.0,eleven")
    assert "--channels 'eleven'" in str(exc.value)


def _point(variant, sample, size, median, jit, *, baseline):
    ratio = lambda a, b: round(a / b, 2)  # noqa: E731
    return {"variant": variant, "sample": sample, "mode": "baseline" if variant == 1 else "default", "size": size,
            "median_ms": median, "jit": jit,
            "size_ratio": None if variant == 1 else ratio(size, baseline[0]),
            "startup_ratio": None if variant == 1 else ratio(median, baseline[1]),
            "jit_ratio": None if variant == 1 else ratio(jit, baseline[2])}


def test_the_channel_table_puts_each_channel_beside_the_others_against_its_own_baseline():
    from crossgen.report.render import md_channels

    base8, base11 = (200e6, 100.0, 400), (220e6, 90.0, 500)
    section = {"runs": 3, "channels": [
        {"channel": "8.0", "dotnet_version": "8.0.34", "not_built": [], "points": [
            _point(1, "hello", *base8, baseline=base8), _point(2, "hello", 190e6, 80.0, 100, baseline=base8)]},
        {"channel": "11.0", "dotnet_version": "11.0.0", "points": [
            _point(1, "hello", *base11, baseline=base11), _point(2, "hello", 240e6, 95.0, 600, baseline=base11)],
         "not_built": [{"key": "sdk-no-composite", "ref": "x", "why": "no 11.0 SDK from the configured sources"}]},
    ]}
    lines = md_channels({"channels": section})
    table = "\n".join(lines)
    assert "| variant | sample | 8.0: image MB / startup ms / JIT | 11.0: image MB / startup ms / JIT |" in table
    row2 = next(line for line in lines if line.startswith("| 2 | hello |"))
    assert "190.0 (x0.95) / 80 (x0.80) / 100 (x0.25)" in row2 and "240.0 (x1.09) / 95 (x1.06) / 600 (x1.20)" in row2
    assert "- 8.0 (.NET 8.0.34): JIT-compiled methods at or below the baseline's on 1 of 1 points" in table
    assert "- 11.0 (.NET 11.0.0): JIT-compiled methods at or below the baseline's on 0 of 1 points, startup median below " \
           "the baseline's on 0 of 1" in table
    assert "not built: 1 images (no 11.0 SDK from the configured sources)" in table
    assert md_channels({"channels": None}) == []
