"""`invoke report`: sizes, layer sharing, startup and build cost of the variants, side by side.

Everything in the report is measured on this machine in this run (or read from the records the
build wrote); nothing is typed in. Steps (each can be turned off, see ``ReportOptions``):

1. warm ``build-all`` (timed; also makes sure the images are those of the current code);
2. uncompressed sizes per image and layer from the daemon (``sizes.py``);
3. compressed sizes: push to a local registry, read the manifests (``registry.py``);
4. startup inside running containers (``startup.py``);
5. build/report/report.json, report.md and PNG charts; the headline table in the terminal and
   in README.md (between the ``report:latest`` markers).
"""

from __future__ import annotations

import fnmatch
import json
import os
import platform
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import docker.errors

from crossgen import dockerio
from crossgen.report import sizes
from crossgen.report import startup
from crossgen.core import ui
from crossgen.core.files import atomic_write_text
from crossgen.core.errors import DciError
from crossgen.core.settings import Settings
from crossgen.images.catalog import CATALOG

SCHEMA_VERSION = 1
INSPECT_LIMIT = 200_000_000   # stream images to compare two same-source layers only below this layer size
COLD_PREFIX = "dci-report-cold/"
EXCLUDED_KEYS = ("os", "crossgen2")   # the OS base and the compiler image are not part of the experiment
README_BEGIN = "<!-- report:latest:begin (written by `invoke report`; do not edit by hand) -->"
README_END = "<!-- report:latest:end -->"

@dataclass
class ReportOptions:
    runs: int = 10
    registry: bool = True
    startup: bool = True
    warm_build: bool = True
    images: tuple[str, ...] = ()          # fnmatch patterns on image keys; empty = all
    fresh_registry: bool = False
    readme: bool = True
    charts: bool = True
    inspect_layers: bool = True           # stream two same-source layers to say how they differ
    cold_build: bool = False              # time a cold build-all into a scratch prefix and build folder (minutes)
    seed: int = 20201


@dataclass
class Timer:
    seconds: dict[str, float] = field(default_factory=dict)

    def add(self, name: str, start: float) -> None:
        self.seconds[name] = round(time.monotonic() - start, 1)


# --- inputs ----------------------------------------------------------------------------


def load_build_record(settings: Settings) -> dict:
    path = settings.build_dir / "build-all.json"
    if not path.is_file():
        raise DciError(str(path), "no build record", "run `invoke build-all` first")
    return json.loads(path.read_text())


def classify_build(record: dict) -> str:
    """cold: every bubble compiled and every image built; warm: nothing compiled or built; else partial."""
    imgs = [i for i in record.get("images", []) if i.get("key") != "os"]
    bubbles = list((record.get("bubbles") or {}).values())
    built = [i for i in imgs if not i.get("skipped")]
    compiled = [b for b in bubbles if not b.get("reused")]
    if imgs and len(built) == len(imgs) and len(compiled) == len(bubbles):
        return "cold"
    if not built and not compiled:
        return "warm"
    return "partial"


def build_summary(record: dict) -> dict:
    imgs = [i for i in record.get("images", []) if i.get("key") != "os"]
    bubbles = record.get("bubbles") or {}
    return {
        "finished_at": record.get("finished_at"),
        "seconds": record.get("seconds"),
        "kind": classify_build(record),
        "dotnet_version": record.get("dotnet_version"),
        "images_built": sum(1 for i in imgs if not i.get("skipped")),
        "images_up_to_date": sum(1 for i in imgs if i.get("skipped")),
        "image_build_seconds": round(sum(float(i.get("seconds") or 0) for i in imgs if not i.get("skipped")), 1),
        "bubbles_compiled": sorted(n for n, b in bubbles.items() if not b.get("reused")),
        "bubbles_reused": sorted(n for n, b in bubbles.items() if b.get("reused")),
    }


def update_build_history(settings: Settings, record: dict | None = None, *, summary: dict | None = None) -> list[dict]:
    """Keep every build-all record the report has seen (build-all.json only holds the last one), and the
    cold builds it measured itself (``summary``)."""
    path = settings.build_dir / "report" / "build-history.json"
    history: list[dict] = []
    if path.is_file():
        try:
            history = list(json.loads(path.read_text()))
        except (ValueError, TypeError):
            history = []
    summary = summary or build_summary(record or {})
    if summary["finished_at"] and all(h.get("finished_at") != summary["finished_at"] for h in history):
        history.append(summary)
    atomic_write_text(path, json.dumps(history, indent=1))
    return history


def cold_build(api: docker.APIClient, settings: Settings) -> dict:
    """Time a build-all with nothing built: images under COLD_PREFIX, a scratch build folder (Crossgen2
    outputs, published samples); the download cache is shared. Removes what it built afterwards."""
    from crossgen import pipeline
    from crossgen.acquire.cache import Cache
    from crossgen.acquire.http import new_session

    scratch = settings.build_dir / "report" / "cold-build"
    if scratch.exists():
        shutil.rmtree(scratch)
    cold = settings.with_overrides(image_prefix=COLD_PREFIX, build_dir=scratch)
    _remove_cold_images(api)
    try:
        pipeline.build_variants(api, cold, new_session(), Cache(cold.cache_dir))
        return build_summary(json.loads((scratch / "build-all.json").read_text())) | {"build_dir": str(scratch), "image_prefix": COLD_PREFIX}
    finally:
        _remove_cold_images(api)
        shutil.rmtree(scratch, ignore_errors=True)


def _remove_cold_images(api: docker.APIClient) -> None:
    mine = [i for i in api.images() if any(t.startswith(COLD_PREFIX) for t in (i.get("RepoTags") or []))]
    for img in sorted(mine, key=lambda i: i["Created"], reverse=True):
        for tag in img.get("RepoTags") or []:
            if tag.startswith(COLD_PREFIX):
                try:
                    api.remove_image(tag)
                except docker.errors.APIError as exc:
                    ui.detail(f"could not remove {tag}: {str(exc)[:100]}")


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
    try:
        docker_version = api.version().get("Version", "")
    except docker.errors.APIError:
        docker_version = ""
    return {"cores": os.cpu_count(), "memory_bytes": mem, "cpu_model": cpu, "kernel": platform.release(),
            "docker_version": docker_version}


