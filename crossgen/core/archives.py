"""Safe extraction of .nupkg (zip) and .tar.gz archives.

Entries whose path would land outside the target folder (absolute paths, ``..``, symbolic or
hard links pointing out, directly or through other links) are refused with a :class:`DciError`
naming the archive and the entry: the whole extraction fails and nothing is left behind (what
was created is removed, what was replaced is put back). Devices and fifos are refused too.
Extracted files never keep setuid, setgid or sticky bits.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import posixpath
import shutil
import stat
import tarfile
import zipfile
import zlib
from pathlib import Path
from typing import IO, Callable, Iterator

from crossgen.core.errors import DciError

EXECUTABLE_SUFFIXES = (".so",)
UNSAFE_FIX = "the archive is unsafe: refusing it (nothing was extracted); get it from a trusted source"
MAX_LINK_TARGET = 4096  # bytes: a zip symlink entry holds its target as data


def _escapes(norm: str) -> bool:
    return norm.startswith("/") or norm == ".." or norm.startswith("../") or ":" in norm.split("/")[0]


def _safe_relpath(name: str, archive: str) -> str:
    """``name`` as a normalized relative path, or a DciError when it leaves the target folder."""
    norm = posixpath.normpath(name.replace("\\", "/"))
    if _escapes(norm):
        raise DciError(archive, f"entry {name!r} escapes the target folder", UNSAFE_FIX)
    return norm


def _safe_link(archive: str, entry: str, kind: str, linkname: str, resolved: str) -> str:
    """Check a link's target (``resolved``: relative to the target folder) by name."""
    norm = posixpath.normpath(resolved.replace("\\", "/"))
    if _escapes(norm) or not linkname:
        raise DciError(archive, f"entry {entry!r} is a {kind} to {linkname!r}, outside the target folder", UNSAFE_FIX)
    return norm


def _file_mode(mode: int) -> int:
    """Permission bits only: setuid, setgid and sticky are dropped."""
    return (mode & 0o777) or 0o644


def default_mode(relpath: str) -> int:
    """Permissions for an extracted file when the archive carries none (nupkg)."""
    base = posixpath.basename(relpath)
    if base.endswith(EXECUTABLE_SUFFIXES) or "." not in base:
        return 0o755
    return 0o644


class _Undo:
    """A journal of what one extraction did (created files, links, folders; replaced files),
    undone in reverse order on failure."""

    def __init__(self) -> None:
        self.journal: list[tuple[Path, Path | None]] = []  # (path, None) made; (path, backup) moved aside

    @property
    def created(self) -> list[Path]:
        return [p for p, backup in self.journal if backup is None]

    def mkdirs(self, folder: Path) -> None:
        missing = []
        p = folder
        while not (p.exists() or p.is_symlink()):
            missing.append(p)
            p = p.parent
        folder.mkdir(parents=True, exist_ok=True)
        self.journal.extend((m, None) for m in reversed(missing))

    def add(self, path: Path) -> None:
        self.journal.append((path, None))

    def make_way(self, path: Path, archive: str, entry: str) -> None:
        """Move what is at ``path`` aside (kept until :meth:`commit`, put back by :meth:`undo`)."""
        if not (path.is_symlink() or path.exists()):
            return
        if path.is_dir() and not path.is_symlink():
            raise DciError(archive, f"entry {entry!r} is not a folder in the archive, but {path} is a folder",
                           "extract into an empty folder")
        n = 0
        while True:
            backup = path.with_name(f".{path.name}.dci-undo-{n}")
            if not (backup.exists() or backup.is_symlink()):
                break
            n += 1
        os.rename(path, backup)
        self.journal.append((path, backup))

    @contextlib.contextmanager
    def kept_unless_failing(self, label: str, damaged: tuple[type[BaseException], ...], cause: str, fix: str) -> Iterator[None]:
        """Keep what the block extracts when it succeeds; undo it on any failure, and report the
        ``damaged`` kinds of exception as a damaged archive."""
        try:
            yield
        except damaged as exc:
            self.undo()
            raise DciError(label, f"{cause} ({exc})", fix) from None
        except BaseException:
            self.undo()
            raise
        self.commit()

    def commit(self) -> None:
        for _, backup in self.journal:
            if backup is not None:
                try:
                    backup.unlink()
                except OSError:
                    pass
        self.journal.clear()

    def undo(self) -> None:
        for path, backup in reversed(self.journal):
            try:
                if backup is not None:
                    os.replace(backup, path)
                elif path.is_dir() and not path.is_symlink():
                    path.rmdir()  # only when empty: never what was there before
                else:
                    path.unlink()
            except OSError:
                pass
        self.journal.clear()


class _Inside:
    """Checks on disk (links resolved) that a path stays in the target folder."""

    def __init__(self, dest: Path, archive: str) -> None:
        self.root = dest.resolve()
        self.archive = archive

    def __call__(self, path: Path, entry: str) -> None:
        real = path.resolve()
        if real != self.root and self.root not in real.parents:
            raise DciError(self.archive, f"entry {entry!r} escapes the target folder (through a link)", UNSAFE_FIX)

    def links(self, undo: _Undo, dest: Path) -> None:
        """Links made early may point out through links made later: check them all at the end."""
        for p in undo.created:
            if p.is_symlink():
                self(p, str(p.relative_to(dest)))


def _zip_kind(info: zipfile.ZipInfo) -> str:
    """dir, file, symlink or special (device, fifo, socket), from the Unix mode when there is one."""
    if info.is_dir():
        return "dir"
    if info.create_system != 3:  # not made on Unix: no file type recorded
        return "file"
    fmt = stat.S_IFMT(info.external_attr >> 16)
    if fmt == stat.S_IFLNK:
        return "symlink"
    if fmt == stat.S_IFDIR:
        return "dir"
    if fmt in (0, stat.S_IFREG):
        return "file"
    return "special"


