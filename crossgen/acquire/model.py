"""What the sources share: the request's result (:class:`Plan`, one :class:`Artifact` per
component), fetching and proving an artifact, and the source order."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable
from urllib.parse import unquote, urlparse

import requests

from crossgen.acquire import http
from crossgen.acquire.cache import Cache, sha512_file
from crossgen.acquire.versionspec import VersionSpec, as_spec
from crossgen.core.errors import DciError, IntegrityError, NotFound

SOURCE_NAMES = ("official", "nuget", "local")
AUTO_ORDER = ("official", "nuget", "local")
FRAMEWORK_COMPONENTS = ("runtime", "aspnetcore")
ALL_COMPONENTS = ("runtime", "aspnetcore", "sdk", "crossgen2")

PACK_IDS = {
    "runtime": "Microsoft.NETCore.App.Runtime.{rid}",
    "aspnetcore": "Microsoft.AspNetCore.App.Runtime.{rid}",
    "crossgen2": "Microsoft.NETCore.App.Crossgen2.{host_rid}",
}

Accept = Callable[[str], bool]


@dataclass(frozen=True)
class Artifact:
    """One thing to fetch for a component: a tarball, a nupkg, or a framework folder."""

    component: str
    package_id: str
    version: str
    source: str          # official | nuget | local
    kind: str            # tarball | nupkg | framework-dir
    url: str             # http(s)://... or file://...
    sha512: str | None = None   # known before fetching (metadata, lock file, sidecar)
    checksum_from: str = ""     # where that expected hash came from

    @property
    def local_path(self) -> Path | None:
        return file_url_path(self.url) if self.url.startswith("file:") else None


@dataclass
class Plan:
    source: str
    version: str                       # the runtime version
    aspnet_version: str | None
    artifacts: dict[str, Artifact]
    host_dir: Path | None = None       # where `dotnet`, LICENSE.txt... come from when no tarball has them
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Fetched:
    path: Path
    sha512: str
    size: int


def file_url_path(url: str) -> Path:
    return Path(unquote(urlparse(url).path))


# -- version requests without release metadata ------------------------------------------------
def stable_or_exact(versions: Iterable[str], spec: str | VersionSpec) -> list[str]:
    """The versions matching a request, newest first (:meth:`VersionSpec.select`)."""
    return as_spec(spec).select(versions)


def pick(source: str, spec: str | VersionSpec, offered: dict[str, list[str]], accept: Accept | None) -> str:
    """The newest version every component list offers that the request resolves among
    (:meth:`VersionSpec.choose`) and ``accept`` allows."""
    spec = as_spec(spec)
    common: set[str] | None = None
    for vs in offered.values():
        common = set(vs) if common is None else common & set(vs)
    ordered = spec.choose(common or ())
    if not ordered:
        listing = "; ".join(f"{k}: {', '.join(v[:6]) or 'none'}" for k, v in offered.items())
        raise DciError(
            spec.label,
            f"{source} has no version matching it for every component ({listing})",
            "choose a channel such as 8.0, 9.0 or 10.0 or an exact version from those lists",
        )
    for v in ordered:
        if accept is None or accept(v):
            return v
    raise DciError(
        spec.label,
        f"{source} offers {', '.join(ordered[:6])} but Crossgen2 is not on the NuGet feed for "
        f"{'it' if len(ordered) == 1 else 'any of them'}",
        "choose a version the feed serves Crossgen2 for, or add a feed that has it",
    )


# -- helpers shared by the sources ------------------------------------------------------------------
def tree_digest(folder: Path) -> tuple[str, int]:
    """SHA-512 over a folder's files (relative path, executable bit, content SHA-512), and its size."""
    h = hashlib.sha512()
    total = 0
    for p in sorted(Path(folder).rglob("*"), key=lambda q: q.relative_to(folder).as_posix()):
        rel = p.relative_to(folder).as_posix()
        if p.is_symlink():
            h.update(f"{rel}\0l\0{os.readlink(p)}\n".encode())
        elif p.is_file():
            x = "x" if os.stat(p).st_mode & 0o111 else "-"
            h.update(f"{rel}\0{x}\0{sha512_file(p)}\n".encode())
            total += p.stat().st_size
    return h.hexdigest(), total


def fetch_artifact(session: requests.Session, cache: Cache, art: Artifact, *, published: str | None = None) -> Fetched:
    """Download or locate ``art`` and prove it is what was expected."""
    expected = (art.sha512 or published or "").lower() or None
    if art.kind == "framework-dir":
        folder = art.local_path
        assert folder is not None
        if not folder.is_dir():
            raise NotFound(str(folder), "the framework folder does not exist", "check dci.local_path / --local-path (or re-run `invoke lock`)")
        digest, size = tree_digest(folder)
        if expected and digest != expected:
            raise IntegrityError(str(folder), f"its contents changed (tree SHA-512 {digest[:16]}..., expected {expected[:16]}...)",
                           "restore that .NET installation, or re-run `invoke lock` to accept the new contents")
        return Fetched(folder, digest, size)
    path = art.local_path
    if path is not None:
        if not path.is_file():
            raise NotFound(str(path), "file not found", "check dci.local_path / --local-path (or re-run `invoke lock`)")
        digest = sha512_file(path)
        if expected and digest != expected:
            raise IntegrityError(str(path), f"SHA-512 mismatch: got {digest[:16]}..., expected {expected[:16]}... ({art.checksum_from or 'lock file'})",
                           "the file is corrupt or not the one recorded; replace it with the official file")
        return Fetched(path, digest, path.stat().st_size)
    got = http.fetch(session, art.url, cache, sha512=expected, label=f"{art.package_id} {art.version}")
    return Fetched(got.path, got.sha512, got.size)


def evict(cache: Cache, sha512: str) -> None:
    """Remove a cached file (e.g. a verified download that turned out not to be a usable archive)."""
    try:
        if str(cache.blob_path(sha512)).startswith(str(cache.root)):
            cache.blob_path(sha512).unlink(missing_ok=True)
    except OSError:
        pass
    urls = cache.root / "urls"
    if urls.is_dir():
        for rec in urls.glob("*.json"):
            try:
                if sha512 in rec.read_text():
                    rec.unlink(missing_ok=True)
            except OSError:
                pass


# -- order -------------------------------------------------------------------------------------------
def source_order(setting: str | Iterable[str]) -> list[str]:
    """``auto`` | a source name | a comma-separated (or list) order of source names."""
    items = [setting] if isinstance(setting, str) else list(setting)
    names: list[str] = []
    for item in items:
        for part in re.split(r"[,\s]+", str(item).strip().lower()):
            if not part:
                continue
            if part == "auto":
                names.extend(AUTO_ORDER)
            elif part in SOURCE_NAMES:
                names.append(part)
            else:
                raise DciError(f"source {part!r}", "not a known source",
                               "use auto, official, nuget or local (or a comma-separated order of them)")
    out = list(dict.fromkeys(names))
    if not out:
        raise DciError("source ''", "no source given", "use auto, official, nuget or local")
    return out
