"""Shared fixtures.

``http_server``: a real HTTP/1.0 server on 127.0.0.1 (threaded ``http.server``) whose answers
are scripted per path, with fault injection: error statuses, a body cut off (Content-Length
larger than the bytes sent, then the connection closes), a slow answer (for client
timeouts), a stall in the middle of a body, gzip only when the client asks for it, and a
NuGet v3 feed (service index + flat container) made of such answers.

``runtime_pack``: the real Microsoft.NETCore.App.Runtime.linux-x64 nupkg, read (never
written) from the project's download cache, else downloaded with ``crossgen.acquire.http.fetch``
into a temporary cache; tests using it are marked ``slow``.
"""

from __future__ import annotations

import gzip
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

# --- http_server ---------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """One scripted answer. Build them with the class methods."""

    status: int = 200
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    send: int | None = None  # bytes of the body actually sent before closing (None = all)
    delay: float = 0.0  # seconds before the status line (client read timeout)
    stall_after: int | None = None  # send this many body bytes, then wait ``stall`` seconds
    stall: float = 0.0
    gzip_if_asked: bool = False  # Content-Encoding: gzip when Accept-Encoding allows it

    @classmethod
    def ok(cls, body: bytes, content_type: str = "application/octet-stream", **kw: Any) -> "Reply":
        return cls(200, body, (("Content-Type", content_type),), **kw)

    @classmethod
    def json(cls, obj: Any, **kw: Any) -> "Reply":
        return cls.ok(json.dumps(obj).encode(), "application/json", **kw)

    @classmethod
    def error(cls, status: int) -> "Reply":
        return cls(status, f"status {status}\n".encode(), (("Content-Type", "text/plain"),))

    @classmethod
    def cut(cls, body: bytes, send: int) -> "Reply":
        """Announce len(body) bytes, send only ``send`` of them, close the connection."""
        assert 0 <= send < len(body)
        return cls.ok(body, send=send)

    @classmethod
    def slow(cls, body: bytes, delay: float) -> "Reply":
        return cls.ok(body, delay=delay)

    @classmethod
    def stalled(cls, body: bytes, after: int, stall: float) -> "Reply":
        return cls.ok(body, stall_after=after, stall=stall)


@dataclass
class SeenRequest:
    path: str
    headers: dict[str, str]