def base_os(api: docker.APIClient, ref: str) -> str:
    """PRETTY_NAME from /etc/os-release of an image (read by running it)."""
    res = dockerio.run(api, ref, ["cat", "/etc/os-release"], timeout=60)
    m = re.search(r'^PRETTY_NAME="?([^"\n]*)"?', res.output, re.M)
    return m.group(1) if m else ""


# --- measurements ------------------------------------------------------------------------


def measure_sizes(api: docker.APIClient, images: list[dict]) -> dict[str, sizes.ImageSizes]:
    return {i["key"]: sizes.image_sizes(api, i["ref"], i["key"]) for i in images}


def measure_compressed(api: docker.APIClient, settings: Settings, images: list[dict], measured: dict[str, sizes.ImageSizes],
                       *, fresh: bool = False) -> dict:
    """Push every image to a local registry and attach the manifests' blob sizes; returns push facts."""
    from crossgen.report.registry import LocalRegistry

    pushes = []
    storage = settings.build_dir / "registry" / "storage"
    reused = not fresh and storage.is_dir() and any(storage.iterdir())
    start = time.monotonic()
    with LocalRegistry.start(settings.build_dir / "registry", log_dir=settings.build_dir / "logs", fresh=fresh) as reg:
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


def layer_category(key: str, index: int, created_by: str, owner: str) -> str:
    if index == 0:
        return "OS base (debian)"
    if owner == "runtime-deps" or "apt-get" in created_by:
        return "runtime-deps packages"
    if owner.startswith("sample-"):
        return "self-contained app" if not owner.endswith("no-composite") else "app (framework-dependent)"
    if owner.startswith("sdk-"):
        return "SDK"
    if owner == "aspnet-composite":
        return ".NET runtime + ASP.NET Core"
    if owner.startswith("aspnet-"):
        return "ASP.NET Core"
    if owner.startswith("runtime-"):
        return ".NET runtime"
    return "other"


def images_section(measured: dict[str, sizes.ImageSizes], images: list[dict], pushes: dict[str, dict]) -> list[dict]:
    # owner of a layer = the image with the fewest layers that holds its ChainID
    owner: dict[str, str] = {}
    for key in sorted(measured, key=lambda k: len(measured[k].layers)):
        for layer in measured[key].layers:
            owner.setdefault(layer.chain_id, key)
    out = []
    for img in images:
        m = measured[img["key"]]
        out.append({
            "key": m.key, "ref": m.ref, "image_id": m.image_id,
            "variants": list(CATALOG.variants_of_image(m.key)),
            "uncompressed_bytes": m.size,
            "compressed_bytes": m.compressed,
            "config_bytes": m.config_size,
            "manifest_digest": m.manifest_digest,
            "push_seconds": (pushes.get(m.key) or {}).get("seconds"),
            "layers": [{
                "index": l.index, "diff_id": l.diff_id, "chain_id": l.chain_id,
                "uncompressed_bytes": l.size, "blob_digest": l.blob_digest, "compressed_bytes": l.blob_size,
                "created_by": l.created_by[:200],
                "category": layer_category(m.key, l.index, l.created_by, owner.get(l.chain_id, m.key)),
                "owner": owner.get(l.chain_id, m.key),
            } for l in m.layers],
        })
    return out


def _ratio(value: float | int | None, base: float | int | None) -> float | None:
    if value is None or not base:
        return None
    return round(value / base, 4)


def scenarios_section(measured: dict[str, sizes.ImageSizes]) -> tuple[list[dict], list[dict]]:
    scen = []
    for sc in sizes.default_scenarios():
        per = {}
        for v, keys in sc.images.items():
            per[str(v)] = sizes.figures(measured, keys)
        base = per.get("1", {})
        for v, fig in per.items():
            if sc.compare and not fig.get("missing") and not base.get("missing"):
                fig["ratio_disk"] = _ratio(fig.get("disk_bytes"), base.get("disk_bytes"))
                fig["ratio_pull"] = _ratio(fig.get("pull_bytes"), base.get("pull_bytes"))
        scen.append({"id": sc.id, "title": sc.title, "compare": sc.compare, "variants": per})
    across = [{"id": i, "title": t, **sizes.figures(measured, keys)} for i, t, keys in sizes.across_variants()]
    return scen, across


def run_startup(api: docker.APIClient, settings: Settings, images: list[dict], runs: int, seed: int) -> dict:
    from crossgen.compile.samples import publish

    refs = {i["key"]: i["ref"] for i in images}
    targets = [t for t in startup.default_targets() if t.image_key in refs]
    if not targets:
        return {"skipped": "none of the startup images is selected"}
    apps = {name: publish(settings, name) for name in dict.fromkeys(t.sample for t in targets)}
    load_before = startup.machine_load()
    start = time.monotonic()
    runs_out, summaries = startup.measure(api, targets, refs, apps, runs=runs, seed=seed)
    return {
        "runs_per_pair": runs, "warmup_rounds": 1, "seed": seed,
        "modes": {m: env for m, env in startup.MODES.items()},
        "measure": {"console": "startup-ms: DCI_START_NS (date +%s%N right before exec) to the end of Main",
                    "web": "first-request-ms: DCI_START_NS to the first GET / answered "
                           f"(host polls with back-off, at most every {startup.POLL_MAX_S * 1000:.0f} ms)"},
        "seconds": round(time.monotonic() - start, 1),
        "load_before": load_before, "load_after": startup.machine_load(),
        "summaries": [s.to_dict() for s in summaries],
        "runs": [r.to_dict() for r in runs_out],
    }


# --- verdicts --------------------------------------------------------------------------


def _verdict(variant: int, measure: str, subject: str, rule: str, value, base, unit: str, *, clear: bool | None = None,
             extra: str = "") -> dict:
    ratio = _ratio(value, base)
    beats = None if ratio is None else ratio < 1.0
    if ratio is None:
        text = f"{subject}: not measured"
    else:
        word = "beats" if beats else ("ties with" if ratio == 1.0 else "does NOT beat")
        text = f"{subject}: {fmt_value(value, unit)} vs {fmt_value(base, unit)} -> {word} the baseline (ratio {ratio:.3f})"
        if clear is not None and ratio != 1.0:
            text += "; the min-max spreads do not overlap" if clear else "; the min-max spreads overlap (not a clear difference)"
    if extra:
        text += f" {extra}"
    return {"variant": variant, "measure": measure, "subject": subject, "rule": rule, "value": value, "baseline": base,
            "ratio": ratio, "beats": beats, "clear": clear, "statement": text}


