"""Content-addressed download cache (SHA-512), outside the repository.

Layout under the cache root::

    sha512/<2 hex>/<128 hex>   the files, named by their SHA-512
    urls/<sha256 of url>.json  which SHA-512 a URL served last time
    tmp/                       downloads in progress (never read as a result)

Every write goes to a temporary name first and is renamed into place once verified, so a
reader never sees a partial file. Every reuse re-hashes the file; a corrupted entry is
reported (one line), removed and fetched again by the caller (``http.fetch``).

Files are stored 0644 and folders 0755 whatever the umask, so a cache filled by one user (or
by root in a container) can be read by others. A cache folder that cannot be written (read-only
file system, no permission, a file where a folder should be) is a :class:`DciError` naming
the folder, not a traceback.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator


from crossgen.core import ui
from crossgen.core.errors import DciError
from crossgen.core.files import FILE_MODE, atomic_write_text, make_dirs

CHUNK = 1 << 20
_SHA512_HEX = re.compile(r"[0-9a-f]{128}")


@dataclass(frozen=True)
class CachedFile:
    path: Path
    sha512: str
    size: int
    url: str


def sha512_file(path: Path) -> str:
    h = hashlib.sha512()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


_UNWRITABLE = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EEXIST, errno.EISDIR}
_FULL = {errno.ENOSPC, errno.EDQUOT}


def _not_a_folder(path: Path) -> Path | None:
    """``path`` or its nearest ancestor that exists but is not a folder (a file in the way)."""
    for p in (path, *path.parents):
        if p.exists() or p.is_symlink():
            return None if p.is_dir() else p
    return None


class Cache:
    """A SHA-512 addressed file store rooted at ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    # -- errors -----------------------------------------------------------------------
    def _write_error(self, exc: OSError) -> Exception:
        """The DciError for an OSError met while writing into the cache (others unchanged)."""
        where = Path(exc.filename) if exc.filename else self.root
        while not (where.exists() or where.is_symlink()) and where.parent != where:
            where = where.parent  # name the folder that refused, not the name we wanted in it
        what = f"download cache folder {self.root}"
        fix = "set dci.cache_dir (invoke.yaml) or XDG_CACHE_HOME to a writable folder"
        if exc.errno in _FULL:
            return DciError(what, f"no space left on the device while writing {where}",
                            "free disk space, or " + fix.replace("writable", "writable, larger"))
        if exc.errno not in _UNWRITABLE:
            return exc
        blocker = _not_a_folder(where)
        if blocker is not None:
            cause = f"cannot write there: {blocker} is a file, not a folder"
            fix += f", or remove the file {blocker}"
        elif exc.errno == errno.EROFS:
            cause = f"cannot write there: {where} is on a read-only file system"
        elif exc.errno in (errno.EACCES, errno.EPERM):
            cause = f"cannot write there: no permission to write {where}"
            fix += f", or give this user write access to {self.root}"
        else:
            cause = f"cannot write there: {where}: {exc.strerror or exc}"
        return DciError(what, cause, fix)

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        try:
            yield
        except OSError as exc:
            err = self._write_error(exc)
            if err is exc:
                raise
            raise err from None

    # -- paths ------------------------------------------------------------------------
    def blob_path(self, sha512: str) -> Path:
        sha512 = sha512.lower()
        if not _SHA512_HEX.fullmatch(sha512):  # it names a path: never let it leave the cache
            raise DciError(f"checksum {sha512[:40]!r}", "not a SHA-512 (128 hex digits)", "check where the checksum came from")
        return self.root / "sha512" / sha512[:2] / sha512

    def _url_record(self, url: str) -> Path:
        return self.root / "urls" / (hashlib.sha256(url.encode()).hexdigest() + ".json")

    def tmp_dir(self) -> Path:
        d = self.root / "tmp"
        with self._writing():
            make_dirs(d)
        return d

    def new_temp_file(self, prefix: str = "dl-", suffix: str = ".part") -> Path:
        """A new empty file in tmp/ (the caller removes it or hands it to :meth:`add`)."""
        d = self.tmp_dir()
        with self._writing():
            fd, name = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=d)
            os.close(fd)
        return Path(name)

    # -- lookups ----------------------------------------------------------------------
    def sha512_for_url(self, url: str) -> str | None:
        try:
            sha = json.loads(self._url_record(url).read_text())["sha512"]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return sha.lower() if isinstance(sha, str) and _SHA512_HEX.fullmatch(sha.lower()) else None

    def get(self, sha512: str, url: str = "") -> CachedFile | None:
        """The cached file with this SHA-512, verified; None when absent or corrupted.

        A corrupted file is removed, with one line in the log saying so.
        """
        path = self.blob_path(sha512)
        if not path.is_file():
            return None
        actual = sha512_file(path)
        if actual != sha512.lower():
            ui.info(f"{path} is corrupted (SHA-512 {actual[:16]}..., expected {sha512.lower()[:16]}...); "
                    "removing it and fetching again", label="cache:", style="yellow")
            with self._writing():
                path.unlink(missing_ok=True)
            return None
        return CachedFile(path=path, sha512=actual, size=path.stat().st_size, url=url)

    def get_url(self, url: str) -> CachedFile | None:
        sha = self.sha512_for_url(url)
        return self.get(sha, url) if sha else None

    # -- writes -----------------------------------------------------------------------
    def add(self, tmp_file: Path, sha512: str, url: str) -> CachedFile:
        """Move a fully downloaded and verified temporary file into the store (0644)."""
        dest = self.blob_path(sha512)
        with self._writing():
            make_dirs(dest.parent)
            os.chmod(tmp_file, FILE_MODE)
            os.replace(tmp_file, dest)
            atomic_write_text(
                self._url_record(url), json.dumps({"url": url, "sha512": sha512}, indent=1)
            )
        return CachedFile(path=dest, sha512=sha512, size=dest.stat().st_size, url=url)

    def clear(self) -> int:
        """Remove the whole cache; returns the number of bytes freed."""
        if not self.root.exists():
            return 0
        total = sum(p.stat().st_size for p in self.root.rglob("*") if p.is_file())
        with self._writing():
            shutil.rmtree(self.root)
        return total
