"""linux-arm64 without Docker: the version every pack serves, tags, the Crossgen2 tool image's
architecture, Crossgen2's arguments, SDK images not built, records per architecture, the `dotnet`
host built for arm64, the emulation check and verify's scaled time limits. The end-to-end
counterpart (real builds and containers under qemu) is ``test_arm64_e2e.py``."""

from __future__ import annotations

import platform
import subprocess
from pathlib import Path

import pytest

from crossgen import cli
from crossgen.acquire import muxer
from crossgen.acquire.model import PACK_IDS
from crossgen.acquire.sources import NuGetSource
from crossgen.compile.compiler import crossgen_arguments
from crossgen.core.errors import DciError
from crossgen.core.settings import from_config
from crossgen.images import baseimage, specs
from crossgen.images.catalog import ARCHES, CATALOG, arch_of
from crossgen.verify import checks as verify
from tests.pipeline_support import ROOT, e2e_settings

EPOCH = 1_764_338_971  # runtime-deps' SOURCE_DATE_EPOCH (its OS base's creation time)
# What the feed served on 2026-11-25 (the environment's package list): arm64 packs stop at other patches
# than x64's, and Crossgen2 (x64 host) at its own.
FEED = {
    "Microsoft.NETCore.App.Runtime.linux-arm64": ["9.0.23", "10.0.12", "10.0.15"],
    "Microsoft.AspNetCore.App.Runtime.linux-arm64": ["8.0.34", "9.0.20", "9.0.21", "9.0.22", "9.0.23", "10.0.12", "10.0.13", "10.0.14"],
    "Microsoft.NETCore.App.Runtime.linux-x64": [f"10.0.{p}" for p in range(11, 16)],
    "Microsoft.AspNetCore.App.Runtime.linux-x64": [f"10.0.{p}" for p in range(10, 16)],
    "Microsoft.NETCore.App.Crossgen2.linux-x64": ["9.0.23", "10.0.12", "10.0.13", "10.0.14", "10.0.15"],
}


class _Feed:
    index_url = "http://127.0.0.1:9/v3/index.json"

    def nupkg_url(self, pid: str, version: str) -> str:
        return f"http://127.0.0.1:9/{pid}/{version}.nupkg"


def _nuget(feed: dict[str, list[str]]) -> NuGetSource:
    src = NuGetSource(session=None, settings=e2e_settings())  # type: ignore[arg-type]
    src._feed = _Feed()
    src._versions = dict(feed)
    return src


@pytest.mark.parametrize("rid, channel, want", [
    ("linux-arm64", "10.0", "10.0.12"),   # arm64 runtime 10.0.12/15, ASP.NET up to .14: the newest both serve
    ("linux-x64", "10.0", "10.0.15"),
    ("linux-arm64", "9.0", "9.0.23"),
])
def test_the_version_is_the_newest_every_pack_and_crossgen2_serve(rid, channel, want):
    src = _nuget(FEED)
    plan = src.resolve(channel, rid, ("runtime", "aspnetcore"), src.crossgen2_accept("linux-x64"))
    assert plan.version == want
    assert {a.package_id for a in plan.artifacts.values()} == {
        PACK_IDS["runtime"].format(rid=rid), PACK_IDS["aspnetcore"].format(rid=rid)}


def test_no_version_every_pack_serves_is_an_error_naming_the_packs():
    feed = dict(FEED, **{"Microsoft.AspNetCore.App.Runtime.linux-arm64": ["10.0.13"]})
    src = _nuget(feed)
    with pytest.raises(DciError) as err:
        src.resolve("10.0", "linux-arm64", ("runtime", "aspnetcore"), src.crossgen2_accept("linux-x64"))
    assert "linux-arm64" in str(err.value)


def arm64():
    return e2e_settings(rid="linux-arm64")


def test_arm64_tags_end_with_the_arch_suffix_and_x64_tags_do_not_change():
    s, x = arm64(), e2e_settings()
    assert specs.image_ref(s, CATALOG, "runtime-composite").endswith(":10.0-trixie-slim-composite-arm64v8")
    assert specs.image_ref(s, CATALOG, "runtime-deps").endswith("runtime-deps:10.0-trixie-slim-arm64v8")
    assert specs.image_ref(x, CATALOG, "runtime-composite").endswith(":10.0-trixie-slim-composite")
    assert baseimage.os_image(s) == s.base_image + "-arm64v8" and baseimage.os_image(x) == x.base_image
    # the compile mode's suffix comes before the architecture's, as dotnet-docker ends tags with it
    moded = s.with_overrides(crossgen=s.crossgen.__class__(**{**s.crossgen.__dict__, "mode_tag": "full"}))
    assert specs.image_ref(moded, CATALOG, "runtime-composite").endswith(":10.0-trixie-slim-composite-full-arm64v8")
    # every framework and app image of arm64 is tagged apart from x64's
    refs = {specs.image_ref(s, CATALOG, k) for k in CATALOG.images} | {specs.image_ref(x, CATALOG, k) for k in CATALOG.images}
    assert len(refs) == 2 * len(CATALOG.images)


