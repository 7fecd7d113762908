"""crossgen.acquire.cache and crossgen.acquire.http against real files and a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from crossgen.acquire import http
from crossgen.acquire.cache import Cache, sha512_file
from crossgen.core.files import atomic_write_bytes, atomic_write_text
from crossgen.core.errors import DciError

FAST = {"backoff": 0.01}  # keyword arguments that keep retry tests quick
PROJECT_ROOT = Path(__file__).resolve().parents[1]


def sha512(data: bytes) -> str:
    return hashlib.sha512(data).hexdigest()


def cache_files(cache: Cache) -> list[str]:
    """Every file under the cache root, relative (to see leftovers)."""
    if not cache.root.exists():
        return []
    return sorted(str(p.relative_to(cache.root)) for p in cache.root.rglob("*") if p.is_file())


def partial_files(cache: Cache) -> list[str]:
    """Files in tmp/ and sha512/: must stay empty after any failed download."""
    return [f for f in cache_files(cache) if f.startswith(("tmp/", "sha512/"))]


@pytest.fixture
def cache(tmp_path: Path) -> Cache:
    return Cache(tmp_path / "cache")


def add_bytes(cache: Cache, data: bytes, url: str) -> Path:
    tmp = cache.tmp_dir() / "incoming"
    tmp.write_bytes(data)
    return cache.add(tmp, sha512(data), url).path


# --- cache -------------------------------------------------------------------------------


def test_sha512_file_matches_hashlib(tmp_path: Path):
    data = os.urandom(3 * (1 << 20) + 17)  # several read blocks and a partial one
    f = tmp_path / "blob"
    f.write_bytes(data)
    assert sha512_file(f) == sha512(data)


def test_blob_path_is_content_addressed(cache: Cache):
    digest = sha512(b"x")
    assert cache.blob_path(digest) == cache.root / "sha512" / digest[:2] / digest
    assert cache.blob_path(digest.upper()) == cache.blob_path(digest)


def test_add_moves_file_in_and_records_url(cache: Cache):
    data = b"hello cache\n" * 1000
    tmp = cache.tmp_dir() / "dl.part"
    tmp.write_bytes(data)
    got = cache.add(tmp, sha512(data), "https://example.invalid/a.bin")
    assert not tmp.exists()
    assert got.path == cache.blob_path(sha512(data)) and got.path.read_bytes() == data
    assert (got.sha512, got.size, got.url) == (sha512(data), len(data), "https://example.invalid/a.bin")
    assert cache.sha512_for_url("https://example.invalid/a.bin") == sha512(data)
    assert cache.sha512_for_url("https://example.invalid/other.bin") is None
    again = cache.get_url("https://example.invalid/a.bin")
    assert again == got
    assert cache.get(sha512(data).upper(), "u").path == got.path
    assert cache_files(cache) == sorted(
        [str(got.path.relative_to(cache.root)), str(cache._url_record("https://example.invalid/a.bin").relative_to(cache.root))]
    )


def test_get_absent(cache: Cache):
    assert cache.get(sha512(b"never stored")) is None
    assert cache.get_url("https://example.invalid/nothing") is None


def test_corrupted_entry_is_detected_and_removed(cache: Cache):
    data = os.urandom(100_000)
    path = add_bytes(cache, data, "https://example.invalid/c.bin")
    with open(path, "r+b") as f:  # flip one byte in the middle
        f.seek(50_000)
        b = f.read(1)
        f.seek(50_000)
        f.write(bytes([b[0] ^ 0xFF]))
    assert cache.get(sha512(data)) is None
    assert not path.exists()
    assert cache.get_url("https://example.invalid/c.bin") is None


def test_truncated_entry_is_detected_and_removed(cache: Cache):
    data = os.urandom(10_000)
    path = add_bytes(cache, data, "https://example.invalid/t.bin")
    with open(path, "r+b") as f:
        f.truncate(5_000)
    assert cache.get_url("https://example.invalid/t.bin") is None
    assert not path.exists()


@pytest.mark.parametrize("record", ["", "{not json", "[]", '{"url": "u"}', '{"sha512": 42}', '{"sha512": "abc"}'])
def test_unusable_url_record_is_a_miss(cache: Cache, record: str):
    url = "https://example.invalid/r.bin"
    rec = cache._url_record(url)
    rec.parent.mkdir(parents=True)
    rec.write_text(record)
    assert cache.sha512_for_url(url) is None
    assert cache.get_url(url) is None


def test_hash_that_is_not_a_sha512_never_touches_files_outside(tmp_path: Path):
    """A checksum comes from outside (release metadata): it must not address a path."""
    cache = Cache(tmp_path / "c" / "cache")
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (cache.root / "sha512").mkdir(parents=True)  # a cache in use
    evil = "../../victim.txt"
    assert os.path.normpath(cache.root / "sha512" / evil[:2] / evil) == str(victim)  # where it would point
    with pytest.raises(DciError):
        cache.get(evil)
    assert victim.read_text() == "precious"
    rec = cache._url_record("https://example.invalid/v")
    rec.parent.mkdir(parents=True)
    rec.write_text(json.dumps({"url": "https://example.invalid/v", "sha512": evil}))
    assert cache.get_url("https://example.invalid/v") is None
    assert victim.read_text() == "precious"


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path: Path):
    target = tmp_path / "deep" / "er" / "file.json"
    atomic_write_text(target, "first")
    atomic_write_bytes(target, b"second")
    assert target.read_bytes() == b"second"
    assert sorted(p.name for p in target.parent.iterdir()) == ["file.json"]


def test_atomic_write_failure_keeps_old_content_and_no_temp(tmp_path: Path):
    target = tmp_path / "file.txt"
    target.write_text("old")
    with pytest.raises(TypeError):
        atomic_write_bytes(target, "not bytes")  # type: ignore[arg-type]  # fails inside the write
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["file.txt"]


def test_clear_reports_bytes_and_removes_everything(cache: Cache):
    assert cache.clear() == 0  # nothing there yet
    add_bytes(cache, b"a" * 1000, "https://example.invalid/1")
    add_bytes(cache, b"b" * 500, "https://example.invalid/2")
    records = sum(p.stat().st_size for p in (cache.root / "urls").iterdir())
    assert cache.clear() == 1500 + records
    assert not cache.root.exists()


# --- http.fetch ----------------------------------------------------------------------------


def test_fetch_downloads_verifies_and_records(http_server, http_session, cache: Cache):
    data = os.urandom(3 * (1 << 20) + 123)  # several chunks
    url = http_server.route("/files/pack.nupkg", http_server.Reply.ok(data))
    got = http.fetch(http_session, url, cache, **FAST)
    assert got.path.read_bytes() == data
    assert (got.sha512, got.size, got.url) == (sha512(data), len(data), url)
    assert got.path == cache.blob_path(sha512(data))
    assert cache.sha512_for_url(url) == sha512(data)
    assert cache_files(cache) == sorted(
        [str(got.path.relative_to(cache.root)), str(cache._url_record(url).relative_to(cache.root))]
    )
    assert http_server.seen[0].headers["user-agent"] == http.USER_AGENT


def test_fetch_reuses_the_cache_without_a_request(http_server, http_session, cache: Cache):
    data = b"cached once" * 100
    url = http_server.route("/f.bin", http_server.Reply.ok(data))
    first = http.fetch(http_session, url, cache, **FAST)
    second = http.fetch(http_session, url, cache, **FAST)
    third = http.fetch(http_session, http_server.url("/other-name.bin"), cache, sha512=sha512(data), **FAST)
    assert first == second
    assert third.path == first.path
    assert http_server.hits("/f.bin") == 1
    assert http_server.hits("/other-name.bin") == 0  # known by its hash: no request at all


def test_fetch_with_expected_sha512(http_server, http_session, cache: Cache):
    data = os.urandom(5000)
    url = http_server.route("/ok.bin", http_server.Reply.ok(data))
    got = http.fetch(http_session, url, cache, sha512=sha512(data).upper(), **FAST)
    assert got.sha512 == sha512(data)


def test_fetch_sha512_mismatch_keeps_nothing_and_does_not_retry(http_server, http_session, cache: Cache):
    url = http_server.route("/tampered.bin", http_server.Reply.ok(b"evil bytes"))
    with pytest.raises(DciError) as err:
        http.fetch(http_session, url, cache, sha512=sha512(b"good bytes"), attempts=3, **FAST)
    assert "SHA-512 mismatch" in err.value.cause and err.value.what == url
    assert http_server.hits("/tampered.bin") == 1
    assert cache_files(cache) == []  # no blob, no tmp file, no URL record


def test_fetch_404_is_an_immediate_error(http_server, http_session, cache: Cache):
    url = http_server.url("/missing.nupkg")  # not scripted: 404
    with pytest.raises(DciError) as err:
        http.fetch(http_session, url, cache, attempts=4, **FAST)
    assert "HTTP 404" in err.value.cause and err.value.what == url
    assert err.value.fix
    assert http_server.hits("/missing.nupkg") == 1
    assert cache_files(cache) == []


@pytest.mark.parametrize("status", [500, 502, 503, 429, 408])
def test_fetch_retries_server_errors_then_succeeds(http_server, http_session, cache: Cache, status: int):
    data = os.urandom(20_000)
    R = http_server.Reply
    url = http_server.route("/flaky.bin", R.error(status), R.error(status), R.ok(data))
    got = http.fetch(http_session, url, cache, attempts=3, **FAST)
    assert got.path.read_bytes() == data
    assert http_server.hits("/flaky.bin") == 3
    assert partial_files(cache) == [str(got.path.relative_to(cache.root))]


def test_fetch_gives_up_after_the_retries(http_server, http_session, cache: Cache):
    url = http_server.route("/down.bin", http_server.Reply.error(500))
    start = time.monotonic()
    with pytest.raises(DciError) as err:
        http.fetch(http_session, url, cache, attempts=3, backoff=0.05)
    assert "HTTP 500" in err.value.cause and "3 attempts" in err.value.cause
    assert http_server.hits("/down.bin") == 3
    assert time.monotonic() - start >= 0.05 + 0.1  # back-off doubles: 0.05 then 0.1
    assert cache_files(cache) == []


def test_fetch_body_cut_off_is_retried(http_server, http_session, cache: Cache):
    data = os.urandom(300_000)
    R = http_server.Reply
    url = http_server.route("/cut.bin", R.cut(data, 100_000), R.ok(data))
    got = http.fetch(http_session, url, cache, attempts=2, **FAST)
    assert got.path.read_bytes() == data
    assert http_server.hits("/cut.bin") == 2


def test_fetch_body_always_cut_off_fails_and_keeps_nothing(http_server, http_session, cache: Cache):
    data = os.urandom(300_000)
    url = http_server.route("/cut.bin", http_server.Reply.cut(data, 123_456))
    with pytest.raises(DciError) as err:
        http.fetch(http_session, url, cache, attempts=2, **FAST)
    assert "cut off" in err.value.cause and "123456 of 300000" in err.value.cause
    assert http_server.hits("/cut.bin") == 2
    assert cache_files(cache) == []


def test_fetch_slow_answer_times_out_and_is_retried(http_server, http_session, cache: Cache):
    data = b"late" * 100
    R = http_server.Reply
    url = http_server.route("/slow.bin", R.slow(data, 5.0), R.ok(data))
    start = time.monotonic()
    got = http.fetch(http_session, url, cache, timeout=(2, 0.3), attempts=2, **FAST)
    assert got.path.read_bytes() == data
    assert http_server.hits("/slow.bin") == 2
    assert time.monotonic() - start < 3


def test_fetch_always_slow_fails_with_timeout(http_server, http_session, cache: Cache):
    url = http_server.route("/slow.bin", http_server.Reply.slow(b"x", 5.0))
    with pytest.raises(DciError) as err:
        http.fetch(http_session, url, cache, timeout=(2, 0.2), attempts=2, **FAST)
    assert "timed out" in err.value.cause
    assert cache_files(cache) == []


def test_fetch_stall_in_the_middle_of_the_body_is_retried(http_server, http_session, cache: Cache):
    data = os.urandom(200_000)
    R = http_server.Reply
    url = http_server.route("/stall.bin", R.stalled(data, 50_000, 5.0), R.ok(data))
    got = http.fetch(http_session, url, cache, timeout=(2, 0.3), attempts=2, **FAST)
    assert got.path.read_bytes() == data
    assert http_server.hits("/stall.bin") == 2


def test_fetch_connection_refused_is_retried_then_fails(http_session, cache: Cache):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DciError) as err:
        http.fetch(http_session, f"http://127.0.0.1:{port}/x.bin", cache, attempts=2, **FAST)
    assert "connection refused" in err.value.cause and "2 attempts" in err.value.cause
    assert cache_files(cache) == []


def test_fetch_replaces_a_corrupted_cache_entry(http_server, http_session, cache: Cache):
    data = os.urandom(50_000)
    url = http_server.route("/c.bin", http_server.Reply.ok(data))
    got = http.fetch(http_session, url, cache, **FAST)
    got.path.write_bytes(b"bit rot")
    again = http.fetch(http_session, url, cache, **FAST)
    assert again.path.read_bytes() == data
    assert http_server.hits("/c.bin") == 2
    assert partial_files(cache) == [str(got.path.relative_to(cache.root))]


def test_fetch_stores_the_served_bytes_when_the_server_can_compress(http_server, http_session, cache: Cache):
    """A server (CDN) that gzips when asked: Content-Length counts the encoded bytes."""
    data = b"compressible " * 50_000
    url = http_server.route("/big.json", http_server.Reply.ok(data, "application/json", gzip_if_asked=True))
    got = http.fetch(http_session, url, cache, attempts=2, **FAST)
    assert got.path.read_bytes() == data
    assert http_server.hits("/big.json") == 1


def test_fetch_repeated_failures_leave_tmp_empty(http_server, http_session, cache: Cache):
    data = os.urandom(100_000)
    R = http_server.Reply
    url = http_server.route("/mix.bin", R.cut(data, 10), R.error(503), R.cut(data, 99_999))
    with pytest.raises(DciError):
        http.fetch(http_session, url, cache, attempts=3, **FAST)
    assert http_server.hits("/mix.bin") == 3
    assert list((cache.root / "tmp").iterdir()) == []
    assert cache_files(cache) == []


_ENOSPC_SCRIPT = r"""
import json, subprocess, sys
from pathlib import Path
mnt, url = Path(sys.argv[1]), sys.argv[2]
r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "dci-test", str(mnt)], capture_output=True, text=True)
if r.returncode:
    print("MOUNT-FAILED " + r.stderr.strip())
    sys.exit(3)
