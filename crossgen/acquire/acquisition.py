"""Acquire .NET bits for a channel: resolve the version, download (cached, verified), lay out.

Sources (crossgen/acquire/sources.py): official release metadata and tarballs, the NuGet feed of the
NuGet configuration, or a local dotnet layout / folder of tarballs; ``dci.source`` picks one or
an order (``auto``). Crossgen2 always comes from NuGet. With ``dci.locked`` (``--locked``) the
lock file (crossgen/acquire/lock.py) says exactly what to use.

Whatever the source, the result is the same dotnet root, laid out the way the official tarballs
are (and byte-identical for the same version)::

    dotnet, LICENSE.txt, ThirdPartyNotices.txt
    host/fxr/<version>/libhostfxr.so
    shared/Microsoft.NETCore.App/<version>/        (with its .version file)
    shared/Microsoft.AspNetCore.App/<version>/     (when ASP.NET Core is acquired)

It is built in a temporary folder next to its final place and renamed when complete; an
existing complete root (same inputs) is reused. A failure leaves nothing behind.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import platform
import shutil
import tempfile
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import requests
from packaging.version import InvalidVersion, Version

from crossgen.core import archives
from crossgen.acquire import lock as lockfile
from crossgen.acquire import muxer, releases
from crossgen.core import ui
from crossgen.acquire.cache import Cache, sha512_file
from crossgen.core.files import atomic_dir, atomic_write_text
from crossgen.core.errors import DciError
from crossgen.acquire.layout import ASPNETCORE, NETCORE, DotnetRoot
from crossgen.core.settings import Settings
from crossgen.acquire.model import (
    ALL_COMPONENTS,
    FRAMEWORK_COMPONENTS,
    PACK_IDS,
    Artifact,
    Fetched,
    Plan,
    evict,
    fetch_artifact,
    source_order,
)
from crossgen.acquire.sources import NuGetSource, resolve_in_order

__all__ = ["PACK_IDS", "Component", "Acquired", "acquire", "host_rid", "build_root"]

LAYOUT_FORMAT = 2
DEFAULT_COMPONENTS = ("runtime", "aspnetcore", "crossgen2")


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
    # Beyond the contract: how it was resolved (for acquire.json and the lock file).
    request: str = ""
    host_rid: str | None = None
    host: dict | None = None            # {"path", "dotnet_sha512"} when the host came from a local folder
    sdk_root: Path | None = None        # the SDK tarball laid out (a dotnet layout with sdk/<version>), when acquired
    tried: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def aspnet_version(self) -> str | None:
        return self.dotnet_root.aspnet_version if self.dotnet_root else None

    def to_dict(self) -> dict:
        return {
            "version": self.version,
            "rid": self.rid,
            "components": {k: asdict(v) for k, v in self.components.items()},
            "dotnet_root": str(self.dotnet_root.path) if self.dotnet_root else None,
            "sdk_root": str(self.sdk_root) if self.sdk_root else None,
            "aspnet_version": self.aspnet_version,
            "request": self.request,
            "host_rid": self.host_rid,
            "host": self.host,
            "tried": self.tried,
            "notes": self.notes,
        }


# -- the dotnet root --------------------------------------------------------------------------------
def _pack_select(rid: str):
    """Runtime-pack entries onto the shared framework folder (libhostfxr goes to host/fxr)."""
    lib, native = f"runtimes/{rid}/lib/", f"runtimes/{rid}/native/"

    def select(name: str) -> str | None:
        for prefix in (lib, native):
            if name.startswith(prefix):
                rest = name[len(prefix):]
                if prefix == lib:
                    parts = rest.split("/", 1)  # <tfm>/<file>
                    rest = parts[1] if len(parts) == 2 else ""
                if rest and "/" not in rest and rest != "libhostfxr.so":
                    return rest
        return None

    return select


def _normalize_modes(root: Path) -> None:
    """Directories 755; files 755 when any execute bit is set (or they are native), else 644."""
    for p in [root, *root.rglob("*")]:
        if p.is_symlink():
            continue
        if p.is_dir():
            p.chmod(0o755)
        else:
            p.chmod(0o755 if os.stat(p).st_mode & 0o111 else 0o644)


def _copy_tree(src: Path, dest: Path) -> None:
    shutil.copytree(src, dest, symlinks=True, copy_function=shutil.copyfile, dirs_exist_ok=True)
    for s in src.rglob("*"):  # copyfile drops modes: keep only the execute bit
        if s.is_file() and not s.is_symlink() and os.stat(s).st_mode & 0o111:
            (dest / s.relative_to(src)).chmod(0o755)


def _write_version_file(nupkg: Path, framework: str, dest: Path) -> None:
    """The shared framework's .version (commit + version), from the pack's <framework>.versions.txt."""
    with zipfile.ZipFile(nupkg) as zf:
        names = {n.lower(): n for n in zf.namelist()}
        name = names.get(f"{framework}.versions.txt".lower())
        if name:
            (dest / ".version").write_bytes(zf.read(name))


def _host_parts(host_dir: Path, root: Path) -> None:
    """`dotnet`, LICENSE.txt and ThirdPartyNotices.txt from a local dotnet layout."""
    exe = host_dir / "dotnet"
    if not exe.is_file():
        raise DciError(str(host_dir), "no `dotnet` host executable in this dotnet layout",
                       "set dci.dotnet_root / DOTNET_ROOT (or --local-path) to an installed .NET, e.g. /usr/share/dotnet")
    shutil.copyfile(exe, root / "dotnet")
    (root / "dotnet").chmod(0o755)
    for extra in ("LICENSE.txt", "ThirdPartyNotices.txt"):
        if (host_dir / extra).is_file():
            shutil.copyfile(host_dir / extra, root / extra)


def _local_fxr(host_dir: Path, version: str) -> Path:
    fxr = host_dir / "host" / "fxr"
    if (fxr / version / "libhostfxr.so").is_file():
        return fxr / version
    found = []
    for d in fxr.iterdir() if fxr.is_dir() else ():
        try:
            if (d / "libhostfxr.so").is_file():
                found.append((Version(d.name), d))
        except InvalidVersion:
            continue
    if not found:
        raise DciError(str(host_dir), "this dotnet layout has no host/fxr/<version>/libhostfxr.so", "point --local-path at a complete installation")
    return max(found)[1]


def _extract(art: Artifact, got: Fetched, cache: Cache, func, *args, **kwargs):
    """Run an extraction; an unusable archive is removed from the cache and reported by name."""
    try:
        return func(*args, **kwargs)
    except DciError as exc:
        in_cache = str(got.path).startswith(str(cache.root))
        if in_cache:
            evict(cache, got.sha512)
        raise DciError(
            f"{art.package_id} {art.version} ({art.url})",
            exc.cause,
            (exc.fix or "refusing it") + ("; it was removed from the cache" if in_cache else "; replace that file"),
        ) from None


def _place_runtime(root: Path, art: Artifact, got: Fetched, cache: Cache, rid: str, version: str, host_dir: Path | None) -> None:
    fx = root / "shared" / NETCORE / version
    if art.kind == "tarball":
        _extract(art, got, cache, archives.extract_tar, got.path, root, label=art.url)
        have = sorted(p.name for p in (root / "shared" / NETCORE).iterdir()) if (root / "shared" / NETCORE).is_dir() else []
        if not (fx / "System.Private.CoreLib.dll").is_file():
            raise DciError(art.url, f"the tarball does not hold {NETCORE} {version} (it has: {', '.join(have) or 'none'})",
                           "the file is not the runtime tarball it claims to be; use another source or mirror")
        if not (root / "dotnet").is_file() or not list((root / "host" / "fxr").glob("*/libhostfxr.so")):
            raise DciError(art.url, "the tarball has no `dotnet` host or host/fxr/<version>/libhostfxr.so",
                           "use the official dotnet-runtime tarball")
        return
    assert host_dir is not None
    _host_parts(host_dir, root)
    if art.kind == "nupkg":
        written = _extract(art, got, cache, archives.extract_zip, got.path, fx, select=_pack_select(rid))
        if "System.Private.CoreLib.dll" not in written:
            raise DciError(f"{art.package_id} {art.version}", f"no System.Private.CoreLib.dll for {rid} in the runtime pack",
                           "check that the pack matches the RID")
        _write_version_file(got.path, NETCORE, fx)
        fxr = root / "host" / "fxr" / version
        target = f"runtimes/{rid}/native/libhostfxr.so"
        _extract(art, got, cache, archives.extract_zip, got.path, fxr, select=lambda n: "libhostfxr.so" if n == target else None)
        if not (fxr / "libhostfxr.so").is_file():
            raise DciError(f"{art.package_id} {art.version}", "the runtime pack has no libhostfxr.so", "use a runtime pack for a Linux RID")
    elif art.kind == "framework-dir":
        _copy_tree(got.path, fx)
        src_fxr = _local_fxr(host_dir, version)
        _copy_tree(src_fxr, root / "host" / "fxr" / src_fxr.name)
    else:
        raise DciError(art.url, f"unknown artifact kind {art.kind!r}", "re-run `invoke lock`")


def _place_aspnet(root: Path, scratch: Path, art: Artifact, got: Fetched, cache: Cache, rid: str, version: str) -> None:
    afx = root / "shared" / ASPNETCORE / version
    if art.kind == "tarball":
        tmp = scratch / "aspnetcore"
        _extract(art, got, cache, archives.extract_tar, got.path, tmp, label=art.url)
        src = tmp / "shared" / ASPNETCORE / version
        if not src.is_dir() or not any(src.glob("*.dll")):
            raise DciError(art.url, f"the tarball does not hold {ASPNETCORE} {version}",
                           "the file is not the ASP.NET Core runtime tarball it claims to be; use another source or mirror")
        afx.parent.mkdir(parents=True, exist_ok=True)
        os.replace(src, afx)
        shutil.rmtree(tmp)
    elif art.kind == "nupkg":
        got_files = _extract(art, got, cache, archives.extract_zip, got.path, afx, select=_pack_select(rid))
        if not any(n.endswith(".dll") for n in got_files):
            raise DciError(f"{art.package_id} {art.version}", f"no assemblies for {rid} in the ASP.NET Core pack", "check that the pack matches the RID")
        _write_version_file(got.path, ASPNETCORE, afx)
    elif art.kind == "framework-dir":
        _copy_tree(got.path, afx)
    else:
        raise DciError(art.url, f"unknown artifact kind {art.kind!r}", "re-run `invoke lock`")


def build_root(
    layouts_dir: Path,
    *,
    version: str,
    rid: str,
    cache: Cache,
    parts: dict[str, tuple[Artifact, Fetched]],
    host_dir: Path | None,
    aspnet_version: str | None = None,
) -> DotnetRoot:
    """Build (or reuse) the dotnet root for ``parts`` (``runtime`` and optionally ``aspnetcore``)."""
    host_inputs = None
    if parts["runtime"][0].kind != "tarball":
        assert host_dir is not None
        exe = host_dir / "dotnet"
        host_inputs = {"dotnet": sha512_file(exe) if exe.is_file() else None}
        if parts["runtime"][0].kind == "framework-dir":
            fxr = _local_fxr(host_dir, version) / "libhostfxr.so"
            host_inputs["libhostfxr"] = sha512_file(fxr)
    inputs = {
        "format": LAYOUT_FORMAT,
        "version": version,
        "aspnet_version": aspnet_version if "aspnetcore" in parts else None,
        "rid": rid,
        "parts": {c: {"source": a.source, "kind": a.kind, "sha512": f.sha512} for c, (a, f) in sorted(parts.items())},
        "host": host_inputs,
    }
    key = hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:16]
    final = Path(layouts_dir) / f"{version}-{rid}-{key}"
    result = DotnetRoot(final / "dotnet", version, inputs["aspnet_version"])
    if (final / "layout.json").is_file():
        ui.detail(f"reusing the dotnet root {result.path}")
        return result
    tmp: Path | None = None
    try:
        layouts_dir.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".layout-", dir=layouts_dir))
        root, scratch = tmp / "dotnet", tmp / "scratch"
        root.mkdir()
        scratch.mkdir()
        art, got = parts["runtime"]
        _place_runtime(root, art, got, cache, rid, version, host_dir)
        if "aspnetcore" in parts:
            art, got = parts["aspnetcore"]
            _place_aspnet(root, scratch, art, got, cache, rid, str(aspnet_version))
        shutil.rmtree(scratch)
        _normalize_modes(root)
        atomic_write_text(tmp / "layout.json", json.dumps(inputs, indent=1, sort_keys=True))
        if final.exists():
            shutil.rmtree(final)
        tmp.rename(final)
        tmp = None
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise DciError(
                str(layouts_dir),
                f"no space left on the device while laying out .NET {version}",
                "free disk space, or point dci.build_dir at a larger disk; nothing was kept",
            ) from None
        raise
    finally:
        if tmp is not None and tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return result


def lay_out_sdk(layouts_dir: Path, art: Artifact, got: Fetched, cache: Cache) -> Path:
    """The SDK tarball extracted once into ``layout/sdk-<version>-<sha>/dotnet`` (a dotnet layout whose
    ``sdk/<version>`` the SDK images take); checked to hold that SDK, never left half-written."""
    final = Path(layouts_dir) / f"sdk-{art.version}-{got.sha512[:16]}"
    root = final / "dotnet"
    if (root / "sdk" / art.version / "dotnet.runtimeconfig.json").is_file():
        ui.detail(f"reusing the SDK layout {root}")
        return root
    with atomic_dir(final) as tmp:
        _extract(art, got, cache, archives.extract_tar, got.path, tmp / "dotnet", label=art.url)
        if not (tmp / "dotnet" / "sdk" / art.version / "dotnet.runtimeconfig.json").is_file():
            have = sorted(p.name for p in (tmp / "dotnet" / "sdk").iterdir()) if (tmp / "dotnet" / "sdk").is_dir() else []
            raise DciError(art.url, f"the tarball does not hold SDK {art.version} (it has: {', '.join(have) or 'no sdk/ folder'})",
                           "the file is not the SDK tarball it claims to be; use another source or mirror")
    ui.detail(f"laid out SDK {art.version} -> {root}")
    return root


# -- acquire ------------------------------------------------------------------------------------------
def _check_components(components: tuple[str, ...]) -> tuple[str, ...]:
    comps = tuple(dict.fromkeys(components))
    if "aspnetcore" in comps and "runtime" not in comps:  # ASP.NET Core stands on the runtime
        comps = ("runtime", *comps)
    bad = [c for c in comps if c not in ALL_COMPONENTS]
    if bad:
        raise DciError(f"components {', '.join(bad)}", "unknown", f"choose from {', '.join(ALL_COMPONENTS)}")
    if not any(c in FRAMEWORK_COMPONENTS for c in comps) and "sdk" not in comps and comps != ("crossgen2",):
        raise DciError("components", "nothing to acquire", "ask for runtime, aspnetcore, sdk or crossgen2")
    return comps


def acquire(
    settings: Settings,
    session: requests.Session,
    cache: Cache,
    *,
    components: tuple[str, ...] = DEFAULT_COMPONENTS,
    optional: tuple[str, ...] = (),
) -> Acquired:
    """Resolve, download and lay out what ``components`` need, and ``optional`` ones (the SDK tarball)
    when the source that serves the rest serves them too; writes build/acquire.json."""
    comps = _check_components(components)
    spec = releases.check_spec(settings.channel)
    rid = settings.rid
    hrid = host_rid() if "crossgen2" in comps else None
    nuget = NuGetSource(session, settings)
    framework = tuple(c for c in comps if c != "crossgen2")
    tried: list[dict] = []
    expected_host: str | None = None

    if settings.locked:
        lock = lockfile.read(settings.lock_path)
        ui.step(f"Using the lock file {settings.lock_path} (.NET {lock['version']} for {lock['rid']})")
        plan, cg_art, expected_host = lockfile.plan_from_lock(
            lock, settings, comps + tuple(c for c in optional if c in lock["components"] and c not in comps), hrid)
    else:
        order = source_order(settings.source)
        ui.step(f"Resolving .NET {spec} for {rid} (sources: {', '.join(order)}; Crossgen2: NuGet)")
        accept = None
        if hrid:
            pid = PACK_IDS["crossgen2"].format(host_rid=hrid)
            if not nuget.versions(pid):
                raise DciError(f"Crossgen2 for {hrid}", f"the feed {nuget.feed().index_url} has no {pid}",
                               "add a NuGet feed that serves it (a NuGet.Config, or dci.nuget_config); Crossgen2 only comes from NuGet")
            accept = nuget.crossgen2_accept(hrid)
        if framework:
            plan, tried = resolve_in_order(order, session, settings, nuget, spec, rid, framework, accept, optional=optional)
        else:  # only Crossgen2
            v = _crossgen2_only_version(nuget, spec, hrid)
            plan = Plan("nuget", v, None, {})
        cg_art = nuget.crossgen2(hrid, plan.version) if hrid else None
    for n in plan.notes:
        ui.detail(n)
    ui.detail(f"version: {plan.version} from {plan.source}")

    result = Acquired(version=plan.version, rid=rid, request=spec, host_rid=hrid, tried=tried, notes=list(plan.notes))
    arts = dict(plan.artifacts)
    if cg_art is not None:
        arts["crossgen2"] = cg_art
    fetched: dict[str, Fetched] = {}
    for name in [c for c in ALL_COMPONENTS if c in arts]:
        art = arts[name]
        if name not in comps and name not in optional:
            continue
        published = None
        if art.source == "nuget" and not art.sha512 and cache.get_url(art.url) is None:
            published = nuget.published_sha512(art.package_id, art.version)
        got = fetch_artifact(session, cache, art, published=published)
        fetched[name] = got
        result.components[name] = Component(
            name=name, package_id=art.package_id, version=art.version, source=art.source, url=art.url,
            sha512=got.sha512, size=got.size, path=str(got.path),
        )

    if "runtime" in fetched:
        host_dir = plan.host_dir
        if host_dir is not None and arts["runtime"].kind == "nupkg":
            # a local layout's `dotnet` is for this machine: another target architecture gets the muxer built for it
            host_dir = muxer.host_for(settings.target_arch, cache.root, local_host_dir=Path(host_dir))
        if host_dir is not None and arts["runtime"].kind != "tarball":
            exe = Path(host_dir) / "dotnet"
            if not exe.is_file():
                raise DciError(str(host_dir), "no `dotnet` host executable in this dotnet layout",
                               "set dci.dotnet_root / DOTNET_ROOT to an installed .NET, e.g. /usr/share/dotnet")
            host_sha = sha512_file(exe)
            if expected_host and host_sha != expected_host:
                raise DciError(str(exe), f"the dotnet host differs from the lock file (SHA-512 {host_sha[:16]}..., locked {expected_host[:16]}...)",
                               "use the same .NET installation as when locking, or re-run `invoke lock`")
            result.host = {"path": str(host_dir), "dotnet_sha512": host_sha}
        parts = {c: (arts[c], fetched[c]) for c in FRAMEWORK_COMPONENTS if c in fetched}
        result.dotnet_root = build_root(
            settings.workspace.layouts, version=plan.version, rid=rid, cache=cache, parts=parts,
            host_dir=Path(host_dir) if host_dir else None, aspnet_version=plan.aspnet_version,
        )
    if "sdk" in fetched:
        result.sdk_root = lay_out_sdk(settings.workspace.layouts, arts["sdk"], fetched["sdk"], cache)
    try:
        atomic_write_text(settings.workspace.acquire_record, json.dumps(result.to_dict(), indent=2))
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        raise DciError(str(settings.build_dir), "no space left on the device for acquire.json",
                       "free disk space, or point dci.build_dir at a larger disk") from None
    total = sum(c.size for c in result.components.values())
    where = f" -> {result.dotnet_root.path}" if result.dotnet_root else ""
    ui.info(f".NET {plan.version} from {plan.source} ({', '.join(result.components)}; {total / 1e6:.1f} MB){where}", label="acquired")
    return result


def _crossgen2_only_version(nuget: NuGetSource, spec: str, hrid: str | None) -> str:
    from crossgen.acquire.model import pick, stable_or_exact

    assert hrid
    pid = PACK_IDS["crossgen2"].format(host_rid=hrid)
    return pick(f"the NuGet feed {nuget.feed().index_url}", spec, {pid: stable_or_exact(nuget.versions(pid), spec)}, None)
