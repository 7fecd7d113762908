"""crossgen.acquire.versionspec: one parser and one matcher for the version request, and proof that the
official metadata, a NuGet feed, a local folder and the lock file agree on what it selects."""

from __future__ import annotations

import copy
import json
import pickle

import pytest

from crossgen.acquire import lock as lockfile
from crossgen.acquire import releases
from crossgen.core.errors import DciError
from crossgen.acquire.local import LocalSource
from crossgen.core.settings import Settings
from crossgen.acquire.model import pick, stable_or_exact
from crossgen.acquire.sources import NuGetSource
from crossgen.acquire.versionspec import (
    VersionSpec, newest_first, parse_spec, parse_version, support_type, version_key,
)
from tests import fakecdn
from tests.sources_fixtures import PREVIEW_CHANNEL, RID, assert_message

PID = "Microsoft.NETCore.App.Runtime.linux-x64"


# -- parsing ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, kind, value", [
    ("10.0", "channel", "10.0"),
    ("10", "channel", "10.0"),          # a major alone: its only channel since .NET 5
    (" 8 ", "channel", "8.0"),
    ("010.00", "channel", "10.0"),
    ("latest", "latest", "latest"),
    ("LTS", "lts", "lts"),
    (" Sts ", "sts", "sts"),
    ("10.0.15", "exact", "10.0.15"),
    ("10.0.0-rc.2.25502.107", "exact", "10.0.0-rc.2.25502.107"),
])
def test_accepted_forms(text, kind, value):
    spec = parse_spec(text)
    assert (spec.kind, str(spec), spec) == (kind, value, value)
    assert spec.given == text.strip()
    assert parse_spec(spec) is spec  # parsed once: a VersionSpec passes through


@pytest.mark.parametrize("text", ["banana", "10.x", "10.0.x", "", "   ", "10.0.15.1", "10.0.", "v10.0", "-1", "10.0.15-", "ten"])
def test_garbage_is_refused_with_the_accepted_forms(text):
    with pytest.raises(DciError) as e:
        parse_spec(text)
    assert e.value.what == f"channel {text.strip()!r}"
    assert_message(e.value, "not a channel, keyword or version", "8.0, 9.0 or 10.0", "10 means 10.0", "latest", "lts",
                   "sts", "10.0.15")


def test_none_is_refused_like_an_empty_request():
    with pytest.raises(DciError) as e:
        parse_spec(None)
    assert e.value.what == "channel ''"


@pytest.mark.parametrize("text, listed", [("3", "3.0, 3.1"), ("2", "2.0, 2.1, 2.2"), ("1", "1.0, 1.1")])
def test_a_major_with_several_channels_is_refused_with_them(text, listed):
    with pytest.raises(DciError) as e:
        parse_spec(text)
    assert_message(e.value, f"channel '{text}'", "several channels", listed, "name the channel")


@pytest.mark.parametrize("text", ["4", "0"])
def test_a_major_that_never_existed_is_refused(text):
    with pytest.raises(DciError) as e:
        parse_spec(text)
    assert_message(e.value, f"channel '{text}'", f"no .NET {text} channel", "8.0, 9.0 or 10.0")


def test_check_spec_is_the_same_parser():
    assert releases.check_spec is parse_spec
    assert releases.check_spec("10") == "10.0"


def test_a_spec_is_its_normalized_text_everywhere():
    spec = parse_spec("10")
    assert f"{spec}" == "10.0" and f"{spec!r}" == "'10.0'" and spec == "10.0"
    assert json.loads(json.dumps({"channel": spec})) == {"channel": "10.0"}
    for clone in (copy.deepcopy(spec), pickle.loads(pickle.dumps(spec))):
        assert isinstance(clone, VersionSpec) and clone.kind == "channel" and clone.given == "10"
    with pytest.raises(AttributeError):
        spec.kind = "exact"  # type: ignore[misc]


def test_labels_and_descriptions():
    assert parse_spec("10.0.15").label == "version '10.0.15'"
    assert parse_spec("10").label == "channel '10.0'"
    assert parse_spec("lts").label == "channel 'lts'"
    assert "10.0.15 exactly" in parse_spec("10.0.15").describe()
    assert "newest stable release of .NET 10.0" in parse_spec("10").describe()
    assert "LTS" in parse_spec("lts").describe() and "STS" in parse_spec("sts").describe()
    assert "newest channel" in parse_spec("latest").describe()


# -- versions --------------------------------------------------------------------------------------
VERSIONS = [
    "10.0.15", "10.0.9", "10.0.10", "10.0.0-rc.2.25502.107", "10.0.0-preview.7.25380.108", "10.1.0",
    "9.0.23", "1.0.0", "100.0.1", "not-a-version", "8.0.34", "10.0.0", "11.0.0-preview.1.26101.1",
]


