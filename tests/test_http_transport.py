"""crossgen.acquire.http as the one transport: each fault caused for real against the scripted
``http_server`` on 127.0.0.1, the typed errors it raises, and a source scan that keeps every
other module on it."""

from __future__ import annotations

import ast
import hashlib
import json
import os
import socket
import time
from pathlib import Path

import pytest
from urllib3.util.retry import Retry

from crossgen.acquire import http, nuget
from crossgen.acquire.cache import Cache
from crossgen.core.errors import DciError, IntegrityError, NotFound, Unreachable

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def session():
    """The tool's session with a fast policy: 3 attempts, 10 ms back-off, Retry-After up to 2 s."""
    s = http.new_session(attempts=3, backoff=0.01, retry_after_max=2.0)
    s.trust_env = False  # loopback only
    yield s
    s.close()


@pytest.fixture
def cache(tmp_path: Path) -> Cache:
    return Cache(tmp_path / "cache")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cache_files(cache: Cache) -> list[str]:
    return sorted(str(p.relative_to(cache.root)) for p in cache.root.rglob("*") if p.is_file()) if cache.root.exists() else []


# --- the session ---------------------------------------------------------------------------------


def test_the_session_retries_with_urllib3_on_its_adapter(session):
    for scheme in ("http://", "https://"):
        retry = session.get_adapter(scheme + "example.org/x").max_retries
        assert isinstance(retry, Retry)
        assert retry.total == 2 and retry.backoff_factor == 0.01
        assert set(retry.status_forcelist) >= {429, 500, 502, 503, 504}
        assert set(retry.allowed_methods) == {"GET", "HEAD", "PUT"}  # reads, and the idempotent PUT of a registry manifest
        assert retry.respect_retry_after_header
    assert session.headers["User-Agent"] == http.USER_AGENT


def test_503_then_200_is_retried_by_the_session_itself(http_server, session):
    """Even a bare session.get retries: the retry lives in the transport, not in a caller's loop."""
    R = http_server.Reply
    url = http_server.route("/i.json", R.error(503), R.json({"ok": 1}))
    resp = session.get(url, timeout=5)
    assert resp.status_code == 200 and resp.json() == {"ok": 1}
    assert http_server.hits("/i.json") == 2


@pytest.mark.parametrize("call", ["get_json", "get_text", "fetch"])
def test_503_then_200_through_every_call(http_server, session, cache, call, capsys):
    R = http_server.Reply
    body = json.dumps({"v": [1, 2, 3]}).encode()
    url = http_server.route("/doc", R.error(503), R.ok(body, "application/json"))
    if call == "get_json":
        assert http.get_json(session, url) == {"v": [1, 2, 3]}
    elif call == "get_text":
        assert http.get_text(session, url) == body.decode()
    else:
        assert http.fetch(session, url, cache).path.read_bytes() == body
    assert http_server.hits("/doc") == 2
    log = capsys.readouterr().err
    assert "HTTP 503; retrying in" in log and "(1/3)" in log


def test_a_call_may_ask_for_fewer_attempts(http_server, session):
    url = http_server.route("/i.json", http_server.Reply.error(503))
    with pytest.raises(Unreachable) as err:
        http.get_json(session, url, attempts=1)
    assert "HTTP 503" in err.value.cause and "gave up after 1 attempts" in err.value.cause
    assert http_server.hits("/i.json") == 1


def test_5xx_forever_is_unreachable_with_the_count(http_server, session):
    url = http_server.route("/i.json", http_server.Reply.error(502))
    with pytest.raises(Unreachable) as err:
        http.get_json(session, url)
    assert err.value.what == url and "HTTP 502" in err.value.cause and "gave up after 3 attempts" in err.value.cause
    assert err.value.fix
    assert http_server.hits("/i.json") == 3


# --- Retry-After ---------------------------------------------------------------------------------


def test_retry_after_is_honoured(http_server, session):
    R = http_server.Reply
    busy = R(503, b"busy\n", (("Content-Type", "text/plain"), ("Retry-After", "1")))
    url = http_server.route("/busy.json", busy, R.json([1]))
    start = time.monotonic()
    assert http.get_json(session, url) == [1]
    assert time.monotonic() - start >= 0.9  # the server's 1 s, not the 10 ms back-off
    assert http_server.hits("/busy.json") == 2