def fmt_value(v, unit: str) -> str:
    if v is None:
        return "n/a"
    if unit == "bytes":
        return f"{v / 1e6:.1f} MB"
    return f"{v:.1f} ms"


def verdicts(report: dict) -> list[dict]:
    imgs = {i["key"]: i for i in report["images"]}
    out: list[dict] = []
    baseline_roles = CATALOG.compared_roles(CATALOG.baseline)
    for v in (x.number for x in CATALOG.variants if not x.baseline):
        for role, key in CATALOG.compared_roles(CATALOG.variant(v)).items():
            base_key = baseline_roles.get(role)
            if key not in imgs or base_key not in imgs:
                continue
            a, b = imgs[key], imgs[base_key]
            out.append(_verdict(v, "uncompressed", f"{role} image", "daemon image size", a["uncompressed_bytes"], b["uncompressed_bytes"], "bytes"))
            if a["compressed_bytes"] is not None and b["compressed_bytes"] is not None:
                out.append(_verdict(v, "compressed", f"{role} image", "sum of manifest layer sizes", a["compressed_bytes"], b["compressed_bytes"], "bytes"))
        for sc in report["scenarios"]:
            if not sc["compare"] or str(v) not in sc["variants"]:
                continue
            fig, base = sc["variants"][str(v)], sc["variants"].get("1", {})
            if fig.get("missing") or base.get("missing"):
                continue
            out.append(_verdict(v, "disk", sc["title"], sizes.RULE_DISK, fig["disk_bytes"], base["disk_bytes"], "bytes"))
            if fig.get("pull_bytes") is not None and base.get("pull_bytes") is not None:
                out.append(_verdict(v, "pull", sc["title"], sizes.RULE_PULL, fig["pull_bytes"], base["pull_bytes"], "bytes"))
        for s in (report.get("startup") or {}).get("summaries", []):
            if v not in s["variants"]:
                continue
            base = next((b for b in report["startup"]["summaries"]
                         if b["sample"] == s["sample"] and b["mode"] == s["mode"] and 1 in b["variants"]), None)
            if not base or s["median_ms"] is None or base["median_ms"] is None:
                continue
            clear = (s["max_ms"] < base["min_ms"]) if s["median_ms"] < base["median_ms"] else (s["min_ms"] > base["max_ms"])
            label = f"{s['sample']}: " + ("console startup" if s.get("kind") == "console" else "web first request")
            mode = "" if s["mode"] == "default" else " with DOTNET_ReadyToRun=0"
            jit = f"(JIT methods {s['jit_median']:.0f} vs {base['jit_median']:.0f})" if s["jit_median"] is not None and base["jit_median"] is not None else ""
            out.append(_verdict(v, "startup" if s["mode"] == "default" else "startup-r2r-off", f"{label}{mode} ({s['image_key']})",
                                "median of runs", s["median_ms"], base["median_ms"], "ms", clear=clear, extra=jit))
    return out


def layer_identity(measured: dict[str, sizes.ImageSizes]) -> list[dict]:
    """Layers made by the same build step from the same source (docker's ``COPY dir:<content hash>``) with the
    same size that still got different DiffIDs: neither rule can share them."""
    groups: dict[tuple[str, int], list[tuple[str, sizes.Layer]]] = {}
    for key, img in measured.items():
        for layer in img.layers[1:]:
            if " COPY " in layer.created_by and layer.size > 0:
                groups.setdefault((layer.created_by, layer.size), []).append((key, layer))
    out = []
    for (created_by, size), members in groups.items():
        by_diff: dict[str, list[str]] = {}
        blobs: dict[str, int | None] = {}
        for key, layer in members:
            by_diff.setdefault(layer.diff_id, []).append(key)
            blobs.setdefault(layer.diff_id, layer.blob_size)
        if len(by_diff) < 2:
            continue
        compressed = [b for b in blobs.values() if b is not None]
        out.append({
            "created_by": created_by[:160], "uncompressed_bytes": size, "diff_ids": len(by_diff),
            "images": {d: keys for d, keys in by_diff.items()},
            "pull_bytes_lost": (sum(compressed) - max(compressed)) if len(compressed) == len(blobs) else None,
        })
    return sorted(out, key=lambda g: g["uncompressed_bytes"])


def explain_layer_difference(api: docker.APIClient, measured: dict[str, sizes.ImageSizes], group: dict) -> dict:
    """Compare the tar headers of two layers of a ``layer_identity`` group (the image tars are streamed)."""
    (d1, keys1), (d2, keys2) = list(group["images"].items())[:2]
    k1 = min(keys1, key=lambda k: measured[k].size)  # stream the smallest image that holds the layer
    k2 = min(keys2, key=lambda k: measured[k].size)
    a = sizes.layer_entries(api, measured[k1].ref, d1)
    b = sizes.layer_entries(api, measured[k2].ref, d2)
    diff = sizes.entry_differences(a, b)
    return {"first": k1, "second": k2, "created_by": group["created_by"], **diff}


def _ms_per_jit_method(summaries: list[dict], sample: str) -> float | None:
    """What one JIT-compiled method costs on the baseline: (r2r-off - default) / (their JIT count difference)."""
    base = {s["mode"]: s for s in summaries if s["sample"] == sample and 1 in s["variants"]}
    d, off = base.get("default"), base.get("r2r-off")
    if not d or not off or None in (d["median_ms"], off["median_ms"], d["jit_median"], off["jit_median"]):
        return None
    if off["jit_median"] <= d["jit_median"]:
        return None
    return (off["median_ms"] - d["median_ms"]) / (off["jit_median"] - d["jit_median"])


