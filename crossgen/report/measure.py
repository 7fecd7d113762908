"""Measuring what exists: the build record the last build-all wrote, the images' sizes from the daemon,
compressed sizes through a local registry, startup inside running containers, the machine."""

from __future__ import annotations

import fnmatch
import json
import os
import platform
import re
import time
from pathlib import Path

import docker
import docker.errors

from crossgen import dockerio
from crossgen.core import ui
from crossgen.core.errors import DciError
from crossgen.core.settings import Settings
from crossgen.images.baseimage import TOOL_BASE
from crossgen.report import sizes, startup

# the OS base, the compiler image and its slim runtime-deps (a distroless build's) are not part of the experiment
EXCLUDED_KEYS = ("os", "crossgen2", TOOL_BASE)


def load_build_record(settings: Settings) -> dict:
    path = settings.workspace.build_record
    if not path.is_file():
        raise DciError(str(path), "no build record", "run `invoke build-all` first")
    return json.loads(path.read_text())


def select_images(record: dict, patterns: tuple[str, ...]) -> list[dict]:
    images = [i for i in record.get("images", []) if i.get("key") not in EXCLUDED_KEYS]
    if patterns:
        images = [i for i in images if any(fnmatch.fnmatchcase(i["key"], p) for p in patterns)]
        if not images:
            raise DciError(f"--images {','.join(patterns)}", "matches no image of the last build",
                           "use keys such as runtime-*, aspnet-composite, sample-* (see build/build-all.json)")
    return images


def machine_info(api: docker.APIClient) -> dict:
    mem = 0
    cpu = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) * 1024
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    docker_version = dockerio.daemon_version(api)
    return {"cores": os.cpu_count(), "memory_bytes": mem, "cpu_model": cpu, "kernel": platform.release(),
            "docker_version": docker_version}


def base_os(api: docker.APIClient, ref: str) -> str:
    """PRETTY_NAME from /etc/os-release of an image (read by running it)."""
    res = dockerio.run(api, ref, ["cat", "/etc/os-release"], timeout=60)
    m = re.search(r'^PRETTY_NAME="?([^"\n]*)"?', res.output, re.M)
    return m.group(1) if m else ""


def measure_sizes(api: docker.APIClient, images: list[dict]) -> dict[str, sizes.ImageSizes]:
    return {i["key"]: sizes.image_sizes(api, i["ref"], i["key"]) for i in images}


def measure_compressed(api: docker.APIClient, settings: Settings, images: list[dict], measured: dict[str, sizes.ImageSizes],
                       *, fresh: bool = False) -> dict:
    """Push every image to a local registry and attach the manifests' blob sizes; returns push facts."""
    from crossgen.publish.registry import LocalRegistry

    pushes = []
    storage = settings.workspace.registry / "storage"
    reused = not fresh and storage.is_dir() and any(storage.iterdir())
    start = time.monotonic()
    with LocalRegistry.start(settings.workspace.registry, log_dir=settings.workspace.logs, fresh=fresh) as reg:
        ui.detail(f"registry on {reg.host} (storage {reg.root / 'storage'})")
        for img in images:
            pushed = reg.push(api, img["ref"])
            sizes.attach_registry(measured[img["key"]], pushed)
            pushes.append({"key": img["key"], "seconds": pushed.seconds, "layers_uploaded": pushed.pushed_layers,
                           "layers": len(pushed.layers), "manifest_digest": pushed.manifest_digest})
            ui.detail(f"pushed {img['ref']} in {pushed.seconds:.1f} s ({pushed.pushed_layers} of {len(pushed.layers)} layers uploaded)")
    seconds = round(time.monotonic() - start, 1)
    deleted = reg.collect_garbage()
    if deleted:
        ui.detail(f"registry storage: {deleted} blobs of earlier pushes no tag uses any more were deleted")
    return {"seconds": seconds, "pushes": pushes, "garbage_blobs_deleted": deleted,
            "layers_uploaded": sum(p["layers_uploaded"] for p in pushes), "storage_reused": reused}


def run_startup(api: docker.APIClient, settings: Settings, images: list[dict], runs: int, seed: int, *,
                version: str | None = None) -> dict:
    """Startup of the catalog's samples on ``images`` (of .NET ``version``: the samples built for its channel)."""
    from crossgen.compile.samples import publish_source

    refs = {i["key"]: i["ref"] for i in images}  # the catalog's own samples (a user's app has its own frontier)
    targets = [t for t in startup.default_targets() if t.image_key in refs]
    if not targets:
        return {"skipped": "none of the startup images is selected"}
    apps = {name: publish_source(settings, name, None, channel=version) for name in dict.fromkeys(t.sample for t in targets)}
    load_before = startup.machine_load()
    start = time.monotonic()
    runs_out, summaries = startup.measure(api, targets, refs, apps, runs=runs, seed=seed)
    return {
        "runs_per_pair": runs, "warmup_rounds": 1, "seed": seed,
        "modes": {m: startup.MODES[m] for m in startup.REPORT_MODES},
        "measure": {"console": "startup-ms: DCI_START_NS (date +%s%N right before exec) to the end of Main",
                    "web": "first-request-ms: DCI_START_NS to the sample's first GET / (when the sample records it) "
                           f"(host polls with back-off, at most every {startup.POLL_MAX_S * 1000:.0f} ms)"},
        "seconds": round(time.monotonic() - start, 1),
        "load_before": load_before, "load_after": startup.machine_load(),
        "summaries": [s.to_dict() for s in summaries],
        "runs": [r.to_dict() for r in runs_out],
    }


def explain_layer_difference(api: docker.APIClient, measured: dict[str, sizes.ImageSizes], group: dict) -> dict:
    """Compare the tar headers of two layers of a ``layer_identity`` group (the image tars are streamed)."""
    (d1, keys1), (d2, keys2) = list(group["images"].items())[:2]
    k1 = min(keys1, key=lambda k: measured[k].size)  # stream the smallest image that holds the layer
    k2 = min(keys2, key=lambda k: measured[k].size)
    a = sizes.layer_entries(api, measured[k1].ref, d1)
    b = sizes.layer_entries(api, measured[k2].ref, d2)
    diff = sizes.entry_differences(a, b)
    return {"first": k1, "second": k2, "created_by": group["created_by"], **diff}
