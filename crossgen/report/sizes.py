"""Image and layer sizes, and what a set of images costs together.

Two sizes per layer:

* **uncompressed**: what the daemon stores: the layer's diff size (sum of its file bytes, the
  figure ``docker images`` adds up), read from the daemon's image history;
* **compressed**: the gzip blob a registry stores and a pull transfers, read from the manifest
  of a real registry (see ``crossgen/publish/registry.py``).

Two sharing rules, because the daemon and a registry identify layers differently:

* ``chain-id`` (on disk): the daemon stores a layer once per *ChainID*: the digest of the layer
  together with every layer below it (``ChainID(L1) = DiffID(L1)``,
  ``ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln))``). The same files on top of a
  different base are stored again.
* ``blob-digest`` (in a pull): a registry and a pull identify a layer by its compressed blob
  digest alone, whatever lies below it: a blob is transferred once per set of images.

Every figure below names the rule it uses.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, field
from typing import Iterable, Sequence

import docker

from crossgen import dockerio
from crossgen.core.errors import DciError
from crossgen.core.files import HashingStream
from crossgen.images.catalog import CATALOG, Catalog

RULE_DISK = "chain-id"
RULE_PULL = "blob-digest"
RULES = {
    RULE_DISK: "on disk: a layer is stored once per ChainID (the layer and the whole chain below it), uncompressed bytes",
    RULE_PULL: "in a pull: a layer blob is transferred once per compressed blob digest, whatever lies below it; "
               "layer blobs plus each image's config blob",
}
EMPTY_TAR_DIFF_ID = "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"

# History entries that never create a layer (classic builder: "/bin/sh -c #(nop)  ENV ...").
_METADATA_ONLY = re.compile(
    r"#\(nop\)\s+(ENV|LABEL|CMD|ENTRYPOINT|USER|EXPOSE|VOLUME|STOPSIGNAL|HEALTHCHECK|SHELL|ARG|ONBUILD|MAINTAINER)\b")


def chain_ids(diff_ids: Sequence[str]) -> list[str]:
    """The ChainID of every layer of an image, lowest first (OCI image spec, "ChainID")."""
    out: list[str] = []
    for diff_id in diff_ids:
        if not out:
            out.append(diff_id)
        else:
            out.append("sha256:" + hashlib.sha256(f"{out[-1]} {diff_id}".encode()).hexdigest())
    return out


@dataclass
class Layer:
    index: int
    diff_id: str
    chain_id: str
    size: int                          # uncompressed (daemon diff size)
    created_by: str = ""
    blob_digest: str | None = None     # compressed blob in the registry
    blob_size: int | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class ImageSizes:
    key: str
    ref: str
    image_id: str
    size: int                          # uncompressed, as the daemon reports it (= sum of layer sizes)
    layers: list[Layer] = field(default_factory=list)
    config_digest: str | None = None   # registry side
    config_size: int | None = None
    manifest_digest: str | None = None

    @property
    def compressed(self) -> int | None:
        """Sum of the compressed layer blobs, or None when the image was not pushed."""
        if any(layer.blob_size is None for layer in self.layers):
            return None
        return sum(int(layer.blob_size or 0) for layer in self.layers)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["compressed"] = self.compressed
        return d


def history_layers(info: dict, history: list[dict]) -> list[tuple[int, str]]:
    """(size, created_by) of each layer of an image, lowest first, from the daemon's history.

    The history API lists every build step, newest first, with ``Size`` 0 for steps that made no
    layer, and does not say which those were. Steps with a size are layers; a step without one
    is a layer unless it is a metadata-only instruction. The result must match RootFS.Layers.
    """
    layers = list((info.get("RootFS") or {}).get("Layers") or [])
    steps = [(int(h.get("Size") or 0), str(h.get("CreatedBy") or "")) for h in reversed(history)]
    with_size = [s for s in steps if s[0] > 0]
    if len(with_size) == len(layers):
        return with_size
    possible = [s for s in steps if s[0] > 0 or not _METADATA_ONLY.search(s[1])]
    if len(possible) == len(layers):
        return possible
    raise DciError(
        f"image {info.get('Id', '?')[:19]}",
        f"cannot match its {len(steps)} history steps ({len(with_size)} with a size) to its {len(layers)} layers",
        "the per-layer figures need a history the daemon can explain; report the image as a whole instead",
    )


def image_sizes(api: docker.APIClient, ref: str, key: str = "") -> ImageSizes:
    """Uncompressed size of an image and of each of its layers, from the daemon."""
    info = dockerio.image_info(api, ref)
    if not info:
        raise DciError(f"image {ref}", "not present locally", "build it first (invoke build-all)")
    diff_ids = list(info["RootFS"]["Layers"])
    steps = history_layers(info, dockerio.image_history(api, info["Id"]))
    chains = chain_ids(diff_ids)
    layers = [Layer(i, d, c, size, created_by) for i, (d, c, (size, created_by)) in enumerate(zip(diff_ids, chains, steps))]
    total = int(info.get("Size") or 0)
    if sum(layer.size for layer in layers) != total:
        raise DciError(f"image {ref}", f"layer sizes add up to {sum(l.size for l in layers)}, the daemon says {total}",
                       "rebuild the image (invoke build-all --force) or remove it and build again")
    return ImageSizes(key or ref, ref, info["Id"], total, layers)


def attach_registry(image: ImageSizes, pushed) -> None:
    """Add the compressed blob of each layer from a registry manifest (``registry.Pushed``)."""
    ours = [layer.diff_id for layer in image.layers]
    if list(pushed.diff_ids) != ours:
        raise DciError(f"image {image.ref}", "the registry's copy has other layers than the local image", "push it again")
    for layer, blob in zip(image.layers, pushed.layers):
        layer.blob_digest = blob.digest
        layer.blob_size = int(blob.size)
    image.config_digest = pushed.config.digest
    image.config_size = int(pushed.config.size)
    image.manifest_digest = pushed.manifest_digest


# --- sets of images ------------------------------------------------------------------


def disk_bytes(images: Iterable[ImageSizes]) -> int:
    """Uncompressed bytes on disk for these images together (rule ``chain-id``)."""
    seen: dict[str, int] = {}
    for img in images:
        for layer in img.layers:
            seen.setdefault(layer.chain_id, layer.size)
    return sum(seen.values())


def pull_bytes(images: Iterable[ImageSizes]) -> int | None:
    """Compressed bytes a pull of these images onto an empty machine transfers (rule ``blob-digest``):
    each distinct layer blob once, plus each distinct config blob. None when one was not pushed."""
    blobs: dict[str, int] = {}
    for img in images:
        if img.compressed is None or img.config_size is None:
            return None
        for layer in img.layers:
            blobs.setdefault(str(layer.blob_digest), int(layer.blob_size or 0))
        blobs.setdefault(str(img.config_digest), img.config_size)
    return sum(blobs.values())


def pull_uncompressed_bytes(images: Iterable[ImageSizes]) -> int:
    """Uncompressed bytes of the distinct layers by DiffID: what deduplication by layer content alone
    would keep (no daemon does this on disk; shown to make the gap between the two rules visible)."""
    seen: dict[str, int] = {}
    for img in images:
        for layer in img.layers:
            seen.setdefault(layer.diff_id, layer.size)
    return sum(seen.values())


@dataclass(frozen=True)
class ScenarioImages:
    """A deployment: which images sit on one machine, per variant (variant number -> image keys)."""

    id: str
    title: str
    images: dict[int, tuple[str, ...]]
    compare: bool = True   # ratios to variant 1 make sense


def default_scenarios(catalog: Catalog = CATALOG) -> list[ScenarioImages]:
    """The catalog's scenarios, resolved to image keys per variant."""
    return [ScenarioImages(sc.id, sc.title, catalog.scenario_images(sc), sc.compare) for sc in catalog.scenarios]


