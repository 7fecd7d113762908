"""Build one image from a template and a staged context, skipping it when up to date.

An image is up to date when an image with its tag exists and carries the same
``input-digest`` label: a hash of the rendered Dockerfile, the base image ID and a description
of every input (layout keys, Crossgen2 output keys, sample digests). When its tag is missing or
out of date but another tag of the same repository has an image with that digest (runtime-deps of
another .NET channel: it holds no .NET), that image is tagged, not built again. The context is only
staged when a build is needed.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import docker

from crossgen import dockerio
from crossgen.dockerio import reproducible
from crossgen.core import ui
from crossgen.core.errors import DciError


@dataclass
class ImageSpec:
    key: str                       # short unique name, e.g. "runtime-composite"
    ref: str                       # repository:tag
    dockerfile: str                # rendered Dockerfile text
    base: str                      # the FROM image reference (must exist locally)
    inputs: dict                   # what goes into the context, described (for the digest)
    stage: Callable[[Path], None] | None = None  # fills the context folder
    labels: dict[str, str] = field(default_factory=dict)
    network_mode: str = "none"     # "host" for builds whose RUN steps use the package archive
    epoch: int | None = None       # SOURCE_DATE_EPOCH: layers rewritten to be reproducible (None: as built)
    # a multi-stage build whose first stage is ``base`` and whose image is FROM scratch: none of base's
    # layers lie below it (every layer is its own)
    scratch: bool = False
    platform: str | None = None    # the image's architecture (linux/arm64) when it is not the daemon's


@dataclass
class BuildOutcome:
    key: str
    ref: str
    image_id: str
    size: int
    seconds: float
    skipped: bool                  # up to date: found, not built
    not_built: str = ""            # why the image was not built at all (no image_id then)


def input_digest(spec: ImageSpec, base_id: str) -> str:
    # the base by ID, not by name: images built under another prefix from the same inputs are the same
    dockerfile = spec.dockerfile.replace(f"FROM {spec.base}", "FROM <base>")
    doc = {"dockerfile": dockerfile, "base_id": base_id, "inputs": spec.inputs, "labels": spec.labels}
    if spec.platform:
        doc["platform"] = spec.platform
    if spec.epoch is not None:
        doc["source_date_epoch"] = spec.epoch
        doc["rewrite_version"] = reproducible.REWRITE_VERSION
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True)
class ImageStatus:
    up_to_date: bool
    reason: str                  # why it would be built ("" when up to date)
    digest: str | None = None    # the input digest (None: the base is not there yet)
    existing: dict | None = None  # the image as the daemon has it
    same: str | None = None      # another tag of the repository whose image has these very inputs: tagged, not built


def image_status(api: docker.APIClient, spec: ImageSpec) -> ImageStatus:
    """Would :func:`build_image` build ``spec``, and why?"""
    base_info = dockerio.image_info(api, spec.base)
    if not base_info:
        return ImageStatus(False, f"its base {spec.base} is built first")
    digest = input_digest(spec, base_info["Id"])
    existing = dockerio.image_info(api, spec.ref)
    if existing and dockerio.image_labels(existing).get(dockerio.label("input-digest")) == digest:
        return ImageStatus(True, "", digest, existing)
    same = next(iter(dockerio.tagged_with_label(api, spec.ref.rpartition(":")[0], dockerio.label("input-digest"), digest)), None)
    if same:
        return ImageStatus(False, f"same inputs as {same}: tagged, not built", digest, existing, same)
    if not existing:
        return ImageStatus(False, "missing", digest)
    return ImageStatus(False, "inputs changed (Dockerfile, base image or staged files)", digest, existing)


def build_image(
    api: docker.APIClient,
    spec: ImageSpec,
    contexts_dir: Path,
    *,
    force: bool = False,
    log: Callable[[str], None] = ui.detail,
) -> BuildOutcome:
    status = image_status(api, spec)
    if status.digest is None:
        raise DciError(f"image {spec.ref}", f"its base image {spec.base} is not present locally (no implicit pulls)",
                       "build the base first (invoke build-all builds in dependency order)")
    if not force and status.up_to_date and status.existing:
        return BuildOutcome(spec.key, spec.ref, status.existing["Id"], int(status.existing["Size"]), 0.0, True)
    if not force and status.same:
        dockerio.tag(api, status.same, spec.ref)
        info = dockerio.image_info(api, spec.ref) or {}
        ui.info(f"{spec.ref}: the image of {status.same} (same inputs)", label="tagged")
        return BuildOutcome(spec.key, spec.ref, info.get("Id", ""), int(info.get("Size", 0)), 0.0, True)
    digest = status.digest
    if spec.platform and spec.epoch is None:
        raise DciError(f"image {spec.ref}", f"an image for {spec.platform} is built here under emulation and only the reproducible "
                       "rewrite records its architecture (the classic builder writes this machine's)",
                       "set dci.reproducible: true (the default) for another --rid than this machine's")

    context = contexts_dir / spec.key
    if context.exists():
        shutil.rmtree(context)
    context.mkdir(parents=True)
    try:
        (context / "Dockerfile").write_text(spec.dockerfile)
        if spec.stage:
            spec.stage(context)
        labels = {**spec.labels, dockerio.label("input-digest"): digest, dockerio.label("image-key"): spec.key}
        ui.step(f"Building {spec.ref}")
        start = time.monotonic()
        image_id = dockerio.build(api, context, spec.ref, labels=labels, network_mode=spec.network_mode, log=log,
                                  epoch=spec.epoch)
        if spec.epoch is not None:
            log(f"rewriting the new layers reproducibly (SOURCE_DATE_EPOCH={spec.epoch})")
            try:
                image_id = reproducible.normalize(api, image_id, spec.ref, base_id=None if spec.scratch else _base_id(api, spec),
                                                  epoch=spec.epoch, tmp=contexts_dir, platform=spec.platform)
            except BaseException:
                # not half-written: the classic image must not pass for the reproducible one next time
                if (dockerio.image_info(api, spec.ref) or {}).get("Id") == image_id:
                    dockerio.untag(api, spec.ref)
                raise
        seconds = time.monotonic() - start
    finally:
        shutil.rmtree(context, ignore_errors=True)
    info = dockerio.image_info(api, image_id) or {}
    size = int(info.get("Size", 0))
    ui.info(f"{spec.ref} in {seconds:.1f} s ({size / 1e6:.1f} MB)", label="built")
    return BuildOutcome(spec.key, spec.ref, image_id, size, seconds, False)


def _base_id(api: docker.APIClient, spec: ImageSpec) -> str:
    info = dockerio.image_info(api, spec.base)
    if not info:
        raise DciError(f"image {spec.ref}", f"its base {spec.base} disappeared during the build", "build it again")
    return info["Id"]
