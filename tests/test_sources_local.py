"""The local source: an installed dotnet layout, or a folder of official tarballs."""

from __future__ import annotations

import shutil

from tests import fakecdn
from tests.sources_fixtures import (  # noqa: F401 (fixtures)
    _drop_big_files, INSTALLED, NEW, OLD, RID, acquire_fails, acquire_parts, assert_message, assert_nothing_partial,
    make_settings, needs_installed, packs_new, tarballs_new, tree,
)


def tarball_folder(tmp_path, t: fakecdn.Tarballs, *, sidecars: bool = False):
    folder = tmp_path / "downloads"
    folder.mkdir()
    for p in (t.runtime, t.aspnetcore):
        (folder / p.name).symlink_to(p)
        if sidecars:
            (folder / (p.name + ".sha512")).write_text(fakecdn.sha512_of(p) + "\n")
    return folder


@needs_installed
def test_installed_layout_is_copied_as_is(tmp_path):
    s = make_settings(tmp_path, source="local", local_path=INSTALLED)
    a = acquire_parts(s)
    assert a.version == OLD
    rt = a.components["runtime"]
    assert (rt.source, rt.package_id) == ("local", "Microsoft.NETCore.App")
    assert rt.url == (INSTALLED / "shared" / "Microsoft.NETCore.App" / OLD).as_uri()
    for fw in ("Microsoft.NETCore.App", "Microsoft.AspNetCore.App"):
        assert tree(a.dotnet_root.path / "shared" / fw / OLD) == tree(INSTALLED / "shared" / fw / OLD)
    assert (a.dotnet_root.path / "dotnet").read_bytes() == (INSTALLED / "dotnet").read_bytes()
    assert a.host == {"path": str(INSTALLED), "dotnet_sha512": fakecdn.sha512_of(INSTALLED / "dotnet")}
    assert not list(s.cache_dir.glob("sha512/*/*")), "a local layout is not copied into the download cache"
    assert_nothing_partial(s.cache_dir, s.build_dir)


@needs_installed
def test_dotnet_root_is_the_default_local_path(tmp_path):
    a = acquire_parts(make_settings(tmp_path, source="local", local_path=None, dotnet_root=INSTALLED), ("runtime",))
    assert a.components["runtime"].url.startswith(INSTALLED.as_uri())


@needs_installed
def test_version_not_installed_lists_what_is(tmp_path):
    e = acquire_fails(make_settings(tmp_path, source="local", local_path=INSTALLED, channel=NEW))
    assert_message(e, f"version '{NEW}'", str(INSTALLED), f"Microsoft.NETCore.App: {OLD}", "install the one you need")


@needs_installed
def test_layout_of_another_rid(tmp_path):
    e = acquire_fails(make_settings(tmp_path, source="local", local_path=INSTALLED, rid="linux-musl-x64"))
    assert_message(e, "RID 'linux-musl-x64'", f"holds .NET for {RID}", f"--rid {RID}")


def test_missing_folder(tmp_path):
    e = acquire_fails(make_settings(tmp_path, source="local", local_path=tmp_path / "no-such-dir"))
    assert_message(e, "no-such-dir", "not a folder", "--local-path")


def test_folder_with_nothing_usable(tmp_path):
    (tmp_path / "stuff").mkdir()
    (tmp_path / "stuff" / "dotnet-runtime-latest.tar.gz").write_bytes(b"x")
    e = acquire_fails(make_settings(tmp_path, source="local", local_path=tmp_path / "stuff"))
    assert_message(e, "neither a dotnet layout", "nor a folder of official tarballs", "--local-path")


def test_sdk_is_not_in_a_layout(tmp_path):
    e = acquire_fails(make_settings(tmp_path, source="local", local_path=INSTALLED), ("runtime", "sdk"))
    assert_message(e, "component sdk", "--source official")


def test_tarball_folder(tarballs_new, tmp_path):
    folder = tarball_folder(tmp_path, tarballs_new, sidecars=True)
    s = make_settings(tmp_path, source="local", local_path=folder)
    a = acquire_parts(s)
    assert a.version == NEW and a.components["runtime"].source == "local"
    assert a.components["runtime"].url == (folder / tarballs_new.runtime.name).as_uri()
    assert a.components["aspnetcore"].sha512 == fakecdn.sha512_of(tarballs_new.aspnetcore)
    assert (a.dotnet_root.path / "shared" / "Microsoft.AspNetCore.App" / NEW / "Microsoft.AspNetCore.dll").is_file()
    assert_nothing_partial(s.cache_dir, s.build_dir)


def test_tarball_folder_checksum_mismatch(tarballs_new, tmp_path):
    folder = tarball_folder(tmp_path, tarballs_new, sidecars=True)
    (folder / (tarballs_new.runtime.name + ".sha512")).write_text("0" * 128 + "\n")
    e = acquire_fails(make_settings(tmp_path, source="local", local_path=folder))
    assert_message(e, tarballs_new.runtime.name, "SHA-512 mismatch", ".sha512", "replace it with the official file")
    assert tarballs_new.runtime.is_file()  # never deletes the user's files


def test_tarball_folder_checksum_list(tarballs_new, tmp_path):
    folder = tarball_folder(tmp_path, tarballs_new)
    (folder / f"{NEW}-sha.txt").write_text(f"{'f' * 128}  {tarballs_new.runtime.name}\n")
    e = acquire_fails(make_settings(tmp_path, source="local", local_path=folder))
    assert_message(e, "SHA-512 mismatch", f"{NEW}-sha.txt")


def test_tarball_folder_without_the_rid(tarballs_new, tmp_path):
    folder = tarball_folder(tmp_path, tarballs_new)
    e = acquire_fails(make_settings(tmp_path, source="local", local_path=folder, rid="linux-arm64"))
    assert_message(e, "RID 'linux-arm64'", f"it has: {RID}")


def test_escaping_tarball_in_a_folder_is_refused_and_left_alone(tarballs_new, tmp_path):
    folder = tmp_path / "downloads"
    evil = fakecdn.unsafe_tarball(folder / f"dotnet-runtime-{NEW}-{RID}.tar.gz", version=NEW)
    (folder / tarballs_new.aspnetcore.name).symlink_to(tarballs_new.aspnetcore)
    e = acquire_fails(make_settings(tmp_path, source="local", local_path=folder))
    assert_message(e, evil.name, "escapes the target folder", "replace that file")
    assert evil.is_file()
    assert not any(p.name.startswith("escaped-by-tar") for p in tmp_path.rglob("*"))


def test_not_an_archive_in_a_folder(tmp_path):
    folder = tmp_path / "downloads"
    folder.mkdir()
    (folder / f"dotnet-runtime-{NEW}-{RID}.tar.gz").write_bytes(b"PK\x03\x04 this is a zip, not a tarball")
    e = acquire_fails(make_settings(tmp_path, source="local", local_path=folder), ("runtime",))
    assert_message(e, "not a valid tar archive")


@needs_installed
def test_extracted_tarball_is_a_layout_too(tarballs_new, tmp_path):
    layout = fakecdn.extract_layout(tarballs_new.aspnetcore, tmp_path / "dotnet")
    a = acquire_parts(make_settings(tmp_path, source="local", local_path=layout))
    assert a.version == NEW
    fx = a.dotnet_root.path / "shared" / "Microsoft.NETCore.App" / NEW
    assert tree(fx) == tree(layout / "shared" / "Microsoft.NETCore.App" / NEW)
    shutil.rmtree(layout)
