"""Bad input and faults not covered elsewhere: names (source, channel, bubble), the Docker daemon,
the NuGet feed (refused, 404, RID, unsafe or broken nupkg, wrong published hash) and a full disk.
Each: a message naming input, cause and fix; nothing partial left in the cache or build/."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest

from crossgen.compile.bubbles import get_bubble
from crossgen.acquire.cache import Cache
from crossgen.core.errors import DciError
from tests import fakecdn
from tests.sources_fixtures import (  # noqa: F401 (fixtures)
    _drop_big_files, NEW, ROOT, RID, acquire_fails, acquire_parts, assert_message, cdn, feed, make_settings,
    packs_new, tarballs_new,
)


def _invoke(tmp_path, *args, **env):
    full = dict(os.environ, INVOKE_DCI_BUILD_DIR=str(tmp_path / "build"), INVOKE_DCI_CACHE_DIR=str(tmp_path / "cache"), **env)
    return subprocess.run([sys.executable, "-m", "invoke", *args], cwd=ROOT, env=full, capture_output=True, text=True, timeout=300)


# -- names ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("source", ["ftp", "official,mirror", ""])
def test_unknown_source(tmp_path, source):
    e = acquire_fails(make_settings(tmp_path, source=source))
    assert_message(e, "source", "use auto, official, nuget or local")


@pytest.mark.parametrize("channel", ["banana", "ten", "10.0.15.1"])
def test_malformed_channel(tmp_path, channel):
    e = acquire_fails(make_settings(tmp_path, channel=channel))
    assert_message(e, f"channel {channel!r}", "not a channel, keyword or version", "8.0, 9.0 or 10.0")


def test_unknown_component(tmp_path):
    e = acquire_fails(make_settings(tmp_path), ("runtime", "windowsdesktop"))
    assert_message(e, "windowsdesktop", "unknown", "choose from runtime, aspnetcore, sdk, crossgen2")


def test_unknown_bubble_name():
    with pytest.raises(DciError) as e:
        get_bubble("aspnet-composite")
    assert_message(e.value, "bubble 'aspnet-composite'", "no such bubble", "runtime, aspnet, aspnet-composed, app")


def test_unknown_bubble_name_on_the_command_line(tmp_path):
    p = _invoke(tmp_path, "crossgen", "--bubble", "nope", DOCKER_HOST="unix:///nonexistent/docker.sock")
    assert p.returncode == 1
    text = " ".join(p.stderr.split())
    assert "error:" in text and "bubble 'nope': no such bubble" in text and "Traceback" not in text
    assert not (tmp_path / "build").exists() and not (tmp_path / "cache").exists()


def test_missing_docker_daemon(tmp_path):
    sock = f"unix:///tmp/no-docker-{uuid.uuid4().hex[:8]}.sock"
    p = _invoke(tmp_path, "build-all", DOCKER_HOST=sock)
    assert p.returncode == 1
    text = " ".join(p.stderr.split())
    assert f"Docker daemon at {sock}" in text and "not reachable" in text and "bootstrap.sh" in text
    assert "Traceback" not in p.stderr
    assert not (tmp_path / "build" / "layout").exists() and not (tmp_path / "cache").exists()


# -- the NuGet feed ------------------------------------------------------------------------------------
def nuget_settings(tmp_path, server, **kw):
    return make_settings(tmp_path, source="nuget", nuget_config=server.nuget_config(tmp_path), channel=NEW, **kw)


def test_feed_refused(tmp_path):
    cfg = tmp_path / "NuGet.Config"
    cfg.write_text(f'<configuration><packageSources><clear/><add key="mirror" value="{fakecdn.closed_port_url("/v3/index.json")}"/>'
                   "</packageSources></configuration>")
    e = acquire_fails(make_settings(tmp_path, source="nuget", nuget_config=cfg))
    assert_message(e, "NuGet sources", "no usable feed", "mirror:", "connection refused", "gave up", "NuGet.Config")


def test_feed_404_for_the_package(feed, tmp_path, packs_new):
    feed.fault(feed.nupkg_path(packs_new["runtime"].package_id, NEW), status=404)
    e = acquire_fails(nuget_settings(tmp_path, feed))
    assert_message(e, "microsoft.netcore.app.runtime.linux-x64.10.0.15.nupkg", "HTTP 404", "check the version, RID")


def test_feed_without_the_rid(feed, tmp_path):
    e = acquire_fails(nuget_settings(tmp_path, feed, rid="linux-arm64"))
    assert_message(e, "RID 'linux-arm64'", "has no package Microsoft.NETCore.App.Runtime.linux-arm64", "--rid")


def test_feed_unknown_version_lists_versions(feed, tmp_path):
    e = acquire_fails(make_settings(tmp_path, source="nuget", nuget_config=feed.nuget_config(tmp_path), channel="10.0.99"))
    assert_message(e, "version '10.0.99'", "no version matching it", "none", "choose")
    e = acquire_fails(make_settings(tmp_path, source="nuget", nuget_config=feed.nuget_config(tmp_path), channel="9.0"))
    assert_message(e, "channel '9.0'", "no version matching it")


def test_feed_without_crossgen2(packs_new, tmp_path):
    p = packs_new["runtime"]
    with fakecdn.FakeFeed({(p.package_id, NEW): p.path}) as server:
        e = acquire_fails(nuget_settings(tmp_path, server), ("runtime", "crossgen2"))
    assert_message(e, "Crossgen2 for linux-x64", "has no Microsoft.NETCore.App.Crossgen2.linux-x64", "only comes from NuGet")


@pytest.mark.parametrize("escape", ["../../escaped-by-zip.txt", "/tmp/escaped-by-zip.txt", "runtimes/../../../escaped-by-zip.txt"])
def test_nupkg_with_escaping_entries_is_refused(packs_new, tmp_path, escape):
    asp = packs_new["aspnetcore"]
    evil = fakecdn.unsafe_nupkg(escape=escape)
    with fakecdn.FakeFeed({("Microsoft.NETCore.App.Runtime.linux-x64", NEW): evil, (asp.package_id, NEW): asp.path}) as server:
        s = nuget_settings(tmp_path, server)
        e = acquire_fails(s)
    assert_message(e, f"Microsoft.NETCore.App.Runtime.linux-x64 {NEW}", "escapes the target folder", "refusing it",
                   "removed from the cache")
    assert not any(p.name == "escaped-by-zip.txt" for p in tmp_path.rglob("*"))
    assert not os.path.exists("/tmp/escaped-by-zip.txt")
    assert Cache(s.cache_dir).get(fakecdn.sha512_of(evil)) is None


def test_nupkg_that_is_not_an_archive(packs_new, tmp_path):
    asp = packs_new["aspnetcore"]
    with fakecdn.FakeFeed({("Microsoft.NETCore.App.Runtime.linux-x64", NEW): b"<html>not found</html>",
                           (asp.package_id, NEW): asp.path}) as server:
        e = acquire_fails(nuget_settings(tmp_path, server))
    assert_message(e, "Microsoft.NETCore.App.Runtime.linux-x64", "not a valid zip/nupkg", "removed from the cache")


def test_published_package_hash_is_checked(packs_new, tmp_path):
    rt, asp = packs_new["runtime"], packs_new["aspnetcore"]
    packages = {(rt.package_id, NEW): rt.path, (asp.package_id, NEW): asp.path}
    with fakecdn.FakeFeed(packages, publish_hash={(rt.package_id, NEW): "ab" * 64, (asp.package_id, NEW): asp.sha512}) as server:
        e = acquire_fails(nuget_settings(tmp_path, server))
    assert_message(e, "microsoft.netcore.app.runtime.linux-x64.10.0.15.nupkg", "SHA-512 mismatch", "expected abababab")


def test_published_package_hash_accepts_the_right_bytes(packs_new, tmp_path):
    rt, asp = packs_new["runtime"], packs_new["aspnetcore"]
    packages = {(rt.package_id, NEW): rt.path, (asp.package_id, NEW): asp.path}
    with fakecdn.FakeFeed(packages, publish_hash={(rt.package_id, NEW): rt.sha512}) as server:
        a = acquire_parts(nuget_settings(tmp_path, server))
        assert server.hits(f"/v3/registration/{rt.package_id.lower()}/{NEW}.json") == [200]
    assert a.components["runtime"].sha512 == rt.sha512


# -- a full disk ---------------------------------------------------------------------------------------------
@pytest.fixture
def small_disk(tmp_path):
    """A 6 MB tmpfs (root only); unmounted afterwards."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    try:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(mnt)], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"cannot mount a small tmpfs here ({exc})")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


def test_full_disk_while_downloading(cdn, small_disk, tmp_path):
    s = make_settings(tmp_path, release_base_url=cdn.base_url, cache_dir=small_disk / "cache")
    e = acquire_fails(s, ("runtime",))
    assert_message(e, str(small_disk / "cache"), "no space left on the device while downloading", "free disk space", "cache_dir")
    assert not any((small_disk / "cache" / "tmp").iterdir())


def test_full_disk_while_laying_out(cdn, small_disk, tmp_path):
    s = make_settings(tmp_path, release_base_url=cdn.base_url, build_dir=small_disk / "build")
    e = acquire_fails(s, ("runtime",))
    assert_message(e, str(small_disk / "build" / "layout"), "no space left on the device while laying out .NET", "build_dir")
    assert list((small_disk / "build" / "layout").iterdir()) == []
    assert Cache(s.cache_dir).get_url(f"{cdn.base_url}/Runtime/{NEW}/dotnet-runtime-{NEW}-{RID}.tar.gz") is not None, \
        "the verified download stays cached"
