"""Pushing verified images to a registry, and proving the registry holds exactly them.

Naming: the local image ``<image_prefix><repo>:<tag>`` is pushed as
``HOST[:PORT][/PREFIX]/<repo>:<tag>`` -- the image prefix (``dci.image_prefix``) is replaced by the
registry target; an image named without that prefix (the OS base ``debian:trixie-slim``) keeps its
whole repository name. The temporary local tag a push needs is removed afterwards (unless it was
there before).

The verify gate (:func:`gate`): an image is pushed only when ``verify/verify.json`` holds checks of
it, made on the same image ID, and all passed; otherwise it is *refused* with the reason and the fix,
and nothing of it is pushed -- unless ``force``.

A push that fails transiently (connection refused or reset, a timeout, HTTP 5xx/408/429) is tried
again (``ATTEMPTS`` in all, back-off ``BACKOFF``, doubled); a refusal of the credentials
(:class:`RegistryAuthError`) or of the request (HTTP 4xx, :class:`PushRefused`) is not. Then the
manifest is read back over the registry's HTTP API v2 (:class:`RegistryClient`, with the same
credentials as the push) and its digest must equal the sha256 of the bytes served, the
``Docker-Content-Digest``, the digest the push reported and the daemon's RepoDigests, and its config
digest the local image ID -- else :class:`DigestMismatch`.

Multi-arch (``--multi-arch``, :func:`plan_multiarch` then :func:`publish_multiarch`), as the official
.NET images are published: every image key verified on each architecture of ``ARCHES`` (x64 from
``build-all.json`` and ``verify/verify.json``, arm64 from ``build-all-arm64.json`` and
``verify-arm64/verify.json``) is pushed as ``<tag>-amd64`` and ``<tag>-arm64v8``, then an OCI image
index naming both manifests (digest, size, media type, and the platform the pushed image's config
says) is PUT under the plain ``<tag>`` and read back. A key that is not verified on every
architecture, or whose images carry different .NET versions (``dotnet-version`` label), is refused
from the index with the reasons, and nothing of it is pushed.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import docker

from crossgen import dockerio
from crossgen.core import ui
from crossgen.core.errors import DciError, IntegrityError, Unreachable
from crossgen.publish.dockerconfig import Credentials, credentials_for
from crossgen.images.catalog import ARCHES, Arch
from crossgen.publish.registry import OCI_INDEX, RegistryAuthError, RegistryClient, split_ref

ATTEMPTS = 4          # pushes of one image at most, the first one included
BACKOFF = 2.0         # seconds before the second attempt, doubled before each next one

_HOST = re.compile(r"(?:localhost|[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")
_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
EXAMPLE_TARGET = "registry.example.com:5000/dotnet"


class PushRefused(DciError):
    """The registry (or the daemon) refused a push for a reason another attempt does not change (HTTP 4xx)."""


class DigestMismatch(IntegrityError):
    """What the registry serves is not what was pushed (manifest digest or config digest differ)."""


class NotVerified(DciError):
    """Images were refused by the verify gate (nothing of them was pushed)."""


class PlatformMismatch(DciError):
    """An image's config names another platform than the architecture it is pushed for."""


