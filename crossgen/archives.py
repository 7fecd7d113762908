"""Safe extraction of .nupkg (zip) and .tar.gz archives.

Entries whose path would land outside the target folder (absolute paths, ``..``, links
pointing out) are refused: the whole extraction fails and nothing is left behind.
"""

from __future__ import annotations

import gzip
import posixpath
import shutil
import stat
import tarfile
import zipfile
import zlib
from pathlib import Path
from typing import IO, Callable

from .errors import DciError

EXECUTABLE_SUFFIXES = (".so",)


def _safe_relpath(name: str, archive: str) -> str:
    norm = posixpath.normpath(name.replace("\\", "/"))
    if norm.startswith("/") or norm == ".." or norm.startswith("../") or ":" in norm.split("/")[0]:
        raise DciError(archive, f"entry {name!r} escapes the target folder", "the archive is unsafe; refusing it")
    return norm


def default_mode(relpath: str) -> int:
    """Permissions for an extracted file when the archive carries none (nupkg)."""
    base = posixpath.basename(relpath)
    if base.endswith(EXECUTABLE_SUFFIXES) or "." not in base:
        return 0o755
    return 0o644


def extract_zip(
    zip_path: Path,
    dest: Path,
    *,
    select: Callable[[str], str | None] = lambda name: name,
) -> list[str]:
    """Extract entries of a zip (nupkg) into ``dest``.

    ``select(name)`` returns the relative destination path for an entry, or None to skip it.
    Returns the relative paths written.
    """
    written: list[str] = []
    try:
        zf = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise DciError(str(zip_path), f"not a valid zip/nupkg ({exc})", "delete it from the cache and download again") from None
    with zf:
        infos = zf.infolist()
        for info in infos:  # validate everything before writing anything
            _safe_relpath(info.filename, str(zip_path))
        for info in infos:
            if info.is_dir():
                continue
            target = select(_safe_relpath(info.filename, str(zip_path)))
            if target is None:
                continue
            target = _safe_relpath(target, str(zip_path))
            out = dest / target
            out.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(out, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            out.chmod(default_mode(target))
            written.append(target)
    return written


def extract_tar(tar_path: Path | IO[bytes], dest: Path, *, label: str = "") -> list[str]:
    """Extract a tar (optionally gzip) stream into ``dest``, refusing escaping entries and devices."""
    label = label or str(tar_path)
    written: list[str] = []
    try:
        tf = tarfile.open(tar_path, "r:*") if isinstance(tar_path, (str, Path)) else tarfile.open(fileobj=tar_path, mode="r|*")
    except (tarfile.TarError, OSError) as exc:
        raise DciError(label, f"not a valid tar archive ({exc})", "delete it from the cache and download again") from None
    dest.mkdir(parents=True, exist_ok=True)
    with tf:
        try:
            for member in tf:
                rel = _safe_relpath(member.name, label)
                if rel == ".":
                    continue
                if member.isdev() or member.isfifo():
                    raise DciError(label, f"entry {member.name!r} is a device or fifo", "refusing the archive")
                if member.issym() or member.islnk():
                    base = posixpath.dirname(rel) if member.issym() else ""
                    _safe_relpath(posixpath.join(base, member.linkname), label)
                out = dest / rel
                if member.isdir():
                    out.mkdir(parents=True, exist_ok=True)
                    continue
                out.parent.mkdir(parents=True, exist_ok=True)
                if out.is_symlink() or out.exists():
                    out.unlink()
                if member.issym():
                    out.symlink_to(member.linkname)
                elif member.islnk():
                    linked = dest / _safe_relpath(member.linkname, label)
                    out.hardlink_to(linked)
                elif member.isfile():
                    src = tf.extractfile(member)
                    assert src is not None
                    with open(out, "wb") as dst:
                        shutil.copyfileobj(src, dst, 1 << 20)
                    out.chmod(stat.S_IMODE(member.mode) or 0o644)
                written.append(rel)
        except (tarfile.TarError, EOFError, gzip.BadGzipFile, zlib.error) as exc:
            raise DciError(label, f"archive is damaged or cut off ({exc})", "delete it and download again") from None
    return written
