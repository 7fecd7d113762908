"""Acquire .NET bits for a channel: resolve the version, download (cached, verified), lay out.

Today's source: the NuGet feed from the NuGet configuration for the runtime, ASP.NET Core
runtime and Crossgen2 packs; the `dotnet` host from a local dotnet layout.
"""

from __future__ import annotations

import json
import platform
from dataclasses import asdict, dataclass, field
from pathlib import Path

import requests

from . import ui
from .cache import Cache, atomic_write_text
from .errors import DciError
from .layout import DotnetRoot, make_dotnet_root
from .nuget import Feed, configured_sources, open_feed, release_versions
from .settings import Settings

PACK_IDS = {
    "runtime": "Microsoft.NETCore.App.Runtime.{rid}",
    "aspnetcore": "Microsoft.AspNetCore.App.Runtime.{rid}",
    "crossgen2": "Microsoft.NETCore.App.Crossgen2.{host_rid}",
}


def host_rid() -> str:
    machine = platform.machine().lower()
    arch = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}.get(machine)
    if not arch:
        raise DciError("this machine", f"unsupported architecture {machine!r} for Crossgen2", "run on x64 or arm64 Linux")
    return f"linux-{arch}"


@dataclass(frozen=True)
class Component:
    name: str
    package_id: str
    version: str
    source: str
    url: str
    sha512: str
    size: int
    path: str


@dataclass
class Acquired:
    version: str
    rid: str
    components: dict[str, Component] = field(default_factory=dict)
    dotnet_root: DotnetRoot | None = None

    def to_dict(self) -> dict:
        return {
            "version": self.version,
            "rid": self.rid,
            "components": {k: asdict(v) for k, v in self.components.items()},
            "dotnet_root": str(self.dotnet_root.path) if self.dotnet_root else None,
        }


def resolve_version(feed: Feed, channel: str, package_ids: list[str]) -> str:
    """The newest stable version in ``channel`` that the feed serves for every package."""
    common = None
    seen = {}
    for pid in package_ids:
        versions = set(release_versions(feed.versions(pid), channel))
        seen[pid] = versions
        common = versions if common is None else common & versions
    if not common:
        listing = "; ".join(
            f"{pid}: {', '.join(str(v) for v in sorted(vs)[-6:]) or 'none'}" for pid, vs in seen.items()
        )
        raise DciError(
            f"channel {channel!r}",
            f"no version in this channel is served for all of {', '.join(package_ids)} ({listing})",
            "choose a channel such as 8.0, 9.0 or 10.0, or an exact version that every pack has",
        )
    return str(max(common))


def acquire(
    settings: Settings,
    session: requests.Session,
    cache: Cache,
    *,
    components: tuple[str, ...] = ("runtime", "aspnetcore", "crossgen2"),
) -> Acquired:
    """Resolve, download and lay out what ``components`` need; writes build/acquire.json."""
    ids = {name: PACK_IDS[name].format(rid=settings.rid, host_rid=host_rid()) for name in components}
    ui.step(f"Resolving .NET {settings.channel} for {settings.rid} on the NuGet feed")
    feed = open_feed(session, configured_sources(settings.nuget_config, settings.project_root))
    ui.detail(f"feed: {feed.index_url}")
    version = resolve_version(feed, settings.channel, list(ids.values()))
    ui.detail(f"version: {version}")
    result = Acquired(version=version, rid=settings.rid)
    for name, pid in ids.items():
        got = feed.download(cache, pid, version)
        result.components[name] = Component(
            name=name, package_id=pid, version=version, source="nuget", url=got.url,
            sha512=got.sha512, size=got.size, path=str(got.path),
        )
    if settings.dotnet_root is None:
        raise DciError("dotnet host", "no local dotnet layout found", "install a .NET SDK or set DOTNET_ROOT / dci.dotnet_root")
    rt = result.components["runtime"]
    asp = result.components.get("aspnetcore")
    result.dotnet_root = make_dotnet_root(
        settings.build_dir / "layout",
        version=version,
        rid=settings.rid,
        runtime_pack=Path(rt.path),
        runtime_pack_sha512=rt.sha512,
        host_dir=settings.dotnet_root,
        aspnet_pack=Path(asp.path) if asp else None,
        aspnet_pack_sha512=asp.sha512 if asp else None,
        aspnet_version=asp.version if asp else None,
    )
    atomic_write_text(settings.build_dir / "acquire.json", json.dumps(result.to_dict(), indent=2))
    total = sum(c.size for c in result.components.values())
    ui.info(f"[green]acquired[/] .NET {version} ({', '.join(result.components)}; {total / 1e6:.1f} MB) -> {result.dotnet_root.path}")
    return result
