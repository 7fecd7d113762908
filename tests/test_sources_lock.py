"""Lock files: `invoke lock` records what was resolved; `--locked` uses exactly that, offline from
the cache when it can, and fails on any difference."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import replace

import pytest

from crossgen import dockerio, pipeline
from crossgen.acquire import lock as lockfile
from crossgen.core.errors import DciError
from crossgen.images import baseimage
from tests import fakecdn
from tests.pipeline_support import TEST_PREFIX
from tests.sources_fixtures import (  # noqa: F401 (fixtures)
    _drop_big_files, INSTALLED, NEW, OLD, ROOT, RID, acquire_fails, acquire_parts, assert_message, cdn, feed, make_settings,
    needs_installed, packs_new, tarballs_new,
)

ALL = ("runtime", "aspnetcore", "crossgen2")
LOCKED = ("runtime", "crossgen2")  # what the `locked` fixture locks (no ASP.NET Core: quicker to lay out)


@pytest.fixture
def locked(cdn, feed, tmp_path):
    """A lock written from the loopback CDN (frameworks) and feed (Crossgen2), and settings that use it."""
    s = make_settings(tmp_path, release_base_url=cdn.base_url, nuget_config=feed.nuget_config(tmp_path))
    a = acquire_parts(s, LOCKED)
    doc = lockfile.write(s.lock_file, a, s)
    return s, a, doc


def test_lock_records_component_version_source_url_sha512(locked, cdn, feed, tarballs_new, packs_new):
    s, a, doc = locked
    on_disk = json.loads(s.lock_file.read_text())
    assert on_disk == doc
    assert (doc["version"], doc["rid"], doc["format"]) == (NEW, RID, 1)
    assert sorted(doc["components"]) == sorted(LOCKED)
    rt, cg = (doc["components"][c] for c in LOCKED)
    assert rt == {"package_id": f"dotnet-runtime-{RID}", "version": NEW, "source": "official", "kind": "tarball",
                  "url": f"{cdn.base_url}/Runtime/{NEW}/dotnet-runtime-{NEW}-{RID}.tar.gz",
                  "sha512": fakecdn.sha512_of(tarballs_new.runtime), "size": tarballs_new.runtime.stat().st_size}
    assert (cg["source"], cg["kind"], cg["sha512"]) == ("nuget", "nupkg", packs_new["crossgen2"].sha512)
    assert "host" not in doc  # the official tarball brings its own `dotnet`


def test_locked_build_is_offline_from_the_cache(locked, cdn, feed):
    s, a, _ = locked
    cdn.stop()
    feed.stop()
    b = acquire_parts(replace(s, locked=True), LOCKED)
    assert b.version == a.version and b.dotnet_root == a.dotnet_root
    assert {k: c.sha512 for k, c in b.components.items()} == {k: c.sha512 for k, c in a.components.items()}


def test_locked_build_downloads_the_locked_urls(locked, cdn):
    s, a, _ = locked
    shutil.rmtree(s.cache_dir)
    before = len(cdn.log)
    b = acquire_parts(replace(s, locked=True), LOCKED)
    paths = [p for p, _ in cdn.log[before:]]
    assert not any("release-metadata" in p for p in paths), "a locked build does not resolve again"
    assert b.components["runtime"].sha512 == a.components["runtime"].sha512


def test_locked_build_refuses_other_bytes(locked, cdn):
    s, _, _ = locked
    shutil.rmtree(s.cache_dir)
    cdn.fault(f"/dotnet/Runtime/{NEW}/dotnet-runtime-{NEW}-{RID}.tar.gz", body=b"republished with other contents")
    e = acquire_fails(replace(s, locked=True), LOCKED)
    assert_message(e, f"dotnet-runtime-{NEW}-{RID}.tar.gz", "SHA-512 mismatch", "nothing was kept")


@pytest.mark.parametrize(
    "change, expected",
    [
        ({"channel": "9.0"}, [f"it locks .NET {NEW}", "'9.0'"]),
        ({"channel": "10.0.14"}, [f"it locks .NET {NEW}", "'10.0.14'"]),
        ({"source": "nuget"}, ["runtime is locked to source official", "asks for nuget"]),
    ],
)
def test_any_difference_fails(locked, change, expected):
    s, _, _ = locked
    e = acquire_fails(replace(s, locked=True, **change), LOCKED)
    assert_message(e, str(s.lock_file), "the lock file differs from this build", *expected, "re-run `invoke lock`")


def test_each_rid_has_its_own_lock_file(locked):
    """`lock --rid linux-arm64` writes beside the x64 lock file, and `--locked --rid linux-arm64` reads
    that one: none yet is a missing lock; an x64 lock put there is refused for its RID."""
    s, _, _ = locked
    arm = replace(s, locked=True, rid="linux-arm64")
    assert arm.lock_path == s.lock_file.with_name("dotnet-arm64.lock.json") and s.lock_path == s.lock_file
    e = acquire_fails(arm, LOCKED)
    assert_message(e, "dotnet-arm64.lock.json", "no lock file here", "with the build's --rid")
    shutil.copy(s.lock_file, arm.lock_path)
    e = acquire_fails(arm, LOCKED)
    assert_message(e, "dotnet-arm64.lock.json", "it is for RID linux-x64", "asks for linux-arm64")


def test_component_missing_from_the_lock(locked):
    s, _, _ = locked
    e = acquire_fails(replace(s, locked=True), ALL)
    assert_message(e, "it has no aspnetcore (it has runtime, crossgen2)")


def test_aspnetcore_is_locked_too(cdn, tmp_path, tarballs_new):
    s = make_settings(tmp_path, release_base_url=cdn.base_url)
    doc = lockfile.write(s.lock_file, acquire_parts(s, ("runtime", "aspnetcore")), s)
    assert doc["aspnet_version"] == NEW
    assert doc["components"]["aspnetcore"]["sha512"] == fakecdn.sha512_of(tarballs_new.aspnetcore)
    assert doc["components"]["aspnetcore"]["url"].endswith(f"/aspnetcore/Runtime/{NEW}/aspnetcore-runtime-{NEW}-{RID}.tar.gz")


def test_channel_that_contains_the_locked_version_is_fine(locked):
    s, a, _ = locked
    assert acquire_parts(replace(s, locked=True, channel="lts"), LOCKED).version == a.version


def test_no_lock_file(tmp_path):
    e = acquire_fails(make_settings(tmp_path, locked=True), LOCKED)
    assert_message(e, "dotnet.lock.json", "no lock file here", "run `invoke lock` first")


@pytest.mark.parametrize(
    "content, expected",
    [
        ("{not json", "not a readable lock file"),
        (json.dumps({"format": 99}), "format 99"),
        (json.dumps({"format": 1, "version": NEW, "rid": RID, "components": {"runtime": {"url": "x"}}}), "runtime lacks"),
    ],
)
def test_broken_lock_file(tmp_path, content, expected):
    s = make_settings(tmp_path, locked=True)
    s.lock_file.write_text(content)
    e = acquire_fails(s, LOCKED)
    assert_message(e, "not a", expected, "re-run `invoke lock`")


def test_tampered_sha512(locked):
    s, _, doc = locked
    doc["components"]["runtime"]["sha512"] = "not-a-hash"
    s.lock_file.write_text(json.dumps(doc))
    assert_message(acquire_fails(replace(s, locked=True), LOCKED), "bad kind or sha512")


@needs_installed
def test_local_layout_lock_detects_changed_files(tmp_path):
    copy = tmp_path / "dotnet"
    shutil.copytree(INSTALLED, copy, symlinks=True, ignore=shutil.ignore_patterns("sdk", "packs", "templates", "sdk-manifests"))
    s = make_settings(tmp_path, source="local", local_path=copy)
    a = acquire_parts(s, ("runtime", "aspnetcore"))
    doc = lockfile.write(s.lock_file, a, s)
    assert doc["components"]["runtime"]["kind"] == "framework-dir"
    assert doc["host"]["path"] == str(copy)
    assert acquire_parts(replace(s, locked=True), ("runtime", "aspnetcore")).dotnet_root == a.dotnet_root
    victim = copy / "shared" / "Microsoft.AspNetCore.App" / OLD / "Microsoft.AspNetCore.dll"
    victim.write_bytes(victim.read_bytes() + b"\0")
    e = acquire_fails(replace(s, locked=True), ("runtime", "aspnetcore"))
    assert_message(e, "Microsoft.AspNetCore.App", "its contents changed", "re-run `invoke lock`")


@needs_installed
def test_nuget_lock_records_the_host_and_detects_another(feed, tmp_path):
    s = make_settings(tmp_path, source="nuget", nuget_config=feed.nuget_config(tmp_path), channel=NEW)
    a = acquire_parts(s, LOCKED)
    doc = lockfile.write(s.lock_file, a, s)
    assert doc["host"] == {"path": str(INSTALLED), "dotnet_sha512": fakecdn.sha512_of(INSTALLED / "dotnet")}
    doc["host"]["dotnet_sha512"] = "0" * 128
    s.lock_file.write_text(json.dumps(doc))
    e = acquire_fails(replace(s, locked=True), LOCKED)
    assert_message(e, "dotnet", "the dotnet host differs from the lock file", "re-run `invoke lock`")


def _invoke(tmp_path, *args, extra_env=None):
    env = dict(os.environ, INVOKE_DCI_BUILD_DIR=str(tmp_path / "build"), INVOKE_DCI_CACHE_DIR=str(tmp_path / "cache"),
               INVOKE_DCI_LOCK_FILE=str(tmp_path / "my.lock.json"), **(extra_env or {}))
    return subprocess.run([sys.executable, "-m", "invoke", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


LOCK_PREFIX = f"{TEST_PREFIX}lock-"  # the base images `invoke lock` builds here: apart from the suite's own


@pytest.fixture
def lock_images():
    api = dockerio.connect()
    yield {"INVOKE_DCI_IMAGE_PREFIX": LOCK_PREFIX, "INVOKE_DCI_BASE_IMAGE": f"{TEST_PREFIX}debian:trixie-slim"}
    dockerio.remove_tags_with_prefix(api, LOCK_PREFIX)


@pytest.mark.slow
@pytest.mark.docker
def test_invoke_lock_then_download_locked(cdn, feed, tmp_path, lock_images):
    cfg = feed.nuget_config(tmp_path)
    env = {"INVOKE_DCI_NUGET_CONFIG": str(cfg), **lock_images}
    p = _invoke(tmp_path, "lock", "--source", "official", "--base-url", cdn.base_url, extra_env=env)
    assert p.returncode == 0, p.stderr
    assert "wrote" in p.stderr and "my.lock.json" in p.stderr
    doc = json.loads((tmp_path / "my.lock.json").read_text())
    assert doc["components"]["runtime"]["source"] == "official"
    # the Debian packages of the base images, as dpkg lists them in each
    debian = doc["debian"]
    assert debian["suite"] == "trixie" and "base-files" in debian["os"] and "libicu76" not in debian["os"]
    assert {"libicu76", "ca-certificates"} <= set(debian["runtime-deps"])  # what runtime-deps adds to the OS
    s = make_settings(tmp_path, lock_file=tmp_path / "my.lock.json", image_prefix=LOCK_PREFIX,
                      base_image=lock_images["INVOKE_DCI_BASE_IMAGE"], locked=True)
    api = dockerio.connect()
    pipeline.check_debian_lock(api, s)  # the same images: as locked
    debian["runtime-deps"]["libicu76"] = "0.0-locked"
    del debian["os"]["base-files"]
    (tmp_path / "my.lock.json").write_text(json.dumps(doc))
    with pytest.raises(DciError) as err:
        pipeline.check_debian_lock(api, s)
    assert_message(err.value, "my.lock.json", "other Debian packages than the lock file", "invoke lock")
    text = str(err.value)
    assert f"runtime-deps: libicu76 {doc_version(api, s, 'libicu76')} (locked: 0.0-locked)" in text
    assert "os: base-files" in text and "(locked: absent)" in text
    p = _invoke(tmp_path, "download", "--locked", extra_env=env)
    assert p.returncode == 0, p.stderr
    assert "Using the lock file" in p.stderr
    p = _invoke(tmp_path, "download", "--locked", "--channel", "9.0", extra_env=env)
    assert p.returncode == 1
    text = " ".join(p.stderr.split())  # the console wraps long lines
    assert "error:" in text and "differs from this build" in text and "Traceback" not in text


@pytest.mark.docker
def test_build_all_locked_fails_on_a_difference_before_building(locked, tmp_path):
    s, _, doc = locked
    doc["rid"] = "linux-arm64"
    (tmp_path / "my.lock.json").write_text(json.dumps(doc))
    layouts_before = sorted((s.build_dir / "layout").iterdir())
    p = _invoke(tmp_path, "build-all", "--locked")
    assert p.returncode == 1, p.stderr[-2000:]
    text = " ".join(p.stderr.split())
    assert "the lock file differs from this build" in text and "it is for RID linux-arm64" in text
    assert sorted((s.build_dir / "layout").iterdir()) == layouts_before
    assert not (s.build_dir / "contexts").exists(), "nothing was built"


def doc_version(api, s, package: str) -> str:
    return baseimage.installed_packages(api, baseimage.runtime_deps_name(s))[package]


def test_a_new_lock_keeps_other_bases_packages_only_from_the_same_archive_state():
    slim = {"suite": "trixie", "os": {"libc6": "2.41-12"}, "runtime-deps": {"libicu76": "76.1-4"}}
    distroless = {"suite": "trixie", "os": {"libc6": "2.41-12"}, "runtime-deps-distroless": {"ca-certificates": "20250419"}}
    assert lockfile.merged_debian({"debian": slim}, distroless) == {**slim, **distroless}
    newer = {**distroless, "os": {"libc6": "2.41-13"}}  # the archive moved on: slim's entry no longer describes it
    assert lockfile.merged_debian({"debian": slim}, newer) == newer
    assert lockfile.merged_debian({"debian": {**slim, "suite": "forky"}}, distroless) == distroless
    assert lockfile.merged_debian(None, distroless) == distroless
