"""Lay out acquired .NET bits as a dotnet root, the way the official tarballs do::

    dotnet                                  the host (muxer)
    host/fxr/<version>/libhostfxr.so
    shared/Microsoft.NETCore.App/<version>/ runtime pack: lib/<tfm>/* + native/* (minus hostfxr)
    shared/Microsoft.AspNetCore.App/<version>/  (when the ASP.NET Core pack is given)

Layouts are built in a temporary folder and renamed into place when complete; an existing
complete layout (its ``layout.json`` matches the inputs) is reused.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from . import archives
from .cache import atomic_write_text
from .errors import DciError

NETCORE = "Microsoft.NETCore.App"
ASPNETCORE = "Microsoft.AspNetCore.App"


@dataclass(frozen=True)
class DotnetRoot:
    path: Path
    version: str
    aspnet_version: str | None

    def framework_dir(self, name: str = NETCORE) -> Path:
        ver = self.version if name == NETCORE else self.aspnet_version
        return self.path / "shared" / name / str(ver)


def _pack_selector(rid: str, framework: str):
    """Map runtime-pack entries onto the shared framework folder (None = skip)."""
    lib_prefix = f"runtimes/{rid}/lib/"
    native_prefix = f"runtimes/{rid}/native/"

    def select(name: str) -> str | None:
        if name.startswith(lib_prefix):
            rest = name[len(lib_prefix):]
            parts = rest.split("/", 1)  # <tfm>/<file>
            if len(parts) == 2 and "/" not in parts[1]:
                return parts[1]
            return None
        if name.startswith(native_prefix):
            rest = name[len(native_prefix):]
            if "/" in rest or rest == "libhostfxr.so":
                return None
            return rest
        return None

    return select


def make_dotnet_root(
    layouts_dir: Path,
    *,
    version: str,
    rid: str,
    runtime_pack: Path,
    runtime_pack_sha512: str,
    host_dir: Path,
    aspnet_pack: Path | None = None,
    aspnet_pack_sha512: str | None = None,
    aspnet_version: str | None = None,
) -> DotnetRoot:
    """Build (or reuse) a dotnet root from the runtime pack(s) and a local host."""
    host_exe = Path(host_dir) / "dotnet"
    if not host_exe.is_file():
        raise DciError(str(host_dir), "no `dotnet` host executable in this dotnet layout", "set dci.dotnet_root / --dotnet-root to an installed .NET (e.g. /usr/share/dotnet)")
    host_sha = hashlib.sha512(host_exe.read_bytes()).hexdigest()
    inputs = {
        "version": version,
        "rid": rid,
        "runtime_pack_sha512": runtime_pack_sha512,
        "aspnet_pack_sha512": aspnet_pack_sha512,
        "aspnet_version": aspnet_version,
        "host_sha512": host_sha,
        "format": 1,
    }
    key = hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:16]
    final = Path(layouts_dir) / f"{version}-{rid}-{key}"
    result = DotnetRoot(final / "dotnet", version, aspnet_version)
    marker = final / "layout.json"
    if marker.is_file():
        return result

    layouts_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".layout-", dir=layouts_dir))
    try:
        root = tmp / "dotnet"
        fx = root / "shared" / NETCORE / version
        written = archives.extract_zip(runtime_pack, fx, select=_pack_selector(rid, NETCORE))
        if "System.Private.CoreLib.dll" not in written:
            raise DciError(str(runtime_pack), f"no System.Private.CoreLib.dll for {rid} in the runtime pack", "check that the pack matches the RID")
        fxr = root / "host" / "fxr" / version
        archives.extract_zip(
            runtime_pack, fxr,
            select=lambda n: "libhostfxr.so" if n == f"runtimes/{rid}/native/libhostfxr.so" else None,
        )
        if not (fxr / "libhostfxr.so").is_file():
            raise DciError(str(runtime_pack), "the runtime pack has no libhostfxr.so", "use a runtime pack for a Linux RID")
        shutil.copy2(host_exe, root / "dotnet")
        (root / "dotnet").chmod(0o755)
        for extra in ("LICENSE.txt", "ThirdPartyNotices.txt"):
            if (Path(host_dir) / extra).is_file():
                shutil.copyfile(Path(host_dir) / extra, root / extra)
                (root / extra).chmod(0o644)
        if aspnet_pack is not None:
            afx = root / "shared" / ASPNETCORE / str(aspnet_version)
            got = archives.extract_zip(aspnet_pack, afx, select=_pack_selector(rid, ASPNETCORE))
            if not any(n.endswith(".dll") for n in got):
                raise DciError(str(aspnet_pack), f"no assemblies for {rid} in the ASP.NET Core pack", "check that the pack matches the RID")
        for d in [p for p in root.rglob("*") if p.is_dir()] + [root]:
            d.chmod(0o755)
        atomic_write_text(tmp / "layout.json", json.dumps(inputs, indent=1, sort_keys=True))
        if final.exists():
            shutil.rmtree(final)
        tmp.rename(final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return result