def test_retry_after_is_bounded(http_server, tmp_path):
    R = http_server.Reply
    busy = R(429, b"slow down\n", (("Content-Type", "text/plain"), ("Retry-After", "3600")))
    url = http_server.route("/busy.bin", busy, R.ok(b"payload"))
    s = http.new_session(attempts=2, backoff=0.01, retry_after_max=0.3)
    s.trust_env = False
    start = time.monotonic()
    got = http.fetch(s, url, Cache(tmp_path / "cache"))
    elapsed = time.monotonic() - start
    assert got.path.read_bytes() == b"payload"
    assert 0.25 <= elapsed < 5  # waited the bound, not an hour
    assert http_server.hits("/busy.bin") == 2


# --- typed errors --------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [404, 410])
def test_gone_is_not_found_without_retry(http_server, session, cache, status):
    url = http_server.route("/gone.bin", http_server.Reply.error(status))
    with pytest.raises(NotFound) as err:
        http.fetch(session, url, cache)
    assert err.value.what == url and f"HTTP {status}" in err.value.cause and err.value.fix
    assert http_server.hits("/gone.bin") == 1
    assert cache_files(cache) == []
    with pytest.raises(NotFound):
        http.get_json(session, url)
    assert http_server.hits("/gone.bin") == 2


def test_another_client_error_is_a_plain_error_without_retry(http_server, session):
    url = http_server.route("/secret.json", http_server.Reply.error(403))
    with pytest.raises(DciError) as err:
        http.get_json(session, url)
    assert type(err.value) is DciError and "HTTP 403" in err.value.cause
    assert http_server.hits("/secret.json") == 1


def test_connection_refused_is_unreachable(session, cache):
    url = f"http://127.0.0.1:{closed_port()}/x.bin"
    with pytest.raises(Unreachable) as err:
        http.fetch(session, url, cache)
    assert err.value.what == url
    assert "connection refused" in err.value.cause and "gave up after 3 attempts" in err.value.cause
    assert cache_files(cache) == []


def test_a_host_that_does_not_resolve_is_unreachable(session):
    with pytest.raises(Unreachable) as err:
        http.get_json(session, "http://no-such-host.invalid/index.json", attempts=2)
    assert "host no-such-host.invalid cannot be resolved" in err.value.cause


def test_timeout_is_unreachable(http_server, session):
    url = http_server.route("/slow.json", http_server.Reply.slow(b"{}", 5.0))
    with pytest.raises(Unreachable) as err:
        http.get_json(session, url, timeout=(2, 0.2), attempts=2)
    assert "timed out" in err.value.cause and "gave up after 2 attempts" in err.value.cause


def test_wrong_hash_is_an_integrity_error_and_nothing_is_kept(http_server, session, cache):
    url = http_server.route("/tampered.bin", http_server.Reply.ok(os.urandom(50_000)))
    with pytest.raises(IntegrityError) as err:
        http.fetch(session, url, cache, sha512=hashlib.sha512(b"the real bytes").hexdigest())
    assert err.value.what == url and "SHA-512 mismatch" in err.value.cause and "nothing was kept" in err.value.fix
    assert http_server.hits("/tampered.bin") == 1  # not retried
    assert cache_files(cache) == []  # no blob, no temporary file, no URL record


def test_typed_errors_print_the_same_one_line():
    err = Unreachable("http://x/y", "HTTP 503 (gave up after 3 attempts)", "check that the server answers")
    assert isinstance(err, DciError)
    assert str(err) == "http://x/y: HTTP 503 (gave up after 3 attempts) -- check that the server answers"
    again = err.reworded(what="release metadata index", fix="use a mirror")
    assert type(again) is Unreachable and again.cause == err.cause
    assert str(again) == "release metadata index: HTTP 503 (gave up after 3 attempts) -- use a mirror"


def test_feed_versions_catches_the_type(http_server, session):
    """A package the feed does not know (404) has no versions; a failing feed is an error."""
    url = http_server.nuget_feed({"Known.Package": {"1.0.0": b"zip"}})
    feed = nuget.Feed(session, url)
    assert feed.versions("Known.Package") == ["1.0.0"]
    assert feed.versions("Unknown.Package") == []
    http_server.route("/nuget/flat/broken/index.json", http_server.Reply.error(500))
    with pytest.raises(Unreachable):
        feed.versions("Broken")


# --- bodies that fail while streaming ------------------------------------------------------------


