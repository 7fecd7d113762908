"""The local source: .NET bits already on this machine.

``dci.local_path`` (``--local-path``; default ``dci.dotnet_root``, i.e. DOTNET_ROOT or the
`dotnet` on PATH) is either

* a **dotnet layout** (an installed SDK or runtime: ``dotnet``, ``host/fxr/<v>``,
  ``shared/Microsoft.NETCore.App/<v>``, ``shared/Microsoft.AspNetCore.App/<v>``), whose RID is
  read from the framework's ``Microsoft.NETCore.App.deps.json``; or
* a **folder of official tarballs** (``dotnet-runtime-<v>-<rid>.tar.gz``,
  ``aspnetcore-runtime-<v>-<rid>.tar.gz``, ``dotnet-sdk-<v>-<rid>.tar.gz``, at any depth, so a
  copy of the CDN tree works too). A ``<file>.sha512`` beside a tarball or a ``<v>-sha.txt``
  checksum list in the folder is checked when present.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from crossgen.acquire import releases
from crossgen.core.errors import DciError
from crossgen.acquire.layout import ASPNETCORE, NETCORE
from crossgen.core.settings import Settings
from crossgen.acquire.model import Accept, Artifact, Plan, pick
from crossgen.acquire.versionspec import VersionSpec, as_spec, newest_first, parse_version, version_key

TARBALL = re.compile(
    r"^(?P<stem>dotnet-runtime|aspnetcore-runtime|dotnet-sdk)-"
    r"(?P<version>\d+\.\d+\.\d+(?:-[0-9A-Za-z.]+)?)-(?P<rid>[a-z]+(?:-[a-z]+)*-[a-z0-9]+)\.tar\.gz$"
)
STEM_COMPONENT = {p.stem: c for c, p in releases.PRODUCTS.items()}


def _versions_in(folder: Path) -> list[str]:
    out = []
    if folder.is_dir():
        for d in folder.iterdir():
            if parse_version(d.name) is not None and d.is_dir():
                out.append(d.name)
    return out


def layout_rid(framework_dir: Path) -> str | None:
    """The RID a shared framework folder was built for (its deps.json runtimeTarget)."""
    deps = framework_dir / f"{NETCORE}.deps.json"
    try:
        name = json.loads(deps.read_text(encoding="utf-8-sig"))["runtimeTarget"]["name"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return name.split("/", 1)[1] if "/" in name else None


class LocalSource:
    name = "local"

    def __init__(self, path: Path | None, *, origin: str = "dci.local_path") -> None:
        self.path = Path(path) if path else None
        self.origin = origin

    @classmethod
    def from_settings(cls, settings: Settings) -> "LocalSource":
        if settings.local_path:
            return cls(settings.local_path, origin="dci.local_path / --local-path")
        return cls(settings.dotnet_root, origin="dci.dotnet_root (DOTNET_ROOT or the dotnet on PATH)")

    def describe(self) -> str:
        return f"local {'dotnet layout' if self.is_layout else 'tarball folder'} {self.path}"

    @property
    def is_layout(self) -> bool:
        return self.path is not None and (self.path / "shared" / NETCORE).is_dir()

    def _check_path(self) -> Path:
        if self.path is None:
            raise DciError("local source", "no folder given and no installed .NET found",
                           "pass --local-path (a dotnet layout or a folder of official tarballs), or set DOTNET_ROOT")
        if not self.path.is_dir():
            raise DciError(str(self.path), f"not a folder ({self.origin})",
                           "pass --local-path pointing at a dotnet layout (e.g. /usr/share/dotnet) or a folder of official tarballs")
        return self.path

    def resolve(self, spec: str | VersionSpec, rid: str, components: tuple[str, ...], accept: Accept | None) -> Plan:
        spec = as_spec(spec)
        path = self._check_path()
        if self.is_layout:
            return self._resolve_layout(path, spec, rid, components, accept)
        tarballs = self.tarballs()
        if not tarballs:
            raise DciError(
                str(path),
                "neither a dotnet layout (no shared/Microsoft.NETCore.App) nor a folder of official tarballs "
                "(no dotnet-runtime-<version>-<rid>.tar.gz)",
                "pass --local-path pointing at an installed .NET (e.g. /usr/share/dotnet) or at downloaded official tarballs",
            )
        return self._resolve_tarballs(path, tarballs, spec, rid, components, accept)

    # -- a dotnet layout ---------------------------------------------------------------------------
    def _resolve_layout(self, root: Path, spec: VersionSpec, rid: str, components, accept) -> Plan:
        if "sdk" in components:
            raise DciError("component sdk", "the local source provides frameworks, not SDK tarballs",
                           "use --source official for the SDK tarball")
        rt_versions = _versions_in(root / "shared" / NETCORE)
        offered = {NETCORE: spec.select(rt_versions)}
        if "aspnetcore" in components:
            offered[ASPNETCORE] = spec.select(_versions_in(root / "shared" / ASPNETCORE))
        if not any(offered.values()) or not all(offered.values()):
            have = f"{NETCORE}: {', '.join(newest_first(rt_versions)) or 'none'}"
            if "aspnetcore" in components:
                have += f"; {ASPNETCORE}: {', '.join(newest_first(_versions_in(root / 'shared' / ASPNETCORE))) or 'none'}"
            raise DciError(
                spec.label,
                f"the dotnet layout {root} has no matching framework ({have})",
                "choose one of those versions, or install the one you need there",
            )
        version = pick(f"the dotnet layout {root}", spec, offered, accept)
        found = layout_rid(root / "shared" / NETCORE / version)
        if found and found != rid:
            raise DciError(
                f"RID {rid!r}",
                f"the dotnet layout {root} holds .NET for {found}, not {rid}",
                f"set --rid {found}, or point --local-path at a layout or tarballs for {rid}",
            )
        if not (root / "dotnet").is_file():
            raise DciError(str(root), "this dotnet layout has no `dotnet` host executable", "point --local-path at a complete installation")
        arts = {"runtime": Artifact("runtime", NETCORE, version, self.name, "framework-dir",
                                    (root / "shared" / NETCORE / version).as_uri())}
        if "aspnetcore" in components:
            arts["aspnetcore"] = Artifact("aspnetcore", ASPNETCORE, version, self.name, "framework-dir",
                                          (root / "shared" / ASPNETCORE / version).as_uri())
        return Plan(self.name, version, version if "aspnetcore" in arts else None, arts, host_dir=root)

    # -- a folder of tarballs ---------------------------------------------------------------------
    def tarballs(self) -> list[tuple[str, str, str, Path]]:
        """(component, version, rid, path) of every official tarball under the folder."""
        out = []
        assert self.path is not None
        for p in sorted(self.path.rglob("*.tar.gz")):
            m = TARBALL.match(p.name)
            if m and p.is_file():
                out.append((STEM_COMPONENT[m["stem"]], m["version"], m["rid"], p))
        return out

    def _resolve_tarballs(self, folder: Path, tarballs, spec: VersionSpec, rid: str, components, accept) -> Plan:
        wanted = [c for c in ("runtime", "aspnetcore", "sdk") if c in components or c == "runtime"]
        for_rid = [t for t in tarballs if t[2] == rid]
        if not for_rid:
            rids = sorted({t[2] for t in tarballs})
            raise DciError(
                f"RID {rid!r}",
                f"the tarball folder {folder} has none for this RID (it has: {', '.join(rids)})",
                f"set --rid to one of those, or add the official tarballs for {rid}",
            )
        offered = {}
        for c in ("runtime", "aspnetcore"):
            if c in wanted:
                offered[c] = spec.select([t[1] for t in for_rid if t[0] == c])
        version = pick(f"the tarball folder {folder}", spec, offered, accept)
        arts: dict[str, Artifact] = {}
        for c in wanted:
            if c == "sdk":
                sdks = sorted((t for t in for_rid if t[0] == "sdk"), key=lambda t: version_key(t[1]), reverse=True)
                # An SDK tarball carries its runtime: the SDK band must match the runtime's major.minor.
                channel = parse_version(version).channel  # type: ignore[union-attr]
                sdks = [t for t in sdks if getattr(parse_version(t[1]), "channel", None) == channel]
                if not sdks:
                    raise DciError("component sdk", f"no dotnet-sdk-*-{rid}.tar.gz for .NET {version} in {folder}",
                                   "add the SDK tarball, or leave the SDK out")
                path = sdks[0][3]
                v = sdks[0][1]
            else:
                path = next(t[3] for t in for_rid if t[0] == c and t[1] == version)
                v = version
            sha, origin = self._published_checksum(path, v)
            arts[c] = Artifact(c, f"{releases.PRODUCTS[c].stem}-{rid}", v, self.name, "tarball", path.as_uri(), sha, origin)
        return Plan(self.name, version, version if "aspnetcore" in arts else None, arts)

    def _published_checksum(self, tarball: Path, version: str) -> tuple[str | None, str]:
        side = tarball.with_name(tarball.name + ".sha512")
        if side.is_file():
            token = (side.read_text().split() or [""])[0]
            if releases.SHA512_HEX.match(token):
                return token.lower(), f"{side.name}"
        assert self.path is not None
        for lst in [*self.path.rglob(f"{version}-sha.txt")]:
            for line in lst.read_text(errors="replace").splitlines():
                parts = line.split()
                if len(parts) >= 2 and parts[-1].lstrip("*") == tarball.name and releases.SHA512_HEX.match(parts[0]):
                    return parts[0].lower(), lst.name
        return None, ""