def across_variants(catalog: Catalog = CATALOG) -> list[tuple[str, str, tuple[str, ...]]]:
    """(id, title, image keys) of the sets that span variants."""
    fw = catalog.framework_images()
    return [
        ("all-aspnet", "every aspnet image", catalog.framework_images("aspnet")),
        ("all-framework", "every runtime/aspnet/sdk image", fw),
        ("all", "every image of the report (with the sample apps)", fw + catalog.all_app_images()),
    ]


def figures(images: dict[str, ImageSizes], keys: Sequence[str]) -> dict:
    """Bytes for one set of images under both rules (``missing`` lists keys not measured)."""
    missing = [k for k in keys if k not in images]
    present = [images[k] for k in keys if k in images]
    if missing:
        return {"images": list(keys), "missing": missing}
    compressed = [i.compressed for i in present]
    return {
        "images": list(keys),
        "missing": [],
        "disk_bytes": disk_bytes(present),
        "disk_rule": RULE_DISK,
        "pull_bytes": pull_bytes(present),
        "pull_rule": RULE_PULL,
        "sum_uncompressed_bytes": sum(i.size for i in present),
        "sum_compressed_bytes": None if None in compressed else sum(c for c in compressed if c is not None),
        "distinct_diff_id_bytes": pull_uncompressed_bytes(present),
    }


# --- what is inside a layer ------------------------------------------------------------


@dataclass(frozen=True)
class TarEntry:
    name: str
    type: str
    mode: int
    uid: int
    gid: int
    size: int
    mtime: int
    linkname: str


def layer_entries(api: docker.APIClient, ref: str, diff_id: str) -> list[TarEntry]:
    """The tar headers of one layer of a local image (streamed from ``docker save``; nothing is stored).

    The layer is recognised by its DiffID (the sha256 of its uncompressed tar)."""
    import tarfile

    with dockerio.saved_image(api, ref) as outer:
        for member in outer:
            if not (member.isfile() and member.name.endswith("layer.tar")):
                continue
            reader = HashingStream(outer.extractfile(member), member.size)
            entries = []
            with tarfile.open(fileobj=reader, mode="r|") as inner:  # type: ignore[arg-type]
                for m in inner:
                    entries.append(TarEntry(m.name, m.type.decode(), m.mode, m.uid, m.gid, m.size, int(m.mtime), m.linkname))
            if reader.drain() == diff_id:
                return entries
    raise DciError(f"image {ref}", f"has no layer with DiffID {diff_id[:19]}",
                   "the image changed while being measured; run invoke report again")


def entry_differences(a: list[TarEntry], b: list[TarEntry]) -> dict:
    """How two layer tars differ: entries only in one, and entries whose header differs (by field)."""
    ma, mb = {e.name: e for e in a}, {e.name: e for e in b}
    changed: dict[str, list[str]] = {}
    for name in sorted(set(ma) & set(mb)):
        fields = [f for f in ("type", "mode", "uid", "gid", "size", "mtime", "linkname") if getattr(ma[name], f) != getattr(mb[name], f)]
        if fields:
            changed[name] = fields
    return {"entries": [len(a), len(b)], "only_in_first": sorted(set(ma) - set(mb)), "only_in_second": sorted(set(mb) - set(ma)),
            "changed": changed}
