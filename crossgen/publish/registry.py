"""Container registries over their HTTP API v2, and a local one (Debian's ``docker-registry``,
distribution 2.8) started on 127.0.0.1.

:class:`RegistryClient` reads what a registry holds -- manifests (Docker schema 2 and OCI) and
blobs -- and PUTs image indexes (multi-arch tags) through the tool's one HTTP session (``crossgen.acquire.http``: urllib3 retries of
transient failures). A registry that asks for credentials (``401`` with ``WWW-Authenticate``) gets
them the way the Docker daemon gives them: ``Basic`` with the user name and password, or for a
``Bearer`` challenge a token from the realm the challenge names. A refusal is
:class:`RegistryAuthError`, naming the registry and ``docker login``.

:class:`LocalRegistry` runs a registry for the report's pull-size figures and for tests: the report
pushes the images to it, reads the manifests back and stops it again::

    with LocalRegistry.start(build_dir / "registry") as reg:
        pushed = reg.push(api, "dotnet-composite/runtime:10.0-trixie-slim")
        pushed.layers[0].size     # compressed bytes of the first layer, as the manifest says

Only loopback is used there: the daemon treats 127.0.0.0/8 registries as insecure (plain HTTP)
without any configuration. The temporary ``127.0.0.1:PORT/...`` tag that a push needs is removed
again (``noprune``: the image itself and its other tags stay).
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import json
import os
import re
import shutil
import socket
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator
from urllib.parse import urlencode

import docker
import docker.errors

from crossgen import dockerio
from crossgen.acquire import http
from crossgen.core import ui
from crossgen.core.errors import DciError, NotFound, Unreachable
from crossgen.publish.dockerconfig import Credentials

REGISTRY_BINARY = "/usr/bin/docker-registry"
MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
# What a registry answers a manifest PUT it refuses with (distribution's API spec): worded, not raised as HTTP errors.
_REFUSALS = (400, 404, 405, 409, 412, 413, 415, 422)

CONFIG_TEMPLATE = """\
# Written by dotnet-composite-images (crossgen/publish/registry.py) for one run of the local registry.
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
  secret: {secret}
"""

AUTH_TEMPLATE = """\
auth:
  htpasswd:
    realm: dotnet-composite-images
    path: {path}