def notes(report: dict) -> list[str]:
    """Measured explanations where a composite variant does not beat the baseline, and what would change it."""
    out: list[str] = []
    bubbles = (report.get("build") or {}).get("bubbles") or {}
    verdicts_ = report["verdicts"]
    lost = {(d["variant"], d["measure"]) for d in verdicts_ if d["beats"] is False}
    mbs = lambda b: f"{b / 1e6:.1f} MB"  # noqa: E731
    if any(m in ("uncompressed", "compressed") for _, m in lost):
        rows = {name: b for name, b in sorted(bubbles.items()) if b.get("input_bytes") and b.get("output_bytes")}
        parts = [f"{name} {mbs(b['input_bytes'])} -> {mbs(b['output_bytes'])} (composite {mbs(b['composite']['size'])}, "
                 f"x{b['output_bytes'] / b['input_bytes']:.2f})" for name, b in rows.items()]
        grown = [name for name, b in rows.items() if b["output_bytes"] > b["input_bytes"]]
        losers = sorted({f"v{v}" for v, m in lost if m in ("uncompressed", "compressed")})
        text = (f"Image sizes ({', '.join(losers)} larger than the baseline somewhere): Crossgen2's output per bubble "
                "(inputs -> composite + component assemblies): " + "; ".join(parts) + ". ")
        if grown:
            text += (f"The output outweighs the input for {', '.join(grown)}: the input assemblies already carry per-assembly "
                     "ReadyToRun code and the component assemblies keep their IL and metadata, so an image only gets smaller "
                     "when the composite's native code is smaller than the R2R code it replaces. What would change it: less "
                     "native code in the composite (fewer methods compiled, e.g. only the profiled ones: Crossgen2 --partial "
                     "with the MIBC profile); measure such a bubble before adopting it, since methods left out are "
                     "JIT-compiled at startup.")
        else:
            text += ("Every bubble's output is smaller than its input, so the larger images carry more than the compiled "
                     "framework (see the per-layer table): e.g. a self-contained app brings its own runtime.")
        out.append(text)
    for sc in report["scenarios"]:
        if not sc["compare"]:
            continue
        base = sc["variants"].get("1") or {}
        for v, fig in sc["variants"].items():
            if v == "1" or fig.get("missing") or base.get("missing") or len(fig["images"]) < 2 or (int(v), "disk") not in lost:
                continue
            shared = fig["sum_uncompressed_bytes"] - fig["disk_bytes"]
            shared_base = base["sum_uncompressed_bytes"] - base["disk_bytes"]
            if shared < shared_base * 0.9:
                apps = all(k.startswith("sample-") for k in fig["images"])
                fix = ("framework-dependent apps on one shared runtime image (the baseline's way) share the runtime; "
                       "self-contained apps each carry their own" if apps else
                       "build the aspnet image FROM the variant's runtime image (as variants 2 and 4 do)")
                out.append(
                    f"{sc['title']}, variant {v}: its images share {mbs(shared)} on disk (the baseline's: {mbs(shared_base)}), because "
                    f"they do not stand on one another ({', '.join(fig['images'])}): only the layers below the point where their "
                    f"chains part are stored once. What would change it: {fix}.")
    ident = report.get("layer_identity") or []
    if ident:
        worst = max(ident, key=lambda g: g["uncompressed_bytes"] * (g["diff_ids"] - 1))
        lost_pull = sum(g["pull_bytes_lost"] or 0 for g in ident)
        text = (f"{len(ident)} build steps copy the same source (same docker content hash, same size) into several images but got "
                f"different DiffIDs, e.g. {worst['created_by'][:70]}... ({mbs(worst['uncompressed_bytes'])}, {worst['diff_ids']} DiffIDs). "
                "A pull cannot share them either")
        text += f": pulling every image transfers {mbs(lost_pull)} of compressed blobs more than identical layers would." if lost_pull else "."
        ex = report.get("layer_difference")
        if ex:
            fields = sorted({f for fs in ex["changed"].values() for f in fs})
            text += (f" The tars of {ex['first']} and {ex['second']} hold the same {ex['entries'][0]} entries; "
                     f"{len(ex['changed'])} differ, only in {', '.join(fields) or 'nothing'}: {', '.join(list(ex['changed'])[:6])}. ")
            if set(fields) <= {"mtime"}:
                text += ("What would change it: fixed directory mtimes in the staged contexts and in the parent folders the "
                         "layers add to; a pull would then transfer each of these layers once (on disk they still count once per chain).")
        out.append(text)
    st = report.get("startup") or {}
    for smp in CATALOG.samples:
        sample = smp.name
        label = f"{sample}: " + ("console startup" if smp.kind == "console" else "web first request")
        summaries = st.get("summaries") or []
        base = next((x for x in summaries if x["sample"] == sample and x["mode"] == "default" and 1 in x["variants"]), None)
        if not base or base["median_ms"] is None:
            continue
        per_ms = _ms_per_jit_method(summaries, sample)
        unresolved, slower = [], []
        for d in verdicts_:
            if d["measure"] != "startup" or not d["subject"].lower().startswith(label.lower()) or (d["beats"] and d["clear"]):
                continue
            x = next((y for y in summaries if y["sample"] == sample and y["mode"] == "default" and d["variant"] in y["variants"]), None)
            if not x or x["median_ms"] is None or x["jit_median"] is None or base["jit_median"] is None:
                continue
            saved = base["jit_median"] - x["jit_median"]
            worth = f", ~{saved * per_ms:.0f} ms" if per_ms else ""
            jit = f"{saved:.0f} fewer JIT methods" if saved >= 0 else f"{-saved:.0f} more JIT methods"
            unresolved.append(f"v{d['variant']} {x['median_ms']:.0f} ms ({x['min_ms']:.0f}-{x['max_ms']:.0f}; {jit}{worth})")
            if not d["beats"]:
                slower.append(f"v{d['variant']}")
        if not unresolved:
            continue
        text = (f"{label}: not clear of the baseline's {base['median_ms']:.0f} ms ({base['min_ms']:.0f}-{base['max_ms']:.0f} ms, "
                f"{base['jit_median']:.0f} JIT methods): " + "; ".join(unresolved) + ". ")
        if per_ms:
            text += (f"A JIT-compiled method costs the baseline about {per_ms:.3f} ms (its DOTNET_ReadyToRun=0 runs against its "
                     "default runs), so the JIT work a composite saves over a framework that is already ReadyToRun-compiled is "
                     "worth the few ms shown, less than the spread between runs. ")
        if slower:
            text += (f"Where the median is slower ({', '.join(slower)}), the cost lies outside the JIT (loading and mapping the "
                     "composite image is the first suspect; this report does not trace it). ")
        text += ("What would change it: more runs on a quiet machine resolve differences smaller than the spread; a real gain "
                 "needs fewer JIT compilations than the baseline (variant 5 compiles the app into its composite too).")
        out.append(text)
    return out


