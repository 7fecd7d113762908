"""Content-addressed download cache (SHA-512), outside the repository.

Layout under the cache root::

    sha512/<2 hex>/<128 hex>   the files, named by their SHA-512
    urls/<sha256 of url>.json  which SHA-512 a URL served last time
    tmp/                       downloads in progress (never read as a result)

Every write goes to a temporary name first and is renamed into place once verified, so a
reader never sees a partial file. Every reuse re-hashes the file; a corrupted entry is
reported, removed and fetched again by the caller.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from . import ui
from .errors import DciError

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


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        with _suppress_missing():
            os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


@contextlib.contextmanager
def atomic_dir(final: Path) -> Iterator[Path]:
    """Yield a new temporary folder beside ``final``; when the block succeeds it replaces
    ``final`` (one rename), when it fails it is removed. Readers never see a half-written folder."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=final.parent))
    try:
        yield tmp
        if final.exists():
            shutil.rmtree(final)
        tmp.rename(final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


class _suppress_missing:
    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        return exc_type is not None and issubclass(exc_type, FileNotFoundError)


class Cache:
    """A SHA-512 addressed file store rooted at ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

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
        d.mkdir(parents=True, exist_ok=True)
        return d

    # -- lookups ----------------------------------------------------------------------
    def sha512_for_url(self, url: str) -> str | None:
        try:
            sha = json.loads(self._url_record(url).read_text())["sha512"]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return sha.lower() if isinstance(sha, str) and _SHA512_HEX.fullmatch(sha.lower()) else None

    def get(self, sha512: str, url: str = "") -> CachedFile | None:
        """The cached file with this SHA-512, verified; None when absent or corrupted."""
        path = self.blob_path(sha512)
        if not path.is_file():
            return None
        actual = sha512_file(path)
        if actual != sha512.lower():
            ui.info(
                f"[yellow]cache: {path} is corrupted (SHA-512 {actual[:16]}..., expected "
                f"{sha512[:16]}...); removing it and fetching again[/]"
            )
            path.unlink(missing_ok=True)
            return None
        return CachedFile(path=path, sha512=actual, size=path.stat().st_size, url=url)

    def get_url(self, url: str) -> CachedFile | None:
        sha = self.sha512_for_url(url)
        return self.get(sha, url) if sha else None

    # -- writes -----------------------------------------------------------------------
    def add(self, tmp_file: Path, sha512: str, url: str) -> CachedFile:
        """Move a fully downloaded and verified temporary file into the store."""
        dest = self.blob_path(sha512)
        dest.parent.mkdir(parents=True, exist_ok=True)
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
        shutil.rmtree(self.root)
        return total