"""


class RegistryAuthError(DciError):
    """The registry wants credentials, or refused the ones given (HTTP 401/403, ``unauthorized``, ``denied``)."""


class ManifestError(DciError):
    """What the registry holds under a name is not a single-platform image manifest (or not an index)."""


class ManifestRefused(DciError):
    """The registry refused a manifest (or an image index) that was PUT: its error code and message."""


@dataclass(frozen=True)
class Manifest:
    """One image manifest as a registry serves it."""

    document: dict
    body: bytes
    header_digest: str   # Docker-Content-Digest ("" when the registry does not send it)
    media_type: str

    @property
    def digest(self) -> str:
        """sha256 of the bytes served: the manifest digest a pull by digest checks."""
        return "sha256:" + hashlib.sha256(self.body).hexdigest()

    @property
    def config_digest(self) -> str:
        return str((self.document.get("config") or {}).get("digest", ""))


_CHALLENGE = re.compile(r'(\w+)="([^"]*)"')


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """``Bearer realm="...",service="...",scope="..."`` -> ("bearer", {realm, service, scope})."""
    scheme, _, rest = header.strip().partition(" ")
    return scheme.lower(), {k.lower(): v for k, v in _CHALLENGE.findall(rest)}


def is_loopback(host: str) -> bool:
    """Whether ``host[:port]`` names this machine (localhost, 127.0.0.0/8, ::1)."""
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 or host.startswith("[") else host
    name = name.strip("[]")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class RegistryClient:
    """HTTP API v2 of the registry at ``host`` (``scheme`` http or https): reads, and the PUT of a
    manifest or image index (:meth:`put_manifest`; the images themselves go through the daemon)."""

    def __init__(self, host: str, *, scheme: str = "https", credentials: Credentials | None = None,
                 attempts: int | None = None, backoff: float | None = None) -> None:
        self.host = host
        self.base = f"{scheme}://{host}"
        self.credentials = credentials
        self.session = http.new_session(attempts=attempts, backoff=backoff)
        if is_loopback(host):
            self.session.trust_env = False  # this machine: never through a proxy
        self._authorization: str | None = None

    def close(self) -> None:
        self.session.close()

    def _raw(self, method: str, url: str, headers: dict[str, str] | None = None, *, attempts: int | None = None,
             data: bytes | None = None, expect: tuple[int, ...] = ()) -> http.Answer:
        try:
            return http.exchange(self.session, url, method=method, headers=headers, expect=(401, 403, *expect), attempts=attempts,
                                 data=data)
        except Unreachable as exc:
            raise exc.reworded(what=f"registry {self.host} ({url})",
                               fix=f"check that the registry answers ({self.base}/v2/) and run the task again") from None

    def ping(self, *, attempts: int | None = None) -> int:
        """The status of ``GET /v2/`` without credentials: 200 (open) or 401 (wants a login)."""
        return self._raw("GET", f"{self.base}/v2/", attempts=attempts).status

    def get(self, path: str, headers: dict[str, str] | None = None, *, method: str = "GET", data: bytes | None = None,
            expect: tuple[int, ...] = ()) -> http.Answer:
        """``path`` (``/v2/...``) with the authentication the registry asks for; a 2xx answer (or one
        whose status is in ``expect``). ``method`` PUT sends ``data``."""
        url = self.base + path
        for round_ in range(3):  # as it is; with what the challenge asked for; once more for a new scope
            sent = dict(headers or {})
            if self._authorization:
                sent["Authorization"] = self._authorization
            answer = self._raw(method, url, sent, data=data, expect=expect)
            if answer.status == 403:
                raise RegistryAuthError(f"registry {self.host}", f"denied access to {path} (HTTP 403)",
                                        f"check that the account of `docker login {self.host}` may read and push this repository")
            if answer.status != 401:
                return answer
            given = self._authorization
            self._authorization = self._answer_challenge(answer.headers.get("WWW-Authenticate", ""), path)
            if round_ and self._authorization == given:
                break
        raise self._refused(path)

    def _refused(self, path: str) -> RegistryAuthError:
        if self.credentials is None:
            return RegistryAuthError(f"registry {self.host}", f"asks for a login to read {path} (HTTP 401) and the Docker configuration has no credentials for it",
                                     f"run `docker login {self.host}` (DOCKER_CONFIG or ~/.docker/config.json is where they are read)")
        return RegistryAuthError(f"registry {self.host}", f"refused the credentials of user {self.credentials.username!r} from {self.credentials.source} (HTTP 401)",
                                 f"run `docker login {self.host}` with the right user name and password")

    def _answer_challenge(self, header: str, path: str) -> str:
        scheme, params = parse_challenge(header)
        if scheme == "basic":
            if self.credentials is None:
                raise self._refused(path)
            return self.credentials.basic()
        if scheme == "bearer" and params.get("realm"):
            return "Bearer " + self._token(params, path)
        raise RegistryAuthError(f"registry {self.host}", f"asks for an authentication this tool does not speak ({header[:100]!r})",
                                "use a registry with Basic or Bearer token authentication")

    def _token(self, params: dict[str, str], path: str) -> str:
        """A Bearer token from the challenge's realm (with the Basic credentials, when there are some)."""
        query = {k: params[k] for k in ("service", "scope") if params.get(k)}
        url = params["realm"] + ("&" if "?" in params["realm"] else "?") + urlencode(query)
        headers = {"Authorization": self.credentials.basic()} if self.credentials else {}
        try:
            answer = http.exchange(self.session, url, headers=headers, expect=(401, 403))
        except Unreachable as exc:
            raise exc.reworded(what=f"token service of registry {self.host} ({params['realm']})") from None
        if answer.status in (401, 403):
            raise self._refused(path)
        try:
            doc = json.loads(answer.body)
            token = doc.get("token") or doc.get("access_token")
        except (ValueError, AttributeError):
            token = None
        if not token:
            raise RegistryAuthError(f"token service of registry {self.host} ({params['realm']})", "answered without a token",
                                    f"check the registry's token service; `docker login {self.host}` tells whether it works")
        return str(token)

    # --- what the registry holds ----------------------------------------------------------

    def _document(self, repository: str, reference: str, accept: str, what: str) -> tuple[dict | None, http.Answer, str]:
        """GET ``/v2/<repository>/manifests/<reference>``: its JSON (None when it is not JSON), the answer,
        its media type."""
        try:
            answer = self.get(f"/v2/{repository}/manifests/{reference}", {"Accept": accept})
        except NotFound as exc:
            raise exc.reworded(what=f"{what} {repository}:{reference} on {self.host}",
                               fix="the push did not complete: push again") from None
        try:
            doc = json.loads(answer.body)
        except ValueError:
            doc = None
        return (doc if isinstance(doc, dict) else None), answer, answer.headers.get("Content-Type", "")

    def manifest(self, repository: str, reference: str) -> Manifest:
        """The image manifest (Docker schema 2 or OCI) of ``repository:reference``."""
        doc, answer, media = self._document(repository, reference, f"{MANIFEST_V2}, {OCI_MANIFEST}", "manifest")
        if doc is None or doc.get("schemaVersion") != 2 or "layers" not in doc or "config" not in doc:
            raise ManifestError(f"manifest {repository}:{reference} on {self.host}",
                                f"not an image manifest ({_kind(doc, media)})",
                                "push a single-platform image (not a manifest list)")
        return Manifest(doc, answer.body, answer.headers.get("Docker-Content-Digest", ""), media)

    def index(self, repository: str, reference: str) -> Manifest:
        """The image index (OCI, or a Docker manifest list) of ``repository:reference``."""
        doc, answer, media = self._document(repository, reference, f"{OCI_INDEX}, {MANIFEST_LIST}", "image index")
        if doc is None or doc.get("schemaVersion") != 2 or not isinstance(doc.get("manifests"), list):
            raise ManifestError(f"image index {repository}:{reference} on {self.host}",
                                f"not an image index ({_kind(doc, media)})",
                                "push the multi-arch image again (invoke push --multi-arch)")
        return Manifest(doc, answer.body, answer.headers.get("Docker-Content-Digest", ""), media)

    def put_manifest(self, repository: str, reference: str, body: bytes, media_type: str) -> str:
        """PUT ``body`` (a manifest or an image index of ``media_type``) as ``repository:reference``;
        the digest the registry answers (``Docker-Content-Digest``, "" when it sends none). A refusal
        is :class:`ManifestRefused` with the registry's error code and message."""
        path = f"/v2/{repository}/manifests/{reference}"
        answer = self.get(path, {"Content-Type": media_type}, method="PUT", data=body, expect=_REFUSALS)
        if answer.status in _REFUSALS:
            raise ManifestRefused(f"manifest {repository}:{reference} ({media_type}) on {self.host}",
                                  f"the registry refused it (HTTP {answer.status}: {registry_errors(answer.body)})",
                                  _refusal_fix(answer.status))
        return answer.headers.get("Docker-Content-Digest", "")

    def blob(self, repository: str, digest: str) -> bytes:
        return self.get(f"/v2/{repository}/blobs/{digest}").body

    def blob_size(self, repository: str, digest: str) -> int:
        """Content-Length of a blob (HEAD), independent of the manifest."""
        return int(self.get(f"/v2/{repository}/blobs/{digest}", method="HEAD").headers["Content-Length"])


