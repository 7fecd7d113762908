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


class _Undo:
    """What one extraction created (files, links, folders), to remove it all on failure."""

    def __init__(self) -> None:
        self.created: list[Path] = []

    def mkdirs(self, folder: Path) -> None:
        missing = []
        p = folder
        while not (p.exists() or p.is_symlink()):
            missing.append(p)
            p = p.parent
        folder.mkdir(parents=True, exist_ok=True)
        self.created.extend(reversed(missing))

    def add(self, path: Path) -> None:
        self.created.append(path)

    def undo(self) -> None:
        for p in reversed(self.created):
            try:
                if p.is_dir() and not p.is_symlink():
                    p.rmdir()  # only when empty: never what was there before
                else:
                    p.unlink()
            except OSError:
                pass


def extract_zip(
    zip_path: Path,
    dest: Path,
    *,
    select: Callable[[str], str | None] = lambda name: name,
) -> list[str]:
    """Extract entries of a zip (nupkg) into ``dest``.

    ``select(name)`` returns the relative destination path for an entry, or None to skip it.
    Returns the relative paths written. On any failure what was written is removed.
    """
    written: list[str] = []
    try:
        zf = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise DciError(str(zip_path), f"not a valid zip/nupkg ({exc})", "delete it from the cache and download again") from None
    undo = _Undo()
    with zf:
        infos = zf.infolist()
        for info in infos:  # validate everything before writing anything
            _safe_relpath(info.filename, str(zip_path))
        try:
            for info in infos:
                if info.is_dir():
                    continue
                target = select(_safe_relpath(info.filename, str(zip_path)))
                if target is None:
                    continue
                target = _safe_relpath(target, str(zip_path))
                out = dest / target
                undo.mkdirs(out.parent)
                undo.add(out)
                with zf.open(info) as src, open(out, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
                out.chmod(default_mode(target))
                written.append(target)
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
            undo.undo()
            raise DciError(str(zip_path), f"archive is damaged ({exc})", "delete it from the cache and download again") from None
        except BaseException:
            undo.undo()
            raise
    return written


def extract_tar(tar_path: Path | IO[bytes], dest: Path, *, label: str = "") -> list[str]:
    """Extract a tar (optionally gzip) stream into ``dest``, refusing escaping entries and devices.

    Besides the names, every path written and every link made is resolved on disk, so a
    chain of links (each harmless alone) cannot lead outside ``dest``. On any failure what
    was written is removed.
    """
    label = label or str(tar_path)
    written: list[str] = []
    try:
        tf = tarfile.open(tar_path, "r:*") if isinstance(tar_path, (str, Path)) else tarfile.open(fileobj=tar_path, mode="r|*")
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise DciError(label, f"not a valid tar archive ({exc})", "delete it and download again") from None
    undo = _Undo()
    undo.mkdirs(dest)
    root = dest.resolve()

    def inside(path: Path, name: str) -> None:
        real = path.resolve()
        if real != root and root not in real.parents:
            raise DciError(label, f"entry {name!r} escapes the target folder (through a link)", "the archive is unsafe; refusing it")

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
                    inside(out, member.name)
                    undo.mkdirs(out)
                    continue
                inside(out.parent, member.name)
                undo.mkdirs(out.parent)
                if out.is_symlink() or out.exists():
                    out.unlink()
                if member.issym():
                    inside(out.parent / member.linkname, member.name)
                    undo.add(out)
                    out.symlink_to(member.linkname)
                elif member.islnk():
                    linked = dest / _safe_relpath(member.linkname, label)
                    inside(linked, member.name)
                    undo.add(out)
                    out.hardlink_to(linked)
                elif member.isfile():
                    src = tf.extractfile(member)
                    assert src is not None
                    undo.add(out)
                    with open(out, "wb") as dst:
                        shutil.copyfileobj(src, dst, 1 << 20)
                    out.chmod(stat.S_IMODE(member.mode) or 0o644)
                written.append(rel)
            for p in undo.created:  # links made early may point out through links made later
                if p.is_symlink():
                    inside(p, str(p.relative_to(dest)))
        except (tarfile.TarError, EOFError, gzip.BadGzipFile, zlib.error) as exc:
            undo.undo()
            raise DciError(label, f"archive is damaged or cut off ({exc})", "delete it and download again") from None
        except BaseException:
            undo.undo()
            raise
    return written
