"""acquire() from official-style release metadata and tarballs on a loopback CDN: the happy path,
the `auto` order, and every fault (each: a clear message, nothing partial in cache or build/)."""

from __future__ import annotations

import json
import os

import pytest

from crossgen.acquire import http
from crossgen.acquire.acquisition import acquire
from crossgen.acquire.cache import Cache
from crossgen.core.errors import DciError
from tests import fakecdn
from tests.sources_fixtures import (  # noqa: F401 (fixtures)
    _drop_big_files, NEW, RID, assert_message, assert_nothing_partial, cdn, fast_http, feed, make_settings, packs_new, release,
    tarballs_new,
)

FW = ("runtime", "aspnetcore")
RT_PATH = f"/dotnet/Runtime/{NEW}/dotnet-runtime-{NEW}-{RID}.tar.gz"


def run(settings, components=("runtime",)):
    return acquire(settings, http.new_session(), Cache(settings.cache_dir), components=components)


def fail(settings, components=("runtime",)) -> DciError:
    with pytest.raises(DciError) as e:
        run(settings, components)
    assert_nothing_partial(settings.cache_dir, settings.build_dir)
    return e.value


def test_official_source_lays_out_the_official_root(cdn, tarballs_new, tmp_path):
    s = make_settings(tmp_path, release_base_url=cdn.base_url)
    a = run(s, FW)
    assert a.version == NEW and a.rid == RID
    rt, asp = a.components["runtime"], a.components["aspnetcore"]
    assert (rt.source, rt.package_id, rt.version) == ("official", f"dotnet-runtime-{RID}", NEW)
    assert rt.url == cdn.base_url + RT_PATH.removeprefix("/dotnet")
    assert rt.sha512 == fakecdn.sha512_of(tarballs_new.runtime) and rt.size == tarballs_new.runtime.stat().st_size
    assert asp.sha512 == fakecdn.sha512_of(tarballs_new.aspnetcore)
    root = a.dotnet_root
    assert root.version == NEW and root.aspnet_version == NEW
    for rel in ("dotnet", "LICENSE.txt", "ThirdPartyNotices.txt", f"host/fxr/{NEW}/libhostfxr.so",
                f"shared/Microsoft.NETCore.App/{NEW}/System.Private.CoreLib.dll", f"shared/Microsoft.NETCore.App/{NEW}/.version",
                f"shared/Microsoft.AspNetCore.App/{NEW}/Microsoft.AspNetCore.dll"):
        assert (root.path / rel).is_file(), rel
    assert os.access(root.path / "dotnet", os.X_OK)
    assert not (root.path / "shared" / "Microsoft.NETCore.App" / NEW / "libhostfxr.so").exists()
    record = json.loads((s.build_dir / "acquire.json").read_text())
    assert record["components"]["runtime"]["source"] == "official" and record["dotnet_root"] == str(root.path)
    assert_nothing_partial(s.cache_dir, s.build_dir)

    # again: everything from the cache (verified), the same root reused, only metadata fetched
    before = list(cdn.log)
    b = run(s, FW)
    assert b.dotnet_root == root
    assert [p for p, _ in cdn.log[len(before):]] == ["/dotnet/release-metadata/releases-index.json",
                                                     "/dotnet/release-metadata/10.0/releases.json"]


def test_crossgen2_comes_from_nuget_with_official_frameworks(cdn, feed, packs_new, tmp_path):
    s = make_settings(tmp_path, release_base_url=cdn.base_url, nuget_config=feed.nuget_config(tmp_path))
    a = run(s, ("runtime", "aspnetcore", "crossgen2"))
    cg = a.components["crossgen2"]
    assert (cg.source, cg.version, cg.sha512) == ("nuget", NEW, packs_new["crossgen2"].sha512)
    assert cg.url.startswith(feed.origin)
    assert a.components["runtime"].source == "official"


def test_runtime_only(cdn, tmp_path):
    a = run(make_settings(tmp_path, release_base_url=cdn.base_url), ("runtime",))
    assert a.dotnet_root.aspnet_version is None
    assert not (a.dotnet_root.path / "shared" / "Microsoft.AspNetCore.App").exists()
    assert cdn.hits(f"/dotnet/aspnetcore/Runtime/{NEW}/aspnetcore-runtime-{NEW}-{RID}.tar.gz") == []