@dataclass
class HttpServer:
    """Scripted answers per path: each request takes the next reply; the last one repeats."""

    base_url: str = ""
    seen: list[SeenRequest] = field(default_factory=list)
    _routes: dict[str, list[Reply]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stopping: threading.Event = field(default_factory=threading.Event)

    Reply = Reply

    def url(self, path: str) -> str:
        return self.base_url + path

    def route(self, path: str, *replies: Reply) -> str:
        """Script ``path``; returns its URL. Unscripted paths answer 404."""
        assert replies
        with self._lock:
            self._routes[path] = list(replies)
        return self.url(path)

    def hits(self, path: str) -> int:
        with self._lock:
            return sum(1 for r in self.seen if r.path == path)

    def next_reply(self, path: str, headers: dict[str, str]) -> Reply:
        with self._lock:
            self.seen.append(SeenRequest(path, headers))
            replies = self._routes.get(path)
            if not replies:
                return Reply.error(404)
            return replies.pop(0) if len(replies) > 1 else replies[0]

    def nuget_feed(self, packages: dict[str, dict[str, bytes]], *, prefix: str = "/nuget") -> str:
        """A v3 feed: service index + flat container for ``{package id: {version: nupkg}}``.

        Returns the service index URL. Unknown packages answer 404, as nuget.org's does.
        """
        flat = f"{prefix}/flat/"
        index = {
            "version": "3.0.0",
            "resources": [
                {"@id": self.url(f"{prefix}/query"), "@type": "SearchQueryService"},
                {"@id": self.url(flat), "@type": "PackageBaseAddress/3.0.0"},
            ],
        }
        for pid, versions in packages.items():
            lid = pid.lower()
            self.route(f"{flat}{lid}/index.json", Reply.json({"versions": [v.lower() for v in versions]}))
            for ver, data in versions.items():
                lv = ver.lower()
                self.route(f"{flat}{lid}/{lv}/{lid}.{lv}.nupkg", Reply.ok(data))
        return self.route(f"{prefix}/index.json", Reply.json(index))


def _make_handler(state: HttpServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"  # one request per connection; close ends the body

        def log_message(self, *args: Any) -> None:  # keep test output clean
            pass

        def do_GET(self) -> None:  # noqa: N802 (http.server naming)
            reply = state.next_reply(self.path, {k.lower(): v for k, v in self.headers.items()})
            if reply.delay and state._stopping.wait(reply.delay):
                return
            body = reply.body
            headers = list(reply.headers)
            accepts = self.headers.get("Accept-Encoding", "")
            if reply.gzip_if_asked and "gzip" in accepts.lower():
                body = gzip.compress(body)
                headers.append(("Content-Encoding", "gzip"))
            self.send_response(reply.status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                if reply.send is not None:
                    self.wfile.write(body[: reply.send])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                if reply.stall_after is not None:
                    self.wfile.write(body[: reply.stall_after])
                    self.wfile.flush()
                    if state._stopping.wait(reply.stall):
                        return
                    self.wfile.write(body[reply.stall_after:])
                else:
                    self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout tests)

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hung up is part of the tests


@pytest.fixture
def http_server():
    """A scripted HTTP server on 127.0.0.1; see :class:`HttpServer` and :class:`Reply`."""
    state = HttpServer()
    server = _Server(("127.0.0.1", 0), _make_handler(state))
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state._stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def http_session():
    """A requests session like the tool's, but blind to proxy variables (loopback only)."""
    from crossgen.acquire import http

    s = http.new_session()
    s.trust_env = False
    yield s
    s.close()


# --- runtime_pack -------------------------------------------------------------------

RUNTIME_PACK_VERSION = "10.0.15"
RUNTIME_PACK_URL = (
    "https://api.nuget.org/v3-flatcontainer/microsoft.netcore.app.runtime.linux-x64/"
    f"{RUNTIME_PACK_VERSION}/microsoft.netcore.app.runtime.linux-x64.{RUNTIME_PACK_VERSION}.nupkg"
)


@dataclass(frozen=True)
class RuntimePack:
    path: Path
    sha512: str
    version: str = RUNTIME_PACK_VERSION
    rid: str = "linux-x64"


def _runtime_pack_from_user_cache() -> RuntimePack | None:
    """Look the pack up in the project's cache without writing to it."""
    from crossgen.acquire.cache import sha512_file
    from crossgen.core.settings import default_cache_dir

    root = default_cache_dir()
    for record in sorted(root.glob("urls/*.json")):
        try:
            data = json.loads(record.read_text())
        except (OSError, ValueError):
            continue
        if not isinstance(data, dict) or data.get("url") != RUNTIME_PACK_URL:
            continue
        sha = str(data.get("sha512", "")).lower()
        blob = root / "sha512" / sha[:2] / sha
        if len(sha) == 128 and blob.is_file() and sha512_file(blob) == sha:
            return RuntimePack(blob, sha)
    return None


@pytest.fixture(scope="session")
def runtime_pack(tmp_path_factory) -> RuntimePack:
    """The real runtime pack nupkg (tests that use it are marked ``slow``)."""
    found = _runtime_pack_from_user_cache()
    if found:
        return found
    from crossgen.acquire import http
    from crossgen.acquire.cache import Cache
    from crossgen.core.errors import DciError

    cache = Cache(tmp_path_factory.mktemp("runtime-pack-cache"))
    session = http.new_session()
    try:
        got = http.fetch(session, RUNTIME_PACK_URL, cache, attempts=2)
    except DciError as exc:
        pytest.fail(f"runtime pack not cached and not downloadable: {exc}")
    finally:
        session.close()
    return RuntimePack(got.path, got.sha512)



@pytest.fixture(scope="session")
def built_images():
    """One real build of every variant for the whole session (images tagged ``dci-test/``).

    Returns (settings, docker api, {image key: BuildOutcome}).
    """
    from tests.pipeline_support import build_everything, e2e_settings

    settings = e2e_settings()
    api, outcomes = build_everything(settings)
    return settings, api, {o.key: o for o in outcomes}


@pytest.fixture(scope="session")
def remote_build_dir(tmp_path_factory) -> Path:
    """The (fresh) build folder of the build on the remote daemon."""
    return tmp_path_factory.mktemp("remote-build")


@pytest.fixture(scope="session")
def remote_daemon(remote_build_dir):
    """A second dockerd on tcp://127.0.0.1:<port> that cannot see /tmp, $HOME, the checkout, the
    download cache or ``remote_build_dir`` (tests/remote_daemon.py); stopped and its data removed at
    the end of the session."""
    from crossgen.core.settings import default_cache_dir
    from tests.remote_daemon import ROOT as PROJECT, RemoteDaemon

    daemon = RemoteDaemon.start(hide=[PROJECT, default_cache_dir(), remote_build_dir])
    try:
        yield daemon
    finally:
        daemon.stop()


@pytest.fixture(scope="session")
def remote_build(remote_daemon, remote_build_dir):
    """Variants 1 and 2 built by the tasks on the remote daemon from a fresh build folder, image prefix
    and lock file: a :class:`tests.remote_daemon.RemoteBuild` (settings, build record, lock file)."""
    from tests.remote_daemon import build_on_remote

    return build_on_remote(remote_daemon, remote_build_dir)


@pytest.fixture
def app_dir(tmp_path) -> tuple[Path, str]:
    """A stand-in self-contained app (the host's managed assemblies) for the Docker-door tests."""
    from tests import tiny_images

    made = tiny_images.stand_in_app(tmp_path)
    if made is None:
        pytest.fail("no host .NET to take managed assemblies from (scripts/bootstrap.sh requires one)")
    return made


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    """A local docker-registry on 127.0.0.1 for one test module, stopped at its end."""
    from crossgen.publish.registry import LocalRegistry

    reg = LocalRegistry.start(tmp_path_factory.mktemp("registry"))
    try:
        yield reg
    finally:
        reg.stop()
