"""Where the .NET bits come from: official release metadata, a NuGet feed, or a local folder.

``dci.source`` names one source or an order: ``auto`` = official, then nuget, then local (a
comma-separated list or a YAML list gives another order). Each source turns a version request
into a :class:`Plan` (the version and one :class:`Artifact` per component); in ``auto`` the
first source that can serve the request wins, and every source that could not is reported with
its reason. Crossgen2 always comes from NuGet: it is not in the official tarballs.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable
from urllib.parse import unquote, urlparse

import requests

from . import http, releases, ui
from .cache import Cache, sha512_file
from .errors import DciError
from .settings import Settings
from .versionspec import VersionSpec, as_spec

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


# -- official ---------------------------------------------------------------------------------------
class OfficialSource:
    name = "official"

    def __init__(self, session: requests.Session, base_url: str, *, retries: int | None = None) -> None:
        self.meta = releases.ReleaseMetadata(session, base_url, retries=retries)

    def describe(self) -> str:
        return f"release metadata at {self.meta.index_url}"

    def resolve(self, spec: str | VersionSpec, rid: str, components: tuple[str, ...], accept: Accept | None) -> Plan:
        wanted = [c for c in components if c in releases.PRODUCTS]
        if "runtime" not in wanted:
            wanted.insert(0, "runtime")
        rel, files = releases.resolve(self.meta, spec, rid, wanted, accept)
        arts = {
            c: Artifact(
                component=c, package_id=f"{releases.PRODUCTS[c].stem}-{rid}", version=f.version,
                source=self.name, kind="tarball", url=f.url, sha512=f.sha512, checksum_from=f.checksum_from,
            )
            for c, f in files.items()
            if c in components or c == "runtime"
        }
        asp = arts.get("aspnetcore")
        return Plan(self.name, files["runtime"].version, asp.version if asp else None, arts,
                    notes=[f"release {rel.release_version} of channel {rel.channel}"])


# -- NuGet -------------------------------------------------------------------------------------------
class NuGetSource:
    """Runtime packs, ASP.NET Core runtime packs and Crossgen2 from the configured NuGet feed."""

    name = "nuget"

    def __init__(self, session: requests.Session, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self._feed = None
        self._index: dict | None = None
        self._versions: dict[str, list[str]] = {}

    def describe(self) -> str:
        return f"NuGet feed {self.feed().describe()}"

    def feed(self):
        if self._feed is None:
            from .nuget import configured_sources, open_feed

            self._feed = open_feed(self.session, configured_sources(self.settings.nuget_config, self.settings.project_root))
        return self._feed

    def versions(self, package_id: str) -> list[str]:
        if package_id not in self._versions:
            self._versions[package_id] = self.feed().versions(package_id)
        return self._versions[package_id]

    def artifact(self, component: str, package_id: str, version: str) -> Artifact:
        return Artifact(component, package_id, version, self.name, "nupkg", self.feed().nupkg_url(package_id, version))

    def resolve(self, spec: str | VersionSpec, rid: str, components: tuple[str, ...], accept: Accept | None) -> Plan:
        spec = as_spec(spec)
        if "sdk" in components:
            raise DciError("component sdk", "the .NET SDK is not published as a NuGet package",
                           "use --source official or local for the SDK")
        ids = {c: PACK_IDS[c].format(rid=rid) for c in components if c in FRAMEWORK_COMPONENTS}
        ids.setdefault("runtime", PACK_IDS["runtime"].format(rid=rid))
        offered = {}
        for c, pid in ids.items():
            all_versions = self.versions(pid)
            if not all_versions:
                raise DciError(
                    f"RID {rid!r}",
                    f"the feed {self.feed().index_url} has no package {pid}",
                    "set dci.rid / --rid to a RID the feed serves (e.g. linux-x64, linux-arm64, linux-musl-x64), or add a feed that has it",
                )
            offered[pid] = spec.select(all_versions)
        version = pick(f"the NuGet feed {self.feed().index_url}", spec, offered, accept)
        arts = {c: self.artifact(c, pid, version) for c, pid in ids.items() if c in components or c == "runtime"}
        if self.settings.dotnet_root is None:
            raise DciError("dotnet host", "no local dotnet layout provides the `dotnet` executable (NuGet does not serve it)",
                           "install a .NET SDK, or set DOTNET_ROOT / dci.dotnet_root")
        return Plan(self.name, version, version if "aspnetcore" in arts else None, arts, host_dir=self.settings.dotnet_root)

    # -- Crossgen2 --------------------------------------------------------------------------------
    def crossgen2(self, host_rid: str, version: str) -> Artifact:
        pid = PACK_IDS["crossgen2"].format(host_rid=host_rid)
        served = self.versions(pid)
        if version not in served:
            near = as_spec("latest").select(served)[:8]
            raise DciError(
                f"Crossgen2 {version}",
                f"the feed {self.feed().index_url} has no {pid} {version} (it has {', '.join(near) or 'no version'})",
                "choose a .NET version the feed serves Crossgen2 for, or add a feed that has it",
            )
        return self.artifact("crossgen2", pid, version)

    def crossgen2_accept(self, host_rid: str) -> Accept:
        pid = PACK_IDS["crossgen2"].format(host_rid=host_rid)
        return lambda v: v in self.versions(pid)

    # -- integrity ----------------------------------------------------------------------------------
    def published_sha512(self, package_id: str, version: str) -> str | None:
        """The package hash the feed publishes (registration -> catalog entry), when it does."""
        try:
            if self._index is None:
                self._index = http.get_json(self.session, self.feed().index_url, retries=1)
            regs = [
                r.get("@id") for r in self._index.get("resources", [])
                if str(r.get("@type", "")).startswith("RegistrationsBaseUrl")
            ]
            if not regs:
                return None
            leaf = http.get_json(self.session, f"{regs[0].rstrip('/')}/{package_id.lower()}/{version.lower()}.json", retries=1)
            entry = leaf.get("catalogEntry")
            if isinstance(entry, str):
                entry = http.get_json(self.session, entry, retries=1)
            if not isinstance(entry, dict) or str(entry.get("packageHashAlgorithm", "")).upper() != "SHA512":
                return None
            return base64.b64decode(entry["packageHash"], validate=True).hex()
        except (DciError, KeyError, ValueError, TypeError, AttributeError, binascii.Error):
            return None


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
            raise DciError(str(folder), "the framework folder does not exist", "check dci.local_path / --local-path (or re-run `invoke lock`)")
        digest, size = tree_digest(folder)
        if expected and digest != expected:
            raise DciError(str(folder), f"its contents changed (tree SHA-512 {digest[:16]}..., expected {expected[:16]}...)",
                           "restore that .NET installation, or re-run `invoke lock` to accept the new contents")
        return Fetched(folder, digest, size)
    path = art.local_path
    if path is not None:
        if not path.is_file():
            raise DciError(str(path), "file not found", "check dci.local_path / --local-path (or re-run `invoke lock`)")
        digest = sha512_file(path)
        if expected and digest != expected:
            raise DciError(str(path), f"SHA-512 mismatch: got {digest[:16]}..., expected {expected[:16]}... ({art.checksum_from or 'lock file'})",
                           "the file is corrupt or not the one recorded; replace it with the official file")
        return Fetched(path, digest, path.stat().st_size)
    got = http.fetch(session, art.url, cache, sha512=expected, label=f"{art.package_id} {art.version}",
                     timeout=http.TIMEOUT, retries=http.RETRIES)
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


def make_source(name: str, session: requests.Session, settings: Settings, nuget: NuGetSource, *, last: bool):
    if name == "official":
        # A source that is not the last one in the order gets fewer attempts: auto moves on sooner.
        return OfficialSource(session, settings.release_base_url, retries=None if last else 2)
    if name == "nuget":
        return nuget
    from .localsource import LocalSource

    return LocalSource.from_settings(settings)


def resolve_in_order(
    order: list[str],
    session: requests.Session,
    settings: Settings,
    nuget: NuGetSource,
    spec: str | VersionSpec,
    rid: str,
    components: tuple[str, ...],
    accept: Accept | None,
) -> tuple[Plan, list[dict]]:
    """The plan of the first source in ``order`` that serves the request; and why others did not."""
    spec = as_spec(spec)
    tried: list[dict] = []
    errors: list[DciError] = []
    for i, name in enumerate(order):
        last = i == len(order) - 1
        try:
            src = make_source(name, session, settings, nuget, last=last)
            plan = src.resolve(spec, rid, components, accept)
            plan.notes.insert(0, src.describe())
            return plan, tried
        except DciError as exc:
            tried.append({"source": name, "reason": str(exc)})
            errors.append(exc)
            if not last:
                ui.info(f"[yellow]source {name}:[/] {exc}")
                ui.detail(f"moving on to source {order[i + 1]}")
    if len(errors) == 1:
        raise errors[0]
    raise DciError(
        f"sources {', '.join(order)}",
        f"none can serve .NET {spec} for {rid}: " + " | ".join(f"{t['source']}: {t['reason']}" for t in tried),
        "fix one of the causes above (base URL, NuGet feed, local path, channel or RID)",
    )


__all__ = [
    "Artifact", "Plan", "Fetched", "OfficialSource", "NuGetSource", "source_order", "resolve_in_order",
    "fetch_artifact", "tree_digest", "evict", "stable_or_exact", "pick", "PACK_IDS",
]