def test_arch_ref_handles_a_registry_port_and_no_tag():
    a = arch_of("linux-arm64")
    assert a.ref("127.0.0.1:5000/debian") == "127.0.0.1:5000/debian:latest-arm64v8"
    assert a.ref("debian:trixie-slim") == "debian:trixie-slim-arm64v8"
    assert arch_of("linux-x64").ref("debian:trixie-slim") == "debian:trixie-slim"
    with pytest.raises(DciError, match="s390x"):
        arch_of("linux-s390x")


@pytest.mark.skipif(platform.machine() != "x86_64", reason="the tool image's architecture is this machine's: x64 here")
def test_crossgen2_runs_on_this_machines_runtime_deps_whatever_the_target():
    s = arm64()
    tool = baseimage.with_shell(s)
    assert tool.rid == "linux-x64" and tool.os == "slim"
    assert baseimage.runtime_deps_name(tool).endswith(":10.0-trixie-slim")
    assert baseimage.emulated(s) and not baseimage.emulated(tool)
    assert baseimage.with_shell(e2e_settings()) == e2e_settings()
    assert specs.platform(s) == "linux/arm64" and specs.platform(tool) is None


def test_crossgen2_targets_arm64_without_the_x64_instruction_set():
    a = crossgen_arguments(arm64(), "framework-r2r.dll", ["/work/in/a.dll"], [], crossgen2_version="10.0.12")
    assert "--targetarch:arm64" in a and "--targetos:linux" in a
    assert not [x for x in a if x.startswith("--instruction-set")]
    x = crossgen_arguments(e2e_settings(), "framework-r2r.dll", ["/work/in/a.dll"], [], crossgen2_version="10.0.12")
    assert "--targetarch:x64" in x and "--instruction-set:x86-64-v3" in x


def test_instruction_set_configuration_one_for_all_or_per_architecture():
    one = from_config({"dci": {"rid": "linux-arm64", "crossgen": {"instruction_set": "armv8.2-a"}}}, ROOT)
    assert one.instruction_set == "armv8.2-a"
    per = from_config({"dci": {"rid": "linux-arm64", "crossgen": {"instruction_set": {"x64": "x86-64-v3", "arm64": "armv8.2-a"}}}}, ROOT)
    assert per.instruction_set == "armv8.2-a" and per.with_overrides(rid="linux-x64").instruction_set == "x86-64-v3"
    with pytest.raises(DciError, match="instruction_set.amd64"):
        from_config({"dci": {"crossgen": {"instruction_set": {"amd64": "x86-64-v3"}}}}, ROOT)


@pytest.mark.parametrize("value", ["0.5", "slow", -3])
def test_emulation_timeout_factor_must_be_at_least_one(value):
    with pytest.raises(DciError, match="emulation_timeout_factor"):
        from_config({"dci": {"emulation_timeout_factor": value}}, ROOT)
    assert from_config({"dci": {"emulation_timeout_factor": 4}}, ROOT).emulation_timeout_factor == 4.0


@pytest.mark.skipif(platform.machine() != "x86_64", reason="arm64 is emulated on an x64 machine")
def test_no_sdk_image_for_arm64_and_the_reason_says_why():
    sdk = CATALOG.images["sdk-runtime-composite"]
    why = specs.os_refusal(arm64(), sdk)
    assert "linux-arm64" in why and "SDK" in why
    assert specs.os_refusal(e2e_settings(), sdk) == ""
    assert specs.os_refusal(arm64(), CATALOG.images["runtime-composite"]) == ""


def test_each_architecture_keeps_its_own_build_record_and_verify_folder():
    s, x = arm64(), e2e_settings()
    assert s.workspace.build_record.name == "build-all-arm64.json" and x.workspace.build_record.name == "build-all.json"
    assert s.workspace.verify.name == "verify-arm64" and x.workspace.verify.name == "verify"