# --- the target ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Target:
    """``HOST[:PORT][/PREFIX]``: where the images go."""

    host: str
    prefix: str = ""   # repository path inside the registry, without slashes at the ends

    @classmethod
    def parse(cls, text: str) -> "Target":
        raw = str(text).strip()
        for scheme in ("http://", "https://"):
            if raw.startswith(scheme):
                raise DciError(f"registry {text!r}", "starts with a URL scheme",
                               f"give HOST[:PORT][/PREFIX] without it, e.g. {EXAMPLE_TARGET} (HTTPS or plain HTTP follows dockerd's insecure-registries setting)")
        host, _, prefix = raw.partition("/")
        prefix = prefix.strip("/")
        if not _HOST.fullmatch(host):
            raise DciError(f"registry {text!r}", f"{host!r} is not a registry host[:port]", f"e.g. {EXAMPLE_TARGET} or 127.0.0.1:5000")
        port = host.rsplit(":", 1)[1] if ":" in host and not host.endswith("]") else None
        if port is not None and not 0 < int(port) < 65536:
            raise DciError(f"registry {text!r}", f"port {port} is out of range", f"e.g. {EXAMPLE_TARGET}")
        bad = [c for c in prefix.split("/") if prefix and not _COMPONENT.fullmatch(c)]
        if bad:
            raise DciError(f"registry {text!r}", f"{bad[0]!r} is not a repository path component",
                           "use lowercase letters, digits and . _ - between them, e.g. " + EXAMPLE_TARGET)
        return cls(host, prefix)

    def __str__(self) -> str:
        return f"{self.host}/{self.prefix}" if self.prefix else self.host

    def repository(self, local_ref: str, image_prefix: str) -> tuple[str, str]:
        """(repository path in the registry, tag) for local image ``local_ref``."""
        repo, tag = split_ref(local_ref)
        if image_prefix and repo.startswith(image_prefix):
            repo = repo[len(image_prefix):]
        elif "/" in repo and re.match(r"[^/]*[.:][^/]*/|localhost/", repo):
            repo = repo.split("/", 1)[1]  # another registry's host is not carried over
        path = f"{self.prefix}/{repo}" if self.prefix else repo
        return path, tag

    def remote(self, local_ref: str, image_prefix: str) -> str:
        """``HOST[:PORT][/PREFIX]/<repo>:<tag>`` for local image ``local_ref``."""
        path, tag = self.repository(local_ref, image_prefix)
        return f"{self.host}/{path}:{tag}"


# --- what to push, and the verify gate -------------------------------------------------------------

class _Destination:
    """What is pushed to ``remote`` (HOST[:PORT]/PATH:TAG) unless ``refused`` says why not."""

    remote: str
    refused: str

    @property
    def accepted(self) -> bool:
        return not self.refused

    @property
    def repository(self) -> str:
        """The repository path inside the registry (no host, no tag)."""
        return split_ref(self.remote)[0].split("/", 1)[1]

    @property
    def tag(self) -> str:
        return split_ref(self.remote)[1]


@dataclass
class Item(_Destination):
    """One image of the build record, where it would go, and whether the gate lets it through."""

    key: str
    ref: str
    remote: str            # HOST[:PORT]/PATH:TAG
    image_id: str
    refused: str = ""      # why not (empty: accepted)
    fix: str = ""
    forced: str = ""       # accepted with --force although: ...


def read_verify_results(path: Path) -> dict[str, list[dict]] | None:
    """verify.json -> {image ref: its checks}; None when verify has not written one."""
    if not path.is_file():
        return None
    try:
        checks = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DciError(str(path), f"not a readable verify record ({type(exc).__name__})", "run `invoke verify` again") from None
    out: dict[str, list[dict]] = {}
    for c in checks if isinstance(checks, list) else []:
        if isinstance(c, dict) and c.get("image"):
            out.setdefault(str(c["image"]), []).append(c)
    return out


def gate(ref: str, image_id: str, results: dict[str, list[dict]] | None, record: Path, *,
         verify: str = "invoke verify") -> tuple[str, str]:
    """(why the image may not be pushed, the fix); ("", "") when verify passed on this very image.
    ``verify``: the command that writes ``record`` (another architecture's: with its --rid)."""
    rerun = f"run `{verify}` (it writes {record}), or push anyway with --force"
    if results is None:
        return f"no verify result ({record} does not exist)", rerun
    checks = results.get(ref)
    if not checks:
        return f"no verify result for it ({record} has no checks of it)", rerun
    ids = {str((c.get("data") or {}).get("image_id") or "") for c in checks}
    if "" in ids:
        return "its verify result does not say which image was verified (written before verify recorded image IDs)", rerun
    if ids != {image_id}:
        was = ", ".join(sorted(i[:19] for i in ids))
        return f"verified as {was}, but the image is now {image_id[:19]} (built again since)", rerun
    failed = [c for c in checks if not c.get("passed")]
    if failed:
        names = ", ".join(dict.fromkeys(f"{c.get('name')}" for c in failed))
        return (f"failed verify ({len(failed)} of {len(checks)} checks: {names})",
                f"fix the image and run `{verify}` again (the table and verify.json say what failed), or push anyway with --force")
    return "", ""