def compare_with_previous(previous: dict | None, current: dict) -> dict | None:
    """Same images, same sizes? Each startup median inside the other run's min-max spread?"""
    if not previous or previous.get("schema_version") != current.get("schema_version"):
        return None
    before = {i["key"]: i for i in previous.get("images", [])}
    sizes_ = []
    for img in current["images"]:
        old = before.get(img["key"])
        if not old:
            continue
        sizes_.append({
            "key": img["key"], "same_image": old["image_id"] == img["image_id"],
            "uncompressed_equal": old["uncompressed_bytes"] == img["uncompressed_bytes"],
            "compressed_equal": None if None in (old["compressed_bytes"], img["compressed_bytes"]) else old["compressed_bytes"] == img["compressed_bytes"],
        })
    old_st = {(s["target"], s["mode"]): s for s in (previous.get("startup") or {}).get("summaries", [])}
    startup_ = []
    for s in (current.get("startup") or {}).get("summaries", []):
        o = old_st.get((s["target"], s["mode"]))
        if not o or None in (o["median_ms"], s["median_ms"]):
            continue
        startup_.append({
            "target": s["target"], "mode": s["mode"], "median_ms": s["median_ms"], "previous_median_ms": o["median_ms"],
            "within_previous_spread": o["min_ms"] <= s["median_ms"] <= o["max_ms"],
            "previous_within_spread": s["min_ms"] <= o["median_ms"] <= s["max_ms"],
        })
    return {
        "previous_generated_at": previous.get("generated_at"),
        "sizes": sizes_,
        "sizes_identical": all(x["uncompressed_equal"] and x["compressed_equal"] is not False for x in sizes_),
        "startup": startup_,
        "startup_medians_within_spreads": all(x["within_previous_spread"] and x["previous_within_spread"] for x in startup_),
    }


def md_previous(r: dict) -> list[str]:
    c = r.get("previous_run")
    if not c:
        return ["No earlier report to compare with."]
    rebuilt = [x["key"] for x in c["sizes"] if not x["same_image"]]
    differ = [x["key"] for x in c["sizes"] if not x["uncompressed_equal"] or x["compressed_equal"] is False]
    lines = [f"Compared with the report of {c['previous_generated_at']}: sizes "
             + ("identical for all images" if c["sizes_identical"] else f"differ for {', '.join(differ)}")
             + (f" (rebuilt since: {', '.join(rebuilt)})" if rebuilt else " (same image IDs)") + "; startup medians "
             + ("each within the other run's min-max spread." if c["startup_medians_within_spreads"] else "NOT all within the other run's spread:"), ""]
    if c["startup"]:
        lines += ["| target | mode | median ms | previous median ms | inside previous spread | previous inside this spread |", "|---|---|---|---|---|---|"]
        lines += [f"| {x['target']} | {x['mode']} | {x['median_ms']:.1f} | {x['previous_median_ms']:.1f} | {x['within_previous_spread']} | "
                  f"{x['previous_within_spread']} |" for x in c["startup"]]
    return lines


# --- output: markdown ------------------------------------------------------------------


def mb(v) -> str:
    return "n/a" if v is None else f"{v / 1e6:.1f}"


def _ratio_text(r) -> str:
    return "" if r is None else f" (x{r:.3f})"


def variant_title(n: int) -> str:
    return f"{n} {CATALOG.variant(n).name}"


def md_header(r: dict) -> list[str]:
    m = r["machine"]
    return [
        f"Measured {r['generated_at']} on {m['cores']} cores, {m['memory_bytes'] / 2**30:.1f} GiB "
        f"({m['cpu_model'] or 'cpu ?'}; kernel {m['kernel']}; Docker {m['docker_version']}); "
        f".NET {r['dotnet_version']}, base OS {r['base_os']}. `invoke report` took {r['seconds']:.0f} s.",
    ]


def md_headline(r: dict) -> list[str]:
    """One row per variant: the figures a maintainer asks for first."""
    imgs = {i["key"]: i for i in r["images"]}
    scen = {s["id"]: s for s in r["scenarios"]}
    st = {(s["image_key"], s["sample"], s["mode"]): s for s in (r.get("startup") or {}).get("summaries", [])}
    rows = ["| variant | aspnet MB (uncompr.) | aspnet MB (compr.) | runtime+aspnet+sdk on disk MB (chain-id) | "
            "runtime+aspnet+sdk pull MB (blob-digest) | console startup ms (median, JIT) | web first request ms (median, JIT) |",
            "|---|---|---|---|---|---|---|"]
    console, web_sample = (next((s.name for s in CATALOG.samples if s.kind == k), "") for k in ("console", "web"))
    baseline_roles = CATALOG.compared_roles(CATALOG.baseline)
    for variant in CATALOG.variants:
        v = variant.number
        roles = CATALOG.compared_roles(variant)
        role = "aspnet" if "aspnet" in roles else f"{web_sample} app"
        asp = imgs.get(roles.get(role, ""), {})
        full = scen.get("runtime+aspnet+sdk", {}).get("variants", {}).get(str(v), {})
        hello = next((s for s in st.values() if s["sample"] == console and s["mode"] == "default" and v in s["variants"]), None)
        web = next((s for s in st.values() if s["sample"] == web_sample and s["mode"] == "default" and v in s["variants"]), None)

        def su(s):
            if not s or s["median_ms"] is None:
                return "n/a"
            return f"{s['median_ms']:.0f}{_ratio_text(s['ratio_to_baseline'])}, {s['jit_median']:.0f}"

        label = variant_title(v) + (" (apps)" if role != "aspnet" else "")
        asp_u = f"{mb(asp.get('uncompressed_bytes'))}" if asp else "n/a"
        asp_c = f"{mb(asp.get('compressed_bytes'))}" if asp else "n/a"
        if not variant.baseline and asp:
            base = imgs.get(baseline_roles.get(role, ""), {})
            asp_u += _ratio_text(_ratio(asp.get("uncompressed_bytes"), base.get("uncompressed_bytes")))
            asp_c += _ratio_text(_ratio(asp.get("compressed_bytes"), base.get("compressed_bytes")))
        disk = f"{mb(full.get('disk_bytes'))}{_ratio_text(full.get('ratio_disk'))}" if full.get("disk_bytes") else "n/a"
        pull = f"{mb(full.get('pull_bytes'))}{_ratio_text(full.get('ratio_pull'))}" if full.get("pull_bytes") else "n/a"
        rows.append(f"| {label} | {asp_u} | {asp_c} | {disk} | {pull} | {su(hello)} | {su(web)} |")
    rows.append("")
    rows.append(f"Console startup is `{console}`, web first request `{web_sample}`. An app variant's (apps) aspnet columns are "
                f"its `{web_sample}` app image vs the framework-dependent one on the baseline; ratios (xN) are to variant 1; "
                "below 1 is better.")
    return rows


