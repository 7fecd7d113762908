"""What sharing identical layers saves, measured with real pulls (``report --pulls``).

The sharing tables elsewhere in the report apply a rule (a pull transfers each blob digest once).
This module measures instead, for two builds of the same images:

* ``before``: built by the classic builder as it is (``Settings.reproducible=False``): the same
  files on two bases are two different blobs (their times and build containers differ);
* ``after``: built reproducibly (the default): identical content, identical blob.

Each set is pushed to a fresh local registry of its own (``registry.LocalRegistry``), whose blob
storage is then measured on disk. Then every scenario (:meth:`Catalog.pull_scenarios`: a node that
already has the baseline's images pulls a variant's) runs on a new private containerd
(``dockerio.containerd``: a store keyed by blob digest, as on a Kubernetes node; empty at start, so
nothing pulled for one scenario serves another): the ``have`` images are pulled first and not
counted, then the ``want`` images, counted by a proxy between ``ctr`` and the registry
(``dockerio.countingproxy``): the response body bytes of every manifest and blob request.

Entry point: :func:`measure`.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Sequence

import docker

from crossgen.core import ui
from crossgen.core.errors import DciError
from crossgen.core.settings import Settings
from crossgen.dockerio.containerd import Containerd
from crossgen.dockerio.countingproxy import CountingProxy, Request
from crossgen.images.catalog import CATALOG, PullScenario
from crossgen.publish.registry import LocalRegistry, Pushed

SETS = ("before", "after")
SET_TITLES = {"before": "classic builds (reproducible=False)", "after": "reproducible builds"}
BLOBS_DIR = Path("docker/registry/v2/blobs")


def storage_bytes(storage: Path) -> dict:
    """What a registry's storage root holds on disk: its blob files (``blob_bytes``, ``blobs``) and
    everything (``all_bytes``: with the repositories' link files and upload folders)."""
    blobs = [p for p in (storage / BLOBS_DIR).rglob("data") if p.is_file()]
    everything = [p for p in storage.rglob("*") if p.is_file()]
    return {"blobs": len(blobs), "blob_bytes": sum(p.stat().st_size for p in blobs),
            "all_bytes": sum(p.stat().st_size for p in everything)}


def image_blobs(pushed: Pushed) -> dict[str, int]:
    """Digest -> size of the blobs a pull of the image fetches: its config and its layers."""
    return {pushed.config.digest: pushed.config.size, **{b.digest: b.size for b in pushed.layers}}


def describe(pushed: Pushed) -> dict:
    """What the registry holds for one image: its manifest, config and layer blobs (digest, bytes)."""
    return {"ref": pushed.ref, "manifest": [pushed.manifest_digest, pushed.manifest_bytes],
            "config": [pushed.config.digest, pushed.config.size], "layers": [[b.digest, b.size] for b in pushed.layers]}


def counted(requests: list[Request]) -> dict:
    """The figures of one counted pull, from the proxy's requests."""
    ok = [r for r in requests if r.method == "GET" and 200 <= r.status < 300]
    blobs = [r for r in ok if r.kind == "blob"]
    manifests = [r for r in ok if r.kind == "manifest"]
    return {
        "bytes_transferred": sum(r.body_bytes for r in requests),
        "blob_bytes": sum(r.body_bytes for r in blobs),
        "manifest_bytes": sum(r.body_bytes for r in manifests),
        "blobs_transferred": len(blobs),
        "blob_digests": sorted({r.digest for r in blobs}),
        "requests": len(requests),
        "failed_requests": sum(1 for r in requests if r.status >= 400 and r.kind != "other"),
    }


def expected(scenario: PullScenario, pushed: dict[str, Pushed]) -> dict:
    """What the blob-digest rule predicts for the scenario, and the bytes if nothing were shared."""
    have: dict[str, int] = {}
    for key in scenario.have:
        have.update(image_blobs(pushed[key]))
    want: dict[str, int] = {}
    for key in scenario.want:
        want.update(image_blobs(pushed[key]))
    manifests = sum(pushed[k].manifest_bytes for k in scenario.want)
    new = {d: s for d, s in want.items() if d not in have}
    return {
        "bytes_if_nothing_shared": manifests + sum(sum(image_blobs(pushed[k]).values()) for k in scenario.want),
        "bytes_by_digest_rule": manifests + sum(new.values()),
        "blobs_by_digest_rule": len(new),
    }


def run_scenario(proxy: CountingProxy, pushed: dict[str, Pushed], scenario: PullScenario, *, timeout: float = 1200) -> dict:
    """One scenario on a new private containerd: pull ``have`` (not counted), then ``want`` (counted)."""
    def ref(key: str) -> str:
        p = pushed[key]
        return f"{proxy.host}/{p.repository}:{p.tag}"

    start = time.monotonic()
    with Containerd.start() as node:
        for key in scenario.have:
            node.pull(ref(key), timeout=timeout)
        proxy.take()
        for key in scenario.want:
            node.pull(ref(key), timeout=timeout)
        got = counted(proxy.take())
    if got["failed_requests"]:
        raise DciError(f"pull scenario {scenario.id}", f"{got['failed_requests']} registry requests failed during the counted pulls",
                       "see the registry's log; the pushed images may be incomplete (run again)")
    return {**got, **expected(scenario, pushed), "seconds": round(time.monotonic() - start, 1)}


def _measure_set(api: docker.APIClient, name: str, refs: dict[str, str], keys: list[str], scenarios: Sequence[PullScenario],
                 work: Path) -> tuple[dict, dict[str, dict]]:
    """Push ``keys`` of one set to a fresh registry; its storage and every scenario's pull figures."""
    ui.step(f"Pulls, {SET_TITLES.get(name, name)}: {len(keys)} images to a fresh registry, {len(scenarios)} scenarios")
    root = work / name
    with LocalRegistry.start(root / "registry", log_dir=root, fresh=True) as reg:
        pushed: dict[str, Pushed] = {}
        for key in keys:
            pushed[key] = reg.push(api, refs[key])
            ui.detail(f"pushed {refs[key]} ({pushed[key].pushed_layers} of {len(pushed[key].layers)} layers uploaded)")
        storage = {**storage_bytes(root / "registry" / "storage"), "images": len(keys),
                   "pushed": {k: describe(p) for k, p in pushed.items()}}
        results: dict[str, dict] = {}
        with CountingProxy.start(reg.port) as proxy:
            for sc in scenarios:
                results[sc.id] = run_scenario(proxy, pushed, sc)
                r = results[sc.id]
                ui.detail(f"{sc.id}: {r['bytes_transferred'] / 1e6:.1f} MB in {r['blobs_transferred']} blobs "
                          f"(nothing shared: {r['bytes_if_nothing_shared'] / 1e6:.1f} MB) in {r['seconds']:.1f} s")
    return storage, results


def measure(api: docker.APIClient, settings: Settings, before: dict[str, str], after: dict[str, str],
            scenarios: Sequence[PullScenario] | None = None) -> dict:
    """The report's ``pulls`` section.

    ``before`` and ``after``: image key -> local image reference of the two builds (classic and
    reproducible) of the same images; ``scenarios``: the catalog's (:meth:`Catalog.pull_scenarios`)
    when None. A scenario naming a key missing from either set is left out (listed in ``skipped``).
    """
    t0 = time.monotonic()
    scenarios = list(CATALOG.pull_scenarios() if scenarios is None else scenarios)
    runnable = [sc for sc in scenarios if all(k in before and k in after for k in (*sc.have, *sc.want))]
    skipped = [{"id": sc.id, "missing": sorted({k for k in (*sc.have, *sc.want) if k not in before or k not in after})}
               for sc in scenarios if sc not in runnable]
    if not runnable:
        raise DciError("pull scenarios", "none has all its images in both sets "
                       f"(before: {len(before)} images, after: {len(after)}; skipped: {', '.join(s['id'] for s in skipped) or 'none given'})",
                       "build the images of the scenarios both ways first, or run the report without --pulls")
    keys = list(dict.fromkeys(k for sc in runnable for k in (*sc.have, *sc.want)))
    settings.workspace.tmp.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="pulls-", dir=settings.workspace.tmp))
    try:
        figures = {name: _measure_set(api, name, refs, keys, runnable, work) for name, refs in (("before", before), ("after", after))}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rows = []
    for sc in runnable:
        b, a = figures["before"][1][sc.id], figures["after"][1][sc.id]
        rows.append({"id": sc.id, "title": sc.title, "variant": sc.variant, "have": list(sc.have), "want": list(sc.want),
                     "before": b, "after": a, "saved_bytes": b["bytes_transferred"] - a["bytes_transferred"]})
    storage = {name: figures[name][0] for name in SETS}
    storage["saved_bytes"] = storage["before"]["blob_bytes"] - storage["after"]["blob_bytes"]
    return {
        "sets": dict(SET_TITLES),
        "method": "each set pushed to its own fresh local registry; every scenario on a new private containerd "
                  "(content store keyed by blob digest); bytes are response bodies counted by a proxy between ctr and the registry",
        "images": {name: {k: refs[k] for k in keys} for name, refs in (("before", before), ("after", after))},
        "scenarios": rows,
        "registry_storage": storage,
        "skipped": skipped,
        "seconds": round(time.monotonic() - t0, 1),
    }