def select(images: list[dict], wanted: tuple[str, ...], image_prefix: str) -> list[dict]:
    """The record's images named by ``wanted`` (keys, key patterns, or local references, with or
    without the image prefix), in the record's order; all deliverable images when ``wanted`` is empty."""
    from fnmatch import fnmatchcase

    if not wanted:
        return [i for i in images if i["key"] not in TOOLING]
    chosen: list[dict] = []
    for name in wanted:
        hits = [i for i in images if fnmatchcase(i["key"], name) or name in (i["ref"], i["ref"].removeprefix(image_prefix))]
        if not hits:
            keys = ", ".join(i["key"] for i in images)
            raise DciError(f"--images {name!r}", "names no image of the last build-all",
                           f"give keys or references of the build record (keys: {keys[:400]})")
        chosen += [h for h in hits if h not in chosen]
    return [i for i in images if i in chosen]


TOOLING = ("os", "runtime-deps", "runtime-deps-slim", "crossgen2")  # what the images stand on or are built with; verify does not check them


def plan(api: docker.APIClient, images: list[dict], target: Target, image_prefix: str, verify_record: Path, *,
         force: bool = False) -> list[Item]:
    """Every image with its registry name and the gate's answer (``force``: accepted, the reason kept)."""
    results = read_verify_results(verify_record)
    items = []
    for img in images:
        info = dockerio.image_info(api, img["ref"])
        if info is None:
            items.append(Item(img["key"], img["ref"], target.remote(img["ref"], image_prefix), "",
                              "not on the Docker daemon", "run `invoke build-all` (the build record names it, the daemon has no such image)"))
            continue
        item = Item(img["key"], img["ref"], target.remote(img["ref"], image_prefix), str(info["Id"]))
        why, fix = gate(img["ref"], item.image_id, results, verify_record)
        if why and force:
            item.forced = why
        else:
            item.refused, item.fix = why, fix
        items.append(item)
    return items


# --- pushing ----------------------------------------------------------------------------------------

@dataclass
class Published:
    key: str
    ref: str
    remote: str
    image_id: str
    manifest_digest: str
    config_digest: str
    layers: int
    layers_uploaded: int
    attempts: int
    seconds: float
    forced: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


# Registry error codes (distribution's API spec) as the daemon words them: "<code in words>: <message>".
_AUTH_CODES = ("unauthorized", "denied", "no basic auth credentials", "authentication required")
_REQUEST_CODES = ("name invalid", "name unknown", "tag invalid", "manifest invalid", "manifest unknown", "manifest blob unknown",
                  "manifest unverified", "blob unknown", "blob upload invalid", "blob upload unknown", "digest invalid",
                  "size invalid", "unsupported", "pagination number invalid", "range invalid")
_STATUS = re.compile(r"\b(?:HTTP status|status code)\D{0,4}(\d{3})\b|\b(\d{3}) (?:[A-Z][a-z]+ ?)+$")


