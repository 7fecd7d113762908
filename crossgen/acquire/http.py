"""HTTP downloads into the cache: streamed, hashed, size-checked, retried, atomic."""

from __future__ import annotations

import errno
import hashlib
import time
from typing import Any

import requests

from crossgen.core import ui
from crossgen.acquire.cache import CHUNK, Cache, CachedFile
from crossgen.core.errors import DciError

TIMEOUT = (10, 60)  # connect, read (seconds)
RETRIES = 4
BACKOFF = 0.5  # seconds, doubled after each failed attempt
USER_AGENT = "dotnet-composite-images/0.1"


def new_session() -> requests.Session:
    s = requests.Session()
    s.headers["User-Agent"] = USER_AGENT
    return s


class _Retryable(Exception):
    pass


def _with_retries(what: str, func, *, retries: int = RETRIES, backoff: float = BACKOFF):
    delay = backoff
    for attempt in range(1, retries + 1):
        try:
            return func()
        except _Retryable as exc:
            if attempt == retries:
                raise DciError(
                    what,
                    f"{exc} (gave up after {retries} attempts)",
                    "check that the server answers, or choose another source/mirror",
                ) from None
            ui.detail(f"{what}: {exc}; retrying in {delay:.1f} s ({attempt}/{retries})")
            time.sleep(delay)
            delay *= 2


def _check_status(url: str, resp: requests.Response) -> None:
    if resp.status_code in (408, 429) or resp.status_code >= 500:
        raise _Retryable(f"HTTP {resp.status_code}")
    if resp.status_code >= 400:
        raise DciError(
            url,
            f"HTTP {resp.status_code} {resp.reason}",
            "the file does not exist there: check the version, RID and base URL",
        )


def get_json(
    session: requests.Session, url: str, *, timeout=TIMEOUT, retries: int = RETRIES, backoff: float = BACKOFF
) -> Any:
    """GET a JSON document, retrying on timeouts, refused connections and 5xx."""

    def attempt():
        try:
            resp = session.get(url, timeout=timeout)
        except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
            raise _Retryable(type(exc).__name__) from None
        _check_status(url, resp)
        announced = resp.headers.get("Content-Length", "")
        received = resp.raw.tell() if resp.raw is not None else None  # bytes on the wire (before gzip)
        if announced.isdigit() and received is not None and received < int(announced):
            raise _Retryable(f"body cut off: {received} of {announced} bytes")
        try:
            return resp.json()
        except ValueError:
            raise DciError(url, "the answer is not JSON", "check the URL (is it the right kind of endpoint?)") from None

    return _with_retries(url, attempt, retries=retries, backoff=backoff)


def fetch(
    session: requests.Session,
    url: str,
    cache: Cache,
    *,
    sha512: str | None = None,
    label: str | None = None,
    timeout=TIMEOUT,
    retries: int = RETRIES,
    backoff: float = BACKOFF,
) -> CachedFile:
    """Return the file at ``url`` from the cache, downloading it when absent.

    With ``sha512`` the download must have that hash (else it is discarded and an error
    raised); without it the hash is computed and recorded for the URL.
    """
    hit = cache.get(sha512, url) if sha512 else cache.get_url(url)
    if hit:
        return hit
    label = label or url.rsplit("/", 1)[-1]

    def attempt() -> CachedFile:
        tmp = cache.new_temp_file(prefix="dl-", suffix=".part")  # a DciError when the cache is not writable
        try:
            h = hashlib.sha512()
            size = 0
            try:
                # identity: Content-Length must count the bytes we hash and keep (no gzip by a CDN)
                with session.get(url, stream=True, timeout=timeout, headers={"Accept-Encoding": "identity"}) as resp:
                    _check_status(url, resp)
                    expected_len = int(resp.headers.get("Content-Length") or 0) or None
                    with open(tmp, "wb") as out, ui.download_progress() as progress:
                        task = progress.add_task(label, total=expected_len)
                        for block in resp.iter_content(CHUNK):
                            out.write(block)
                            h.update(block)
                            size += len(block)
                            progress.update(task, advance=len(block))
            except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
                raise _Retryable(f"{type(exc).__name__} after {size} bytes") from None
            except OSError as exc:
                if exc.errno == errno.ENOSPC:
                    raise DciError(
                        str(cache.root), "no space left on the device while downloading " + label,
                        "free disk space or point cache_dir at a larger disk",
                    ) from None
                raise
            if expected_len is not None and size != expected_len:
                raise _Retryable(f"body cut off: {size} of {expected_len} bytes")
            digest = h.hexdigest()
            if sha512 and digest != sha512.lower():
                raise DciError(
                    url,
                    f"SHA-512 mismatch: got {digest[:16]}..., expected {sha512[:16]}...",
                    "the download is corrupt or the published checksum is wrong; nothing was kept",
                )
            result = cache.add(tmp, digest, url)
            ui.detail(f"downloaded {label} ({size / 1e6:.1f} MB)")
            return result
        finally:
            tmp.unlink(missing_ok=True)

    return _with_retries(url, attempt, retries=retries, backoff=backoff)