def test_auto_moves_on_and_says_why(feed, tmp_path, capsys, fast_http):
    s = make_settings(tmp_path, source="auto", release_base_url=fakecdn.closed_port_url(),
                      nuget_config=feed.nuget_config(tmp_path))
    a = run(s, FW)
    assert {c.source for c in a.components.values()} == {"nuget"}
    assert a.tried and a.tried[0]["source"] == "official" and "connection refused" in a.tried[0]["reason"]
    err = capsys.readouterr().err
    assert "source official:" in err and "moving on to source nuget" in err
    assert json.loads((s.build_dir / "acquire.json").read_text())["tried"][0]["source"] == "official"


def test_auto_moves_on_when_the_metadata_lacks_the_version(feed, tarballs_new, tmp_path, capsys):
    newer_only = fakecdn.ReleaseSpec("10.0.16", {"runtime": tarballs_new.runtime})  # metadata only: never downloaded
    with fakecdn.FakeCdn({"10.0": [newer_only]}) as server:
        s = make_settings(tmp_path, source="auto", release_base_url=server.base_url, channel=NEW,
                          nuget_config=feed.nuget_config(tmp_path))
        a = run(s)
    assert a.version == NEW and a.components["runtime"].source == "nuget"
    assert "no such release (newest: 10.0.16)" in a.tried[0]["reason"]
    assert "moving on to source nuget" in capsys.readouterr().err


def test_auto_when_no_source_serves_lists_every_reason(tmp_path, fast_http):
    s = make_settings(tmp_path, source="official,local", release_base_url=fakecdn.closed_port_url(),
                      local_path=tmp_path / "nothing-here")
    e = fail(s)
    assert_message(e, "sources official, local", "official:", "connection refused", "local:", "not a folder", "fix one of")


def test_newest_version_without_crossgen2_on_the_feed_is_refused(cdn, packs_new, tmp_path):
    cg = packs_new["crossgen2"]
    with fakecdn.FakeFeed({(cg.package_id, "10.0.12"): cg.path}) as only_old:
        s = make_settings(tmp_path, release_base_url=cdn.base_url, nuget_config=only_old.nuget_config(tmp_path))
        e = fail(s, ("runtime", "crossgen2"))
    assert_message(e, "channel '10.0'", f"offers {NEW}", "Crossgen2 is not on the NuGet feed")


def test_rid_the_metadata_does_not_serve(cdn, tmp_path):
    e = fail(make_settings(tmp_path, release_base_url=cdn.base_url, rid="linux-arm64"))
    assert_message(e, "RID 'linux-arm64'", "serves: linux-x64")


def test_unknown_channel(cdn, tmp_path):
    e = fail(make_settings(tmp_path, release_base_url=cdn.base_url, channel="6.1"))
    assert_message(e, "channel '6.1'", "11.0, 10.0")


def test_unknown_version(cdn, tmp_path):
    e = fail(make_settings(tmp_path, release_base_url=cdn.base_url, channel="10.0.3"))
    assert_message(e, "version '10.0.3'", f"newest: {NEW}")


# -- faults ------------------------------------------------------------------------------------------
def test_refused_metadata(tmp_path, fast_http):
    e = fail(make_settings(tmp_path, release_base_url=fakecdn.closed_port_url()))
    assert_message(e, "release metadata index", "connection refused", "gave up after 3 attempts", "--source nuget")


def test_metadata_timeout(cdn, tmp_path, fast_http, monkeypatch):
    monkeypatch.setattr(http, "TIMEOUT", (1, 0.3))
    cdn.fault("/dotnet/release-metadata/10.0/releases.json", delay=1.0)
    e = fail(make_settings(tmp_path, release_base_url=cdn.base_url))
    assert_message(e, "releases.json of channel 10.0", "timed out", "gave up after 3 attempts")


def test_tarball_timeout(cdn, tmp_path, fast_http, monkeypatch):
    monkeypatch.setattr(http, "ATTEMPTS", 2)
    monkeypatch.setattr(http, "TIMEOUT", (1, 0.3))
    cdn.fault(RT_PATH, delay=1.0)
    e = fail(make_settings(tmp_path, release_base_url=cdn.base_url))
    assert_message(e, RT_PATH, "timed out", "gave up after 2 attempts", "another source/mirror")