def failure_kind(message: str) -> str:
    """``auth``, ``request`` (retrying cannot help) or ``transient`` for an error the daemon streamed."""
    text = message.strip().lower()
    if text.startswith(_AUTH_CODES) or any(f": {c}" in text for c in _AUTH_CODES[:2]):
        return "auth"
    if text.startswith(_REQUEST_CODES):
        return "request"
    m = _STATUS.search(message)
    if m:
        status = int(m.group(1) or m.group(2))
        if status in (401, 403):
            return "auth"
        if 400 <= status < 500 and status not in (408, 429):
            return "request"
    return "transient"  # connection refused/reset, EOF, timeouts, 5xx, 408, 429


@dataclass
class _Attempt:
    digest: str = ""
    uploaded: int = 0
    error: str = ""
    statuses: dict[str, str] = field(default_factory=dict)


def _push_once(api: docker.APIClient, item: Item, auth_config: dict | None, log: Callable[[str], None]) -> tuple[_Attempt, list[str]]:
    """One push; the stream's result and the daemon's RepoDigests read before the temporary tag goes."""
    remote_repo, tag = split_ref(item.remote)
    existed = dockerio.image_info(api, item.remote)
    keep = existed is not None and existed.get("Id") == item.image_id  # a tag of the user's own: it stays
    got = _Attempt()
    try:
        for chunk in dockerio.push(api, item.ref, remote_repo, tag, auth_config=auth_config, keep_tag=True):
            if "error" in chunk or "errorDetail" in chunk:
                got.error = str(chunk.get("error") or (chunk.get("errorDetail") or {}).get("message") or chunk)
                break
            status, layer = chunk.get("status", ""), chunk.get("id", "")
            if layer and (status in ("Pushed", "Layer already exists") or status.startswith("Mounted from")):
                if got.statuses.get(layer) != status:
                    log(f"{layer}: {status}")
                got.statuses[layer] = status
                got.uploaded += status == "Pushed"
            aux = chunk.get("aux") or {}
            if aux.get("Digest"):
                got.digest = str(aux["Digest"])
        info = dockerio.image_info(api, item.ref) or {}
        repo_digests = [d.split("@", 1)[1] for d in info.get("RepoDigests") or []
                        if "@" in d and (d.split("@", 1)[0] == remote_repo or remote_repo.endswith("/" + d.split("@", 1)[0]))]
    finally:
        if not keep:
            dockerio.untag(api, item.remote)
    return got, repo_digests


def push_item(api: docker.APIClient, item: Item, registry: RegistryClient, credentials: Credentials | None, *,
              attempts: int = ATTEMPTS, backoff: float = BACKOFF, log: Callable[[str], None] = ui.detail) -> Published:
    """Push one accepted image (retrying transient failures), then prove what the registry holds."""
    if not item.accepted:
        raise NotVerified(f"image {item.ref}", item.refused, item.fix)
    what = f"push of {item.ref} to {item.remote}"
    start = time.monotonic()
    for attempt in range(1, attempts + 1):
        got, repo_digests = _push_once(api, item, credentials.auth_config if credentials else None, log)
        if not got.error:
            break
        kind = failure_kind(got.error)
        if kind == "auth":
            who = f"user {credentials.username!r} from {credentials.source}" if credentials else "no credentials (none in the Docker configuration)"
            raise RegistryAuthError(f"registry {registry.host}", f"refused the {what} with {who}: {got.error[:200]}",
                                    f"run `docker login {registry.host}` (with an account that may push there) and push again")
        if kind == "request":
            raise PushRefused(what, f"the registry refused it: {got.error[:300]}", "check the registry target and the image name; another attempt will not help")
        if attempt == attempts:
            raise Unreachable(what, f"{got.error[:300]} (gave up after {attempts} attempts)",
                              f"check that the registry {registry.host} answers (its /v2/), then run `invoke push` again "
                              "(layers already there are not uploaded again)")
        delay = backoff * 2 ** (attempt - 1)
        log(f"attempt {attempt}/{attempts} failed: {got.error[:200]}; retrying in {delay:.1f} s")
        time.sleep(delay)
    seconds = time.monotonic() - start
    manifest = registry.manifest(item.repository, item.tag)
    check_digests(item, manifest, got.digest, repo_digests, registry.host)
    return Published(item.key, item.ref, item.remote, item.image_id, manifest.digest, manifest.config_digest,
                     len(manifest.document.get("layers") or []), got.uploaded, attempt, round(seconds, 2), item.forced)


