"""Fixtures and checks for the acquisition tests (tests/test_sources_*.py).

Real bits: the NuGet runtime / ASP.NET Core / Crossgen2 packs (read from the project's download
cache, downloaded there once from the configured feed when missing) and the installed .NET
layout (/usr/share/dotnet or DOTNET_ROOT). Official-style tarballs are packed from them once
and kept in ~/.cache/dotnet-composite-images-tests (outside the repository; reproducible bytes).

Every test gets its own empty cache and build folder, so the checks of "nothing partial left"
look at exactly what the code under test wrote.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from crossgen.acquire import http
from crossgen.acquire.acquisition import Acquired, acquire
from crossgen.acquire.cache import Cache, sha512_file
from crossgen.core.errors import DciError
from crossgen.core.settings import Settings, default_cache_dir
from tests import fakecdn

ROOT = Path(__file__).resolve().parent.parent
INSTALLED = Path(os.environ.get("DOTNET_ROOT") or "/usr/share/dotnet")
RID = "linux-x64"
NEW = "10.0.15"   # served by the feed; not installed here
OLD = "10.0.12"   # the installed SDK's runtime, also served by the feed
TEST_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dotnet-composite-images-tests"

PIDS = {
    "runtime": "Microsoft.NETCore.App.Runtime.linux-x64",
    "aspnetcore": "Microsoft.AspNetCore.App.Runtime.linux-x64",
    "crossgen2": "Microsoft.NETCore.App.Crossgen2.linux-x64",
}


def installed_version() -> str | None:
    d = INSTALLED / "shared" / "Microsoft.NETCore.App" / OLD
    return OLD if d.is_dir() and (INSTALLED / "shared" / "Microsoft.AspNetCore.App" / OLD).is_dir() else None


needs_installed = pytest.mark.skipif(installed_version() is None, reason=f".NET {OLD} is not installed in {INSTALLED}")


@dataclass(frozen=True)
class RealPack:
    package_id: str
    version: str
    path: Path
    sha512: str
    url: str


_feed = None


def real_pack(component: str, version: str) -> RealPack:
    """A real NuGet pack from the project's cache (downloaded there from the configured feed when missing)."""
    global _feed
    from crossgen.acquire.nuget import configured_sources, open_feed

    pid = PIDS[component]
    cache = Cache(default_cache_dir())
    url = f"https://api.nuget.org/v3-flatcontainer/{pid.lower()}/{version}/{pid.lower()}.{version}.nupkg"
    hit = cache.get_url(url)
    if hit is None:
        session = http.new_session()
        if _feed is None:
            _feed = open_feed(session, configured_sources(None, ROOT))
        hit = http.fetch(session, _feed.nupkg_url(pid, version), cache, label=f"{pid} {version}")
        url = hit.url
    return RealPack(pid, version, hit.path, hit.sha512, url)


@pytest.fixture(scope="session")
def packs_new() -> dict[str, RealPack]:
    return {c: real_pack(c, NEW) for c in PIDS}


def _persistent(name: str, *inputs: str) -> Path:
    key = hashlib.sha256(json.dumps([fakecdn.HELPER_FORMAT, *inputs]).encode()).hexdigest()[:16]
    d = TEST_CACHE / f"{name}-{key}"
    d.mkdir(parents=True, exist_ok=True)
    return d


@pytest.fixture(scope="session")
def tarballs_new(packs_new) -> fakecdn.Tarballs:
    """10.0.15 tarballs packed from the real NuGet packs + the installed `dotnet` host."""
    host = INSTALLED / "dotnet"
    out = _persistent(f"tarballs-{NEW}", packs_new["runtime"].sha512, packs_new["aspnetcore"].sha512, sha512_file(host))
    return fakecdn.tarballs_from_packs(out, version=NEW, rid=RID, runtime_nupkg=packs_new["runtime"].path,
                                       aspnet_nupkg=packs_new["aspnetcore"].path, host=host)


@pytest.fixture(scope="session")
def tarballs_old() -> fakecdn.Tarballs:
    """10.0.12 tarballs repacked from the installed (official) dotnet layout."""
    if installed_version() is None:
        pytest.skip(f".NET {OLD} is not installed in {INSTALLED}")
    fx = INSTALLED / "shared" / "Microsoft.NETCore.App" / OLD / "System.Private.CoreLib.dll"
    out = _persistent(f"tarballs-{OLD}", sha512_file(fx), sha512_file(INSTALLED / "dotnet"))
    return fakecdn.tarballs_from_layout(out, root=INSTALLED, version=OLD, rid=RID)


def release(t: fakecdn.Tarballs) -> fakecdn.ReleaseSpec:
    return fakecdn.ReleaseSpec(t.version, {"runtime": t.runtime, "aspnetcore": t.aspnetcore})


PREVIEW_CHANNEL = {
    "channel-version": "11.0", "latest-release": "11.0.0-preview.1.26101.1", "latest-release-date": "2026-02-10",
    "security": False, "latest-runtime": "11.0.0-preview.1.26101.1", "latest-sdk": "11.0.100-preview.1.26101.1",
    "product": ".NET", "support-phase": "preview", "eol-date": None, "release-type": "sts",
    "releases.json": "https://builds.dotnet.microsoft.com/dotnet/release-metadata/11.0/releases.json",
}