def test_nuget_prerelease_versions_parse_and_sort_as_nuget_does():
    v = parse_version("10.0.0-rc.2.25502.107")
    assert v is not None and v.is_prerelease and v.channel == "10.0"
    assert parse_version("not-a-version") is None and parse_version("10.0") is None
    assert newest_first(["10.0.0-rc.2.1", "10.0.0-rc.10.1", "10.0.0", "10.0.0-preview.7.1", "10.0.2", "10.0.12", "10.0.11"]) == [
        "10.0.12", "10.0.11", "10.0.2", "10.0.0", "10.0.0-rc.10.1", "10.0.0-rc.2.1", "10.0.0-preview.7.1",
    ]
    assert version_key("10.0.15+build.7") == version_key("10.0.15") == version_key("10.0.15.0")
    assert version_key("10.0.0-RC.2") == version_key("10.0.0-rc.2")


def test_channel_matches_its_stable_versions_newest_first():
    assert parse_spec("10.0").select(VERSIONS) == ["10.0.15", "10.0.10", "10.0.9", "10.0.0"]
    assert parse_spec("10").select(VERSIONS) == parse_spec("10.0").select(VERSIONS)
    assert parse_spec("9.0").select(VERSIONS) == ["9.0.23"]
    assert parse_spec("7.0").select(VERSIONS) == []
    assert parse_spec("11.0").select(VERSIONS) == []  # previews only


def test_exact_matches_itself_a_preview_too():
    assert parse_spec("10.0.10").select(VERSIONS) == ["10.0.10"]
    assert parse_spec("10.0.11").select(VERSIONS) == []
    assert parse_spec("10.0.0-rc.2.25502.107").select(VERSIONS) == ["10.0.0-rc.2.25502.107"]
    assert parse_spec("10.0.0-RC.2.25502.107").matches("10.0.0-rc.2.25502.107")  # NuGet compares case-insensitively


def test_keywords_match_stable_versions_by_support_type():
    assert parse_spec("latest").select(VERSIONS)[:3] == ["100.0.1", "10.1.0", "10.0.15"]
    assert "9.0.23" not in parse_spec("lts").select(VERSIONS) and "8.0.34" in parse_spec("lts").select(VERSIONS)
    assert parse_spec("sts").select(VERSIONS) == ["9.0.23"]
    assert "1.0.0" not in parse_spec("lts").select(VERSIONS) + parse_spec("sts").select(VERSIONS)  # before .NET 5


def test_keywords_choose_among_the_newest_matching_channel_only():
    got = ["10.0.15", "10.0.14", "9.0.23", "8.0.34"]
    assert parse_spec("latest").choose(got) == ["10.0.15", "10.0.14"]
    assert parse_spec("lts").choose(got) == ["10.0.15", "10.0.14"]
    assert parse_spec("sts").choose(got) == ["9.0.23"]
    assert parse_spec("8.0").choose(got) == ["8.0.34"]


def test_support_type_follows_the_release_policy():
    assert [support_type(c) for c in ("5.0", "6.0", "7.0", "8.0", "9.0", "10.0", "11.0", "12.0")] == \
        ["sts", "lts", "sts", "lts", "sts", "lts", "sts", "lts"]
    assert support_type("3.1") is None and support_type("junk") is None


def test_release_metadata_release_type_decides_when_given():
    assert parse_spec("lts").matches("9.0.23", release_type="lts")
    assert not parse_spec("lts").matches("10.0.15", release_type="sts")
    assert parse_spec("lts").matches_channel("3.1", "lts") and not parse_spec("lts").matches_channel("3.1")


def test_the_source_helpers_use_the_same_matcher():
    assert stable_or_exact(VERSIONS, "lts") == parse_spec("lts").select(VERSIONS)
    assert pick("feed", "latest", {"a": ["10.0.15", "10.0.14", "9.0.23"], "b": ["10.0.14", "9.0.23"]}, None) == "10.0.14"
    with pytest.raises(DciError) as e:  # 10.0 has no accepted version: `latest` does not fall back to 9.0
        pick("feed", "latest", {"a": ["10.0.15", "9.0.23"]}, lambda v: v.startswith("9."))
    assert_message(e.value, "channel 'latest'", "offers 10.0.15", "Crossgen2 is not on the NuGet feed")


# -- every path agrees --------------------------------------------------------------------------------
UNIVERSE = {"8.0": ["8.0.33", "8.0.34"], "9.0": ["9.0.22", "9.0.23"], "10.0": ["10.0.14", "10.0.15"]}
ALL_VERSIONS = [v for vs in UNIVERSE.values() for v in vs]