def check_digests(item: Item, manifest, pushed_digest: str, repo_digests: list[str], host: str) -> None:
    """The manifest read back is the one pushed, of the local image: else :class:`DigestMismatch`."""
    served = manifest.digest
    where = f"manifest {item.repository}:{item.tag} on {host}"
    fix = "push again; if it persists, the registry (or a proxy in between) changes what it stores"
    if manifest.header_digest and manifest.header_digest != served:
        raise DigestMismatch(where, f"Docker-Content-Digest {manifest.header_digest} is not the sha256 of the bytes served ({served})", fix)
    if not pushed_digest:
        raise DigestMismatch(where, "the push reported no digest", "push again (docker push prints it at the end)")
    if pushed_digest != served:
        raise DigestMismatch(where, f"the registry serves {served}, the push reported {pushed_digest}", fix)
    if served not in repo_digests:
        local = ", ".join(repo_digests) or "none"
        raise DigestMismatch(where, f"the registry serves {served}, the daemon's RepoDigests of {item.ref} for it: {local}", fix)
    if manifest.config_digest != item.image_id:
        raise DigestMismatch(where, f"its config is {manifest.config_digest}, the local image ID is {item.image_id}",
                             "push again; the tag may have been moved to another image meanwhile")


def client_for(api: docker.APIClient, target: Target, credentials: Credentials | None, **kw) -> RegistryClient:
    """A client reading ``target`` the way the daemon reaches it (plain HTTP where the daemon treats it as insecure)."""
    scheme = "http" if dockerio.registry_is_insecure(api, target.host) else "https"
    return RegistryClient(target.host, scheme=scheme, credentials=credentials, **kw)


@contextmanager
def _opened(api: docker.APIClient, target: Target, credentials: Credentials | None, config_path: Path | None):
    """The registry client for ``target`` with the credentials given, else Docker's for its host (read
    from ``config_path``, or the user's config); closed when the push ends, however it ends."""
    creds = credentials if credentials is not None else credentials_for(target.host, path=config_path)
    registry = client_for(api, target, creds)
    try:
        yield registry, creds
    finally:
        registry.close()


def publish(api: docker.APIClient, items: list[Item], target: Target, *, attempts: int = ATTEMPTS, backoff: float = BACKOFF,
            log: Callable[[str], None] = ui.detail, credentials: Credentials | None = None,
            config_path: Path | None = None, done: list[Published] | None = None) -> list[Published]:
    """Push every accepted item (in order) to ``target``; the refused ones are left alone. ``done``: the
    list each pushed image is added to as it is pushed (what went up before a failure)."""
    done = [] if done is None else done
    accepted = [i for i in items if i.accepted]
    if not accepted:
        return done
    with _opened(api, target, credentials, config_path) as (registry, creds):
        for n, item in enumerate(accepted, 1):
            ui.step(f"Pushing {item.ref} -> {item.remote} ({n}/{len(accepted)})" + (f" [forced: {item.forced}]" if item.forced else ""))
            pub = push_item(api, item, registry, creds, attempts=attempts, backoff=backoff, log=log)
            ui.info(f"{item.remote}@{pub.manifest_digest} ({pub.layers_uploaded} of {pub.layers} layers uploaded, "
                    f"{pub.seconds:.1f} s{f', {pub.attempts} attempts' if pub.attempts > 1 else ''}; digests checked)", label="pushed")
            done.append(pub)
    return done


# --- multi-arch: one tag, an OCI image index of every architecture's image ---------------------------

