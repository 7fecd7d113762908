"""Damaged state on a fresh machine: a corrupted cache entry, a cache folder that cannot be
written, hostile archives, and file modes of what the cache stores.

Everything here happens for real: bytes flipped on disk, a read-only tmpfs in a private mount
namespace, an unprivileged user facing a 0555 folder, archives built with zipfile/tarfile.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

import pytest

from crossgen.core import archives
from crossgen.acquire import http
from crossgen.acquire.cache import Cache
from crossgen.core.files import atomic_dir, atomic_write_text
from crossgen.core.errors import DciError

FAST = {"backoff": 0.01}
PROJECT_ROOT = Path(__file__).resolve().parents[1]
WRITABLE_FIX = ("dci.cache_dir", "XDG_CACHE_HOME")


def files_under(root: Path) -> list[str]:
    if not root.exists():
        return []
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() or p.is_symlink())


def tree_of(root: Path) -> list[str]:
    if not root.exists():
        return []
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def flip_byte(path: Path, offset: int) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ 0x01]))  # one bit of one byte


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


# --- 1. a corrupted cache entry ------------------------------------------------------------------


@pytest.mark.parametrize("by", ["url", "sha512"])
def test_flipped_byte_in_cached_blob_is_fetched_again_with_one_log_line(http_server, http_session, tmp_path: Path, capsys, by: str):
    data = os.urandom(300_000)
    digest = hashlib.sha512(data).hexdigest()
    url = http_server.route("/pkg/some.package.1.0.0.nupkg", http_server.Reply.ok(data))
    cache = Cache(tmp_path / "a-rather-long-cache-folder-name" / "dotnet-composite-images")
    kw = {"sha512": digest} if by == "sha512" else {}
    got = http.fetch(http_session, url, cache, **kw, **FAST)
    assert http_server.hits("/pkg/some.package.1.0.0.nupkg") == 1
    flip_byte(got.path, 123_456)
    capsys.readouterr()  # only what the reuse prints

    again = http.fetch(http_session, url, cache, **kw, **FAST)

    log = capsys.readouterr().err
    assert http_server.hits("/pkg/some.package.1.0.0.nupkg") == 2  # downloaded again
    assert again.path == got.path and again.sha512 == digest
    assert again.path.read_bytes() == data
    said = [line for line in log.splitlines() if "corrupt" in line]
    assert len(said) == 1, log  # one line, even though the blob's path is wider than the console
    assert str(got.path) in said[0] and "fetching again" in said[0]
    assert list((cache.root / "tmp").iterdir()) == []  # no leftover temporary files
    assert files_under(cache.root) == sorted(
        [str(got.path.relative_to(cache.root)), str(cache._url_record(url).relative_to(cache.root))]
    )
    capsys.readouterr()
    third = http.fetch(http_session, url, cache, **kw, **FAST)  # healthy again: a quiet cache hit
    assert third.path.read_bytes() == data and http_server.hits("/pkg/some.package.1.0.0.nupkg") == 2
    assert "corrupt" not in capsys.readouterr().err


# --- 2. a cache folder that cannot be written ----------------------------------------------------


def assert_unwritable_error(err: DciError, cache_root: Path, cause_has: str) -> None:
    assert str(cache_root) in err.what, err.what
    assert cause_has in err.cause, err.cause
    assert all(word in err.fix for word in WRITABLE_FIX), err.fix
    assert "Traceback" not in str(err)


@pytest.mark.parametrize("blocker", ["parent", "root", "tmp"])
def test_a_file_in_the_way_of_the_cache_is_a_clear_error(http_server, http_session, tmp_path: Path, blocker: str):
    """A regular file where a cache folder should be: nothing (not even root) can write there."""
    url = http_server.route("/x.bin", http_server.Reply.ok(b"payload"))
    if blocker == "parent":
        in_the_way = tmp_path / "xdg-cache"
        root = in_the_way / "dotnet-composite-images"
    else:
        root = tmp_path / "dotnet-composite-images"
        in_the_way = root if blocker == "root" else root / "tmp"
    in_the_way.parent.mkdir(parents=True, exist_ok=True)
    in_the_way.write_text("not a folder")
    cache = Cache(root)
    with pytest.raises(DciError) as err:
        http.fetch(http_session, url, cache, **FAST)
    assert_unwritable_error(err.value, root, f"{in_the_way} is a file, not a folder")
    assert str(in_the_way) in err.value.fix  # what to remove
    assert http_server.hits("/x.bin") == 0  # found out before downloading anything
    assert in_the_way.read_text() == "not a folder"


def test_a_file_where_the_store_folder_should_be_is_a_clear_error(http_server, http_session, tmp_path: Path):
    """Found only after the download: the temporary file is not left behind."""
    url = http_server.route("/x.bin", http_server.Reply.ok(b"payload"))
    cache = Cache(tmp_path / "cache")
    cache.root.mkdir()
    (cache.root / "sha512").write_text("not a folder")
    with pytest.raises(DciError) as err:
        http.fetch(http_session, url, cache, attempts=1, **FAST)
    assert_unwritable_error(err.value, cache.root, "sha512 is a file, not a folder")
    assert list((cache.root / "tmp").iterdir()) == []
    assert http_server.hits("/x.bin") == 1  # not retried


_READ_ONLY_SCRIPT = r"""
import json, subprocess, sys
from pathlib import Path
mnt, good_url, new_url = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "dci-test", str(mnt)], capture_output=True, text=True)
if r.returncode:
    print("MOUNT-FAILED " + r.stderr.strip())
    sys.exit(3)
