"""Files written whole or not at all: a reader never sees a half-written file or folder, and what
is written is readable by others (0644 files, 0755 folders) whatever the umask."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

FILE_MODE = 0o644
DIR_MODE = 0o755


def make_dirs(folder: Path) -> None:
    """``mkdir -p`` where every folder created is 0755 whatever the umask (existing ones are left alone)."""
    missing: list[Path] = []
    p = Path(folder)
    while not p.is_dir() and p.parent != p:
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        try:
            d.mkdir()
        except FileExistsError:
            if d.is_dir():  # made meanwhile by another process
                continue
            raise
        os.chmod(d, DIR_MODE)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` (0644) through a temporary file in the same folder and a rename."""
    make_dirs(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            os.fchmod(f.fileno(), FILE_MODE)  # mkstemp makes 0600
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


@contextlib.contextmanager
def atomic_dir(final: Path) -> Iterator[Path]:
    """Yield a new temporary folder beside ``final``; when the block succeeds it replaces
    ``final`` (one rename), when it fails it is removed. Readers never see a half-written folder."""
    make_dirs(final.parent)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=final.parent))
    try:
        os.chmod(tmp, DIR_MODE)  # mkdtemp makes 0700
        yield tmp
        if final.exists():
            shutil.rmtree(final)
        tmp.rename(final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


class HashingStream:
    """A file object over another one that SHA-256-hashes every byte passing through it, read or
    written (a layer tar streamed through it: the hash is the layer's DiffID). Reads stop after
    ``limit`` bytes when one is given (one member of an outer tar)."""

    def __init__(self, raw, limit: int | None = None) -> None:
        self.raw = raw
        self.left = limit
        self.count = 0
        self.sha = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        if self.left is not None:
            if self.left <= 0:
                return b""
            n = self.left if n is None or n < 0 else min(n, self.left)
        data = self.raw.read(n)
        if self.left is not None:
            self.left -= len(data)
        self._seen(data)
        return data

    def write(self, data) -> int:
        self._seen(data)
        return self.raw.write(data)

    def tell(self) -> int:
        return self.count

    def _seen(self, data) -> None:
        self.sha.update(data)
        self.count += len(data)

    @property
    def digest(self) -> str:
        return "sha256:" + self.sha.hexdigest()

    def drain(self) -> str:
        """Read what is left; the digest of everything that passed."""
        while self.read(1 << 20):
            pass
        return self.digest