def arch_suffix(arch: Arch) -> str:
    """The tag suffix of ``arch``'s image in a multi-arch push, as the official images name them
    (``amd64``, ``arm64v8``): the catalog's suffix, else the platform's architecture."""
    return arch.tag_suffix or arch.architecture


def config_platform(config: dict) -> str:
    """``os/architecture[/variant]`` of an image config (or of ``docker inspect``: Os, Architecture, Variant)."""
    parts = [config.get("os") or config.get("Os") or "?", config.get("architecture") or config.get("Architecture") or "?"]
    variant = config.get("variant") or config.get("Variant")
    return "/".join(parts + ([variant] if variant else []))


def _same_platform(found: str, arch: Arch) -> bool:
    return found.split("/")[:2] == arch.platform.split("/")[:2]


@dataclass
class ArchRecord:
    """One architecture's last build-all and verify, as the workspace names them."""

    arch: Arch
    images: list[dict] | None   # the build record's images (None: there is no build record)
    build_record: Path
    verify_record: Path


@dataclass
class IndexItem(_Destination):
    """One image key pushed multi-arch: its architectures' images (``<tag>-amd64``, ``<tag>-arm64v8``)
    and the index under the plain tag; refused (nothing pushed) unless every child is accepted."""

    key: str
    remote: str                                   # HOST[:PORT]/PATH:TAG of the index
    children: list[tuple[Arch, Item]]             # in ARCHES order
    refused: str = ""
    fix: str = ""

    def to_dict(self) -> dict:
        return {"key": self.key, "remote": self.remote, "why": self.refused, "fix": self.fix,
                "children": [{"arch": a.name, "platform": a.platform, "ref": i.ref, "remote": i.remote, "image_id": i.image_id,
                              "refused": i.refused, "forced": i.forced} for a, i in self.children]}


def _rid_flag(arch: Arch) -> str:
    return f"--rid linux-{arch.name}"


def _build_fix(arch: Arch) -> str:
    return f"run `invoke build-all {_rid_flag(arch)}` and `invoke verify {_rid_flag(arch)}`"


def _rebuild_fix(arch: Arch) -> str:
    return f"build it again with {_rid_flag(arch)} (the reproducible rewrite records the platform)"