def _zip_link_target(zf: zipfile.ZipFile, info: zipfile.ZipInfo, archive: str) -> str:
    if info.file_size > MAX_LINK_TARGET:
        raise DciError(archive, f"entry {info.filename!r} is a symbolic link with a {info.file_size}-byte target", UNSAFE_FIX)
    try:
        return zf.read(info).decode("utf-8")
    except UnicodeDecodeError:
        raise DciError(archive, f"entry {info.filename!r} is a symbolic link whose target is not text", UNSAFE_FIX) from None


def extract_zip(
    zip_path: Path,
    dest: Path,
    *,
    select: Callable[[str], str | None] = lambda name: name,
) -> list[str]:
    """Extract entries of a zip (nupkg) into ``dest``.

    ``select(name)`` returns the relative destination path for an entry, or None to skip it.
    Returns the relative paths written. On any failure what was written is removed.
    Symbolic links (Unix zips) are made when they stay inside ``dest``; file modes come
    from :func:`default_mode` (a nupkg carries none).
    """
    label = str(zip_path)
    written: list[str] = []
    try:
        zf = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise DciError(label, f"not a valid zip/nupkg ({exc})", "delete it from the cache and download again") from None
    undo = _Undo()
    inside = _Inside(dest, label)
    damaged = (zipfile.BadZipFile, zlib.error, EOFError)
    with zf, undo.kept_unless_failing(label, damaged, "archive is damaged", "delete it from the cache and download again"):
        infos = zf.infolist()
        for info in infos:  # validate every name before writing anything
            rel = _safe_relpath(info.filename, label)
            kind = _zip_kind(info)
            if kind == "special":
                raise DciError(label, f"entry {info.filename!r} is a device, fifo or socket", UNSAFE_FIX)
            if kind == "symlink":
                link = _zip_link_target(zf, info, label)
                _safe_link(label, info.filename, "symbolic link", link, posixpath.join(posixpath.dirname(rel), link))
        for info in infos:
            kind = _zip_kind(info)
            if kind == "dir":
                continue
            target = select(_safe_relpath(info.filename, label))
            if target is None:
                continue
            target = _safe_relpath(target, label)
            out = dest / target
            inside(out.parent, info.filename)
            undo.mkdirs(out.parent)
            undo.make_way(out, label, info.filename)
            if kind == "symlink":
                link = _zip_link_target(zf, info, label)
                _safe_link(label, info.filename, "symbolic link", link, posixpath.join(posixpath.dirname(target), link))
                inside(out.parent / link, info.filename)
                undo.add(out)
                out.symlink_to(link)
            else:
                undo.add(out)
                with zf.open(info) as src, open(out, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
                out.chmod(default_mode(target))
            written.append(target)
        inside.links(undo, dest)
    return written


def extract_tar(tar_path: Path | IO[bytes], dest: Path, *, label: str = "") -> list[str]:
    """Extract a tar (optionally gzip) stream into ``dest``, refusing escaping entries and devices.

    Besides the names, every path written and every link made is resolved on disk, so a
    chain of links (each harmless alone) cannot lead outside ``dest``. On any failure what
    was written is removed. File modes keep the permission bits only (no setuid/setgid/sticky).
    """
    label = label or str(tar_path)
    written: list[str] = []
    try:
        tf = tarfile.open(tar_path, "r:*") if isinstance(tar_path, (str, Path)) else tarfile.open(fileobj=tar_path, mode="r|*")
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise DciError(label, f"not a valid tar archive ({exc})", "delete it and download again") from None
    undo = _Undo()
    damaged = (tarfile.TarError, EOFError, gzip.BadGzipFile, zlib.error)
    with tf, undo.kept_unless_failing(label, damaged, "archive is damaged or cut off", "delete it and download again"):
        undo.mkdirs(dest)
        inside = _Inside(dest, label)
        for member in tf:
            rel = _safe_relpath(member.name, label)
            if rel == ".":
                continue
            if member.isdev() or member.isfifo():
                raise DciError(label, f"entry {member.name!r} is a device or fifo", UNSAFE_FIX)
            if member.issym():
                _safe_link(label, member.name, "symbolic link", member.linkname,
                           posixpath.join(posixpath.dirname(rel), member.linkname))
            elif member.islnk():  # a hard link names its target from the archive's top
                linked_rel = _safe_link(label, member.name, "hard link", member.linkname, member.linkname)
            out = dest / rel
            if member.isdir():
                inside(out, member.name)
                undo.mkdirs(out)
                continue
            inside(out.parent, member.name)
            undo.mkdirs(out.parent)
            undo.make_way(out, label, member.name)
            if member.issym():
                inside(out.parent / member.linkname, member.name)
                undo.add(out)
                out.symlink_to(member.linkname)
            elif member.islnk():
                linked = dest / linked_rel
                inside(linked, member.name)
                if not (linked.exists() or linked.is_symlink()):
                    raise DciError(label, f"entry {member.name!r} is a hard link to {member.linkname!r}, which the archive does not hold before it",
                                   "the archive is damaged or incomplete; get it again")
                undo.add(out)
                out.hardlink_to(linked)
            elif member.isfile():
                src = tf.extractfile(member)
                assert src is not None
                undo.add(out)
                with open(out, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
                out.chmod(_file_mode(member.mode))
            written.append(rel)
        inside.links(undo, dest)
    return written
