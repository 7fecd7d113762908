"""Reproducible images: layers whose bytes depend only on their content.

The classic builder stamps what it writes with the build time (the directories a ``COPY`` or
``RUN`` touches, the image's ``created`` and history times) and records the build container in
the image config, so two builds of the same inputs give different layer digests (DiffIDs) and
image IDs, and identical layers of two images are two blobs. After each classic build,
:func:`normalize` does what BuildKit's ``rewrite-timestamp`` does: it takes the layers the build
added (``docker save``, parent layers are only read past), rewrites each one deterministically and
loads the result under the same tag. Children then build ``FROM`` the rewritten image.

A rewritten layer has its entries sorted by name (hard links after the file they share data
with), every mtime clamped to ``SOURCE_DATE_EPOCH`` (newer ones set to it, older ones kept, as
BuildKit does), numeric owners only (no user or group names), no PAX access/change times (only
extended attributes are kept), and the PAX format for long names. The config gets ``created``
and every history entry at ``SOURCE_DATE_EPOCH``, the rewritten DiffIDs, and loses what names the
build rather than the content: the build container's ID and configuration (``container``,
``container_config``) and the builder's intermediate image (``config.Image``).

The staged contexts stay the readable recipe: ``docker build`` on one by hand gives the same
files; only times and entry order differ, which this rewrite makes fixed.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import shutil
import tarfile
import tempfile
import time
from pathlib import Path
from typing import IO, Iterable

import docker

from crossgen import dockerio
from crossgen.core.errors import DciError
from crossgen.core.files import HashingStream

CHUNK = 1 << 20
# Part of every reproducible image's input digest: a change to what this module writes rebuilds the images.
REWRITE_VERSION = 2


def iso(epoch: int) -> str:
    """``SOURCE_DATE_EPOCH`` as the image config writes times (RFC 3339, UTC)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def _sorted_entries(members: list[tarfile.TarInfo]) -> list[tuple[tarfile.TarInfo, tarfile.TarInfo | None]]:
    """Entries in name order, each with the member whose data it carries.

    A hard link can sort before the file it points at; then the first name of the group carries the
    data and the others (the original file too) become links to it.
    """
    by_name = {m.name: m for m in members}
    groups: dict[str, list[str]] = {}
    for m in members:
        if m.islnk() and m.linkname in by_name:
            groups.setdefault(m.linkname, [m.linkname]).append(m.name)
    first_of: dict[str, str] = {}
    data_of: dict[str, str] = {}
    for target, names in groups.items():
        first = min(names)
        for n in names:
            first_of[n] = first
        data_of[first] = target
    out = []
    for m in sorted(members, key=lambda m: m.name):
        if m.name in first_of:
            first = first_of[m.name]
            source = by_name[data_of[first]]
            if m.name == first:
                entry = copy.copy(source)
                entry.name = m.name
                out.append((entry, source))
            else:
                entry = copy.copy(source)
                entry.name = m.name
                entry.type = tarfile.LNKTYPE
                entry.linkname = first
                entry.size = 0
                out.append((entry, None))
        else:
            out.append((copy.copy(m), m if m.isreg() else None))
    return out


def rewrite_layer(src: Path, dst: Path, epoch: int) -> str:
    """Write ``src`` (a layer tar) to ``dst`` deterministically; returns its DiffID (``sha256:...``)."""
    with tarfile.open(src, "r:") as tin, open(dst, "wb") as raw:
        hashing = HashingStream(raw)
        with tarfile.open(fileobj=hashing, mode="w:", format=tarfile.PAX_FORMAT) as tout:
            for entry, data_from in _sorted_entries(tin.getmembers()):
                entry.mtime = min(int(entry.mtime), epoch)
                entry.uname = entry.gname = ""
                entry.pax_headers = {k: v for k, v in entry.pax_headers.items() if k.startswith("SCHILY.xattr.")}
                tout.addfile(entry, tin.extractfile(data_from) if data_from is not None else None)
        return hashing.digest


def _spool(f: IO[bytes], dest: Path) -> str:
    with open(dest, "wb") as out:
        hashing = HashingStream(out)
        shutil.copyfileobj(f, hashing, CHUNK)
    return hashing.digest


def _saved_parts(api: docker.APIClient, image_id: str, wanted: Iterable[str], folder: Path) -> tuple[dict, dict[str, Path]]:
    """The config and the layer tars with DiffIDs in ``wanted`` of ``docker save image_id``."""
    wanted = set(wanted)
    layers: dict[str, Path] = {}
    config: dict | None = None
    config_name = image_id.split(":")[-1] + ".json"
    with dockerio.saved_image(api, image_id) as outer:
        for n, member in enumerate(outer):
            if member.isfile() and member.name.endswith("/layer.tar"):
                path = folder / f"saved-{n}.tar"
                diff_id = _spool(outer.extractfile(member), path)
                if diff_id in wanted and diff_id not in layers:
                    layers[diff_id] = path
                else:
                    path.unlink()
            elif member.isfile() and member.name == config_name:
                config = json.load(outer.extractfile(member))
    if config is None or set(layers) != wanted:
        raise DciError(f"image {image_id[:19]}", "docker save did not return its config and new layers",
                       "build it again (invoke build-all --force); if it persists, the daemon's image store is damaged")
    return config, layers