def test_tarball_404(cdn, tmp_path, fast_http):
    cdn.fault(RT_PATH, status=404)
    e = fail(make_settings(tmp_path, release_base_url=cdn.base_url))
    assert_message(e, RT_PATH, "HTTP 404", "check the version, RID and base URL")
    assert cdn.hits(RT_PATH) == [404]  # a 404 is final: not retried


def test_tarball_500_is_retried(cdn, tmp_path, fast_http):
    cdn.fault(RT_PATH, status=500, times=2)
    a = run(make_settings(tmp_path, release_base_url=cdn.base_url))
    assert a.components["runtime"].source == "official"
    assert cdn.hits(RT_PATH) == [500, 500, 200]


def test_tarball_500_forever(cdn, tmp_path, fast_http):
    cdn.fault(RT_PATH, status=502)
    e = fail(make_settings(tmp_path, release_base_url=cdn.base_url))
    assert_message(e, RT_PATH, "HTTP 502", "gave up after 3 attempts")


def test_body_cut_off_once_is_retried(cdn, tmp_path, fast_http):
    cdn.fault(RT_PATH, cut_after=5_000_000, times=1)
    a = run(make_settings(tmp_path, release_base_url=cdn.base_url))
    assert a.version == NEW
    assert cdn.hits(RT_PATH) == [-5_000_000, 200]


def test_body_cut_off_every_time(cdn, tmp_path, fast_http):
    cdn.fault(RT_PATH, cut_after=1_000_000)
    e = fail(make_settings(tmp_path, release_base_url=cdn.base_url))
    assert_message(e, RT_PATH, "after", "bytes", "gave up after 3 attempts")


def test_wrong_checksum(cdn, tmp_path, fast_http):
    cdn.fault(RT_PATH, body=b"\x1f\x8b" + os.urandom(200_000))
    e = fail(make_settings(tmp_path, release_base_url=cdn.base_url))
    assert_message(e, RT_PATH, "SHA-512 mismatch", "nothing was kept")
    assert cdn.hits(RT_PATH) == [200]  # a wrong checksum is not retried


@pytest.mark.parametrize("kind", ["dotdot", "absolute", "symlink"])
def test_tarball_with_escaping_entries_is_refused(tarballs_new, tmp_path, kind):
    evil = fakecdn.unsafe_tarball(tmp_path / f"evil-{kind}" / f"dotnet-runtime-{NEW}-{RID}.tar.gz", version=NEW, kind=kind)
    rel = fakecdn.ReleaseSpec(NEW, {"runtime": evil, "aspnetcore": tarballs_new.aspnetcore})
    with fakecdn.FakeCdn({"10.0": [rel]}) as server:
        s = make_settings(tmp_path, release_base_url=server.base_url)
        e = fail(s)
    outside = "outside the target folder" if kind == "symlink" else "escapes the target folder"
    assert_message(e, f"dotnet-runtime-{RID} {NEW}", RT_PATH, outside, "refusing it", "removed from the cache")
    assert not list(s.cache_dir.glob("sha512/*/*")), "the unusable archive stays in the cache"
    assert not any(p.name.startswith("escaped-by-tar") for p in tmp_path.rglob("*"))
    assert not os.path.exists("/tmp/escaped-by-tar.txt")
    assert not (s.build_dir / "layout").exists() or not any((s.build_dir / "layout").iterdir())


def test_not_an_archive(tarballs_new, tmp_path):
    junk = tmp_path / "junk" / f"dotnet-runtime-{NEW}-{RID}.tar.gz"
    junk.parent.mkdir()
    junk.write_bytes(b"<html><body>Access denied by proxy</body></html>\n" * 100)
    rel = fakecdn.ReleaseSpec(NEW, {"runtime": junk, "aspnetcore": tarballs_new.aspnetcore})
    with fakecdn.FakeCdn({"10.0": [rel]}) as server:
        s = make_settings(tmp_path, release_base_url=server.base_url)
        e = fail(s)
    assert_message(e, RT_PATH, "not a valid tar archive", "removed from the cache")
    assert not list(s.cache_dir.glob("sha512/*/*"))