from crossgen.acquire import http
from crossgen.acquire.cache import Cache
from crossgen.core.errors import DciError
cache = Cache(mnt / "dotnet-composite-images")
s = http.new_session()
s.trust_env = False
http.fetch(s, good_url, cache, attempts=1, backoff=0.01)  # filled while writable
r = subprocess.run(["mount", "-o", "remount,ro", str(mnt)], capture_output=True, text=True)
if r.returncode:
    print("MOUNT-FAILED " + r.stderr.strip())
    sys.exit(3)
out = {"error": None, "reused": None}
out["reused"] = http.fetch(s, good_url, cache, attempts=1, backoff=0.01).path.read_text()
try:
    http.fetch(s, new_url, cache, attempts=3, backoff=0.01)
except DciError as exc:
    out["error"] = {"what": exc.what, "cause": exc.cause, "fix": exc.fix}
print(json.dumps(out))
"""


def test_read_only_cache_folder_is_a_clear_error(http_server, tmp_path: Path):
    """A read-only file system (a tmpfs remounted ro in a private mount namespace): root cannot write either."""
    if not shutil.which("unshare"):
        pytest.fail("unshare (util-linux) is not installed")
    good = http_server.route("/good.txt", http_server.Reply.ok(b"cached before"))
    new = http_server.route("/new.txt", http_server.Reply.ok(b"never stored"))
    mnt = tmp_path / "ro-disk"
    mnt.mkdir()
    ns = ["unshare", "--mount"] if os.geteuid() == 0 else ["unshare", "--map-root-user", "--mount"]
    proc = subprocess.run(
        [*ns, sys.executable, "-c", _READ_ONLY_SCRIPT, str(mnt), good, new],
        capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}, cwd=PROJECT_ROOT,
    )
    if proc.returncode != 0 and ("MOUNT-FAILED" in proc.stdout or proc.stderr.startswith("unshare:")):
        pytest.fail(f"cannot mount a tmpfs here: {proc.stdout.strip()} {proc.stderr.strip()}")
    assert proc.returncode == 0, proc.stderr  # a DciError, not a traceback
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["reused"] == "cached before"  # reading a read-only cache still works
    assert out["error"] is not None
    err = DciError(**out["error"])
    assert_unwritable_error(err, mnt / "dotnet-composite-images", "read-only file system")
    assert http_server.hits("/new.txt") == 0


_NO_PERMISSION_SCRIPT = r"""
import json, sys
from pathlib import Path
from crossgen.acquire import http
from crossgen.acquire.cache import Cache
from crossgen.core.errors import DciError
s = http.new_session()
s.trust_env = False
out = {"error": None}
try:
    http.fetch(s, sys.argv[2], Cache(Path(sys.argv[1])), attempts=3, backoff=0.01)
except DciError as exc:
    out["error"] = {"what": exc.what, "cause": exc.cause, "fix": exc.fix}