def md_scenario_grid(r: dict) -> list[str]:
    """Scenario x variant: on disk (chain-id) / pulled (blob-digest), MB and ratio to variant 1."""
    vs = tuple(str(v.number) for v in CATALOG.variants)
    rows = ["| scenario: disk MB (chain-id) / pull MB (blob-digest) | " + " | ".join(variant_title(int(v)) for v in vs) + " |",
            "|---|" + "---|" * len(vs)]
    for sc in r["scenarios"]:
        cells = []
        for v in vs:
            f = sc["variants"].get(v)
            if not f or f.get("missing"):
                cells.append("")
                continue
            ratio = f" (x{f['ratio_disk']:.2f} / x{f['ratio_pull']:.2f})" if v != "1" and f.get("ratio_disk") and f.get("ratio_pull") else ""
            cells.append(f"{mb(f['disk_bytes'])} / {mb(f['pull_bytes'])}{ratio}")
        rows.append(f"| {sc['title']} | " + " | ".join(cells) + " |")
    return rows


def md_startup_grid(r: dict) -> list[str]:
    st = (r.get("startup") or {}).get("summaries") or []
    if not st:
        return []
    cols = [(s.name, mode, s.name + ("" if mode == "default" else ", R2R=0")) for s in CATALOG.samples for mode in ("default", "r2r-off")]
    rows = ["| variant | " + " | ".join(f"{c} ms (median, ratio, JIT)" for _, _, c in cols) + " |", "|---|" + "---|" * len(cols)]
    for v in (x.number for x in CATALOG.variants):
        cells = []
        for sample, mode, _ in cols:
            s = next((x for x in st if x["sample"] == sample and x["mode"] == mode and v in x["variants"]), None)
            if not s or s["median_ms"] is None:
                cells.append("")
                continue
            cells.append(f"{s['median_ms']:.0f} ({s['min_ms']:.0f}-{s['max_ms']:.0f}), x{s['ratio_to_baseline']:.2f}, {s['jit_median']:.0f}")
        rows.append(f"| {variant_title(v)} | " + " | ".join(cells) + " |")
    return rows


def md_build_compact(r: dict) -> list[str]:
    b = r["build"]
    parts = [f"{n} {x.get('seconds')} s / {mb(x.get('peak_memory_bytes'))} MB" for n, x in sorted(b["bubbles"].items())]
    line = "Crossgen2 per bubble (wall / peak memory): " + "; ".join(parts) + "."
    kinds = []
    cm = b.get("cold_measured") or b.get("cold")
    if cm:
        kinds.append(f"cold build-all {cm['seconds']} s ({cm['finished_at']})")
    if b.get("warm_measured_seconds") is not None:
        kinds.append(f"warm build-all {b['warm_measured_seconds']} s")
    elif b.get("warm"):
        kinds.append(f"warm build-all {b['warm']['seconds']} s ({b['warm']['finished_at']})")
    return [line + (" " + ", ".join(kinds) + "." if kinds else "")]


def md_images(r: dict) -> list[str]:
    rows = ["| image | variants | uncompressed MB | compressed MB | layers | push s |", "|---|---|---|---|---|---|"]
    for i in r["images"]:
        rows.append(f"| `{i['ref']}` | {','.join(map(str, i['variants']))} | {mb(i['uncompressed_bytes'])} | "
                    f"{mb(i['compressed_bytes'])} | {len(i['layers'])} | {i['push_seconds'] if i['push_seconds'] is not None else 'n/a'} |")
    return rows


def md_layers(r: dict) -> list[str]:
    rows = ["| image | # | what | uncompressed MB | compressed MB | DiffID | ChainID | blob digest |", "|---|---|---|---|---|---|---|---|"]
    for i in r["images"]:
        for l in i["layers"]:
            rows.append(f"| {i['key']} | {l['index']} | {l['category']} | {mb(l['uncompressed_bytes'])} | {mb(l['compressed_bytes'])} | "
                        f"`{l['diff_id'][7:19]}` | `{l['chain_id'][7:19]}` | `{(l['blob_digest'] or 'sha256:n/a')[7:19]}` |")
    return rows


def md_scenarios(r: dict) -> list[str]:
    rows = ["| scenario | variant | images | on disk MB (chain-id) | pull MB (blob-digest) | naive sum MB (uncompr. / compr.) |",
            "|---|---|---|---|---|---|"]
    for sc in r["scenarios"]:
        for v, fig in sc["variants"].items():
            if fig.get("missing"):
                rows.append(f"| {sc['title']} | {variant_title(int(v))} | missing: {', '.join(fig['missing'])} | | | |")
                continue
            rows.append(f"| {sc['title']} | {variant_title(int(v))} | {', '.join(fig['images'])} | "
                        f"{mb(fig['disk_bytes'])}{_ratio_text(fig.get('ratio_disk'))} | {mb(fig['pull_bytes'])}{_ratio_text(fig.get('ratio_pull'))} | "
                        f"{mb(fig['sum_uncompressed_bytes'])} / {mb(fig['sum_compressed_bytes'])} |")
    rows += ["", "| across variants | images | on disk MB (chain-id) | pull MB (blob-digest) | distinct DiffIDs MB | naive sum MB |", "|---|---|---|---|---|---|"]
    for a in r["across_variants"]:
        if a.get("missing"):
            rows.append(f"| {a['title']} | missing: {', '.join(a['missing'])} | | | | |")
            continue
        rows.append(f"| {a['title']} | {len(a['images'])} | {mb(a['disk_bytes'])} | {mb(a['pull_bytes'])} | "
                    f"{mb(a['distinct_diff_id_bytes'])} | {mb(a['sum_uncompressed_bytes'])} |")
    return rows


