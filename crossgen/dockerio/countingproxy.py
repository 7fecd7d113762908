"""A counting reverse proxy in front of a local registry: the bytes a pull really transferred.

A puller (``ctr images pull``) is pointed at the proxy's ``127.0.0.1:PORT`` instead of the
registry's; each GET or HEAD is forwarded to the registry and its answer handed back unchanged
while the response body bytes are counted, per request, with the URL path and status, so that
blob bytes and manifest bytes can be told apart::

    with CountingProxy.start(registry_port) as proxy:
        node.pull(f"{proxy.host}/dotnet-composite/runtime:tag")
        requests = proxy.take()          # what passed since the last take()
        sum(r.body_bytes for r in requests if r.kind == "blob")

(A forward proxy would not do: Go programs such as ``ctr`` never send loopback traffic through
``HTTP_PROXY``.) Both ends are on 127.0.0.1; other methods (pushes) are refused.
"""

from __future__ import annotations

import http.client
import http.server
import re
import threading
from dataclasses import dataclass, field

from crossgen.core.errors import DciError

CHUNK = 1 << 20
_KIND = re.compile(r"^/v2/.+/(blobs|manifests)/[^/]+$")
_HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
               "transfer-encoding", "upgrade", "content-length"}


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    status: int
    body_bytes: int                  # response body bytes sent to the client

    @property
    def kind(self) -> str:
        """``blob``, ``manifest`` or ``other`` (the ``/v2/`` ping)."""
        m = _KIND.match(self.path.split("?", 1)[0])
        return {"blobs": "blob", "manifests": "manifest"}[m.group(1)] if m else "other"

    @property
    def digest(self) -> str:
        """The last path element: a digest for blobs (and manifests by digest), a tag otherwise."""
        return self.path.split("?", 1)[0].rsplit("/", 1)[-1]


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"   # keep-alive, as a puller expects
    server: "_Server"

    def log_message(self, format, *args) -> None:  # noqa: A002 - the base class's name
        pass

    def do_GET(self) -> None:
        self._forward()

    def do_HEAD(self) -> None:
        self._forward()

    def _refuse(self) -> None:
        body = b"the counting proxy forwards GET and HEAD only\n"
        self.send_response(405)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_PUT = do_PATCH = do_DELETE = _refuse

    def _forward(self) -> None:
        self.server.begin()
        upstream = http.client.HTTPConnection("127.0.0.1", self.server.upstream_port, timeout=300)
        sent = 0
        status = 502
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP and k.lower() != "host"}
            headers["Host"] = f"127.0.0.1:{self.server.upstream_port}"
            try:
                upstream.request(self.command, self.path, headers=headers)
                resp = upstream.getresponse()
            except OSError as exc:
                body = f"registry on 127.0.0.1:{self.server.upstream_port} not reachable: {exc}\n".encode()
                self.send_response(502)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            status = resp.status
            length = resp.getheader("Content-Length")
            data = None
            if self.command != "HEAD" and length is None:  # not announced (chunked): read it all, then send with a length
                data = resp.read()
                length = str(len(data))
            self.send_response(resp.status)
            for k, v in resp.getheaders():
                if k.lower() not in _HOP_BY_HOP:
                    self.send_header(k, v)
            if length is not None:
                self.send_header("Content-Length", length)
            self.end_headers()
            if self.command == "HEAD":
                return
            if data is not None:
                self.wfile.write(data)
                sent = len(data)
                return
            while True:
                chunk = resp.read(CHUNK)
                if not chunk:
                    break
                self.wfile.write(chunk)
                sent += len(chunk)
        finally:
            upstream.close()
            self.server.record(Request(self.command, self.path, status, sent))


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream_port: int) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.upstream_port = upstream_port
        self.lock = threading.Condition()
        self.requests: list[Request] = []
        self.active = 0

    def begin(self) -> None:
        with self.lock:
            self.active += 1

    def record(self, request: Request) -> None:
        with self.lock:
            self.requests.append(request)
            self.active -= 1
            self.lock.notify_all()


@dataclass
class CountingProxy:
    """A running proxy (a thread of this process); use :meth:`start` as a context manager."""

    server: _Server
    thread: threading.Thread
    _taken: int = field(default=0)

    @classmethod
    def start(cls, upstream_port: int) -> "CountingProxy":
        try:
            server = _Server(upstream_port)
        except OSError as exc:
            raise DciError("counting proxy on 127.0.0.1", f"could not listen: {exc}", "free a port on 127.0.0.1 and run again") from None
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                                  name=f"counting-proxy-{server.server_address[1]}", daemon=True)
        thread.start()
        return cls(server, thread)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def take(self, *, settle: float = 10.0) -> list[Request]:
        """The requests answered since the last call (all of them on the first); a request still
        being answered is waited for (``settle`` seconds at most: the puller may have read its last
        byte before the answering thread wrote down the count)."""
        with self.server.lock:
            self.server.lock.wait_for(lambda: self.server.active == 0, settle)
            got = self.server.requests[self._taken:]
            self._taken = len(self.server.requests)
        return got

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)

    def __enter__(self) -> "CountingProxy":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
