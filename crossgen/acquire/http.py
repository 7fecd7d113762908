"""The one HTTP transport to the outside: every download and metadata request goes through this module
(the loopback probes of containers the tool itself started are not HTTP clients of this kind).

:func:`new_session` builds the only ``requests.Session`` there is. Its adapter retries transient
failures with urllib3's ``Retry`` (:class:`_Policy`): connection errors, read timeouts and the
statuses in ``RETRY_STATUSES``, for GET and HEAD (and the idempotent PUT of a registry manifest) only, with back-off ``BACKOFF``, ``2 * BACKOFF``, ... and a
server's ``Retry-After`` honoured up to ``RETRY_AFTER_MAX`` seconds.

urllib3 does not see a body that fails while it is streamed (cut off, stalled): :func:`_get`, the
one function that reads bodies, retries that itself -- it starts the GET again -- on the same
``Retry`` object, so one budget of ``ATTEMPTS`` attempts covers every failure of a call.

    session = new_session()                       # new_session(attempts=2, backoff=0.01) in tests
    get_json(session, url)                         # a JSON document
    get_text(session, url)                         # a small text file (a checksum)
    exchange(session, url, method="HEAD", headers={...}, expect={401})
                                                   # a whole answer (status, headers, body): a registry's API
    fetch(session, url, cache, sha512=...)         # a file into the cache: temporary file, SHA-512
                                                   # checked, then renamed into place

Failures are the typed errors of :mod:`crossgen.core.errors`: :class:`NotFound` (HTTP 404/410),
:class:`Unreachable` (refused, DNS, timeouts, a body cut off, 5xx -- after the retries),
:class:`IntegrityError` (SHA-512 mismatch, never retried); another HTTP error or an answer that is
not JSON is a plain :class:`DciError`.

Settings: ``ATTEMPTS``, ``BACKOFF`` and ``RETRY_AFTER_MAX`` are read by :func:`new_session` (a call
may ask for fewer attempts or another back-off: ``attempts=``, ``backoff=``); ``TIMEOUT`` is read at
each call.
"""

from __future__ import annotations

import errno
import hashlib
import json
import socket
import time
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, TypeVar
from urllib.parse import urlparse

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import (
    ConnectTimeoutError, InvalidHeader, MaxRetryError, NewConnectionError, ProtocolError, ReadTimeoutError,
)
from urllib3.util.retry import Retry

from crossgen.acquire.cache import CHUNK, Cache, CachedFile
from crossgen.core import ui
from crossgen.core.errors import DciError, IntegrityError, NotFound, Unreachable

TIMEOUT = (10, 60)        # connect, read (seconds): read is the longest silence, not the whole transfer
ATTEMPTS = 4              # requests per call at most, the first one included
BACKOFF = 0.5             # seconds before the second attempt, doubled before each next one
RETRY_AFTER_MAX = 30.0    # a server's Retry-After is honoured up to this many seconds
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
GONE_STATUSES = frozenset({404, 410})
USER_AGENT = "dotnet-composite-images/0.1"

FIX_UNREACHABLE = "check that the server answers, or choose another source/mirror"
FIX_NOT_FOUND = "the file does not exist there: check the version, RID and base URL"

T = TypeVar("T")


