"""All sources stage byte-identical frameworks for the same version.

* 10.0.15: `invoke download --source official --base-url http://127.0.0.1:PORT/dotnet` (the real
  CLI, against the loopback CDN serving tarballs packed from the real NuGet packs), `--source
  nuget` against the real feed, and `--source local` on a folder of those tarballs and on a
  dotnet layout unpacked from them.
* 10.0.12: `--source local` on the installed SDK's layout (official bits), `--source nuget`
  (real feed) and `--source official` serving tarballs repacked from the installed layout.

Compared file by file (content and permission bits): shared/Microsoft.NETCore.App/<v> and
shared/Microsoft.AspNetCore.App/<v>.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from crossgen.acquire import http
from crossgen.acquire.acquisition import acquire
from crossgen.acquire.cache import Cache
from tests import fakecdn
from tests.sources_fixtures import (  # noqa: F401 (fixtures)
    _drop_big_files, INSTALLED, NEW, OLD, ROOT, assert_nothing_partial, framework_trees, make_settings, needs_installed,
    packs_new, real_pack, release, seed, tarballs_new, tarballs_old, tree,
)

pytestmark = pytest.mark.slow
FW = ("runtime", "aspnetcore")


def run(settings, components=FW):
    return acquire(settings, http.new_session(), Cache(settings.cache_dir), components=components)


def invoke_download(tmp_path, *args: str) -> dict:
    """Run the real `invoke download` in a subprocess with its own build and cache folders."""
    env = dict(os.environ, INVOKE_DCI_BUILD_DIR=str(tmp_path / "build"), INVOKE_DCI_CACHE_DIR=str(tmp_path / "cache"))
    proc = subprocess.run([sys.executable, "-m", "invoke", "download", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    record = json.loads((tmp_path / "build" / "acquire.json").read_text())
    record["stderr"] = proc.stderr
    return record


def assert_same(trees: dict[str, dict]) -> None:
    names = list(trees)
    first = trees[names[0]]
    for fw, files in first.items():
        assert len(files) > 10, f"{names[0]}: {fw} is almost empty"
    for other in names[1:]:
        for fw in first:
            a, b = first[fw], trees[other][fw]
            only_a, only_b = sorted(set(a) - set(b)), sorted(set(b) - set(a))
            differ = sorted(k for k in set(a) & set(b) if a[k] != b[k])
            assert not (only_a or only_b or differ), (
                f"{fw}: {names[0]} vs {other}: only in first {only_a[:5]}, only in second {only_b[:5]}, differ {differ[:5]}"
            )


def test_new_version_official_nuget_local_identical(tarballs_new, packs_new, tmp_path):
    with fakecdn.FakeCdn({"10.0": [release(tarballs_new)]}) as cdn:
        off_dir = tmp_path / "official"
        seed(off_dir / "cache", packs_new["crossgen2"])  # Crossgen2 from the real feed, already downloaded
        base_url = cdn.base_url
        rec = invoke_download(off_dir, "--source", "official", "--base-url", base_url, "--channel", NEW)
    assert {k: c["source"] for k, c in rec["components"].items()} == {"runtime": "official", "aspnetcore": "official", "crossgen2": "nuget"}
    assert rec["components"]["runtime"]["url"].startswith(base_url)
    assert "acquired .NET 10.0.15 from official" in rec["stderr"]
    official_root = rec["dotnet_root"]
    assert_nothing_partial(off_dir / "cache", off_dir / "build")

    ng = make_settings(tmp_path / "nuget", source="nuget", channel=NEW, project_root=ROOT)
    seed(ng.cache_dir, packs_new["runtime"], packs_new["aspnetcore"])
    nuget = run(ng)
    assert nuget.components["runtime"].url.startswith("https://"), "the real feed"

    folder = tmp_path / "tarballs"
    folder.mkdir()
    for p in (tarballs_new.runtime, tarballs_new.aspnetcore):
        (folder / p.name).symlink_to(p)
    local_tar = run(make_settings(tmp_path / "local-tar", source="local", local_path=folder, channel=NEW))
    layout = fakecdn.extract_layout(tarballs_new.aspnetcore, tmp_path / "unpacked" / "dotnet")
    local_dir = run(make_settings(tmp_path / "local-dir", source="local", local_path=layout, channel=NEW))

    trees = {
        "official": framework_trees(Path(official_root), NEW),
        "nuget": framework_trees(nuget.dotnet_root.path, NEW),
        "local tarballs": framework_trees(local_tar.dotnet_root.path, NEW),
        "local layout": framework_trees(local_dir.dotnet_root.path, NEW),
    }
    assert_same(trees)
    # the official and local-tarball roots are the same in full (host, hostfxr, notices too)
    assert tree(Path(official_root)) == tree(local_tar.dotnet_root.path)


@needs_installed
def test_installed_version_local_nuget_official_identical(tarballs_old, tmp_path):
    packs = {c: real_pack(c, OLD) for c in ("runtime", "aspnetcore")}
    local = run(make_settings(tmp_path / "local", source="local", local_path=INSTALLED, channel=OLD))
    ng = make_settings(tmp_path / "nuget", source="nuget", channel=OLD, project_root=ROOT)
    seed(ng.cache_dir, *packs.values())
    nuget = run(ng)
    with fakecdn.FakeCdn({"10.0": [release(tarballs_old)]}) as cdn:
        official = run(make_settings(tmp_path / "official", source="official", release_base_url=cdn.base_url, channel=OLD))
    trees = {
        "local /usr/share/dotnet": framework_trees(local.dotnet_root.path, OLD),
        "nuget": framework_trees(nuget.dotnet_root.path, OLD),
        "official": framework_trees(official.dotnet_root.path, OLD),
        "installed": framework_trees(INSTALLED, OLD),
    }
    assert_same(trees)
    # with the same host, the NuGet-built root is the installed official layout, host and hostfxr included
    assert tree(nuget.dotnet_root.path) == tree(local.dotnet_root.path)