@pytest.fixture(scope="module")
def universe(tmp_path_factory):
    """The same versions as official metadata (plus an 11.0 preview channel), a NuGet feed and a
    local tarball folder (small stand-in files: only resolution is exercised, nothing is fetched)."""
    root = tmp_path_factory.mktemp("universe")
    tarballs = root / "tarballs"
    tarballs.mkdir()
    rels = {}
    for channel, versions in UNIVERSE.items():
        rels[channel] = []
        for v in versions:
            f = tarballs / f"dotnet-runtime-{v}-{RID}.tar.gz"
            f.write_bytes(f"runtime {v}".encode())
            rels[channel].append(fakecdn.ReleaseSpec(v, {"runtime": f}))
    feed_packages = {(PID, v): f"nupkg {v}".encode() for v in [*ALL_VERSIONS, "11.0.0-preview.1.26101.1"]}
    with fakecdn.FakeCdn(rels, extra_channels=[PREVIEW_CHANNEL]) as cdn, fakecdn.FakeFeed(feed_packages) as feed:
        yield {"cdn": cdn, "feed": feed, "tarballs": tarballs, "root": root}


def resolved(universe, http_session, spec: str, accept=None) -> dict[str, str]:
    """The runtime version each source resolves ``spec`` to (or its DciError's label)."""
    settings = Settings(project_root=universe["root"], nuget_config=universe["feed"].nuget_config(universe["root"]),
                        dotnet_root=universe["root"], rid=RID)
    sources = {
        "official": lambda: releases.resolve(releases.ReleaseMetadata(http_session, universe["cdn"].base_url, attempts=1),
                                             spec, RID, ["runtime"], accept)[1]["runtime"].version,
        "nuget": lambda: NuGetSource(http_session, settings).resolve(spec, RID, ("runtime",), accept).version,
        "local": lambda: LocalSource(universe["tarballs"]).resolve(spec, RID, ("runtime",), accept).version,
    }
    out = {}
    for name, run in sources.items():
        try:
            out[name] = run()
        except DciError as exc:
            out[name] = f"refused: {exc.what}"
    return out


@pytest.mark.parametrize("spec, expected", [
    ("latest", "10.0.15"), ("lts", "10.0.15"), ("sts", "9.0.23"), ("10.0", "10.0.15"), ("10", "10.0.15"),
    ("9", "9.0.23"), ("8.0", "8.0.34"), ("10.0.14", "10.0.14"), ("8.0.33", "8.0.33"),
])
def test_every_source_and_the_lock_file_agree(universe, http_session, spec, expected):
    assert resolved(universe, http_session, spec) == {"official": expected, "nuget": expected, "local": expected}
    # The lock file accepts a lock of a version exactly when the sources' matcher does ...
    for v in ALL_VERSIONS:
        assert lockfile.answers_request({"version": v, "request": {"channel": "7.0"}}, spec) == parse_spec(spec).matches(v)
    # ... and so always the version the sources resolved the request to.
    assert lockfile.answers_request({"version": expected, "request": {}}, spec)


@pytest.mark.parametrize("spec", ["7.0", "6", "10.0.13"])
def test_every_source_refuses_what_none_serves(universe, http_session, spec):
    got = resolved(universe, http_session, spec)
    assert all(r.startswith("refused: ") and parse_spec(spec).label in r for r in got.values()), got


def test_sources_agree_when_crossgen2_narrows_the_choice(universe, http_session):
    no_newest = lambda v: v != "10.0.15"  # noqa: E731
    assert set(resolved(universe, http_session, "lts", no_newest).values()) == {"10.0.14"}
    # With nothing of the newest LTS channel accepted, none falls back to an older channel.
    not_ten = lambda v: not v.startswith("10.")  # noqa: E731
    assert all(r == "refused: channel 'lts'" for r in resolved(universe, http_session, "lts", not_ten).values())


def test_lock_keyword_checks_use_the_support_types():
    assert lockfile.answers_request({"version": "8.0.34"}, "lts")
    assert not lockfile.answers_request({"version": "9.0.23"}, "lts")
    assert lockfile.answers_request({"version": "9.0.23"}, "sts")
    assert lockfile.answers_request({"version": "9.0.23"}, "latest")
    assert not lockfile.answers_request({"version": "11.0.0-preview.1.26101.1"}, "latest")  # latest is stable
    assert lockfile.answers_request({"version": "10.0.15"}, "10")


def test_lock_made_for_the_same_request_answers_it():
    """An SDK version selects its release through the metadata: the lock made for it stays valid."""
    doc = {"version": "10.0.15", "request": {"channel": "10.0.115"}}
    assert lockfile.answers_request(doc, "10.0.115")
    assert not lockfile.answers_request(doc, "10.0.116")
    assert lockfile.answers_request({"version": "10.0.15", "request": {"channel": "banana"}}, "10.0")  # unreadable: by version