# -- the policy -------------------------------------------------------------------------------------
class _Policy(Retry):
    """urllib3's Retry with this tool's rules: ``attempts`` in all, back-off ``b, 2b, 4b, ...``,
    ``Retry-After`` bounded by ``retry_after_max``, one log line per retry."""

    attempts = ATTEMPTS
    retry_after_max = RETRY_AFTER_MAX
    label = ""  # the URL of the call, for the log

    @classmethod
    def make(cls, attempts: int, backoff: float, retry_after_max: float, label: str = "") -> "_Policy":
        attempts = max(1, int(attempts))
        policy = cls(
            total=attempts - 1,           # every kind of failure counts against the one budget
            connect=None, read=None, status=None, other=None,
            allowed_methods=frozenset({"GET", "HEAD", "PUT"}),  # PUT: a registry manifest (idempotent)
            status_forcelist=RETRY_STATUSES,
            backoff_factor=backoff,
            raise_on_status=False,        # out of attempts on a status: hand back the last answer
            respect_retry_after_header=True,
        )
        policy.attempts, policy.retry_after_max, policy.label = attempts, retry_after_max, label
        return policy

    def new(self, **kw: Any) -> "_Policy":
        other = super().new(**kw)
        other.attempts, other.retry_after_max, other.label = self.attempts, self.retry_after_max, self.label
        return other

    def get_backoff_time(self) -> float:
        if not self.history:
            return 0.0
        return min(self.backoff_factor * 2 ** (len(self.history) - 1), self.DEFAULT_BACKOFF_MAX)

    def get_retry_after(self, response) -> float | None:
        value = response.headers.get("Retry-After")
        if value is None:
            return None
        try:
            return min(float(self.parse_retry_after(value)), self.retry_after_max)
        except InvalidHeader:
            return None

    def sleep(self, response=None) -> None:
        delay = self.get_retry_after(response) if response is not None and self.respect_retry_after_header else None
        if delay is None:
            delay = self.get_backoff_time()
        last = self.history[-1] if self.history else None
        failed = f"HTTP {last.status}" if last and last.status else _describe(last.error if last else None, self.label)
        where = self.label or (last.url if last else "GET")
        ui.detail(f"{where}: {failed}; retrying in {delay:.1f} s ({len(self.history)}/{self.attempts})")
        time.sleep(delay)


# The Retry of the call in progress (its settings, the attempts it has left), lent to the adapter.
_CALL: ContextVar[_Policy | None] = ContextVar("crossgen_http_call", default=None)


class _Adapter(HTTPAdapter):
    """The session's adapter: its Retry is the session's policy, or the call's while one runs.

    requests hands an adapter's one ``max_retries`` to every request; a call of this module lends
    its own Retry through ``_CALL`` instead, so that its settings apply and the attempts a body
    failure used are not given back by the next GET.
    """

    @property
    def max_retries(self) -> Retry:
        lent = _CALL.get()
        return self._policy if lent is None else lent

    @max_retries.setter
    def max_retries(self, value: Retry) -> None:
        self._policy = value


def new_session(
    *, attempts: int | None = None, backoff: float | None = None, retry_after_max: float | None = None
) -> requests.Session:
    """The HTTP session of the tool (the only place one is made)."""
    policy = _Policy.make(
        ATTEMPTS if attempts is None else attempts,
        BACKOFF if backoff is None else backoff,
        RETRY_AFTER_MAX if retry_after_max is None else retry_after_max,
    )
    session = requests.Session()
    adapter = _Adapter(max_retries=policy)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    return session


def _call_policy(session: requests.Session, url: str, attempts: int | None, backoff: float | None) -> _Policy:
    try:
        adapter = session.get_adapter(url)
    except requests.exceptions.InvalidSchema:
        raise DciError(url, "not an http(s) URL", "check the URL (or the setting it came from)") from None
    if not isinstance(adapter, _Adapter):
        raise TypeError("HTTP sessions come from crossgen.acquire.http.new_session()")
    own: _Policy = adapter._policy
    return _Policy.make(
        own.attempts if attempts is None else attempts,
        own.backoff_factor if backoff is None else backoff,
        own.retry_after_max,
        label=url,
    )


# -- what went wrong ----------------------------------------------------------------------------------
class _BodyFailure(Exception):
    """The body of an answer did not arrive whole (cut off, stalled, broken)."""


_BODY_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
    _BodyFailure,
)