def test_body_cut_off_is_retried_then_ok(http_server, session, cache):
    data = os.urandom(400_000)
    R = http_server.Reply
    url = http_server.route("/cut.bin", R.cut(data, 150_000), R.ok(data))
    got = http.fetch(session, url, cache)
    assert got.path.read_bytes() == data and got.sha512 == hashlib.sha512(data).hexdigest()
    assert http_server.hits("/cut.bin") == 2
    assert list((cache.root / "tmp").iterdir()) == []


def test_json_body_cut_off_is_retried_then_ok(http_server, session):
    body = json.dumps(list(range(5000))).encode()
    R = http_server.Reply
    url = http_server.route("/cut.json", R.cut(body, 100), R.ok(body, "application/json"))
    assert http.get_json(session, url) == list(range(5000))
    assert http_server.hits("/cut.json") == 2


def test_body_failures_and_statuses_share_one_budget(http_server, session, cache):
    """Cut off, then 503, then cut off: three requests, the three attempts of the call."""
    data = os.urandom(100_000)
    R = http_server.Reply
    url = http_server.route("/mix.bin", R.cut(data, 10), R.error(503), R.cut(data, 5_000))
    with pytest.raises(Unreachable) as err:
        http.fetch(session, url, cache)
    assert "body cut off: 5000 of 100000 bytes" in err.value.cause and "gave up after 3 attempts" in err.value.cause
    assert http_server.hits("/mix.bin") == 3
    assert cache_files(cache) == []


def test_stalled_body_is_retried_then_ok(http_server, session, cache):
    data = os.urandom(200_000)
    R = http_server.Reply
    url = http_server.route("/stall.bin", R.stalled(data, 70_000, 5.0), R.ok(data))
    got = http.fetch(session, url, cache, timeout=(2, 0.3))
    assert got.path.read_bytes() == data
    assert http_server.hits("/stall.bin") == 2


# --- every module uses the transport -------------------------------------------------------------

REQUESTS_CALLS = {"Session", "session", "get", "post", "put", "patch", "delete", "head", "options", "request"}
SESSION_METHODS = {"get", "post", "put", "patch", "delete", "head", "options", "request", "send"}


def _name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def transport_bypasses(path: Path, rel: str) -> list[str]:
    """Calls that make HTTP requests around crossgen.acquire.http: requests.Session() / requests.get()
    (and their imported names), urllib3 pools, and <...>session.get() outside the transport."""
    tree = ast.parse(path.read_text(), filename=str(path))
    imported = set()
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in ("requests", "requests.sessions", "requests.api"):
            imported |= {a.asname or a.name for a in node.names if a.name in REQUESTS_CALLS}
    in_transport = rel == "crossgen/acquire/http.py"
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        where = f"{rel}:{node.lineno}: {ast.unparse(node)[:100]}"
        if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == "requests" and f.attr in REQUESTS_CALLS:
            if not (in_transport and f.attr == "Session"):
                out.append(where)
        elif isinstance(f, ast.Name) and f.id in imported:
            out.append(where)
        elif isinstance(f, ast.Attribute) and f.attr in ("PoolManager", "ProxyManager") and _name(f.value) == "urllib3":
            out.append(where)
        elif (isinstance(f, ast.Attribute) and f.attr in SESSION_METHODS and _name(f.value).lower().endswith("session")
              and not in_transport):
            out.append(where)
    return out


def test_no_module_goes_around_the_transport():
    sources = sorted((ROOT / "crossgen").rglob("*.py"))
    assert len(sources) > 20
    found = [p for path in sources for p in transport_bypasses(path, path.relative_to(ROOT).as_posix())]
    assert not found, "HTTP outside crossgen.acquire.http (use http.new_session / get_json / get_text / exchange / fetch):\n" + "\n".join(found)
    sessions = [p for p in transport_bypasses(ROOT / "crossgen/acquire/http.py", "x.py") if "requests.Session()" in p]
    assert len(sessions) == 1  # the one place a session is made: new_session


def test_the_scan_sees_each_way_around(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import requests, urllib3\n"
        "from requests import Session as S, get\n"
        "a = requests.Session()\n"
        "b = requests.get('http://x')\n"
        "c = S()\n"
        "d = get('http://x')\n"
        "e = urllib3.PoolManager()\n"
        "f = self.session.get('http://x', timeout=3)\n"
        "g = http_session.get('http://x')\n"
        "ok = {'a': 1}.get('a')\n"
        "ok2 = requests.Response()\n"
    )
    found = transport_bypasses(sample, "sample.py")
    assert [int(p.split(":")[1]) for p in found] == [3, 4, 5, 6, 7, 8, 9], found