def plan_multiarch(records: list[ArchRecord], wanted: tuple[str, ...], target: Target, image_prefix: str,
                   inspect: Callable[[str], dict | None], *, force: bool = False) -> list[IndexItem]:
    """Every selected image key (``wanted`` as for :func:`select`, over every architecture's record)
    with its per-architecture pushes and its index; ``inspect`` (``docker inspect`` of a local
    reference, None when absent) gives each image's ID and platform. A key goes into an index only
    when each architecture's image is built, on the daemon, says that architecture, and passed
    verify as it is (``force``: the verify gate's refusals are accepted, the reason kept)."""
    pool = [img for r in records for img in r.images or []]
    keys = list(dict.fromkeys(i["key"] for i in select(pool, wanted, image_prefix)))
    results = {r.arch.name: read_verify_results(r.verify_record) for r in records}
    out = []
    for key in keys:
        own = {r.arch.name: next((i for i in r.images or [] if i["key"] == key), None) for r in records}
        # the plain tag: the image's tag without any architecture's suffix (x64 has none)
        base = next(_base_ref(own[r.arch.name]["ref"], r.arch) for r in records if own[r.arch.name])
        remote = target.remote(base, image_prefix)
        children, infos = [], {}
        for r in records:
            img = own[r.arch.name]
            child_remote = f"{remote}-{arch_suffix(r.arch)}"
            if r.images is None:
                item = Item(key, r.arch.ref(base), child_remote, "", f"no {r.arch.name} build ({r.build_record} does not exist)", _build_fix(r.arch))
            elif img is None:
                item = Item(key, r.arch.ref(base), child_remote, "", f"not built for {r.arch.name} ({r.build_record} has no {key})", _build_fix(r.arch))
            else:
                info = infos[r.arch.name] = inspect(img["ref"])
                item = Item(key, img["ref"], child_remote, str((info or {}).get("Id") or ""))
                if info is None:
                    item.refused, item.fix = "not on the Docker daemon", f"run `invoke build-all {_rid_flag(r.arch)}` (the build record names it, the daemon has no such image)"
                elif not _same_platform(found := config_platform(info), r.arch):
                    item.refused, item.fix = f"its config says {found}, not {r.arch.platform}", _rebuild_fix(r.arch)
                else:
                    why, fix = gate(img["ref"], item.image_id, results[r.arch.name], r.verify_record,
                                    verify=f"invoke verify {_rid_flag(r.arch)}" if r.arch.tag_suffix else "invoke verify")
                    if why and force:
                        item.forced = why
                    else:
                        item.refused, item.fix = why, fix
            children.append((r.arch, item))
        index = IndexItem(key, remote, children)
        bad = [(a, i) for a, i in children if not i.accepted]
        versions = {a.name: _dotnet_version(infos.get(a.name)) for a, i in children if not bad}
        if len(set(versions.values()) - {""}) > 1:  # one tag names one .NET version, as the official images do
            told = ", ".join(f"{a} has .NET {v or '?'}" for a, v in versions.items())
            one = min((v for v in versions.values() if v), key=lambda v: [int(n) for n in re.findall(r"\d+", v)])  # the older: likelier served for both
            index.refused = f"its architectures' images carry different .NET versions ({told})"
            index.fix = (f"build every architecture from one exact version (invoke build-all --channel {one}, and with --rid linux-arm64), "
                         "verify each, then push again")
        if bad:
            good = [a.name for a, i in children if i.accepted]
            index.refused = (f"verified on {', '.join(good)} only: " if good else "") + "; ".join(f"{a.name}: {i.refused}" for a, i in bad)
            index.fix = bad[0][1].fix + "; nothing of it is pushed multi-arch" + (
                " (`invoke push` without --multi-arch pushes the x64 image alone under its plain tag)" if children[0][1].accepted else "")
        out.append(index)
    return out


def _dotnet_version(info: dict | None) -> str:
    """The .NET version an image was built from (its ``dotnet-version`` label; "" without one)."""
    return str((((info or {}).get("Config") or {}).get("Labels") or {}).get(dockerio.label("dotnet-version")) or "")


def _base_ref(ref: str, arch: Arch) -> str:
    """An image reference of ``arch`` without the architecture's tag suffix."""
    repo, tag = split_ref(ref)
    return f"{repo}:{tag.removesuffix('-' + arch.tag_suffix) if arch.tag_suffix else tag}"


@dataclass
class PublishedIndex:
    """An image index as the registry serves it under the plain tag, and its children."""

    key: str
    remote: str
    digest: str
    media_type: str
    size: int
    manifests: list[dict]        # each: arch, remote, mediaType, digest, size, platform

    def to_dict(self) -> dict:
        return asdict(self)


def index_document(descriptors: list[dict]) -> bytes:
    """The OCI image index naming ``descriptors`` (mediaType, digest, size, platform), as it is PUT."""
    doc = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": descriptors}
    return json.dumps(doc, indent=2).encode()