def normalize(api: docker.APIClient, image_id: str, ref: str, *, base_id: str | None, epoch: int, tmp: Path,
              platform: str | None = None) -> str:
    """Rewrite the layers ``image_id`` adds to ``base_id`` and its config deterministically, load the
    result as ``ref`` and remove the image it replaces; returns the new image ID. ``platform``
    (``linux/arm64``): the os and architecture the config records (built under emulation, the image
    says the daemon's)."""
    info = dockerio.image_info(api, image_id)
    base = dockerio.image_info(api, base_id) if base_id else None
    if not info or (base_id and not base):
        raise DciError(f"image {ref}", "the image or its base disappeared right after the build", "build it again")
    layers = list(info["RootFS"].get("Layers") or [])
    parent = list((base or {}).get("RootFS", {}).get("Layers") or [])
    if layers[:len(parent)] != parent:
        raise DciError(f"image {ref}", "its layers do not start with its base's layers", "build it again from its base")
    new = layers[len(parent):]
    tmp.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="normalize-", dir=tmp))
    try:
        config, saved = _saved_parts(api, image_id, set(new), folder)
        diff_ids = list(parent)
        files: list[tuple[str, Path]] = []
        for i, old in enumerate(new):
            out = folder / f"layer-{i}.tar"
            diff_id = rewrite_layer(saved[old], out, epoch)
            diff_ids.append(diff_id)
            files.append((diff_id, out))
        inherited = len(dockerio.image_history(api, base_id)) if base_id else 0
        config = rewrite_config(config, diff_ids, epoch, keep=inherited, platform=platform)
        raw = json.dumps(config, separators=(",", ":")).encode()
        new_id = "sha256:" + hashlib.sha256(raw).hexdigest()
        if new_id != image_id:
            dockerio.load(api, _archive(folder, raw, new_id, diff_ids, files, ref))
            if (dockerio.image_info(api, ref) or {}).get("Id") != new_id:
                raise DciError(f"image {ref}", "loading the rewritten image did not tag it", "build it again")
            dockerio.remove_image(api, image_id)
        return new_id
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def rewrite_config(config: dict, diff_ids: list[str], epoch: int, *, keep: int = 0, platform: str | None = None) -> dict:
    """The image config with fixed times, the rewritten DiffIDs and no build container; the first
    ``keep`` history entries (the base's, already fixed when it was built) stay as they are;
    ``platform`` (``os/arch[/variant]``): the os, architecture and variant it records."""
    out = {k: v for k, v in config.items() if k not in ("container", "container_config")}
    if platform:
        parts = platform.split("/")
        out["os"], out["architecture"] = parts[0], parts[1]
        out.pop("variant", None)
        if len(parts) > 2:
            out["variant"] = parts[2]
    out["created"] = iso(epoch)
    history = list(config.get("history") or [])
    out["history"] = history[:keep] + [dict(h, created=iso(epoch)) for h in history[keep:]]
    out["rootfs"] = dict(config.get("rootfs") or {"type": "layers"}, diff_ids=diff_ids)
    if isinstance(out.get("config"), dict) and out["config"].get("Image"):
        out["config"] = dict(out["config"], Image="")  # the builder's last intermediate image: not content
    return out


def _archive(folder: Path, config: bytes, image_id: str, diff_ids: list[str], files: list[tuple[str, Path]], ref: str) -> Path:
    """A ``docker load`` archive with the config and only the new layers: layers the daemon already
    has (the base's) are named in the manifest but not read."""
    path = folder / "load.tar"
    hexid = image_id.split(":")[1]
    manifest = [{"Config": f"{hexid}.json", "RepoTags": [ref], "Layers": [f"{d.split(':')[1]}/layer.tar" for d in diff_ids]}]
    with tarfile.open(path, "w:", format=tarfile.PAX_FORMAT) as tf:
        _add_bytes(tf, f"{hexid}.json", config)
        for diff_id, layer in files:
            tf.add(str(layer), arcname=f"{diff_id.split(':')[1]}/layer.tar")
        _add_bytes(tf, "manifest.json", json.dumps(manifest).encode())
    return path


def _add_bytes(tf: tarfile.TarFile, name: str, data: bytes) -> None:
    ti = tarfile.TarInfo(name)
    ti.size = len(data)
    tf.addfile(ti, io.BytesIO(data))