def test_rid_flag_takes_declared_linux_architectures_only():
    assert cli.rid_flag(" linux-arm64 ") == "linux-arm64" and cli.rid_flag(None) is None
    for bad in ("linux-s390x", "win-x64", "arm64", "linux-musl-arm64", "linux-bionic-x64"):
        with pytest.raises(DciError):
            cli.rid_flag(bad)


def test_the_muxer_is_built_for_arm64_once_and_a_local_host_of_the_right_arch_is_kept(tmp_path):
    host = muxer.host_for("arm64", tmp_path)
    exe = host / "dotnet"
    assert muxer.elf_arch(exe) == "arm64" and exe.stat().st_mode & 0o111
    mtime = exe.stat().st_mtime_ns
    assert muxer.host_for("arm64", tmp_path) == host and exe.stat().st_mtime_ns == mtime  # cached
    # a layout whose `dotnet` is of the target's architecture is used as it is
    assert muxer.host_for("arm64", tmp_path, local_host_dir=host) == host
    assert not list(tmp_path.glob("hosts/.*"))  # nothing half-written


def test_the_muxer_source_runs_a_dotnet_layout_as_the_real_host_does(tmp_path):
    """Built for this machine and put into a copy of the local layout, it lists the runtimes the real
    `dotnet` lists (the arm64 build runs the same code under emulation in the end-to-end test)."""
    real = e2e_settings().dotnet_root
    if real is None or not (real / "dotnet").is_file():
        pytest.fail("no local dotnet layout: the bootstrap requires one (dotnet on PATH or DOTNET_ROOT)")
    layout = tmp_path / "dotnet"
    layout.mkdir()
    for part in ("host", "shared"):
        (layout / part).symlink_to(real / part)
    subprocess.run(["gcc", "-O2", "-Wall", "-Werror", "-o", str(layout / "dotnet"), str(muxer.SOURCE), "-ldl"], check=True)
    ours = subprocess.run([str(layout / "dotnet"), "--list-runtimes"], capture_output=True, text=True)
    theirs = subprocess.run([str(real / "dotnet"), "--list-runtimes"], capture_output=True, text=True)
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout.replace(str(layout), str(real)) == theirs.stdout and "Microsoft.NETCore.App" in ours.stdout
    (tmp_path / "lonely").mkdir()  # no host/fxr beside it: the muxer says what it misses
    lonely = tmp_path / "lonely" / "dotnet"
    lonely.write_bytes((layout / "dotnet").read_bytes())
    lonely.chmod(0o755)
    res = subprocess.run([str(lonely), "--info"], capture_output=True, text=True)
    assert res.returncode != 0 and "libhostfxr.so" in res.stderr


def test_emulation_missing_or_without_fix_flag_is_refused_with_the_bootstrap_as_fix(tmp_path, monkeypatch):
    s = arm64()
    monkeypatch.setattr(baseimage, "BINFMT", tmp_path)
    with pytest.raises(DciError, match="binfmt_misc is not mounted") as err:
        baseimage.require_emulation(s)
    assert "bootstrap.sh" in err.value.fix
    (tmp_path / "status").write_text("enabled\n")
    with pytest.raises(DciError, match="missing"):
        baseimage.require_emulation(s)
    (tmp_path / "qemu-aarch64").write_text("enabled\ninterpreter /usr/bin/qemu-aarch64-static\nflags: P\n")
    with pytest.raises(DciError, match="F \\(fix binary\\)"):
        baseimage.require_emulation(s)
    (tmp_path / "qemu-aarch64").write_text("enabled\ninterpreter /usr/bin/qemu-aarch64-static\nflags: PF\n")
    baseimage.require_emulation(s)


def test_verify_time_limits_scale_only_inside_the_block():
    assert verify.time_limit(40) == 40
    with verify.time_scale(10):
        assert verify.time_limit(verify.WEB_TIMEOUT_S) == 400
    assert verify.time_limit(40) == 40


def _claim(**kw) -> verify.Claim:
    return verify.Claim(ref="x:1", role="runtime", variant=2, composites={}, **kw)


def test_an_image_whose_config_or_code_is_for_another_arch_fails_structure():
    ok = verify.Check("x:1", "structure", True, "fine")
    verify._check_architecture(ok, _claim(rid="linux-arm64", architecture="arm64"), [])
    assert ok.passed and ok.data["architecture"] == "arm64"
    bad = verify.Check("x:1", "structure", True, "fine")
    verify._check_architecture(bad, _claim(rid="linux-arm64", architecture="amd64"), [])
    assert not bad.passed and "architecture amd64" in bad.detail
    from crossgen.compile import r2r

    code = [r2r.PeInfo(path="shared/x/framework-r2r.dll", kind=r2r.Kind.COMPOSITE, target="linux-x64")]
    wrong = verify.Check("x:1", "structure", True, "fine")
    verify._check_architecture(wrong, _claim(rid="linux-arm64", architecture="arm64"), code)
    assert not wrong.passed and "not for linux-arm64" in wrong.detail


