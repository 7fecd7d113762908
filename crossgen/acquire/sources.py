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

import requests

from crossgen.acquire import http, releases
from crossgen.acquire.local import LocalSource
from crossgen.acquire.model import FRAMEWORK_COMPONENTS, PACK_IDS, Accept, Artifact, Plan, pick
from crossgen.acquire.versionspec import VersionSpec, as_spec
from crossgen.core import ui
from crossgen.core.errors import DciError, Unreachable
from crossgen.core.settings import Settings


# -- official ---------------------------------------------------------------------------------------
class OfficialSource:
    name = "official"

    def __init__(self, session: requests.Session, base_url: str, *, attempts: int | None = None) -> None:
        self.meta = releases.ReleaseMetadata(session, base_url, attempts=attempts)

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
            from crossgen.acquire.nuget import configured_sources, open_feed

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
                self._index = http.get_json(self.session, self.feed().index_url, attempts=1)
            regs = [
                r.get("@id") for r in self._index.get("resources", [])
                if str(r.get("@type", "")).startswith("RegistrationsBaseUrl")
            ]
            if not regs:
                return None
            leaf = http.get_json(self.session, f"{regs[0].rstrip('/')}/{package_id.lower()}/{version.lower()}.json", attempts=1)
            entry = leaf.get("catalogEntry")
            if isinstance(entry, str):
                entry = http.get_json(self.session, entry, attempts=1)
            if not isinstance(entry, dict) or str(entry.get("packageHashAlgorithm", "")).upper() != "SHA512":
                return None
            return base64.b64decode(entry["packageHash"], validate=True).hex()
        except (DciError, KeyError, ValueError, TypeError, AttributeError, binascii.Error):
            return None


def _resolve_with_optional(src, spec: VersionSpec, rid: str, components: tuple[str, ...], extra: tuple[str, ...],
                           accept: Accept | None) -> Plan:
    if not extra:
        return src.resolve(spec, rid, components, accept)
    try:
        return src.resolve(spec, rid, components + extra, accept)
    except Unreachable:
        raise  # the source is down: asking again without the extras would only wait once more
    except DciError as exc:
        plan = src.resolve(spec, rid, components, accept)
        plan.notes.append(f"{', '.join(extra)} not from this source: {exc.cause}")
        return plan


def make_source(name: str, session: requests.Session, settings: Settings, nuget: NuGetSource, *, last: bool):
    if name == "official":
        # A source that is not the last one in the order gets fewer attempts: auto moves on sooner.
        return OfficialSource(session, settings.release_base_url, attempts=None if last else 2)
    if name == "nuget":
        return nuget
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
    optional: tuple[str, ...] = (),
) -> tuple[Plan, list[dict]]:
    """The plan of the first source in ``order`` that serves the request; and why others did not.
    ``optional`` components (the SDK) come along from the source that wins when it serves them too;
    a source that serves the rest but not them still wins, with a note saying why they are left out."""
    spec = as_spec(spec)
    tried: list[dict] = []
    errors: list[DciError] = []
    extra = tuple(c for c in optional if c not in components)
    for i, name in enumerate(order):
        last = i == len(order) - 1
        try:
            src = make_source(name, session, settings, nuget, last=last)
            plan = _resolve_with_optional(src, spec, rid, components, extra, accept)
            plan.notes.insert(0, src.describe())
            return plan, tried
        except DciError as exc:
            tried.append({"source": name, "reason": str(exc)})
            errors.append(exc)
            if not last:
                ui.info(str(exc), label=f"source {name}:", style="yellow")
                ui.detail(f"moving on to source {order[i + 1]}")
    if len(errors) == 1:
        raise errors[0]
    raise DciError(
        f"sources {', '.join(order)}",
        f"none can serve .NET {spec} for {rid}: " + " | ".join(f"{t['source']}: {t['reason']}" for t in tried),
        "fix one of the causes above (base URL, NuGet feed, local path, channel or RID)",
    )