print(json.dumps(out))
"""


def test_cache_folder_without_write_permission_is_a_clear_error(http_server):
    """chmod 0555 on the cache folder, seen by an unprivileged user (root ignores permission bits)."""
    url = http_server.route("/x.bin", http_server.Reply.ok(b"payload"))
    base = Path(tempfile.mkdtemp(prefix="dci-perm-", dir="/tmp"))  # reachable by an unprivileged user
    try:
        base.chmod(0o755)
        root = base / "dotnet-composite-images"
        root.mkdir()
        root.chmod(0o555)
        cmd = [sys.executable, "-c", _NO_PERMISSION_SCRIPT, str(root), url]
        if os.geteuid() == 0:
            if not shutil.which("setpriv"):
                pytest.fail("setpriv (util-linux) is not installed")
            cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *cmd]
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=60,
            env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "PYTHONDONTWRITEBYTECODE": "1", "HOME": str(base)},
            cwd=PROJECT_ROOT,
        )
        assert proc.returncode == 0, proc.stderr
        out = json.loads(proc.stdout.strip().splitlines()[-1])
        assert out["error"] is not None
        err = DciError(**out["error"])
        assert_unwritable_error(err, root, f"no permission to write {root}")
        assert http_server.hits("/x.bin") == 0
        assert tree_of(root) == []
    finally:
        (base / "dotnet-composite-images").chmod(0o755)
        shutil.rmtree(base)


def test_corrupted_entry_refetched_into_an_unwritable_cache_is_a_clear_error(http_server, http_session, tmp_path: Path):
    """The corrupted blob is removed, then the new download cannot start: a clear error."""
    data = os.urandom(10_000)
    url = http_server.route("/c.bin", http_server.Reply.ok(data))
    cache = Cache(tmp_path / "cache")
    got = http.fetch(http_session, url, cache, **FAST)
    flip_byte(got.path, 10)
    # a regular file where tmp/ should be makes the refetch fail after the corrupted blob is gone
    shutil.rmtree(cache.root / "tmp")
    (cache.root / "tmp").write_text("in the way")
    with pytest.raises(DciError) as err:
        http.fetch(http_session, url, cache, **FAST)
    assert_unwritable_error(err.value, cache.root, "tmp is a file, not a folder")
    assert not got.path.exists()  # the corrupted blob is gone all the same


# --- 4. modes of what the cache stores -------------------------------------------------------------


def test_cached_files_are_readable_by_others_whatever_the_umask(http_server, http_session, tmp_path: Path):
    url = http_server.route("/m.bin", http_server.Reply.ok(b"shared"))
    cache = Cache(tmp_path / "xdg" / "dotnet-composite-images")
    old = os.umask(0o077)  # the strictest usual umask: 0600 files, 0700 folders by default
    try:
        got = http.fetch(http_session, url, cache, **FAST)
    finally:
        os.umask(old)
    record = cache._url_record(url)
    assert mode_of(got.path) == 0o644
    assert mode_of(record) == 0o644
    for folder in (tmp_path / "xdg", cache.root, cache.root / "sha512", got.path.parent, record.parent, cache.root / "tmp"):
        assert mode_of(folder) == 0o755, folder


def test_atomic_writes_and_folders_are_readable_by_others(tmp_path: Path):
    old = os.umask(0o077)
    try:
        atomic_write_text(tmp_path / "new" / "f.json", "{}")
        with atomic_dir(tmp_path / "made") as d:
            (d / "x").write_text("x")
    finally:
        os.umask(old)
    assert mode_of(tmp_path / "new" / "f.json") == 0o644
    assert mode_of(tmp_path / "new") == 0o755
    assert mode_of(tmp_path / "made") == 0o755


# --- 3. hostile archives ---------------------------------------------------------------------------


def zip_entry(name: str, data: bytes = b"data", *, unix_mode: int | None = None) -> tuple[zipfile.ZipInfo, bytes]:
    zi = zipfile.ZipInfo(name)
    if unix_mode is not None:
        zi.create_system = 3
        zi.external_attr = unix_mode << 16
    return zi, data


def zip_link(name: str, target: str) -> tuple[zipfile.ZipInfo, bytes]:
    return zip_entry(name, target.encode(), unix_mode=stat.S_IFLNK | 0o777)


def make_zip(path: Path, entries: list[tuple[zipfile.ZipInfo, bytes]]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for zi, data in entries:
            zf.writestr(zi, data)
    return path


def tar_entry(name: str, data: bytes = b"data", mode: int = 0o644) -> tuple[tarfile.TarInfo, bytes]:
    ti = tarfile.TarInfo(name)
    ti.size, ti.mode = len(data), mode
    return ti, data


def tar_link(name: str, kind: bytes, target: str) -> tuple[tarfile.TarInfo, None]:
    ti = tarfile.TarInfo(name)
    ti.type, ti.linkname, ti.mode = kind, target, 0o777
    return ti, None


def make_tar(path: Path, members: list, mode: str = "w:gz") -> Path:
    with tarfile.open(path, mode) as tf:
        for ti, data in members:
            tf.addfile(ti, io.BytesIO(data) if data is not None else None)
    return path


@pytest.fixture
def place(tmp_path: Path) -> Path:
    """``place/out`` is the target; ``place/outside.txt`` and ``place/victim`` must survive."""
    p = tmp_path / "place"
    (p / "victim").mkdir(parents=True)
    (p / "outside.txt").write_text("outside")
    out = p / "out"
    (out / "lib").mkdir(parents=True)
    (out / "lib" / "keep.txt").write_text("was here before")
    (out / "lib" / "replaced.txt").write_text("old content")
    return p


def assert_left_as_before(place: Path) -> None:
    assert tree_of(place / "out") == ["lib", "lib/keep.txt", "lib/replaced.txt"]
    assert (place / "out" / "lib" / "replaced.txt").read_text() == "old content"  # put back
    assert (place / "out" / "lib" / "keep.txt").read_text() == "was here before"
    assert sorted(p.name for p in place.iterdir()) == ["out", "outside.txt", "victim"]
    assert (place / "outside.txt").read_text() == "outside"
    assert tree_of(place / "victim") == []
    assert not Path("/tmp/dci-evil-abs.txt").exists()


# name -> (entries after the harmless ones, the entry the error must name)
HOSTILE_ZIPS = {
    "absolute": ([zip_entry("/tmp/dci-evil-abs.txt")], "/tmp/dci-evil-abs.txt"),
    "dotdot": ([zip_entry("../evil.txt")], "../evil.txt"),
    "dotdot-nested": ([zip_entry("lib/../../victim/evil.txt")], "lib/../../victim/evil.txt"),
    "backslash-dotdot": ([zip_entry("..\\victim\\evil.txt")], "..\\victim\\evil.txt"),
    "symlink-absolute": ([zip_link("lib/evil-link", "/etc")], "lib/evil-link"),
    "symlink-up": ([zip_link("lib/evil-link", "../../victim")], "lib/evil-link"),
    "symlink-then-write-through": ([zip_link("evil-dir", "../victim"), zip_entry("evil-dir/evil.txt")], "evil-dir"),
    # each link stays inside by name; on disk l -> a/b/c/.. is the parent of out
    "symlink-chain": (
        [zip_link("a/b/c", "../.."), zip_link("l", "a/b/c/.."), zip_entry("l/victim/evil.txt")],
        "l",  # refused when made: resolved on disk it points out
    ),
}


@pytest.mark.parametrize("case", list(HOSTILE_ZIPS))
def test_hostile_zip_is_refused_naming_archive_and_entry_and_leaves_nothing(place: Path, tmp_path: Path, case: str):
    hostile, entry = HOSTILE_ZIPS[case]
    z = make_zip(tmp_path / "hostile.nupkg", [zip_entry("lib/new.txt"), zip_entry("lib/replaced.txt", b"new"),
                                              zip_entry("deep/er/new.txt"), *hostile])
    with pytest.raises(DciError) as err:
        archives.extract_zip(z, place / "out")
    assert err.value.what == str(z)
    assert repr(entry) in err.value.cause, err.value.cause
    assert err.value.fix
    assert_left_as_before(place)


def test_zip_refused_after_writing_puts_everything_back(place: Path, tmp_path: Path):
    """Refused on disk (a link chain), after files were written and one replaced."""
    z = make_zip(tmp_path / "late.nupkg", [
        zip_entry("lib/replaced.txt", b"new"), zip_entry("new/deep/file.txt"),
        zip_link("a/b/c", "../.."), zip_link("l", "a/b/c/.."), zip_entry("l/evil.txt"),
    ])
    with pytest.raises(DciError) as err:
        archives.extract_zip(z, place / "out")
    assert "through a link" in err.value.cause
    assert_left_as_before(place)


@pytest.mark.parametrize("kind", [stat.S_IFIFO, stat.S_IFCHR, stat.S_IFBLK, stat.S_IFSOCK], ids=["fifo", "chr", "blk", "sock"])
def test_zip_special_files_are_refused(place: Path, tmp_path: Path, kind: int):
    z = make_zip(tmp_path / "dev.zip", [zip_entry("lib/new.txt"), zip_entry("evil-node", b"", unix_mode=kind | 0o644)])
    with pytest.raises(DciError) as err:
        archives.extract_zip(z, place / "out")
    assert err.value.what == str(z) and "'evil-node'" in err.value.cause
    assert_left_as_before(place)


def test_zip_symlink_inside_is_made_as_a_link(tmp_path: Path):
    z = make_zip(tmp_path / "ok.zip", [zip_entry("lib/a.txt", b"alpha"), zip_link("lib/link", "a.txt"), zip_link("top", "lib")])
    out = tmp_path / "out"
    assert archives.extract_zip(z, out) == ["lib/a.txt", "lib/link", "top"]
    assert os.readlink(out / "lib" / "link") == "a.txt" and (out / "top" / "link").read_bytes() == b"alpha"
    assert [p.name for p in out.rglob(".*")] == []  # no undo leftovers


def test_zip_setuid_setgid_sticky_are_not_kept(tmp_path: Path):
    z = make_zip(tmp_path / "suid.zip", [
        zip_entry("bin/suid", b"ELF", unix_mode=stat.S_IFREG | 0o4755),
        zip_entry("bin/sgid", b"ELF", unix_mode=stat.S_IFREG | 0o2755),
        zip_entry("lib/sticky.txt", b"t", unix_mode=stat.S_IFREG | 0o1644),
    ])
    out = tmp_path / "out"
    archives.extract_zip(z, out)
    assert mode_of(out / "bin" / "suid") == 0o755
    assert mode_of(out / "bin" / "sgid") == 0o755
    assert mode_of(out / "lib" / "sticky.txt") == 0o644


def test_zip_overwrite_on_success_leaves_no_backup(place: Path, tmp_path: Path):
    z = make_zip(tmp_path / "ok.zip", [zip_entry("lib/replaced.txt", b"new")])
    archives.extract_zip(z, place / "out")
    assert (place / "out" / "lib" / "replaced.txt").read_bytes() == b"new"
    assert tree_of(place / "out") == ["lib", "lib/keep.txt", "lib/replaced.txt"]


HOSTILE_TARS = {
    "absolute": ([tar_entry("/tmp/dci-evil-abs.txt")], "/tmp/dci-evil-abs.txt"),
    "dotdot": ([tar_entry("../evil.txt")], "../evil.txt"),
    "dotdot-nested": ([tar_entry("lib/../../victim/evil.txt")], "lib/../../victim/evil.txt"),
    "symlink-absolute": ([tar_link("lib/evil-link", tarfile.SYMTYPE, "/etc")], "lib/evil-link"),
    "symlink-up": ([tar_link("lib/evil-link", tarfile.SYMTYPE, "../../victim")], "lib/evil-link"),
    "symlink-then-write-through": (
        [tar_link("evil-dir", tarfile.SYMTYPE, "../victim"), tar_entry("evil-dir/evil.txt")], "evil-dir",
    ),
    "hardlink-up": ([tar_link("evil-hard", tarfile.LNKTYPE, "../outside.txt")], "evil-hard"),
    "hardlink-absolute": ([tar_link("evil-hard", tarfile.LNKTYPE, "/etc/passwd")], "evil-hard"),
    "hardlink-through-a-symlink": (  # the symlink is inside by name, the hard link follows it out
        [tar_link("up", tarfile.SYMTYPE, "lib/../.."), tar_link("evil-hard", tarfile.LNKTYPE, "up/outside.txt")],
        "up",
    ),
    "symlink-chain": (
        [tar_link("a/b/c", tarfile.SYMTYPE, "../.."), tar_link("l", tarfile.SYMTYPE, "a/b/c/.."),
         tar_entry("l/victim/evil.txt")],
        "l",
    ),
}


@pytest.mark.parametrize("mode", ["w:gz", "w"])
@pytest.mark.parametrize("case", list(HOSTILE_TARS))
def test_hostile_tar_is_refused_naming_archive_and_entry_and_leaves_nothing(place: Path, tmp_path: Path, case: str, mode: str):
    hostile, entry = HOSTILE_TARS[case]
    f = make_tar(tmp_path / "hostile.tar.gz", [tar_entry("lib/new.txt"), tar_entry("lib/replaced.txt", b"new"),
                                               tar_entry("deep/er/new.txt"), *hostile], mode)
    with pytest.raises(DciError) as err:
        archives.extract_tar(f, place / "out")
    assert err.value.what == str(f)
    assert repr(entry) in err.value.cause, err.value.cause
    assert err.value.fix
    assert_left_as_before(place)


def test_hostile_tar_stream_is_refused_with_its_label(place: Path, tmp_path: Path):
    f = make_tar(tmp_path / "s.tar", [tar_entry("lib/replaced.txt", b"new"), tar_link("evil", tarfile.SYMTYPE, "/")], "w")
    with pytest.raises(DciError) as err:
        archives.extract_tar(io.BufferedReader(io.BytesIO(f.read_bytes())), place / "out", label="image:/app")
    assert err.value.what == "image:/app" and "'evil'" in err.value.cause
    assert_left_as_before(place)


def test_tar_setuid_setgid_sticky_are_stripped(tmp_path: Path):
    f = make_tar(tmp_path / "suid.tar", [
        tar_entry("bin/suid", b"ELF", 0o4755),
        tar_entry("bin/sgid", b"ELF", 0o2755),
        tar_entry("bin/both", b"ELF", 0o6777),
        tar_entry("lib/sticky.txt", b"t", 0o1644),
        tar_entry("lib/plain.txt", b"p", 0o640),
    ], "w")
    out = tmp_path / "out"
    archives.extract_tar(f, out)
    assert mode_of(out / "bin" / "suid") == 0o755
    assert mode_of(out / "bin" / "sgid") == 0o755
    assert mode_of(out / "bin" / "both") == 0o777
    assert mode_of(out / "lib" / "sticky.txt") == 0o644
    assert mode_of(out / "lib" / "plain.txt") == 0o640


def test_tar_hard_link_to_a_missing_entry_is_a_clear_error(place: Path, tmp_path: Path):
    f = make_tar(tmp_path / "h.tar", [tar_entry("lib/replaced.txt", b"new"), tar_link("lib/h", tarfile.LNKTYPE, "lib/absent")], "w")
    with pytest.raises(DciError) as err:
        archives.extract_tar(f, place / "out")
    assert "'lib/h'" in err.value.cause and "lib/absent" in err.value.cause
    assert_left_as_before(place)


def test_tar_file_over_an_existing_folder_is_a_clear_error(place: Path, tmp_path: Path):
    f = make_tar(tmp_path / "d.tar", [tar_entry("lib/replaced.txt", b"new"), tar_entry("lib", b"a file")], "w")
    with pytest.raises(DciError) as err:
        archives.extract_tar(f, place / "out")
    assert "'lib'" in err.value.cause
    assert_left_as_before(place)


def test_tar_duplicate_entries_are_undone_in_order(place: Path, tmp_path: Path):
    """An appended tar holds a path twice: a failure afterwards must leave the first state."""
    f = make_tar(tmp_path / "dup.tar", [
        tar_entry("lib/replaced.txt", b"first"), tar_entry("new/x.txt", b"1"), tar_entry("new/x.txt", b"2"),
        tar_entry("lib/replaced.txt", b"second"), tar_entry("../evil.txt"),
    ], "w")
    with pytest.raises(DciError):
        archives.extract_tar(f, place / "out")
    assert_left_as_before(place)


def test_hashing_stream_hashes_what_it_reads_up_to_its_limit_and_what_it_writes():
    from crossgen.core.files import HashingStream

    data = bytes(range(256)) * 5000
    reader = HashingStream(io.BytesIO(data + b"next member"), limit=len(data))
    assert reader.read(100) == data[:100]
    assert reader.drain() == "sha256:" + hashlib.sha256(data).hexdigest()
    assert reader.read() == b"" and reader.tell() == len(data)   # the limit holds: the next member is not read

    out = io.BytesIO()
    writer = HashingStream(out)
    for i in range(0, len(data), 4096):
        writer.write(data[i:i + 4096])
    assert out.getvalue() == data and writer.tell() == len(data)
    assert writer.digest == "sha256:" + hashlib.sha256(data).hexdigest()