def test_bootstrap_sets_up_arm64_emulation_and_the_cross_compiler():
    text = (Path(ROOT) / "scripts" / "bootstrap.sh").read_text()
    for need in ("qemu-user-static", "binfmt-support", "arch-test", "gcc-aarch64-linux-gnu", "mount -t binfmt_misc", "update-binfmts"):
        assert need in text
    res = subprocess.run(["bash", "-n", str(Path(ROOT) / "scripts" / "bootstrap.sh")])
    assert res.returncode == 0


def test_the_reproducible_rewrite_writes_the_platform_into_the_config():
    from crossgen.dockerio.reproducible import rewrite_config

    config = {"architecture": "amd64", "os": "linux", "variant": "v2", "history": [], "rootfs": {"type": "layers"}}
    out = rewrite_config(config, ["sha256:" + "0" * 64], 0, platform="linux/arm64/v8")
    assert (out["os"], out["architecture"], out["variant"]) == ("linux", "arm64", "v8")
    out = rewrite_config(config, [], 0, platform="linux/arm64")
    assert out["architecture"] == "arm64" and "variant" not in out
    assert rewrite_config(config, [], 0)["architecture"] == "amd64"  # x64 builds: as the daemon wrote it


def test_the_chrootless_hook_removes_what_the_path_filters_would_have_kept_out(tmp_path):
    root = tmp_path / "root"
    for rel in ("usr/share/doc/a/copyright", "usr/share/doc/a/changelog.gz", "usr/share/doc/a/sub/x", "usr/share/doc/b/README",
                "usr/share/man/man1/ls.1.gz", "usr/share/locale/de/LC_MESSAGES/x.mo", "usr/share/info/x.info", "usr/bin/keep"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("x")
    subprocess.run(["sh", "-c", baseimage.SLIM_CHROOTLESS, "sh", str(root)], check=True)
    left = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    assert left == ["usr/bin/keep", "usr/share/doc/a/copyright"]


def test_distroless_arm64_runtime_deps_needs_no_arm64_os_base(tmp_path):
    """Distroless arm64: the installer stage is this machine's OS base fetching the arm64 packages; the image
    (FROM scratch) records linux/arm64. Slim arm64 keeps its arm64 OS base, x64 is as it was."""
    s, x, slim = e2e_settings(rid="linux-arm64", os="distroless"), e2e_settings(os="distroless"), arm64()
    assert baseimage.os_base_settings(x) is x and baseimage.os_base_settings(slim) is slim
    installer = baseimage.os_base_settings(s)
    assert installer.rid == "linux-x64" and installer.os == "distroless"
    spec = specs.runtime_deps_spec(s, EPOCH)
    assert spec.base == s.base_image != baseimage.os_image(s) and spec.scratch and spec.platform == "linux/arm64"
    assert f"FROM {s.base_image} AS installer" in spec.dockerfile
    assert "DEB_ARCH=arm64 MULTIARCH=aarch64-linux-gnu " in spec.dockerfile
    assert spec.ref.endswith("runtime-deps:10.0-trixie-distroless-arm64v8")
    native = specs.runtime_deps_spec(x, EPOCH)
    assert native.base == x.base_image and native.platform is None and "DEB_ARCH=amd64 MULTIARCH=x86_64-linux-gnu " in native.dockerfile
    assert specs.runtime_deps_spec(slim, EPOCH).base == baseimage.os_image(slim) == slim.base_image + "-arm64v8"
    # what the muxer builder knows per architecture covers exactly the catalog's architectures
    assert set(muxer.ARCHES) == {a.name for a in ARCHES}


def test_the_rootfs_script_takes_the_target_architectures_packages_and_folder():
    text = (ROOT / "docker" / baseimage.DISTROLESS_SCRIPT).read_text()
    assert 'DEB_ARCH=${DEB_ARCH:?}' in text and 'T=${MULTIARCH:?}' in text and "ls -d *-linux-gnu" not in text
    assert 'dpkg --add-architecture "$DEB_ARCH"' in text and 'libs="$libs $p$q"' in text
    # the loader is found in the new root (x64: /usr/lib64, arm64: /usr/lib), and one that cannot run fails
    assert "ld-linux-x86-64" not in text and "could not list" in text