from crossgen.acquire import http
from crossgen.acquire.cache import Cache
from crossgen.core.errors import DciError
cache = Cache(mnt / "cache")
s = http.new_session()
s.trust_env = False
out = {"error": None}
try:
    http.fetch(s, url, cache, attempts=3, backoff=0.01)
except DciError as exc:
    out["error"] = {"what": exc.what, "cause": exc.cause, "fix": exc.fix}
out["files"] = sorted(str(p.relative_to(cache.root)) for p in cache.root.rglob("*") if p.is_file())
print(json.dumps(out))
"""


def test_fetch_disk_full_says_so_and_keeps_nothing(http_server, tmp_path: Path):
    """A real ENOSPC: the cache lives on a 256 KiB tmpfs in a private mount namespace."""
    if not shutil.which("unshare"):
        pytest.fail("unshare (util-linux) is not installed")
    data = os.urandom(2_000_000)
    url = http_server.route("/huge.bin", http_server.Reply.ok(data))
    mnt = tmp_path / "small-disk"
    mnt.mkdir()
    ns = ["unshare", "--mount"] if os.geteuid() == 0 else ["unshare", "--map-root-user", "--mount"]
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    proc = subprocess.run(
        [*ns, sys.executable, "-c", _ENOSPC_SCRIPT, str(mnt), url],
        capture_output=True, text=True, timeout=60, env=env, cwd=PROJECT_ROOT,
    )
    if proc.returncode != 0 and ("MOUNT-FAILED" in proc.stdout or proc.stderr.startswith("unshare:")):
        pytest.fail(f"cannot mount a small tmpfs here: {proc.stdout.strip()} {proc.stderr.strip()}")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["error"] is not None, "the download should not fit in 256 KiB"
    assert "no space left" in out["error"]["cause"]
    assert out["error"]["fix"] and "cache" in out["error"]["what"]
    assert out["files"] == []  # nothing in tmp/, sha512/ or urls/
    assert http_server.hits("/huge.bin") == 1  # a full disk is not retried


# --- http.get_json -------------------------------------------------------------------------


def test_get_json_parses(http_server, http_session):
    url = http_server.route("/index.json", http_server.Reply.json({"a": [1, 2, {"b": None}]}))
    assert http.get_json(http_session, url, **FAST) == {"a": [1, 2, {"b": None}]}


def test_get_json_404_is_immediate(http_server, http_session):
    with pytest.raises(DciError) as err:
        http.get_json(http_session, http_server.url("/nope.json"), attempts=3, **FAST)
    assert "HTTP 404" in err.value.cause
    assert http_server.hits("/nope.json") == 1


def test_get_json_retries_5xx(http_server, http_session):
    R = http_server.Reply
    url = http_server.route("/i.json", R.error(503), R.error(500), R.json([1]))
    assert http.get_json(http_session, url, attempts=3, **FAST) == [1]
    assert http_server.hits("/i.json") == 3


def test_get_json_gives_up(http_server, http_session):
    url = http_server.route("/i.json", http_server.Reply.error(502))
    with pytest.raises(DciError) as err:
        http.get_json(http_session, url, attempts=2, **FAST)
    assert "HTTP 502" in err.value.cause and "2 attempts" in err.value.cause


def test_get_json_timeout_is_retried(http_server, http_session):
    R = http_server.Reply
    url = http_server.route("/i.json", R.slow(b"{}", 5.0), R.json({"ok": True}))
    assert http.get_json(http_session, url, timeout=(2, 0.3), attempts=2, **FAST) == {"ok": True}
    assert http_server.hits("/i.json") == 2


def test_get_json_not_json(http_server, http_session):
    url = http_server.route("/page", http_server.Reply.ok(b"<html>hello</html>", "text/html"))
    with pytest.raises(DciError) as err:
        http.get_json(http_session, url, attempts=3, **FAST)
    assert "not JSON" in err.value.cause
    assert http_server.hits("/page") == 1


def test_get_json_body_cut_off_is_retried(http_server, http_session):
    body = json.dumps({"versions": [f"10.0.{i}" for i in range(200)]}).encode()
    R = http_server.Reply
    url = http_server.route("/v.json", R.cut(body, len(body) // 2), R.ok(body, "application/json"))
    assert http.get_json(http_session, url, attempts=2, **FAST) == json.loads(body)
    assert http_server.hits("/v.json") == 2


def test_get_json_accepts_a_gzip_encoded_answer(http_server, http_session):
    """Content-Length counts the encoded bytes: a compressed answer is complete, not cut off."""
    doc = {"versions": [f"10.0.{i}" for i in range(2000)]}
    url = http_server.route("/gz.json", http_server.Reply.json(doc, gzip_if_asked=True))
    assert http.get_json(http_session, url, attempts=2, **FAST) == doc
    assert http_server.hits("/gz.json") == 1
    assert "gzip" in http_server.seen[0].headers.get("accept-encoding", "")
