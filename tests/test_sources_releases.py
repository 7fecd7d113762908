"""crossgen.acquire.releases against release metadata of the real schema, served over loopback HTTP."""

from __future__ import annotations

import pytest

from crossgen.acquire import http
from crossgen.acquire import releases
from crossgen.core.errors import DciError, NotFound, Unreachable
from tests import fakecdn
from tests.sources_fixtures import (  # noqa: F401 (fixtures)
    _drop_big_files, NEW, PREVIEW_CHANNEL, RID, assert_message, cdn, fast_http, packs_new, release, tarballs_new,
)


def meta(server, **kw) -> releases.ReleaseMetadata:
    return releases.ReleaseMetadata(http.new_session(), server.base_url, **kw)


def index_only(channels: list[dict]) -> fakecdn.FakeCdn:
    return fakecdn.FakeCdn({}, extra_channels=channels)


def channel_entry(version: str, latest: str, kind: str, phase: str = "active") -> dict:
    return {"channel-version": version, "latest-release": latest, "release-type": kind, "support-phase": phase,
            "releases.json": f"{fakecdn.OFFICIAL}/release-metadata/{version}/releases.json"}


def test_channel_resolves_newest_release_with_true_hashes_on_the_mirror(cdn, tarballs_new):
    m = meta(cdn)
    rel, files = releases.resolve(m, "10.0", RID, ["runtime", "aspnetcore"])
    assert rel.release_version == NEW
    rt = files["runtime"]
    assert rt.version == NEW and rt.checksum_from == "metadata"
    assert rt.sha512 == fakecdn.sha512_of(tarballs_new.runtime)
    # the metadata points at builds.dotnet.microsoft.com; the client moved it onto the mirror
    assert rt.url == f"{cdn.base_url}/Runtime/{NEW}/dotnet-runtime-{NEW}-{RID}.tar.gz"
    assert files["aspnetcore"].url == f"{cdn.base_url}/aspnetcore/Runtime/{NEW}/aspnetcore-runtime-{NEW}-{RID}.tar.gz"
    assert cdn.hits(f"/dotnet/release-metadata/10.0/releases.json") == [200]


@pytest.mark.parametrize("spec", ["latest", "lts", "10.0.15", "10.0"])
def test_keywords_and_exact_versions(cdn, spec):
    rel, files = releases.resolve(meta(cdn), spec, RID, ["runtime"])
    assert rel.release_version == NEW  # 11.0 is a preview channel: `latest` skips it


def test_channel_keywords_pick_from_the_index():
    chans = [channel_entry("10.0", "10.0.15", "lts"), channel_entry("9.0", "9.0.23", "sts"),
             channel_entry("8.0", "8.0.34", "lts", "maintenance"), PREVIEW_CHANNEL]
    with index_only(chans) as server:
        m = meta(server)
        assert m.pick_channel("latest").version == "10.0"
        assert m.pick_channel("lts").version == "10.0"
        assert m.pick_channel("sts").version == "9.0"
        assert m.pick_channel("8.0").version == "8.0"
        assert m.pick_channel("9.0.23").version == "9.0"
        assert [c.version for c in m.channels()] == ["11.0", "10.0", "9.0", "8.0"]
        assert server.hits("/dotnet/release-metadata/releases-index.json") == [200]  # fetched once


def test_sts_without_a_stable_sts_channel_says_what_exists(cdn):
    with pytest.raises(DciError) as e:
        releases.resolve(meta(cdn), "sts", RID, ["runtime"])
    assert_message(e.value, "'sts'", "no channel with a stable STS release", "11.0 sts preview", "exact version")


def test_sdk_version_selects_its_release(tarballs_new):
    rel = fakecdn.ReleaseSpec(NEW, {"runtime": tarballs_new.runtime, "sdk": tarballs_new.runtime}, sdk_version="10.0.115")
    with fakecdn.FakeCdn({"10.0": [rel]}) as server:
        r, files = releases.resolve(meta(server), "10.0.115", RID, ["runtime", "sdk"])
        assert r.release_version == NEW
        assert files["sdk"].version == "10.0.115"
        assert files["sdk"].url == f"{server.base_url}/Sdk/10.0.115/dotnet-sdk-10.0.115-{RID}.tar.gz"


def test_unknown_channel_lists_the_channels(cdn):
    with pytest.raises(DciError) as e:
        releases.resolve(meta(cdn), "7.5", RID, ["runtime"])
    assert_message(e.value, "channel '7.5'", "no such channel", "11.0, 10.0", "choose one")


def test_unknown_version_lists_the_releases(cdn):
    with pytest.raises(DciError) as e:
        releases.resolve(meta(cdn), "10.0.99", RID, ["runtime"])
    assert_message(e.value, "version '10.0.99'", "no such release", NEW, "choose one")


@pytest.mark.parametrize("spec", ["banana", "10.x", "10.0.x", ""])
def test_malformed_request(spec):
    with pytest.raises(DciError) as e:
        releases.check_spec(spec)
    assert_message(e.value, "not a channel", "8.0, 9.0 or 10.0")


def test_major_alone_is_its_channel(cdn):
    rel, files = releases.resolve(meta(cdn), "10", RID, ["runtime"])
    assert (rel.channel, files["runtime"].version) == ("10.0", NEW)
    with pytest.raises(DciError) as e:
        releases.resolve(meta(cdn), "7", RID, ["runtime"])
    assert_message(e.value, "channel '7.0'", "no such channel", "11.0, 10.0")


def test_keywords_fall_back_on_the_release_policy_without_release_type():
    chans = [{**channel_entry("10.0", "10.0.15", "lts"), "release-type": ""}, channel_entry("9.0", "9.0.23", "")]
    with index_only(chans) as server:
        m = meta(server)
        assert (m.pick_channel("lts").version, m.pick_channel("sts").version) == ("10.0", "9.0")