def _describe(exc: BaseException | None, url: str) -> str:
    """A few words for a failure raised by requests or urllib3."""
    if exc is None:
        return "failed"
    if isinstance(exc, _BodyFailure):
        return str(exc)
    reason: BaseException = exc
    while True:  # requests wraps urllib3's MaxRetryError, which wraps the reason
        if isinstance(reason, MaxRetryError) and reason.reason is not None:
            reason = reason.reason
        elif isinstance(reason, requests.RequestException) and reason.args and isinstance(reason.args[0], BaseException):
            reason = reason.args[0]
        else:
            break
    if isinstance(reason, NewConnectionError):
        under = reason.__cause__ or reason.__context__
        if isinstance(under, socket.gaierror):
            return f"host {urlparse(url).hostname} cannot be resolved (no DNS answer)"
        if isinstance(under, ConnectionRefusedError):
            return "connection refused"
        return f"connection failed ({type(under or reason).__name__})"
    if isinstance(exc, requests.Timeout) or isinstance(reason, (ReadTimeoutError, ConnectTimeoutError, TimeoutError)):
        return "timed out"
    if isinstance(reason, ProtocolError):
        return "connection broken"
    return f"connection failed ({type(reason).__name__})"


def _send(session: requests.Session, url: str, policy: _Policy, headers: dict[str, str] | None, timeout,
          method: str = "GET", expect: frozenset[int] = frozenset(), data: bytes | None = None) -> requests.Response:
    """One GET, HEAD or PUT of ``data`` (urllib3 retries what fails before the body) -> a 2xx answer or
    one whose status is in ``expect``, body unread."""
    token = _CALL.set(policy)
    try:
        resp = session.request(method, url, stream=True, timeout=timeout or TIMEOUT, headers=headers, data=data)
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise Unreachable(url, f"{_describe(exc, url)} (gave up after {policy.attempts} attempts)", FIX_UNREACHABLE) from None
    except requests.RequestException as exc:
        raise DciError(url, f"{type(exc).__name__}: {exc}", "check the URL and the server") from None
    finally:
        _CALL.reset(token)
    if resp.ok or resp.status_code in expect:
        return resp
    resp.close()
    status = f"HTTP {resp.status_code} {resp.reason or ''}".strip()
    if resp.status_code in GONE_STATUSES:
        raise NotFound(url, status, FIX_NOT_FOUND)
    if resp.status_code in RETRY_STATUSES:
        tried = len((resp.raw.retries or policy).history) + 1
        raise Unreachable(url, f"{status} (gave up after {tried} attempts)", FIX_UNREACHABLE)
    if resp.status_code >= 500:
        raise Unreachable(url, status, FIX_UNREACHABLE)
    raise DciError(url, status, "check the URL and the server's access rules")


def _get(
    session: requests.Session,
    url: str,
    receive: Callable[[requests.Response], T],
    *,
    headers: dict[str, str] | None = None,
    timeout=None,
    attempts: int | None = None,
    backoff: float | None = None,
    method: str = "GET",
    expect: frozenset[int] = frozenset(),
    data: bytes | None = None,
) -> T:
    """GET (or HEAD) ``url`` and return ``receive(response)``, which reads the body.

    The one place a body that fails while streaming is retried: the GET starts again (``receive``
    must start its output afresh), on the same Retry as the failures urllib3 handles.
    """
    policy = _call_policy(session, url, attempts, backoff)
    while True:
        resp = _send(session, url, policy, headers, timeout, method, expect, data)
        try:
            with resp:
                result = receive(resp)
                announced, received = resp.headers.get("Content-Length", ""), resp.raw.tell()  # wire bytes
                if method != "HEAD" and announced.isdigit() and received < int(announced):
                    raise _BodyFailure(f"body cut off: {received} of {announced} bytes")
            return result
        except _BODY_ERRORS as exc:
            failure = exc if isinstance(exc, _BodyFailure) else _BodyFailure(f"{_describe(exc, url)} after {resp.raw.tell()} bytes")
            policy = resp.raw.retries if isinstance(resp.raw.retries, _Policy) else policy
            try:
                policy = policy.increment(method, url, error=failure)
            except MaxRetryError:
                raise Unreachable(url, f"{failure} (gave up after {policy.attempts} attempts)", FIX_UNREACHABLE) from None
            policy.sleep()


# -- the calls -----------------------------------------------------------------------------------------
def _whole_body(resp: requests.Response) -> bytes:
    return b"".join(resp.iter_content(CHUNK))


@dataclass(frozen=True)
class Answer:
    """A whole answer: status, headers (case-insensitive) and body."""

    status: int
    headers: Mapping[str, str]
    body: bytes