@pytest.fixture
def cdn(tarballs_new):
    """The official layout for channel 10.0 (10.0.15 from the NuGet packs) plus an 11.0 preview channel."""
    with fakecdn.FakeCdn({"10.0": [release(tarballs_new)]}, extra_channels=[PREVIEW_CHANNEL]) as server:
        yield server


@pytest.fixture
def feed(packs_new):
    """A loopback NuGet feed with the real 10.0.15 packs (Crossgen2 among them)."""
    with fakecdn.FakeFeed({(p.package_id, p.version): p.path for p in packs_new.values()}) as server:
        yield server


@pytest.fixture
def fast_http(monkeypatch):
    """Shorter retry/timeout settings (attempts and back-off are read when a session is made, the
    timeout at each call: set them before acquiring)."""
    monkeypatch.setattr(http, "ATTEMPTS", 3)
    monkeypatch.setattr(http, "BACKOFF", 0.05)
    monkeypatch.setattr(http, "TIMEOUT", (2, 2))


@pytest.fixture(autouse=True)
def _drop_big_files(tmp_path):
    """Remove each test's layouts and downloads afterwards: hundreds of MB per test otherwise stay
    in pytest's retained temporary folders (and deleting them is slow on this file system)."""
    yield
    shutil.rmtree(tmp_path, ignore_errors=True)


def make_settings(tmp_path: Path, **kw) -> Settings:
    base = dict(
        project_root=tmp_path,
        channel="10.0",
        rid=RID,
        build_dir=tmp_path / "build",
        cache_dir=tmp_path / "cache",
        dotnet_root=INSTALLED,
        source="official",
        lock_file=tmp_path / "dotnet.lock.json",
    )
    base.update(kw)
    return Settings(**base)


FW = ("runtime", "aspnetcore")


def acquire_parts(settings: Settings, components: tuple[str, ...] = FW) -> Acquired:
    """acquire() as the tasks call it: a new HTTP session, the cache of ``settings``."""
    return acquire(settings, http.new_session(), Cache(settings.cache_dir), components=components)


def acquire_fails(settings: Settings, components: tuple[str, ...] = FW) -> DciError:
    """acquire() must raise a DciError and leave nothing partial in the cache or build folder."""
    with pytest.raises(DciError) as e:
        acquire_parts(settings, components)
    assert_nothing_partial(settings.cache_dir, settings.build_dir)
    return e.value


def seed(cache_root: Path, *packs: RealPack) -> None:
    """Put copies of real packs in a test cache, as if the real feed had served them."""
    for p in packs:
        fakecdn.copy_into_cache(cache_root, p.path, p.sha512, p.url)


def assert_nothing_partial(cache_root: Path, build_dir: Path) -> None:
    """The cache holds only complete, verified files; the build folder no half-built layout."""
    if cache_root.exists():
        tmp = cache_root / "tmp"
        assert not tmp.exists() or not any(tmp.iterdir()), f"leftovers in {tmp}: {list(tmp.iterdir())}"
        for blob in (cache_root / "sha512").rglob("*") if (cache_root / "sha512").exists() else ():
            if blob.is_file():
                assert sha512_file(blob) == blob.name, f"cache entry {blob} is not what its name says"
        for rec in (cache_root / "urls").glob("*.json") if (cache_root / "urls").exists() else ():
            sha = json.loads(rec.read_text())["sha512"]
            assert Cache(cache_root).blob_path(sha).is_file(), f"{rec} points at a missing entry"
        stray = [p for p in cache_root.rglob("*") if p.name.endswith((".part", ".tmp"))]
        assert not stray, stray
    if build_dir.exists():
        layouts = build_dir / "layout"
        for d in layouts.iterdir() if layouts.exists() else ():
            assert not d.name.startswith("."), f"half-built layout {d}"
            assert (d / "layout.json").is_file(), f"layout {d} has no completion marker"
        stray = [p for p in build_dir.rglob("*") if p.name.endswith((".part", ".tmp"))]
        assert not stray, stray


def assert_message(exc: BaseException, *fragments: str) -> None:
    """A DciError that names the input (``what``), the cause and a fix, containing ``fragments``."""
    assert isinstance(exc, DciError), exc
    assert exc.what and exc.cause and exc.fix, f"message lacks input/cause/fix: {exc}"
    text = str(exc)
    for f in fragments:
        assert f.lower() in text.lower(), f"{f!r} not in: {text}"


def tree(folder: Path) -> dict[str, tuple[str, int]]:
    """relative path -> (SHA-256, permission bits) of every file under ``folder``."""
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            out[p.relative_to(folder).as_posix()] = (hashlib.sha256(p.read_bytes()).hexdigest(), os.stat(p).st_mode & 0o777)
    return out


def framework_trees(root: Path, version: str) -> dict[str, dict]:
    return {
        fw: tree(root / "shared" / fw / version)
        for fw in ("Microsoft.NETCore.App", "Microsoft.AspNetCore.App")
    }
