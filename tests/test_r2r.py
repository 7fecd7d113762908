"""Unit tests for crossgen.compile.r2r against real .NET files (no Docker).

* IL-only: the reference pack (``packs/Microsoft.NETCore.App.Ref/*/ref/net10.0``).
* R2R: the installed shared framework (``shared/Microsoft.NETCore.App/<v>``).
* Not managed: ``libcoreclr.so``, a text file, truncated copies of a framework dll.
* Composite + components: produced here by running the real Crossgen2 (NuGet package
  Microsoft.NETCore.App.Crossgen2.linux-x64) on two framework assemblies (``slow``).
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import time
import uuid
import zipfile
from pathlib import Path

import pytest

from crossgen.compile import r2r
from crossgen.compile.r2r import Kind, NotPeError

DOTNET_ROOT = Path(os.environ.get("DOTNET_ROOT", "/usr/share/dotnet"))
MACHINE_LINUX_X64 = 0xFD1D  # AMD64 0x8664 ^ Linux 0x7B79

CROSSGEN2_VERSION = "10.0.15"
CROSSGEN2_URL = (
    "https://api.nuget.org/v3-flatcontainer/microsoft.netcore.app.crossgen2.linux-x64/"
    f"{CROSSGEN2_VERSION}/microsoft.netcore.app.crossgen2.linux-x64.{CROSSGEN2_VERSION}.nupkg"
)
COMPOSITE_NAME = "mini-r2r.dll"
COMPONENT_INPUTS = ("System.Collections.dll", "System.Linq.dll")


def _version_key(p: Path) -> tuple:
    parts = []
    for piece in p.name.replace("-", ".").split("."):
        parts.append((0, int(piece), "") if piece.isdigit() else (1, 0, piece))
    return tuple(parts)


def _newest(dirs) -> Path | None:
    dirs = sorted((Path(d) for d in dirs), key=_version_key)
    return dirs[-1] if dirs else None


@pytest.fixture(scope="session")
def shared_fw() -> Path:
    """Newest installed Microsoft.NETCore.App shared framework folder."""
    base = DOTNET_ROOT / "shared" / "Microsoft.NETCore.App"
    fw = _newest(p for p in base.glob("*") if (p / "System.Private.CoreLib.dll").is_file())
    if fw is None:
        pytest.fail(f"no shared framework under {base}")
    return fw


@pytest.fixture(scope="session")
def ref_dir() -> Path:
    """net10.0 reference assemblies of the newest Microsoft.NETCore.App.Ref pack."""
    base = DOTNET_ROOT / "packs" / "Microsoft.NETCore.App.Ref"
    packs = [p for p in base.glob("*") if (p / "ref" / "net10.0" / "System.Runtime.dll").is_file()]
    pack = _newest(packs)
    if pack is None:
        pytest.fail(f"no net10.0 reference pack under {base}")
    return pack / "ref" / "net10.0"


def _is_guid(s: str | None) -> bool:
    if not s:
        return False
    return str(uuid.UUID(s)) == s  # canonical lowercase form


# --- IL-only ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["System.Runtime.dll", "System.Linq.dll", "System.Collections.dll"])
def test_reference_assembly_is_il_only(ref_dir: Path, name: str):
    path = ref_dir / name
    info = r2r.classify_file(path)
    assert info.path == str(path)
    assert info.kind is Kind.IL_ONLY
    assert info.cor_flags is not None and info.cor_flags & 0x1
    assert not info.cor_flags & 0x4
    assert info.r2r_major is info.r2r_minor is info.r2r_flags is None
    assert info.owner_composite is None
    assert info.target is None  # Machine of an IL-only image names no target
    assert _is_guid(info.mvid)
    assert info.mvid == r2r.read_mvid(path)
    assert r2r.is_managed(path)


def test_reference_pack_tree_is_all_il_only(ref_dir: Path):
    infos = r2r.classify_tree(ref_dir)
    dlls = sorted(p.name for p in ref_dir.glob("*.dll"))
    assert [i.path for i in infos] == dlls  # relative, sorted, no XML docs
    assert {i.kind for i in infos} == {Kind.IL_ONLY}
    assert len({i.mvid for i in infos}) == len(infos)
    assert r2r.summarize(infos) == {"il-only": len(dlls), "owners": {}}


def test_to_dict_is_plain(ref_dir: Path):
    d = r2r.classify_file(ref_dir / "System.Runtime.dll").to_dict()
    assert d["kind"] == "il-only" and type(d["kind"]) is str
    assert set(d) == {
        "path", "kind", "machine", "target", "cor_flags", "r2r_major", "r2r_minor",
        "r2r_flags", "owner_composite", "mvid",
    }


# --- R2R (installed shared framework) --------------------------------------


@pytest.mark.parametrize(
    "name", ["System.Private.CoreLib.dll", "System.Linq.dll", "System.Collections.dll"]
)
def test_shared_framework_assembly_is_r2r(shared_fw: Path, name: str):
    path = shared_fw / name
    info = r2r.classify_file(path)
    assert info.kind is Kind.R2R
    assert info.machine == MACHINE_LINUX_X64
    assert info.target == "linux-x64"
    assert info.cor_flags & 0x4 and not info.cor_flags & 0x1
    assert info.r2r_major is not None and info.r2r_major >= 5
    assert info.r2r_minor is not None
    assert not info.r2r_flags & r2r.R2R_FLAG_COMPONENT
    assert info.owner_composite is None
    assert _is_guid(info.mvid) and info.mvid == r2r.read_mvid(path)
    assert r2r.is_managed(path)
    assert r2r.composite_components(path) == []


def test_classify_tree_shared_framework(shared_fw: Path):
    start = time.perf_counter()
    infos = r2r.classify_tree(shared_fw)
    elapsed = time.perf_counter() - start
    assert elapsed < 10, f"classify_tree took {elapsed:.1f}s"

    # Every .dll is a PE; the native .so files, createdump and json are skipped.
    assert [i.path for i in infos] == sorted(p.name for p in shared_fw.glob("*.dll"))
    by_name = {i.path: i for i in infos}
    assert by_name["System.Private.CoreLib.dll"].kind is Kind.R2R
    # Only R2R assemblies and IL-only facades; no composite, no component here.
    assert {i.kind for i in infos} <= {Kind.R2R, Kind.IL_ONLY}
    assert all(i.target == "linux-x64" for i in infos if i.kind is Kind.R2R)
    summary = r2r.summarize(infos)
    assert summary["r2r"] + summary.get("il-only", 0) == len(infos)
    assert summary["owners"] == {}


# --- not managed -----------------------------------------------------------


def test_native_shared_library_is_not_pe(shared_fw: Path):
    so = shared_fw / "libcoreclr.so"
    with pytest.raises(NotPeError) as exc:
        r2r.classify_file(so)
    assert str(so) in str(exc.value)
    assert not r2r.is_managed(so)
    with pytest.raises(NotPeError):
        r2r.read_mvid(so)
    with pytest.raises(NotPeError):
        r2r.classify_bytes(so.read_bytes()[:4096], "libcoreclr.so")


def test_text_and_empty_files_are_not_pe(tmp_path: Path):
    text = tmp_path / "readme.txt"
    text.write_text("MZ is not enough to make a PE file\n")
    empty = tmp_path / "empty.dll"
    empty.write_bytes(b"")
    for p in (text, empty):
        with pytest.raises(NotPeError) as exc:
            r2r.classify_file(p)
        assert str(p) in str(exc.value)
        assert not r2r.is_managed(p)


def test_missing_file_is_an_os_error(tmp_path: Path):
    with pytest.raises(FileNotFoundError):
        r2r.classify_file(tmp_path / "nope.dll")


def test_truncated_dll_is_not_managed(shared_fw: Path, tmp_path: Path):
    data = (shared_fw / "System.Linq.dll").read_bytes()
    half = tmp_path / "half.dll"
    half.write_bytes(data[: len(data) // 2])
    info = r2r.classify_file(half)
    assert info.kind is Kind.NOT_MANAGED
    assert not r2r.is_managed(half)

    headers_cut = tmp_path / "cut.dll"
    headers_cut.write_bytes(data[:100])
    with pytest.raises(NotPeError):
        r2r.classify_file(headers_cut)
    assert not r2r.is_managed(headers_cut)


@pytest.mark.parametrize(
    "source", ["shared:System.Linq.dll", "shared:System.Runtime.dll", "ref:System.Runtime.dll"]
)
def test_truncation_never_crashes(shared_fw: Path, ref_dir: Path, source: str):
    where, name = source.split(":")
    data = ((shared_fw if where == "shared" else ref_dir) / name).read_bytes()
    cuts = {0, 1, 2, 60, 64, 127, 128, 300, 512, 1024, 4096, len(data) - 1}
    cuts.update(len(data) * k // 97 for k in range(97))
    for cut in sorted(cuts):
        try:
            info = r2r.classify_bytes(data[:cut], f"{name}[:{cut}]")
        except NotPeError:
            continue
        assert info.kind is Kind.NOT_MANAGED, f"cut at {cut} of {len(data)}: {info}"


def test_corrupted_bytes_never_crash(shared_fw: Path):
    import random

    data = (shared_fw / "System.Runtime.dll").read_bytes()
    rng = random.Random(20240527)
    for _ in range(300):
        buf = bytearray(data)
        span = rng.choice([512, 4096, len(buf)])
        for _ in range(rng.choice([1, 8, 64, 1024])):
            buf[rng.randrange(span)] = rng.randrange(256)
        try:
            info = r2r.classify_bytes(bytes(buf), "fuzz")
        except NotPeError:
            continue
        assert isinstance(info.kind, Kind)


# --- iter_pe_files / classify_tree on a mixed tree -------------------------


def test_iter_pe_files_and_classify_tree_mixed(shared_fw: Path, ref_dir: Path, tmp_path: Path):
    root = tmp_path / "app"
    (root / "sub").mkdir(parents=True)
    shutil.copy(shared_fw / "System.Linq.dll", root / "System.Linq.dll")
    shutil.copy(ref_dir / "System.Runtime.dll", root / "sub" / "System.Runtime.dll")
    shutil.copy(shared_fw / "libcoreclr.so", root / "libcoreclr.so")
    (root / "notes.txt").write_text("hello\n")
    (root / "bogus.dll").write_bytes(b"MZ" + b"\0" * 10)  # MZ but not a PE
    (root / "link.dll").symlink_to(root / "System.Linq.dll")
    (tmp_path / "outside").mkdir()
    shutil.copy(shared_fw / "System.Collections.dll", tmp_path / "outside")
    (root / "linked-dir").symlink_to(tmp_path / "outside", target_is_directory=True)

    files = list(r2r.iter_pe_files(root))
    assert files == sorted(files)
    assert [f.relative_to(root).as_posix() for f in files] == [
        "System.Linq.dll", "bogus.dll", "sub/System.Runtime.dll",
    ]

    infos = r2r.classify_tree(root)
    kinds = {i.path: i.kind for i in infos}
    assert kinds == {
        "System.Linq.dll": Kind.R2R,
        "bogus.dll": Kind.NOT_MANAGED,
        "sub/System.Runtime.dll": Kind.IL_ONLY,
    }
    assert r2r.summarize(infos) == {"il-only": 1, "r2r": 1, "not-managed": 1, "owners": {}}


def test_summarize_counts_owners():
    infos = [
        r2r.PeInfo("a.dll", Kind.COMPONENT, owner_composite="framework-r2r.dll"),
        r2r.PeInfo("b.dll", Kind.COMPONENT, owner_composite="framework-r2r.dll"),
        r2r.PeInfo("c.dll", Kind.COMPONENT, owner_composite="app.r2r.dll"),
        r2r.PeInfo("framework-r2r.dll", Kind.COMPOSITE),
        r2r.PeInfo("d.dll", Kind.IL_ONLY),
    ]
    assert r2r.summarize(infos) == {
        "il-only": 1,
        "component": 3,
        "composite": 1,
        "owners": {"app.r2r.dll": 1, "framework-r2r.dll": 2},
    }


def test_decode_target():
    assert r2r.decode_target(0xFD1D) == "linux-x64"
    assert r2r.decode_target(0xAA64 ^ 0x7B79) == "linux-arm64"
    assert r2r.decode_target(0x8664 ^ 0x4644) == "osx-x64"
    assert r2r.decode_target(0x8664) == "windows-x64"
    assert r2r.decode_target(0x1234) is None


# --- composite + components, made by the real Crossgen2 --------------------


@pytest.fixture(scope="session")
def crossgen2(tmp_path_factory) -> Path:
    """Crossgen2 from the NuGet package (DCI_CROSSGEN2_NUPKG = local .nupkg to skip the download)."""
    work = tmp_path_factory.mktemp("crossgen2")
    local = os.environ.get("DCI_CROSSGEN2_NUPKG")
    if local:
        nupkg = Path(local)
    else:
        import requests

        nupkg = work / "crossgen2.nupkg"
        try:
            with requests.get(CROSSGEN2_URL, stream=True, timeout=60) as resp:
                resp.raise_for_status()
                with open(nupkg, "wb") as fh:
                    for chunk in resp.iter_content(1 << 20):
                        fh.write(chunk)
        except (requests.ConnectionError, requests.Timeout) as exc:
            pytest.fail(f"cannot download {CROSSGEN2_URL}: {exc}")
    tools = work / "pkg"
    with zipfile.ZipFile(nupkg) as zf:
        for member in zf.namelist():
            if member.startswith("tools/") and ".." not in Path(member).parts:
                zf.extract(member, tools)
    exe = tools / "tools" / "crossgen2"
    assert exe.is_file(), f"{nupkg} has no tools/crossgen2"
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return exe


@pytest.fixture(scope="session")
def mini_composite(crossgen2: Path, shared_fw: Path, tmp_path_factory) -> dict:
    """Compile System.Collections + System.Linq into a composite ``mini-r2r.dll``."""
    work = tmp_path_factory.mktemp("composite")
    inp, out = work / "in", work / "out"
    inp.mkdir()
    out.mkdir()
    for name in COMPONENT_INPUTS:
        shutil.copy(shared_fw / name, inp / name)
    cmd = [
        str(crossgen2), "--composite", "-O", "--targetos:linux", "--targetarch:x64",
        "-o", str(out / COMPOSITE_NAME), "-r", str(shared_fw / "*.dll"),
        *(str(inp / n) for n in COMPONENT_INPUTS),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"crossgen2 failed:\n{proc.stdout}\n{proc.stderr}"
    return {"in": inp, "out": out, "composite": out / COMPOSITE_NAME}


@pytest.mark.slow
def test_composite_image(mini_composite: dict):
    path = mini_composite["composite"]
    info = r2r.classify_file(path)
    assert info.kind is Kind.COMPOSITE
    assert info.machine == MACHINE_LINUX_X64
    assert info.target == "linux-x64"
    assert info.cor_flags is None or not info.cor_flags & 0x5
    assert info.r2r_major is not None and info.r2r_major >= 5
    assert not info.r2r_flags & r2r.R2R_FLAG_COMPONENT
    assert info.owner_composite is None
    assert not r2r.is_managed(path)


@pytest.mark.slow
@pytest.mark.parametrize("name", COMPONENT_INPUTS)
def test_component_stub(mini_composite: dict, name: str):
    stub = mini_composite["out"] / name
    original = mini_composite["in"] / name
    info = r2r.classify_file(stub)
    assert info.kind is Kind.COMPONENT
    assert info.owner_composite == COMPOSITE_NAME
    assert info.machine == MACHINE_LINUX_X64 and info.target == "linux-x64"
    assert info.cor_flags & 0x4 and not info.cor_flags & 0x1
    assert info.r2r_flags & r2r.R2R_FLAG_COMPONENT
    assert info.r2r_flags & r2r.R2R_FLAG_NONSHARED_PINVOKE_STUBS
    assert _is_guid(info.mvid)
    assert info.mvid == r2r.read_mvid(original) == r2r.classify_file(original).mvid
    assert r2r.is_managed(stub)
    assert r2r.composite_components(stub) == []


@pytest.mark.slow
def test_composite_components(mini_composite: dict):
    comps = r2r.composite_components(mini_composite["composite"])
    expected = {
        Path(n).stem: r2r.read_mvid(mini_composite["in"] / n) for n in COMPONENT_INPUTS
    }
    assert len(comps) == len(COMPONENT_INPUTS)
    assert dict(comps) == expected


@pytest.mark.slow
def test_composite_tree_summary(mini_composite: dict):
    infos = r2r.classify_tree(mini_composite["out"])
    assert [i.path for i in infos] == sorted([COMPOSITE_NAME, *COMPONENT_INPUTS])
    assert r2r.summarize(infos) == {
        "component": 2,
        "composite": 1,
        "owners": {COMPOSITE_NAME: 2},
    }


@pytest.mark.slow
def test_truncated_composite_is_not_managed(mini_composite: dict, tmp_path: Path):
    data = mini_composite["composite"].read_bytes()
    cut = tmp_path / COMPOSITE_NAME
    cut.write_bytes(data[: len(data) // 3])
    assert r2r.classify_file(cut).kind is Kind.NOT_MANAGED
    assert r2r.composite_components(cut) == []
