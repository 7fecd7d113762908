"""A local container registry (Debian's ``docker-registry``, distribution 2.8) for pull-size figures.

A pull transfers the *compressed* layer blobs a registry stores; their sizes and digests are in the
image manifest. Nothing local knows them (the daemon keeps layers uncompressed), so the report
pushes the images to a registry it starts on 127.0.0.1, reads the manifests back over HTTP and
stops the registry again::

    with LocalRegistry.start(build_dir / "registry") as reg:
        pushed = reg.push(api, "dotnet-composite/runtime:10.0-trixie-slim")
        pushed.layers[0].size     # compressed bytes of the first layer, as the manifest says

Only loopback is used: the daemon treats 127.0.0.0/8 registries as insecure (plain HTTP) without
any configuration. The temporary ``127.0.0.1:PORT/...`` tag that a push needs is removed again
(``noprune``: the image itself and its other tags stay).
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import docker
import docker.errors

from crossgen import dockerio
from crossgen.core import ui
from crossgen.core.errors import DciError

REGISTRY_BINARY = "/usr/bin/docker-registry"
MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"

CONFIG_TEMPLATE = """\
# Written by dotnet-composite-images (crossgen/report/registry.py) for one run of the local registry.
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

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    # --- life cycle -------------------------------------------------------------------

    @classmethod
    def start(cls, root: Path, *, binary: str = REGISTRY_BINARY, log_dir: Path | None = None, fresh: bool = False,
              timeout: float = 30.0) -> "LocalRegistry":
        """Start a registry whose storage is ``root/storage`` (kept between runs unless ``fresh``)."""
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
        for attempt in range(3):  # a port found free can be taken before the registry binds it
            # The same port as last time when it is free: the daemon remembers which blobs it pushed
            # to which registry host, so a kept storage on the same host:port skips re-uploads.
            port = _remembered_port(remembered) if attempt == 0 else None
            port = port or dockerio.free_port()
            config = root / "config.yml"
            config.write_text(CONFIG_TEMPLATE.format(root=json.dumps(str(storage)), port=port, secret=os.urandom(16).hex()))
            log_path = log_dir / "registry.log"
            log = open(log_path, "ab")
            try:
                proc = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True)
            finally:
                log.close()
            reg = cls(root=root, port=port, process=proc, log_path=log_path)
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
                status, _, _ = self._request("GET", "/v2/")
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
        raise DciError(f"registry on {self.host}", f"no answer on /v2/ within {timeout:.0f} s",
                       f"see {self.log_path or 'registry.log'} (a busy machine may need longer); run with --no-registry to skip compressed sizes")

    def stop(self) -> None:
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

    def _request(self, method: str, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            conn.request(method, path, headers=headers or {})
            resp = conn.getresponse()
            body = resp.read()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body
        finally:
            conn.close()

    def manifest(self, repository: str, reference: str) -> tuple[dict, str, int]:
        """The image manifest (schema 2 / OCI) of ``repository:reference``: (document, digest, bytes)."""
        status, headers, body = self._request(
            "GET", f"/v2/{repository}/manifests/{reference}", {"Accept": f"{MANIFEST_V2}, {OCI_MANIFEST}"})
        if status != 200:
            raise DciError(f"manifest {repository}:{reference} on {self.host}", f"HTTP {status}: {body[:200]!r}",
                           "run again with --fresh-registry (the push may not have completed), or see build/registry/registry.log")
        doc = json.loads(body)
        if doc.get("schemaVersion") != 2 or "layers" not in doc:
            raise DciError(f"manifest {repository}:{reference}", f"not an image manifest (mediaType {doc.get('mediaType')})",
                           "push a single-platform image (not a manifest list), or run with --no-registry")
        return doc, headers.get("docker-content-digest", ""), len(body)

    def blob(self, repository: str, digest: str) -> bytes:
        status, _, body = self._request("GET", f"/v2/{repository}/blobs/{digest}")
        if status != 200:
            raise DciError(f"blob {digest} in {repository}", f"HTTP {status}",
                           "run again with --fresh-registry (the storage may be incomplete), or see build/registry/registry.log")
        return body

    def blob_size(self, repository: str, digest: str) -> int:
        """Content-Length of a blob (HEAD), independent of the manifest."""
        status, headers, _ = self._request("HEAD", f"/v2/{repository}/blobs/{digest}")
        if status != 200:
            raise DciError(f"blob {digest} in {repository}", f"HTTP {status}",
                           "run again with --fresh-registry (the storage may be incomplete), or see build/registry/registry.log")
        return int(headers["content-length"])

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


def split_ref(ref: str) -> tuple[str, str]:
    """``repo[:tag]`` -> (repo, tag); a registry host with a port is kept in the repo part."""
    slash = ref.rfind("/")
    colon = ref.rfind(":")
    if colon > slash:
        return ref[:colon], ref[colon + 1:]
    return ref, "latest"