def exchange(session: requests.Session, url: str, *, method: str = "GET", headers: dict[str, str] | None = None,
             expect: Iterable[int] = (), timeout=None, attempts: int | None = None, backoff: float | None = None,
             data: bytes | None = None) -> Answer:
    """GET or HEAD ``url`` with ``headers`` (or PUT ``data``: an idempotent upload, such as a registry
    manifest) and return the whole answer: a 2xx one, or one whose status is in ``expect`` (e.g. 401,
    to answer an authentication challenge). Other statuses raise as :func:`get_json` does; transient
    failures are retried the same way."""
    if method not in ("GET", "HEAD", "PUT"):
        raise ValueError(f"exchange() sends GET, HEAD or PUT, not {method}")
    if (data is not None) != (method == "PUT"):
        raise ValueError("exchange() sends data with PUT, and only then")

    def receive(resp: requests.Response) -> Answer:
        body = b"" if method == "HEAD" else _whole_body(resp)
        return Answer(resp.status_code, resp.headers, body)

    return _get(session, url, receive, headers=headers, timeout=timeout, attempts=attempts, backoff=backoff,
                method=method, expect=frozenset(expect), data=data)


def get_json(session: requests.Session, url: str, *, timeout=None, attempts: int | None = None,
             backoff: float | None = None) -> Any:
    """GET a JSON document."""
    body = _get(session, url, _whole_body, timeout=timeout, attempts=attempts, backoff=backoff)
    try:
        return json.loads(body)
    except ValueError:
        raise DciError(url, "the answer is not JSON", "check the URL (is it the right kind of endpoint?)") from None


def get_text(session: requests.Session, url: str, *, timeout=None, attempts: int | None = None,
             backoff: float | None = None) -> str:
    """GET a small text file (UTF-8)."""
    return _get(session, url, _whole_body, timeout=timeout, attempts=attempts, backoff=backoff).decode("utf-8", "replace")


def fetch(
    session: requests.Session,
    url: str,
    cache: Cache,
    *,
    sha512: str | None = None,
    label: str | None = None,
    timeout=None,
    attempts: int | None = None,
    backoff: float | None = None,
) -> CachedFile:
    """Return the file at ``url`` from the cache, downloading it when absent.

    The download goes to a temporary file in the cache, which is renamed into place once its
    SHA-512 is known (and equals ``sha512`` when given: else :class:`IntegrityError`, nothing
    kept). Without ``sha512`` the hash is computed and recorded for the URL.
    """
    hit = cache.get(sha512, url) if sha512 else cache.get_url(url)
    if hit:
        return hit
    label = label or url.rsplit("/", 1)[-1]
    tmp = cache.new_temp_file(prefix="dl-", suffix=".part")  # a DciError when the cache is not writable

    def receive(resp: requests.Response) -> tuple[str, int]:
        h, size = hashlib.sha512(), 0
        total = int(resp.headers.get("Content-Length") or 0) or None
        with open(tmp, "wb") as out, ui.download_progress() as progress:
            task = progress.add_task(label, total=total)
            for block in resp.iter_content(CHUNK):
                out.write(block)
                h.update(block)
                size += len(block)
                progress.update(task, advance=len(block))
        return h.hexdigest(), size

    try:
        # identity: Content-Length must count the bytes we hash and keep (no gzip by a CDN)
        digest, size = _get(session, url, receive, headers={"Accept-Encoding": "identity"},
                            timeout=timeout, attempts=attempts, backoff=backoff)
        if sha512 and digest != sha512.lower():
            raise IntegrityError(
                url,
                f"SHA-512 mismatch: got {digest[:16]}..., expected {sha512[:16]}...",
                "the download is corrupt or the published checksum is wrong; nothing was kept",
            )
        result = cache.add(tmp, digest, url)
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise DciError(
                str(cache.root), "no space left on the device while downloading " + label,
                "free disk space or point cache_dir at a larger disk",
            ) from None
        raise
    finally:
        tmp.unlink(missing_ok=True)
    ui.detail(f"downloaded {label} ({size / 1e6:.1f} MB)")
    return result
