"""SOURCE_DATE_EPOCH for the images of a build: one time, fixed by the inputs.

Every file time and image time of a reproducible image is this value (times newer than it are set
to it). It is ``dci.source_date_epoch`` / ``$SOURCE_DATE_EPOCH`` when given, else derived from the
.NET bits the build uses: the newest file time inside the runtime package (the NuGet package or
official tarball), that is when the .NET team built that release. The same lock file gives the same
value on every machine, and a new patch moves it forward.
"""

from __future__ import annotations

import calendar
import functools
import tarfile
import zipfile
from pathlib import Path

from crossgen.core.errors import DciError
from crossgen.core.settings import Settings

# Package metadata a NuGet client or server may rewrite; the .NET files themselves are what count.
_NUPKG_METADATA = ("[Content_Types].xml", "_rels/", "package/", ".signature.p7s")


def source_date_epoch(settings: Settings, acquired) -> int | None:
    """The epoch for this build's images (None when reproducible images are off)."""
    if not settings.reproducible:
        return None
    if settings.source_date_epoch is not None:
        return settings.source_date_epoch
    runtime = acquired.components.get("runtime")
    if runtime is None:
        raise DciError("SOURCE_DATE_EPOCH", "no runtime package was acquired to derive it from",
                       "set dci.source_date_epoch (or $SOURCE_DATE_EPOCH), or acquire the runtime first")
    return newest_file_time(Path(runtime.path))


@functools.lru_cache(maxsize=16)
def newest_file_time(path: Path) -> int:
    """The newest file time recorded in a package (``.nupkg``), tarball or installed framework folder."""
    try:
        if path.is_dir():
            times = [int(p.stat().st_mtime) for p in path.rglob("*") if p.is_file()]
        elif zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                times = [calendar.timegm(i.date_time + (0, 0, -1)) for i in zf.infolist()
                         if not i.is_dir() and not i.filename.startswith(_NUPKG_METADATA)]
        else:
            with tarfile.open(path, "r:*") as tf:
                times = [int(m.mtime) for m in tf if m.isfile()]
    except (OSError, zipfile.BadZipFile, tarfile.TarError) as exc:
        raise DciError(str(path), f"cannot read its file times to derive SOURCE_DATE_EPOCH ({exc})",
                       "set dci.source_date_epoch, or run `invoke download` again to fetch the package anew") from None
    if not times:
        raise DciError(str(path), "has no files to derive SOURCE_DATE_EPOCH from", "set dci.source_date_epoch")
    return max(times)