def _remembered_port(path: Path) -> int | None:
    try:
        port = int(path.read_text().strip())
    except (OSError, ValueError):
        return None
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the registry's listener does
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return None
    return port


@dataclass(frozen=True)
class Blob:
    digest: str
    size: int
    media_type: str = ""


@dataclass
class Pushed:
    """One image as the registry holds it."""

    ref: str                         # local reference that was pushed
    repository: str                  # repository name in the registry
    tag: str
    manifest_digest: str
    manifest_bytes: int
    config: Blob
    layers: list[Blob]               # in RootFS order (lowest first)
    diff_ids: list[str]              # from the config blob: the uncompressed digest of each layer
    seconds: float = 0.0             # push wall time
    pushed_layers: int = 0           # layers uploaded by this push (not already in the registry)

    @property
    def compressed_bytes(self) -> int:
        """Sum of the compressed layer blobs (the usual "compressed size"; the config blob is apart)."""
        return sum(b.size for b in self.layers)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class LocalRegistry:
    """A running ``docker-registry serve``; use :meth:`start` as a context manager."""

    root: Path
    port: int
    process: subprocess.Popen | None = None
    log_path: Path | None = None
    pushes: list[Pushed] = field(default_factory=list)
    credentials: Credentials | None = None   # for its own reads when it runs with htpasswd
    _client: RegistryClient | None = field(default=None, repr=False)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    # --- life cycle -------------------------------------------------------------------

    @classmethod
    def start(cls, root: Path, *, binary: str = REGISTRY_BINARY, log_dir: Path | None = None, fresh: bool = False,
              timeout: float = 30.0, port: int | None = None, htpasswd: Path | None = None,
              credentials: Credentials | None = None) -> "LocalRegistry":
        """Start a registry whose storage is ``root/storage`` (kept between runs unless ``fresh``).

        ``port``: this one (else the last run's when free, else any free one). ``htpasswd``: a file of
        ``user:bcrypt-hash`` lines; every request then needs a login (Basic), and ``credentials`` are
        what this object's own reads send."""
        if not (Path(binary).is_file() and os.access(binary, os.X_OK)):
            raise DciError(f"registry binary {binary}", "not found",
                           "install Debian's docker-registry package (scripts/bootstrap.sh does), or run with --no-registry")
        root = Path(root).resolve()
        storage = root / "storage"
        if fresh and storage.exists():
            shutil.rmtree(storage)
        storage.mkdir(parents=True, exist_ok=True)
        log_dir = Path(log_dir or root)
        log_dir.mkdir(parents=True, exist_ok=True)
        last_error = ""
        remembered = root / "port"
        auth = AUTH_TEMPLATE.format(path=json.dumps(str(Path(htpasswd).resolve()))) if htpasswd else ""
        wanted = port
        for attempt in range(1 if wanted else 3):  # a port found free can be taken before the registry binds it
            # The same port as last time when it is free: the daemon remembers which blobs it pushed
            # to which registry host, so a kept storage on the same host:port skips re-uploads.
            port = wanted or (_remembered_port(remembered) if attempt == 0 else None)
            port = port or dockerio.free_port()
            config = root / "config.yml"
            config.write_text(CONFIG_TEMPLATE.format(root=json.dumps(str(storage)), port=port, secret=os.urandom(16).hex()) + auth)
            log_path = log_dir / "registry.log"
            log = open(log_path, "ab")
            try:
                proc = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True)
            finally:
                log.close()
            reg = cls(root=root, port=port, process=proc, log_path=log_path, credentials=credentials)
            try:
                reg._wait_ready(timeout)
                remembered.write_text(f"{port}\n")
                return reg
            except DciError as exc:
                last_error = str(exc)
                reg.stop()
        raise DciError("local registry", f"did not come up: {last_error}", f"see {log_dir / 'registry.log'}")

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        delay = 0.02
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise DciError(f"registry on {self.host}", f"exited with code {self.process.returncode}",
                               f"see {self.log_path or 'registry.log'}; run with --no-registry to skip compressed sizes")
            try:
                if self.client.ping(attempts=1) in (200, 401):  # 401: up, with a login (htpasswd)
                    return
            except DciError:
                pass
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
        raise DciError(f"registry on {self.host}", f"no answer on /v2/ within {timeout:.0f} s",
                       f"see {self.log_path or 'registry.log'} (a busy machine may need longer); run with --no-registry to skip compressed sizes")

    def stop(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)

    def collect_garbage(self, *, binary: str = REGISTRY_BINARY) -> int:
        """After :meth:`stop`: delete manifests no tag points to any more and the blobs only they used
        (older pushes of rebuilt images), so a kept storage does not grow without end. Returns the
        number of blobs deleted."""
        if self.process is not None:
            raise DciError(f"registry on {self.host}", "still running", "stop it before collecting garbage")
        proc = subprocess.run([binary, "garbage-collect", "--delete-untagged", str(self.root / "config.yml")],
                              capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            raise DciError("registry garbage-collect", (proc.stderr or proc.stdout).strip()[-300:], f"storage: {self.root / 'storage'}")
        return sum(1 for line in proc.stdout.splitlines() if line.startswith("blob eligible for deletion"))

    def __enter__(self) -> "LocalRegistry":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- HTTP (loopback only, no proxies) ----------------------------------------------

    @property
    def client(self) -> RegistryClient:
        if self._client is None:
            self._client = RegistryClient(self.host, scheme="http", credentials=self.credentials)
        return self._client

    def manifest(self, repository: str, reference: str) -> tuple[dict, str, int]:
        """The image manifest (schema 2 / OCI) of ``repository:reference``: (document, digest, bytes)."""
        try:
            m = self.client.manifest(repository, reference)
        except (NotFound, ManifestError) as exc:
            raise exc.reworded(fix="run again with --fresh-registry (the push may not have completed), or see build/registry/registry.log") from None
        return m.document, m.header_digest, len(m.body)

    def blob(self, repository: str, digest: str) -> bytes:
        with _blob_missing(repository, digest):
            return self.client.blob(repository, digest)

    def blob_size(self, repository: str, digest: str) -> int:
        """Content-Length of a blob (HEAD), independent of the manifest."""
        with _blob_missing(repository, digest):
            return self.client.blob_size(repository, digest)

    # --- push ---------------------------------------------------------------------------

    def push(self, api: docker.APIClient, ref: str, *, log=ui.detail) -> Pushed:
        """Push local image ``ref`` (repo:tag) and read back what the registry stores for it."""
        repo, tag = split_ref(ref)
        remote = f"{self.host}/{repo}"
        start = time.monotonic()
        uploaded = 0
        for chunk in dockerio.push(api, ref, remote, tag):
            if "error" in chunk or "errorDetail" in chunk:
                detail = chunk.get("error") or (chunk.get("errorDetail") or {}).get("message")
                raise DciError(f"push of {ref} to {self.host}", str(detail), "see build/registry/registry.log")
            if chunk.get("status") == "Pushed":
                uploaded += 1
        seconds = time.monotonic() - start
        pushed = self.describe(repo, tag, ref=ref)
        pushed.seconds = round(seconds, 2)
        pushed.pushed_layers = uploaded
        self.pushes.append(pushed)
        return pushed

    def describe(self, repository: str, tag: str, *, ref: str = "") -> Pushed:
        doc, digest, nbytes = self.manifest(repository, tag)
        config = Blob(doc["config"]["digest"], int(doc["config"]["size"]), doc["config"].get("mediaType", ""))
        layers = [Blob(l["digest"], int(l["size"]), l.get("mediaType", "")) for l in doc["layers"]]
        cfg = json.loads(self.blob(repository, config.digest))
        diff_ids = list((cfg.get("rootfs") or {}).get("diff_ids") or [])
        if len(diff_ids) != len(layers):
            raise DciError(f"manifest {repository}:{tag}", f"{len(layers)} layers but {len(diff_ids)} diff_ids in the config",
                           "run again with --fresh-registry; if it persists, rebuild the image (invoke build-all --force)")
        return Pushed(ref or f"{repository}:{tag}", repository, tag, digest, nbytes, config, layers, diff_ids)


def registry_errors(body: bytes) -> str:
    """The ``errors`` of a registry's answer (``CODE: message``, ...), or the start of the body."""
    try:
        errors = json.loads(body).get("errors") or []
        words = [f"{e.get('code', '?')}: {e.get('message', '')}" + (f" ({json.dumps(e['detail'])[:120]})" if e.get("detail") else "")
                 for e in errors if isinstance(e, dict)]
    except (ValueError, AttributeError):
        words = []
    return "; ".join(words) or body[:200].decode("utf-8", "replace").strip() or "no error message"


def _refusal_fix(status: int) -> str:
    if status == 405:
        return "the registry does not accept uploads there (read-only, or a pull-through cache): push to another target"
    if status == 415:
        return "the registry does not store image indexes of this media type: push the x64 images alone (invoke push without --multi-arch)"
    return "the manifests it names must be in the same repository: push again (invoke push --multi-arch pushes them first)"


def _kind(doc: dict | None, media: str) -> str:
    """What a manifest document says it is: its mediaType, else the answer's Content-Type ("not JSON")."""
    return "not JSON" if doc is None else (doc.get("mediaType") or media)


def split_ref(ref: str) -> tuple[str, str]:
    """``repo[:tag]`` -> (repo, tag); a registry host with a port is kept in the repo part."""
    slash = ref.rfind("/")
    colon = ref.rfind(":")
    if colon > slash:
        return ref[:colon], ref[colon + 1:]
    return ref, "latest"


@contextlib.contextmanager
def _blob_missing(repository: str, digest: str) -> Iterator[None]:
    """A blob the local registry should hold but does not: its storage is incomplete."""
    try:
        yield
    except NotFound as exc:
        raise exc.reworded(what=f"blob {digest} in {repository}",
                           fix="run again with --fresh-registry (the storage may be incomplete), or see build/registry/registry.log") from None