def test_rid_not_served_names_the_rids_that_are(cdn):
    with pytest.raises(DciError) as e:
        releases.resolve(meta(cdn), "10.0", "linux-riscv64", ["runtime"])
    assert_message(e.value, "RID 'linux-riscv64'", "no tarball for this RID", "serves: linux-x64", "--rid")


def test_missing_hash_falls_back_to_sha512_file_then_checksums_list(tarballs_new):
    with fakecdn.FakeCdn({"10.0": [release(tarballs_new)]}, hashes=False) as server:
        m = meta(server)
        _, files = releases.resolve(m, "10.0", RID, ["runtime"])
        assert files["runtime"].checksum_from == ".sha512 file"
        assert files["runtime"].sha512 == fakecdn.sha512_of(tarballs_new.runtime)
        server.fault(f"/dotnet/Runtime/{NEW}/dotnet-runtime-{NEW}-{RID}.tar.gz.sha512", status=404)
        m = meta(server)
        _, files = releases.resolve(m, "10.0", RID, ["runtime"])
        assert files["runtime"].checksum_from == f"checksums/{NEW}-sha.txt"
        assert files["runtime"].sha512 == fakecdn.sha512_of(tarballs_new.runtime)
        server.fault(f"/dotnet/checksums/{NEW}-sha.txt", status=404)
        with pytest.raises(DciError) as e:
            releases.resolve(meta(server), "10.0", RID, ["runtime"])
        assert_message(e.value, f"dotnet-runtime-{NEW}-{RID}.tar.gz", "no SHA-512 is published", "unverified downloads are refused")


def test_absolute_mirror_urls_are_kept(tarballs_new):
    with fakecdn.FakeCdn({"10.0": [release(tarballs_new)]}, absolute_urls=True) as server:
        _, files = releases.resolve(meta(server), "10.0", RID, ["runtime"])
        assert files["runtime"].url.startswith(server.base_url + "/Runtime/")


def test_foreign_urls_are_replaced_by_the_canonical_path():
    m = releases.ReleaseMetadata(http.new_session(), "http://127.0.0.1:9/mirror/dotnet")
    odd = "https://download.visualstudio.microsoft.com/download/pr/abc/def/dotnet-runtime-8.0.0-linux-x64.tar.gz"
    assert m.rebase(odd, "Runtime/8.0.0/dotnet-runtime-8.0.0-linux-x64.tar.gz") == \
        "http://127.0.0.1:9/mirror/dotnet/Runtime/8.0.0/dotnet-runtime-8.0.0-linux-x64.tar.gz"
    official = releases.ReleaseMetadata(http.new_session())
    assert official.rebase(odd, "x") == odd  # the official host: URLs as published


def test_index_404_says_what_base_url_is_expected(fast_http):
    with fakecdn.FakeServer() as server:
        with pytest.raises(DciError) as e:
            releases.ReleaseMetadata(http.new_session(), f"{server.origin}/wrong").channels()
        assert_message(e.value, "release metadata index", "HTTP 404", "/wrong/release-metadata/releases-index.json",
                       "must be the folder that holds release-metadata/")
        assert server.hits("/wrong/release-metadata/releases-index.json") == [404]  # not retried
        assert isinstance(e.value, NotFound)


def test_index_that_is_not_json(fast_http):
    with fakecdn.FakeServer() as server:
        server.put("/d/release-metadata/releases-index.json", b"<html>captive portal</html>")
        with pytest.raises(DciError) as e:
            releases.ReleaseMetadata(http.new_session(), f"{server.origin}/d").channels()
        assert_message(e.value, "not JSON", "base URL")


def test_index_of_another_schema(fast_http):
    with fakecdn.FakeServer() as server:
        server.put("/d/release-metadata/releases-index.json", {"versions": ["10.0.15"]})
        with pytest.raises(DciError) as e:
            releases.ReleaseMetadata(http.new_session(), f"{server.origin}/d").channels()
        assert_message(e.value, "releases-index.json", "no `releases-index` list")


def test_http_500_is_retried_with_backoff_then_succeeds(cdn, fast_http):
    cdn.fault("/dotnet/release-metadata/releases-index.json", status=500, times=2)
    assert meta(cdn).pick_channel("10.0").version == "10.0"
    assert cdn.hits("/dotnet/release-metadata/releases-index.json") == [500, 500, 200]


def test_http_500_forever_gives_up_with_the_count(cdn, fast_http):
    cdn.fault("/dotnet/release-metadata/10.0/releases.json", status=503)
    with pytest.raises(DciError) as e:
        releases.resolve(meta(cdn), "10.0", RID, ["runtime"])
    assert_message(e.value, "releases.json of channel 10.0", "HTTP 503", "gave up after 3 attempts", "mirror")
    assert cdn.hits("/dotnet/release-metadata/10.0/releases.json") == [503, 503, 503]


def test_refused_connection(fast_http):
    url = fakecdn.closed_port_url()
    with pytest.raises(DciError) as e:
        releases.ReleaseMetadata(http.new_session(), url).channels()
    assert_message(e.value, "release metadata index", "connection refused", "gave up after 3 attempts", "--source nuget")
    assert isinstance(e.value, Unreachable)


def test_timeout(cdn, fast_http, monkeypatch):
    monkeypatch.setattr(http, "TIMEOUT", (1, 0.3))
    cdn.fault("/dotnet/release-metadata/releases-index.json", delay=1.0)
    with pytest.raises(DciError) as e:
        meta(cdn, attempts=2).channels()
    assert_message(e.value, "release metadata index", "timed out", "gave up after 2 attempts")
