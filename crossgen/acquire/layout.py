"""The dotnet root: where a laid-out .NET lives, and the names of its shared frameworks::

    dotnet                                  the host (muxer)
    host/fxr/<version>/libhostfxr.so
    shared/Microsoft.NETCore.App/<version>/
    shared/Microsoft.AspNetCore.App/<version>/  (when ASP.NET Core is acquired)

The root itself is built (or reused) by :func:`crossgen.acquire.build_root`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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
