"""crossgen.core.archives (safe zip/tar extraction) and acquire.acquisition.build_root (dotnet root from packs).

Malicious and damaged archives are built here; the real runtime pack (``runtime_pack``
fixture, tests marked ``slow``) checks that a layout made from it actually runs .NET code.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import stat
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest

from crossgen.core import archives
from crossgen.acquire.acquisition import build_root
from crossgen.acquire.cache import Cache
from crossgen.core.errors import DciError
from crossgen.acquire.layout import ASPNETCORE, DotnetRoot
from crossgen.acquire.model import PACK_IDS, Artifact, Fetched

# --- helpers ----------------------------------------------------------------------------------


def make_zip(path: Path, entries: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, data in entries.items():
            zf.writestr(zipfile.ZipInfo(name), data, compress_type=compression)
    return path


def tar_file(name: str, data: bytes = b"data", mode: int = 0o644) -> tuple[tarfile.TarInfo, bytes]:
    ti = tarfile.TarInfo(name)
    ti.size, ti.mode = len(data), mode
    return ti, data


def tar_special(name: str, kind: bytes, linkname: str = "", mode: int = 0o755) -> tuple[tarfile.TarInfo, None]:
    ti = tarfile.TarInfo(name)
    ti.type, ti.linkname, ti.mode = kind, linkname, mode
    return ti, None


def make_tar(members: list[tuple[tarfile.TarInfo, bytes | None]], mode: str = "w:gz") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tf:
        for ti, data in members:
            tf.addfile(ti, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def tree_of(root: Path) -> list[str]:
    if not root.exists():
        return []
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """A folder holding only ``out`` (the target) after any extraction: escapes show up here."""
    w = tmp_path / "work"
    w.mkdir()
    return w


def assert_nothing_escaped(work: Path, tmp_path: Path) -> None:
    assert sorted(p.name for p in work.iterdir()) in ([], ["out"]), sorted(p.name for p in work.iterdir())
    assert not any(p.name.startswith("evil") for p in tmp_path.rglob("*"))


# --- zip ------------------------------------------------------------------------------------------


def test_zip_extract_with_select_and_modes(tmp_path: Path):
    z = make_zip(
        tmp_path / "p.nupkg",
        {
            "lib/net10.0/A.dll": b"A",
            "lib/net10.0/sub/": b"",
            "native/libx.so": b"ELF",
            "native/createdump": b"ELF",
            "readme.txt": b"r",
            "pkg.nuspec": b"<package/>",
        },
    )
    out = tmp_path / "out"

    def select(name: str) -> str | None:
        return name.split("/", 1)[1] if name.startswith(("lib/", "native/")) else None

    written = archives.extract_zip(z, out, select=select)
    assert sorted(written) == ["createdump", "libx.so", "net10.0/A.dll"]
    assert tree_of(out) == ["createdump", "libx.so", "net10.0", "net10.0/A.dll"]
    assert (out / "net10.0" / "A.dll").read_bytes() == b"A"
    assert stat.S_IMODE((out / "net10.0" / "A.dll").stat().st_mode) == 0o644
    assert stat.S_IMODE((out / "libx.so").stat().st_mode) == 0o755
    assert stat.S_IMODE((out / "createdump").stat().st_mode) == 0o755


def test_zip_default_select_keeps_names(tmp_path: Path):
    z = make_zip(tmp_path / "a.zip", {"x/y.txt": b"1", "z": b"2"})
    assert sorted(archives.extract_zip(z, tmp_path / "o")) == ["x/y.txt", "z"]


@pytest.mark.parametrize(
    "name", ["../evil.txt", "/tmp/evil-abs.txt", "ok/../../evil.txt", "..\\evil.txt", "C:/evil.txt", ".."]
)
def test_zip_escaping_entry_refuses_everything(tmp_path: Path, work: Path, name: str):
    z = make_zip(tmp_path / "bad.zip", {"first.txt": b"fine", name: b"evil"})
    with pytest.raises(DciError) as err:
        archives.extract_zip(z, work / "out")
    assert "escapes" in err.value.cause
    assert tree_of(work / "out") == []  # validated before anything is written
    assert_nothing_escaped(work, tmp_path)
    assert not Path("/tmp/evil-abs.txt").exists()


def test_zip_select_that_escapes_is_refused(tmp_path: Path, work: Path):
    z = make_zip(tmp_path / "a.zip", {"a.txt": b"a"})
    with pytest.raises(DciError):
        archives.extract_zip(z, work / "out", select=lambda n: "../evil.txt")
    assert_nothing_escaped(work, tmp_path)


@pytest.mark.parametrize("content", [b"", b"this is not a zip\n" * 10, b"PK\x03\x04 truncated"])
def test_zip_not_an_archive(tmp_path: Path, content: bytes):
    f = tmp_path / "x.nupkg"
    f.write_bytes(content)
    with pytest.raises(DciError) as err:
        archives.extract_zip(f, tmp_path / "out")
    assert err.value.what == str(f) and "not a valid zip" in err.value.cause


def test_zip_missing_file(tmp_path: Path):
    with pytest.raises(DciError):
        archives.extract_zip(tmp_path / "absent.nupkg", tmp_path / "out")


def test_zip_cut_off_download(tmp_path: Path):
    z = make_zip(tmp_path / "full.zip", {f"f{i}.bin": os.urandom(20_000) for i in range(5)})
    cut = tmp_path / "cut.zip"
    cut.write_bytes(z.read_bytes()[: z.stat().st_size // 2])
    with pytest.raises(DciError):
        archives.extract_zip(cut, tmp_path / "out")
    assert tree_of(tmp_path / "out") == []


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_zip_damaged_member_is_an_error_and_leaves_nothing(tmp_path: Path, compression: int):
    good = os.urandom(50_000)
    z = make_zip(tmp_path / "d.zip", {"a/first.bin": good, "b/second.bin": os.urandom(50_000)}, compression)
    raw = bytearray(z.read_bytes())
    with zipfile.ZipFile(z) as zf:
        info = zf.getinfo("b/second.bin")
    data_start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    raw[data_start + 1000] ^= 0xFF  # one flipped bit pattern inside the second member's data
    z.write_bytes(bytes(raw))
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("was here before")
    with pytest.raises(DciError) as err:
        archives.extract_zip(z, out)
    assert err.value.what == str(z)
    assert tree_of(out) == ["keep.txt"]


# --- tar ------------------------------------------------------------------------------------------


def good_tar_members() -> list:
    return [
        tar_special("bin", tarfile.DIRTYPE),
        tar_file("bin/tool", b"#!/bin/sh\necho hi\n", 0o755),
        tar_file("lib/a.txt", b"alpha", 0o640),
        tar_special("lib/link", tarfile.SYMTYPE, "a.txt"),
        tar_special("lib/hard", tarfile.LNKTYPE, "lib/a.txt"),
        tar_special("s", tarfile.SYMTYPE, "lib"),  # a link to a folder inside...
        tar_file("s/through.txt", b"via link"),  # ...may be written through
        tar_special("./", tarfile.DIRTYPE),
    ]


@pytest.mark.parametrize("mode", ["w:gz", "w"])
def test_tar_extracts_files_links_and_modes(tmp_path: Path, mode: str):
    f = tmp_path / "a.tar.gz"
    f.write_bytes(make_tar(good_tar_members(), mode))
    out = tmp_path / "out"
    written = archives.extract_tar(f, out)
    assert written == ["bin/tool", "lib/a.txt", "lib/link", "lib/hard", "s", "s/through.txt"]  # folders not listed
    assert (out / "bin" / "tool").read_bytes() == b"#!/bin/sh\necho hi\n"
    assert stat.S_IMODE((out / "bin" / "tool").stat().st_mode) == 0o755
    assert stat.S_IMODE((out / "lib" / "a.txt").stat().st_mode) == 0o640
    assert os.readlink(out / "lib" / "link") == "a.txt" and (out / "lib" / "link").read_bytes() == b"alpha"
    assert (out / "lib" / "hard").stat().st_ino == (out / "lib" / "a.txt").stat().st_ino
    assert (out / "lib" / "through.txt").read_bytes() == b"via link"


def test_tar_from_a_stream(tmp_path: Path):
    data = make_tar(good_tar_members())
    out = tmp_path / "out"
    written = archives.extract_tar(io.BufferedReader(io.BytesIO(data)), out, label="image:/app")
    assert "bin/tool" in written and (out / "bin" / "tool").is_file()


def test_tar_overwrites_existing_files(tmp_path: Path):
    out = tmp_path / "out"
    (out / "lib").mkdir(parents=True)
    (out / "lib" / "a.txt").write_text("old")
    (out / "lib" / "link").symlink_to("/nonexistent")
    f = tmp_path / "a.tar"
    f.write_bytes(make_tar(good_tar_members(), "w"))
    archives.extract_tar(f, out)
    assert (out / "lib" / "a.txt").read_bytes() == b"alpha"
    assert os.readlink(out / "lib" / "link") == "a.txt"


ESCAPES = {
    "absolute": [tar_file("/tmp/evil-abs.txt")],
    "dotdot": [tar_file("../evil.txt")],
    "dotdot-nested": [tar_file("a/../../evil.txt")],
    "symlink-absolute": [tar_special("evil-link", tarfile.SYMTYPE, "/etc")],
    "symlink-up": [tar_special("a", tarfile.DIRTYPE), tar_special("a/evil-link", tarfile.SYMTYPE, "../../x")],
    "hardlink-up": [tar_special("evil-hard", tarfile.LNKTYPE, "../outside.txt")],
    "hardlink-absolute": [tar_special("evil-hard", tarfile.LNKTYPE, "/etc/passwd")],
    # every link looks inside on its own, but l -> a/b/c/.. resolves to the parent of out
    "symlink-chain": [
        tar_special("a/b", tarfile.DIRTYPE),
        tar_special("a/b/c", tarfile.SYMTYPE, "../.."),
        tar_special("l", tarfile.SYMTYPE, "a/b/c/.."),
        tar_file("l/evil.txt", b"escaped"),
    ],
    "link-made-outward-later": [  # l -> p/.. is inside while p does not exist; then p -> out
        tar_special("a/b", tarfile.DIRTYPE),
        tar_special("a/b/c", tarfile.SYMTYPE, "../.."),
        tar_special("l", tarfile.SYMTYPE, "p/.."),
        tar_special("p", tarfile.SYMTYPE, "a/b/c"),
    ],
    "hardlink-to-a-relative-symlink": [  # the copy of a/x -> ../y placed at the top points out
        tar_special("a", tarfile.DIRTYPE),
        tar_special("a/x", tarfile.SYMTYPE, "../y"),
        tar_special("evil-h", tarfile.LNKTYPE, "a/x"),
    ],
}


def test_tar_dotdot_names_are_resolved_by_name_not_through_links(tmp_path: Path, work: Path):
    f = tmp_path / "t.tar"
    f.write_bytes(make_tar([
        tar_special("a/b", tarfile.DIRTYPE),
        tar_special("a/b/c", tarfile.SYMTYPE, "../.."),
        tar_file("a/b/c/../f.txt", b"lexically a/b/f.txt"),
        tar_special("a/b/c/../d", tarfile.DIRTYPE),
    ], "w"))
    written = archives.extract_tar(f, work / "out")
    assert written == ["a/b/c", "a/b/f.txt"]
    assert (work / "out" / "a" / "b" / "f.txt").read_bytes() == b"lexically a/b/f.txt"
    assert (work / "out" / "a" / "b" / "d").is_dir()
    assert_nothing_escaped(work, tmp_path)


@pytest.mark.parametrize("case", list(ESCAPES))
def test_tar_escaping_entries_are_refused_and_nothing_is_left(tmp_path: Path, work: Path, case: str):
    (tmp_path / "outside.txt").write_text("outside")
    f = tmp_path / "bad.tar.gz"
    f.write_bytes(make_tar([tar_file("first.txt", b"fine"), *ESCAPES[case]]))
    with pytest.raises(DciError) as err:
        archives.extract_tar(f, work / "out")
    assert str(f) == err.value.what
    assert_nothing_escaped(work, tmp_path)
    assert tree_of(work / "out") == []
    assert not Path("/tmp/evil-abs.txt").exists()
    assert (tmp_path / "outside.txt").read_text() == "outside"


def test_tar_failure_keeps_what_was_there_before(tmp_path: Path):
    out = tmp_path / "out"
    (out / "lib").mkdir(parents=True)
    (out / "lib" / "keep.txt").write_text("mine")
    f = tmp_path / "bad.tar"
    f.write_bytes(make_tar([tar_file("lib/new.txt"), tar_file("new/deep/file.txt"), tar_file("../evil.txt")], "w"))
    with pytest.raises(DciError):
        archives.extract_tar(f, out)
    assert tree_of(out) == ["lib", "lib/keep.txt"]


@pytest.mark.parametrize("kind", [tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.FIFOTYPE])
def test_tar_devices_and_fifos_are_refused(tmp_path: Path, work: Path, kind: bytes):
    ti = tarfile.TarInfo("dev/evil-node")
    ti.type, ti.devmajor, ti.devminor = kind, 1, 3
    f = tmp_path / "dev.tar"
    f.write_bytes(make_tar([tar_file("ok.txt"), (ti, None)], "w"))
    with pytest.raises(DciError) as err:
        archives.extract_tar(f, work / "out")
    assert "device or fifo" in err.value.cause
    assert tree_of(work / "out") == []


@pytest.mark.parametrize("content", [b"", b"plain text, not a tar\n" * 100, b"\x1f\x8b\x08garbage"])
def test_tar_not_an_archive(tmp_path: Path, content: bytes):
    f = tmp_path / "x.tar.gz"
    f.write_bytes(content)
    with pytest.raises(DciError) as err:
        archives.extract_tar(f, tmp_path / "out")
    assert err.value.what == str(f)
    assert tree_of(tmp_path / "out") == []


def test_tar_stream_not_an_archive(tmp_path: Path):
    with pytest.raises(DciError):
        archives.extract_tar(io.BufferedReader(io.BytesIO(b"no tar here" * 100)), tmp_path / "out", label="img:/x")


@pytest.mark.parametrize("mode", ["w:gz", "w"])
@pytest.mark.parametrize("as_stream", [False, True])
def test_tar_cut_off_is_an_error_and_leaves_nothing(tmp_path: Path, mode: str, as_stream: bool):
    members = [tar_file(f"d/f{i}.bin", os.urandom(40_000)) for i in range(6)]  # incompressible
    data = make_tar(members, mode)
    cut = data[: int(len(data) * 0.6)]
    f = tmp_path / "cut.tar.gz"
    f.write_bytes(cut)
    out = tmp_path / "out"
    src = io.BufferedReader(io.BytesIO(cut)) if as_stream else f
    with pytest.raises(DciError) as err:
        archives.extract_tar(src, out, label="cut")
    assert "cut off" in err.value.cause or "not a valid tar" in err.value.cause
    assert tree_of(out) == []


# --- acquire.build_root with small packs made here ------------------------------------------------

RID = "linux-x64"
V = "10.0.15"


def fake_runtime_pack(path: Path, *, rid: str = RID, corelib: bool = True, hostfxr: bool = True, extra: dict | None = None) -> Path:
    lib, native = f"runtimes/{rid}/lib/net10.0/", f"runtimes/{rid}/native/"
    entries = {
        "Microsoft.NETCore.App.Runtime.linux-x64.nuspec": b"<package/>",
        "data/RuntimeList.xml": b"<FileList/>",
        lib + "System.Runtime.dll": b"MZ runtime",
        lib + "Microsoft.NETCore.App.deps.json": b"{}",
        lib + "nested/Skipped.dll": b"MZ nested",
        native + "libcoreclr.so": b"\x7fELF coreclr",
        native + "createdump": b"\x7fELF createdump",
        native + "sub/skipped.so": b"\x7fELF",
        "runtimes/linux-arm64/native/libcoreclr.so": b"\x7fELF other rid",
    }
    if corelib:
        entries[native + "System.Private.CoreLib.dll"] = b"MZ corelib"
    if hostfxr:
        entries[native + "libhostfxr.so"] = b"\x7fELF hostfxr"
    entries.update(extra or {})
    return make_zip(path, entries)


def fake_aspnet_pack(path: Path, *, dlls: bool = True) -> Path:
    lib = f"runtimes/{RID}/lib/net10.0/"
    entries = {"x.nuspec": b"<package/>", lib + "Microsoft.AspNetCore.App.deps.json": b"{}"}
    if dlls:
        entries[lib + "Microsoft.AspNetCore.dll"] = b"MZ aspnet"
    return make_zip(path, entries)


@pytest.fixture
def host_dir(tmp_path: Path) -> Path:
    h = tmp_path / "host"
    h.mkdir()
    (h / "dotnet").write_bytes(b"\x7fELF fake muxer")
    (h / "LICENSE.txt").write_text("license")
    (h / "ThirdPartyNotices.txt").write_text("notices")
    return h


def sha(path: Path) -> str:
    return hashlib.sha512(path.read_bytes()).hexdigest()


def nuget_part(component: str, path: Path, version: str, *, rid: str = RID, sha512: str | None = None) -> tuple[Artifact, Fetched]:
    """What acquire() hands build_root for a pack fetched from a NuGet feed (``sha512``: as verified)."""
    pid = PACK_IDS[component].format(rid=rid)
    url = f"https://api.nuget.org/v3-flatcontainer/{pid.lower()}/{version}/{pid.lower()}.{version}.nupkg"
    art = Artifact(component, pid, version, "nuget", "nupkg", url)
    return art, Fetched(path, sha512 or sha(path), path.stat().st_size if path.exists() else 0)


def build(
    layouts: Path, pack: Path, host: Path, *, rid: str = RID, pack_sha512: str | None = None,
    aspnet_pack: Path | None = None, aspnet_version: str | None = None,
) -> DotnetRoot:
    parts = {"runtime": nuget_part("runtime", pack, V, sha512=pack_sha512)}
    if aspnet_pack is not None:
        parts["aspnetcore"] = nuget_part("aspnetcore", aspnet_pack, str(aspnet_version))
    # the packs are not in this cache: a failure must leave them where they are
    return build_root(layouts, version=V, rid=rid, cache=Cache(layouts.parent / "cache"), parts=parts,
                      host_dir=host, aspnet_version=aspnet_version)


def test_layout_from_a_small_pack(tmp_path: Path, host_dir: Path):
    pack = fake_runtime_pack(tmp_path / "rt.nupkg")
    layouts = tmp_path / "layouts"
    root = build(layouts, pack, host_dir)
    final = root.path.parent
    assert root.path.name == "dotnet" and final.parent == layouts and final.name.startswith(f"{V}-{RID}-")
    assert (root.version, root.aspnet_version) == (V, None)
    fx = root.framework_dir()
    assert fx == root.path / "shared" / "Microsoft.NETCore.App" / V
    assert tree_of(root.path) == sorted(
        [
            "LICENSE.txt", "ThirdPartyNotices.txt", "dotnet", "host", "host/fxr", f"host/fxr/{V}",
            f"host/fxr/{V}/libhostfxr.so", "shared", "shared/Microsoft.NETCore.App", f"shared/Microsoft.NETCore.App/{V}",
            *(f"shared/Microsoft.NETCore.App/{V}/{n}" for n in (
                "System.Runtime.dll", "Microsoft.NETCore.App.deps.json", "libcoreclr.so", "createdump",
                "System.Private.CoreLib.dll",
            )),
        ]
    )
    assert (fx / "libcoreclr.so").read_bytes() == b"\x7fELF coreclr"  # the pack's RID, not arm64
    assert (root.path / "dotnet").read_bytes() == b"\x7fELF fake muxer"
    modes = {p: stat.S_IMODE(p.stat().st_mode) for p in root.path.rglob("*")}
    assert modes[root.path / "dotnet"] == 0o755 and modes[fx / "createdump"] == 0o755
    assert modes[fx / "System.Runtime.dll"] == 0o644 and modes[root.path / "LICENSE.txt"] == 0o644
    assert all(m == 0o755 for p, m in modes.items() if p.is_dir())
    record = json.loads((final / "layout.json").read_text())
    assert record["parts"] == {"runtime": {"source": "nuget", "kind": "nupkg", "sha512": sha(pack)}}
    assert record["version"] == V and record["rid"] == RID and record["aspnet_version"] is None
    assert record["host"] == {"dotnet": sha(host_dir / "dotnet")}
    assert sorted(p.name for p in layouts.iterdir()) == [final.name]  # no temporary folder left


def test_layout_is_reused_when_complete(tmp_path: Path, host_dir: Path):
    pack = fake_runtime_pack(tmp_path / "rt.nupkg")
    layouts = tmp_path / "layouts"
    first = build(layouts, pack, host_dir)
    (first.path / "sentinel").write_text("still here")
    digest = sha(pack)
    pack.unlink()  # reuse must not even open the pack
    second = build(layouts, pack, host_dir, pack_sha512=digest)
    assert second == first
    assert (second.path / "sentinel").read_text() == "still here"


def test_half_written_layout_is_rebuilt(tmp_path: Path, host_dir: Path):
    pack = fake_runtime_pack(tmp_path / "rt.nupkg")
    layouts = tmp_path / "layouts"
    first = build(layouts, pack, host_dir)
    final = first.path.parent
    (final / "layout.json").unlink()  # as if a crash happened before the marker
    (first.path / "junk").write_text("stale")
    (first.framework_dir() / "System.Runtime.dll").unlink()
    again = build(layouts, pack, host_dir)
    assert again == first
    assert not (again.path / "junk").exists()
    assert (again.framework_dir() / "System.Runtime.dll").is_file() and (final / "layout.json").is_file()


def test_other_inputs_other_folder(tmp_path: Path, host_dir: Path):
    pack = fake_runtime_pack(tmp_path / "rt.nupkg")
    layouts = tmp_path / "layouts"
    a = build(layouts, pack, host_dir)
    b = build(layouts, pack, host_dir, pack_sha512="f" * 128)
    (host_dir / "dotnet").write_bytes(b"\x7fELF another muxer")
    c = build(layouts, pack, host_dir)
    assert len({a.path, b.path, c.path}) == 3
    assert (c.path / "dotnet").read_bytes() == b"\x7fELF another muxer"
    assert (a.path / "dotnet").read_bytes() == b"\x7fELF fake muxer"


def test_layout_with_aspnetcore(tmp_path: Path, host_dir: Path):
    pack = fake_runtime_pack(tmp_path / "rt.nupkg")
    asp = fake_aspnet_pack(tmp_path / "asp.nupkg")
    root = build(tmp_path / "layouts", pack, host_dir, aspnet_pack=asp, aspnet_version="10.0.14")
    afx = root.framework_dir(ASPNETCORE)
    assert afx == root.path / "shared" / "Microsoft.AspNetCore.App" / "10.0.14"
    assert sorted(p.name for p in afx.iterdir()) == ["Microsoft.AspNetCore.App.deps.json", "Microsoft.AspNetCore.dll"]
    assert root.framework_dir().is_dir()


FAILURES = {
    "no-host": lambda t: dict(host_dir=t / "empty-host"),
    "no-corelib": lambda t: dict(runtime_pack=fake_runtime_pack(t / "p.nupkg", corelib=False)),
    "wrong-rid": lambda t: dict(rid="linux-musl-x64"),
    "no-hostfxr": lambda t: dict(runtime_pack=fake_runtime_pack(t / "p.nupkg", hostfxr=False)),
    "not-a-zip": lambda t: dict(runtime_pack=(t / "p.nupkg", (t / "p.nupkg").write_bytes(b"<html>oops</html>"))[0]),
    "escaping-entry": lambda t: dict(runtime_pack=fake_runtime_pack(t / "p.nupkg", extra={"../evil.txt": b"x"})),
    "aspnet-without-dlls": lambda t: dict(aspnet_pack=fake_aspnet_pack(t / "a.nupkg", dlls=False), aspnet_version="10.0.15"),
    "aspnet-damaged": lambda t: dict(
        aspnet_pack=(t / "a.nupkg", (t / "a.nupkg").write_bytes(b"PK\x03\x04cut"))[0], aspnet_version="10.0.15",
    ),
}


@pytest.mark.parametrize("case", list(FAILURES))
def test_layout_failure_leaves_nothing(tmp_path: Path, host_dir: Path, case: str):
    (tmp_path / "empty-host").mkdir()
    pack = fake_runtime_pack(tmp_path / "rt.nupkg")
    layouts = tmp_path / "layouts"
    kw = FAILURES[case](tmp_path)
    with pytest.raises(DciError) as err:
        build(layouts, kw.pop("runtime_pack", pack), kw.pop("host_dir", host_dir), **kw)
    assert err.value.fix
    assert tree_of(layouts) == []
    assert not any(p.name.startswith("evil") for p in tmp_path.rglob("*"))


# --- the real runtime pack (slow) -----------------------------------------------------------------


@pytest.fixture(scope="module")
def real_layout(runtime_pack, tmp_path_factory):
    host = Path(os.environ.get("DOTNET_ROOT") or "/usr/share/dotnet")
    if not (host / "dotnet").is_file():
        host = Path(shutil.which("dotnet") or "/nonexistent").resolve().parent
    if not (host / "dotnet").is_file():
        pytest.fail("no local dotnet layout to take the host from")
    layouts = tmp_path_factory.mktemp("real-layouts")
    root = build_real(layouts, runtime_pack, runtime_pack.rid, host)
    return root, host


def build_real(layouts: Path, runtime_pack, rid: str, host: Path) -> DotnetRoot:
    """build_root on the real pack. It may sit in the project's download cache: build_root gets
    another cache, so that a failure never evicts it from there."""
    parts = {"runtime": nuget_part("runtime", runtime_pack.path, runtime_pack.version, rid=runtime_pack.rid,
                                   sha512=runtime_pack.sha512)}
    return build_root(layouts, version=runtime_pack.version, rid=rid, cache=Cache(layouts.parent / f"{layouts.name}-cache"),
                      parts=parts, host_dir=host)


@pytest.mark.slow
def test_real_pack_zip_listing_matches_extraction(runtime_pack, tmp_path: Path):
    prefix = f"runtimes/{runtime_pack.rid}/lib/net10.0/"
    with zipfile.ZipFile(runtime_pack.path) as zf:
        expected = sorted(n[len(prefix):] for n in zf.namelist() if n.startswith(prefix))
    written = archives.extract_zip(
        runtime_pack.path, tmp_path / "lib", select=lambda n: n[len(prefix):] if n.startswith(prefix) else None
    )
    assert sorted(written) == expected and len(expected) > 150
    assert "System.Linq.dll" in expected
    with zipfile.ZipFile(runtime_pack.path) as zf:
        assert (tmp_path / "lib" / "System.Linq.dll").read_bytes() == zf.read(prefix + "System.Linq.dll")


@pytest.mark.slow
def test_real_layout_contents(real_layout, runtime_pack):
    root, host = real_layout
    fx = root.framework_dir()
    native = f"runtimes/{runtime_pack.rid}/native/"
    lib = f"runtimes/{runtime_pack.rid}/lib/net10.0/"
    with zipfile.ZipFile(runtime_pack.path) as zf:
        names = zf.namelist()
        versions = zf.read("Microsoft.NETCore.App.versions.txt")
    expected = {n[len(lib):] for n in names if n.startswith(lib)} | {
        n[len(native):] for n in names if n.startswith(native) and n != native + "libhostfxr.so"
    } | {".version"}
    assert {p.name for p in fx.iterdir()} == expected
    assert (fx / ".version").read_bytes() == versions  # as in the official tarball
    for must in ("System.Private.CoreLib.dll", "libcoreclr.so", "libhostpolicy.so", "Microsoft.NETCore.App.deps.json"):
        assert (fx / must).is_file(), must
    assert (root.path / "host" / "fxr" / runtime_pack.version / "libhostfxr.so").is_file()
    assert (root.path / "dotnet").read_bytes() == (host / "dotnet").read_bytes()
    assert os.access(fx / "createdump", os.X_OK) and os.access(root.path / "dotnet", os.X_OK)


@pytest.mark.slow
def test_real_layout_runs_dotnet(real_layout, runtime_pack, tmp_path: Path):
    root, host = real_layout
    dotnet = str(root.path / "dotnet")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOTNET_", "COREHOST_"))}
    listed = subprocess.run([dotnet, "--list-runtimes"], capture_output=True, text=True, env=env, timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.strip().splitlines() == [
        f"Microsoft.NETCore.App {runtime_pack.version} [{root.path / 'shared' / 'Microsoft.NETCore.App'}]"
    ]
    # run managed code: the C# compiler of the installed SDK, on the layout's runtime
    cscs = sorted(host.glob("sdk/*/Roslyn/bincore/csc.dll"))
    if not cscs:
        pytest.fail("no SDK csc.dll to run")
    trace = tmp_path / "host-trace.txt"
    ran = subprocess.run(
        [dotnet, "exec", str(cscs[-1]), "-version"], capture_output=True, text=True, timeout=120,
        env={**env, "COREHOST_TRACE": "1", "COREHOST_TRACEFILE": str(trace)},
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip()[0].isdigit()  # e.g. 5.9.0-1.2... (commit)
    assert str(root.framework_dir() / "libcoreclr.so") in trace.read_text(errors="replace")


@pytest.mark.slow
def test_real_pack_for_another_rid_is_refused(runtime_pack, host_dir: Path, tmp_path: Path):
    layouts = tmp_path / "layouts"
    with pytest.raises(DciError) as err:
        build_real(layouts, runtime_pack, "linux-arm64", host_dir)
    assert "System.Private.CoreLib.dll" in err.value.cause and "linux-arm64" in err.value.cause
    assert tree_of(layouts) == []