def busy(r: dict) -> bool:
    """More than half the cores were busy (1-minute load average) when the startup runs began."""
    st = r.get("startup") or {}
    cores = (r.get("machine") or {}).get("cores") or 1
    return bool(st.get("load_before")) and st["load_before"][0] > 0.5 * cores


def md_startup(r: dict) -> list[str]:
    st = r.get("startup") or {}
    if not st.get("summaries"):
        return [f"Not measured ({st.get('skipped', 'skipped')})."]
    rows = [f"{st['runs_per_pair']} runs per image and mode after {st['warmup_rounds']} warm-up round, interleaved "
            f"(seed {st['seed']}); load average before/after: {st['load_before']} / {st['load_after']}. "
            f"Console: {st['measure']['hello']}. Web: {st['measure']['web']}."
            + (f" **The machine was busy** (load average {st['load_before'][0]} on {r['machine']['cores']} cores at the start): "
               "absolute times are inflated; the interleaved ratios suffer less." if busy(r) else ""), "",
            "| sample | mode | variant(s) | image | min ms | median ms | max ms | ratio to baseline | JIT methods (median, min-max) | failed |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for s in st["summaries"]:
        f = lambda x: "n/a" if x is None else f"{x:.1f}"  # noqa: E731
        jit = "n/a" if s["jit_median"] is None else f"{s['jit_median']:.0f} ({s['jit_min']}-{s['jit_max']})"
        ratio = "n/a" if s["ratio_to_baseline"] is None else f"{s['ratio_to_baseline']:.3f}"
        rows.append(f"| {s['sample']} | {s['mode']} | {','.join(map(str, s['variants']))} | {s['image_key']} | {f(s['min_ms'])} | "
                    f"{f(s['median_ms'])} | {f(s['max_ms'])} | {ratio} | {jit} | {s['failed']} |")
    return rows


def md_build(r: dict) -> list[str]:
    b = r["build"]
    rows = ["| bubble | Crossgen2 wall s | peak memory MB | inputs MB | outputs MB | composite MB | reused in last build |",
            "|---|---|---|---|---|---|---|"]
    for name, x in sorted(b["bubbles"].items()):
        rows.append(f"| {name} | {x.get('seconds')} | {mb(x.get('peak_memory_bytes'))} | {mb(x.get('input_bytes'))} | "
                    f"{mb(x.get('output_bytes'))} | {mb((x.get('composite') or {}).get('size'))} | {x.get('reused')} |")
    rows += ["", "| build-all | finished | seconds | images built / up to date | bubbles compiled |", "|---|---|---|---|---|"]
    names = {"cold": "latest cold one seen", "warm": "latest warm one seen", "last": "last build-all.json"}
    for label in ("cold", "warm", "last"):
        x = b.get(label)
        if not x:
            rows.append(f"| {names[label]} | not seen yet | | | |")
            continue
        where = f" ({x['image_prefix']}, scratch build folder)" if x.get("image_prefix") else ""
        rows.append(f"| {names[label]}: {x['kind']}{where} | {x['finished_at']} | {x['seconds']} | {x['images_built']} / {x['images_up_to_date']} | "
                    f"{', '.join(x['bubbles_compiled']) or '-'} |")
    rows += ["", "A cold build-all measured by `invoke report --cold-build` starts from an empty build folder and no images "
             "under its prefix; the download cache and docker's layer cache (identical build steps) are shared with the "
             "main build."]
    if b.get("warm_measured_seconds") is not None:
        rows.append("")
        rows.append(f"Warm `build-all` run by this report: {b['warm_measured_seconds']} s.")
    return rows


def markdown(r: dict) -> str:
    lines = ["# Composite ReadyToRun images: report", ""] + md_header(r) + ["", "## Headline", ""] + md_headline(r)
    lines += [""] + md_scenario_grid(r) + [""] + md_startup_grid(r) + [""] + md_build_compact(r)
    lines += ["", "## Does each composite variant beat the baseline?", ""]
    for v in (x.number for x in CATALOG.variants if not x.baseline):
        mine = [d for d in r["verdicts"] if d["variant"] == v]
        if not mine:
            continue
        won = sum(1 for d in mine if d["beats"])
        lines.append(f"**Variant {variant_title(v)}** beats the baseline on {won} of {len(mine)} measures:")
        lines.append("")
        lines += [f"- [{d['measure']}] {d['statement']}" for d in mine]
        lines.append("")
    lines += ["## Sizes per image", "", "Uncompressed: the daemon's image size (sum of its layers' file bytes). Compressed: "
              "the sum of the layer blob sizes in the manifest of a local registry the images were pushed to.", ""] + md_images(r)
    lines += ["", "## Sharing per deployment scenario", ""]
    lines += [f"- `{k}`: {v}" for k, v in r["rules"].items()]
    lines += [""] + md_scenarios(r)
    lines += ["", "## Startup", ""] + md_startup(r)
    lines += ["", "## Build cost", ""] + md_build(r)
    if r.get("registry"):
        reg = r["registry"]
        lines += ["", f"Registry: {len(reg['pushes'])} images pushed in {reg['seconds']} s, {reg['layers_uploaded']} layer blobs uploaded "
                  f"(storage {'kept from earlier runs' if reg['storage_reused'] else 'fresh'})."]
    lines += ["", "## Two runs", ""] + md_previous(r)
    lines += ["", "## Notes", ""] + [f"- {n}" for n in r["notes"]] + ["", "Timings of this run (s): " + json.dumps(r["timings"])]
    lines += ["", "## Layers", ""] + md_layers(r)
    charts = r.get("charts") or []
    if charts:
        lines += ["", "## Charts", ""] + [f"![{Path(c).stem}]({Path(c).name})" for c in charts]
    return "\n".join(lines) + "\n"


def update_readme(path: Path, r: dict) -> bool:
    """Replace the block between the report markers in README.md; False when the markers are absent."""
    if not path.is_file():
        return False
    text = path.read_text()
    if README_BEGIN not in text or README_END not in text:
        return False
    head, rest = text.split(README_BEGIN, 1)
    _, tail = rest.split(README_END, 1)
    block = "\n".join(["", *md_header(r), "", *md_headline(r), "", *md_scenario_grid(r), "", *md_startup_grid(r), "",
                       *md_build_compact(r), "",
                       "Full tables, charts, the verdict per measure and the notes: `build/report/report.md`.", ""])
    path.write_text(head + README_BEGIN + block + README_END + tail)
    return True


def print_headline(r: dict) -> None:
    from rich.table import Table

    t = Table(title=f"report: .NET {r['dotnet_version']} on {r['base_os']} ({r['machine']['cores']} cores)")
    header = md_headline(r)[0].strip("|").split("|")
    for h in header:
        t.add_column(h.strip())
    for row in md_headline(r)[2:]:
        if row.startswith("|"):
            t.add_row(*[c.strip() for c in row.strip().strip("|").split("|")])
    ui.console.print(t)


# --- the whole run -----------------------------------------------------------------------


def run(api: docker.APIClient, settings: Settings, opts: ReportOptions) -> dict:
    if opts.charts:  # fail before measuring when matplotlib is missing; without charts it is never imported
        try:
            from crossgen.report import charts as _charts  # noqa: F401
        except ImportError as exc:
            raise DciError("--charts", f"needs matplotlib, which cannot be imported ({exc})",
                           "install python3-matplotlib (scripts/bootstrap.sh does), or pass --no-charts") from None

    t0 = time.monotonic()
    timer = Timer()
    out_dir = settings.build_dir / "report"
    out_dir.mkdir(parents=True, exist_ok=True)
    record = load_build_record(settings)
    history = update_build_history(settings, record)
    cold_measured = None
    if opts.cold_build:
        ui.step(f"Cold build-all (timed) into {COLD_PREFIX} and a scratch build folder")
        start = time.monotonic()
        cold_measured = cold_build(api, settings)
        timer.add("cold_build", start)
        history = update_build_history(settings, summary=cold_measured)
    warm_seconds = None
    if opts.warm_build:
        from crossgen import pipeline
        from crossgen.acquire.cache import Cache
        from crossgen.acquire.http import new_session

        ui.step("Warm build-all (timed)")
        start = time.monotonic()
        pipeline.build_variants(api, settings, new_session(), Cache(settings.cache_dir))
        timer.add("warm_build", start)
        warm_seconds = timer.seconds["warm_build"]
        record = load_build_record(settings)
        history = update_build_history(settings, record)
    images = select_images(record, opts.images)
    missing = [i["ref"] for i in images if not dockerio.image_info(api, i["ref"])]
    if missing:
        raise DciError(", ".join(missing), "not present locally", "run `invoke build-all` (or pick others with --images)")

    ui.step(f"Sizes of {len(images)} images from the daemon")
    start = time.monotonic()
    measured = measure_sizes(api, images)
    timer.add("sizes", start)

    registry = None
    if opts.registry:
        ui.step("Compressed sizes: pushing to a local registry")
        start = time.monotonic()
        registry = measure_compressed(api, settings, images, measured, fresh=opts.fresh_registry)
        timer.add("registry", start)

    startup_section: dict[str, Any] = {"skipped": "--no-startup"}
    if opts.startup:
        ui.step(f"Startup: {opts.runs} runs per image and mode, interleaved")
        start = time.monotonic()
        startup_section = run_startup(api, settings, images, opts.runs, opts.seed)
        timer.add("startup", start)

    deps_ref = next((i["ref"] for i in record["images"] if i["key"] == "runtime-deps"), settings.base_image)
    scen, across = scenarios_section(measured)
    ident = layer_identity(measured)
    difference = None
    if ident and opts.inspect_layers and min(g["uncompressed_bytes"] for g in ident) < INSPECT_LIMIT:
        start = time.monotonic()
        small = min(ident, key=lambda g: g["uncompressed_bytes"])
        ui.step(f"Comparing two layers made from the same source ({small['uncompressed_bytes'] / 1e6:.1f} MB)")
        difference = explain_layer_difference(api, measured, small)
        timer.add("layer_difference", start)
    cold = next((h for h in reversed(history) if h["kind"] == "cold"), None)
    warm = next((h for h in reversed(history) if h["kind"] == "warm"), None)
    report: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "options": {"runs": opts.runs, "registry": opts.registry, "startup": opts.startup, "warm_build": opts.warm_build,
                    "images": list(opts.images), "fresh_registry": opts.fresh_registry, "cold_build": opts.cold_build,
                    "inspect_layers": opts.inspect_layers},
        "machine": machine_info(api),
        "dotnet_version": record.get("dotnet_version"),
        "base_os": base_os(api, deps_ref),
        "rules": dict(sizes.RULES),
        "variants": [{"number": v.number, "name": v.name, "title": v.title} for v in CATALOG.variants],
        "images": images_section(measured, images, {p["key"]: p for p in (registry or {}).get("pushes", [])}),
        "scenarios": scen,
        "across_variants": across,
        "layer_identity": ident,
        "layer_difference": difference,
        "startup": startup_section,
        "registry": registry,
        "build": {"bubbles": record.get("bubbles") or {}, "last": build_summary(record), "cold": cold, "warm": warm,
                  "warm_measured_seconds": warm_seconds, "cold_measured": cold_measured, "history": history},
    }
    report["verdicts"] = verdicts(report)
    report["notes"] = notes(report)
    if opts.charts:
        start = time.monotonic()
        from crossgen.report.charts import draw_all

        report["charts"] = [str(p) for p in draw_all(report, out_dir)]
        timer.add("charts", start)
    previous = None
    if (out_dir / "report.json").is_file():
        try:
            previous = json.loads((out_dir / "report.json").read_text())
        except ValueError:
            previous = None
    report["previous_run"] = compare_with_previous(previous, report)
    report["timings"] = timer.seconds
    report["seconds"] = round(time.monotonic() - t0, 1)
    atomic_write_text(out_dir / "report.json", json.dumps(report, indent=1))
    atomic_write_text(out_dir / "report.md", markdown(report))
    if opts.readme and update_readme(settings.project_root / "README.md", report):
        ui.detail("README.md: latest tables updated")
    return report