def test_tarball_with_the_wrong_contents(tarballs_new, tmp_path):
    # the ASP.NET Core tarball published as the runtime tarball of another version
    rel = fakecdn.ReleaseSpec("10.0.16", {"runtime": tarballs_new.runtime, "aspnetcore": tarballs_new.aspnetcore})
    with fakecdn.FakeCdn({"10.0": [rel]}) as server:
        e = fail(make_settings(tmp_path, release_base_url=server.base_url))
    assert_message(e, "does not hold Microsoft.NETCore.App 10.0.16", f"it has: {NEW}", "another source")


def test_corrupted_cache_entry_is_detected_and_fetched_again(cdn, tmp_path, capsys):
    s = make_settings(tmp_path, release_base_url=cdn.base_url)
    a = run(s, ("runtime",))
    blob = Cache(s.cache_dir).blob_path(a.components["runtime"].sha512)
    with open(blob, "r+b") as f:
        f.seek(1000)
        f.write(b"bitrot")
    import shutil

    shutil.rmtree(s.build_dir)  # make it lay out again
    b = run(s, ("runtime",))
    assert b.components["runtime"].sha512 == a.components["runtime"].sha512
    assert "corrupted" in capsys.readouterr().err
    assert cdn.hits(RT_PATH) == [200, 200]
    assert_nothing_partial(s.cache_dir, s.build_dir)


def _sdk_tarball(out, version: str, runtime: str):
    """A stand-in SDK tarball in the official layout: sdk/<version> with its dotnet.runtimeconfig.json."""
    config = {"runtimeOptions": {"tfm": "net10.0", "framework": {"name": "Microsoft.NETCore.App", "version": runtime}}}
    return fakecdn.write_tarball(out, [(f"sdk/{version}/dotnet.runtimeconfig.json", json.dumps(config).encode(), 0o644),
                                       ("packs/Microsoft.NETCore.App.Ref/10.0.15/data/FrameworkList.xml", b"<FileList />", 0o644)])


def test_the_sdk_tarball_comes_along_from_the_official_source_for_the_sdk_images(tarballs_new, feed, tmp_path):
    from crossgen.images.specs import sdk_for

    sdk = _sdk_tarball(tmp_path / "dotnet-sdk.tar.gz", "10.0.990", "10.0.12")
    rel = fakecdn.ReleaseSpec(tarballs_new.version, {"runtime": tarballs_new.runtime, "aspnetcore": tarballs_new.aspnetcore, "sdk": sdk},
                              sdk_version="10.0.990")
    with fakecdn.FakeCdn({"10.0": [rel]}) as cdn:
        s = make_settings(tmp_path, release_base_url=cdn.base_url, dotnet_root=None)
        a = acquire(s, http.new_session(), Cache(s.cache_dir), components=FW, optional=("sdk",))
        assert a.components["sdk"].source == "official" and a.components["sdk"].version == "10.0.990"
        assert a.sdk_root is not None and (a.sdk_root / "sdk" / "10.0.990" / "dotnet.runtimeconfig.json").is_file()
        assert (a.sdk_root / "packs" / "Microsoft.NETCore.App.Ref").is_dir()
        choice = sdk_for(s, a)
        assert (choice.root, choice.version) == (a.sdk_root, "10.0.990") and "acquired SDK tarball" in choice.why
        again = acquire(s, http.new_session(), Cache(s.cache_dir), components=FW, optional=("sdk",))
        assert again.sdk_root == a.sdk_root  # laid out once
        # without an SDK image in the build nothing asks for it
        assert "sdk" not in acquire(s, http.new_session(), Cache(s.cache_dir), components=FW).components
    # a source that serves the frameworks but no SDK (NuGet) still wins, and says why the SDK is left out
    n = make_settings(tmp_path / "n", source="nuget", nuget_config=feed.nuget_config(tmp_path))
    got = acquire(n, http.new_session(), Cache(n.cache_dir), components=FW, optional=("sdk",))
    assert "sdk" not in got.components and got.sdk_root is None
    assert any("sdk not from this source" in note and "not published as a NuGet package" in note for note in got.notes)