def _descriptor(registry: RegistryClient, arch: Arch, item: Item, pub: Published) -> dict:
    """The index entry of a pushed image: its manifest read by digest, its platform from its config."""
    manifest = registry.manifest(item.repository, pub.manifest_digest)
    where = f"manifest {item.repository}@{pub.manifest_digest} on {registry.host}"
    if manifest.digest != pub.manifest_digest:
        raise DigestMismatch(where, f"served by digest, its bytes are {manifest.digest}",
                             "push again; if it persists, the registry (or a proxy in between) changes what it stores")
    try:
        config = json.loads(registry.blob(item.repository, manifest.config_digest))
    except ValueError:
        raise DigestMismatch(f"config {manifest.config_digest} of {item.remote}", "not JSON", "push again") from None
    found = config_platform(config)
    if not _same_platform(found, arch):
        raise PlatformMismatch(f"image {item.ref} ({item.remote})", f"its config says {found}, not {arch.platform}", _rebuild_fix(arch))
    platform = {"architecture": config["architecture"], "os": config["os"]}
    if config.get("variant"):
        platform["variant"] = config["variant"]
    return {"mediaType": manifest.document.get("mediaType") or manifest.media_type, "digest": manifest.digest,
            "size": len(manifest.body), "platform": platform}


def push_index(registry: RegistryClient, index: IndexItem, descriptors: list[dict]) -> PublishedIndex:
    """PUT the image index of ``descriptors`` under the index's tag, read it back and check it: the
    digest of what was PUT is what the registry answers and serves, and every child resolves."""
    body = index_document(descriptors)
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    where = f"image index {index.repository}:{index.tag} on {registry.host}"
    fix = "push again; if it persists, the registry (or a proxy in between) changes what it stores"
    answered = registry.put_manifest(index.repository, index.tag, body, OCI_INDEX)
    if answered and answered != digest:
        raise DigestMismatch(where, f"the registry answered the PUT with {answered}, the index PUT is {digest}", fix)
    served = registry.index(index.repository, index.tag)
    if served.digest != digest or (served.header_digest and served.header_digest != digest):
        raise DigestMismatch(where, f"the registry serves {served.digest} (Docker-Content-Digest {served.header_digest or 'none'}), "
                             f"the index PUT is {digest}", fix)
    for entry in served.document.get("manifests") or []:
        child = registry.manifest(index.repository, str(entry.get("digest")))
        if child.digest != entry.get("digest"):
            raise DigestMismatch(where, f"its entry {entry.get('digest')} resolves to {child.digest}", fix)
    manifests = [{"arch": a.name, "remote": i.remote, **d} for (a, i), d in zip(index.children, descriptors)]
    return PublishedIndex(index.key, index.remote, digest, served.document.get("mediaType") or served.media_type, len(body), manifests)


def publish_multiarch(api: docker.APIClient, indexes: list[IndexItem], target: Target, *, attempts: int = ATTEMPTS,
                      backoff: float = BACKOFF, log: Callable[[str], None] = ui.detail, credentials: Credentials | None = None,
                      config_path: Path | None = None, pushed: list[Published] | None = None,
                      done: list[PublishedIndex] | None = None) -> tuple[list[Published], list[PublishedIndex]]:
    """Push every accepted index's images (as :func:`push_item`), then its index; the refused ones are left
    alone. ``pushed``, ``done``: the lists each image and each index are added to as they go up (what
    went up before a failure)."""
    pushed = [] if pushed is None else pushed
    done = [] if done is None else done
    accepted = [i for i in indexes if i.accepted]
    if not accepted:
        return pushed, done
    with _opened(api, target, credentials, config_path) as (registry, creds):
        for n, index in enumerate(accepted, 1):
            descriptors = []
            for arch, item in index.children:
                ui.step(f"Pushing {item.ref} -> {item.remote} ({arch.platform}; {n}/{len(accepted)})"
                        + (f" [forced: {item.forced}]" if item.forced else ""))
                pub = push_item(api, item, registry, credentials=creds, attempts=attempts, backoff=backoff, log=log)
                pushed.append(pub)
                descriptors.append(_descriptor(registry, arch, item, pub))
            result = push_index(registry, index, descriptors)
            ui.info(f"{index.remote}@{result.digest}: image index of "
                    + ", ".join(f"{m['remote'].rsplit(':', 1)[1]} ({config_platform(m['platform'])})" for m in result.manifests)
                    + "; digests checked", label="pushed")
            done.append(result)
    return pushed, done
