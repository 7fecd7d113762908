"""Analysing the measurements against the baseline: build kinds and history, layer owners and
categories, sizes per deployment scenario, the verdict per variant and measure, the notes that explain
a loss, and the comparison with the previous run. Functions of the measured data (only the build
history is also kept in a file, build/report/build-history.json)."""

from __future__ import annotations

import json


from crossgen.core.files import atomic_write_text
from crossgen.core.settings import Settings
from crossgen.images.catalog import CATALOG, RUNTIME_DEPS
from crossgen.report import sizes


def classify_build(record: dict) -> str:
    """cold: every bubble compiled and every image built; warm: nothing compiled or built; else partial,
    as is a build of only some of build-all's images (``whole`` false; records without it are taken as whole)."""
    if not record.get("whole", True):
        return "partial"
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
    path = settings.workspace.report / "build-history.json"
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


def layer_category(index: int, created_by: str, owner: str) -> str:
    """What a layer holds, from its place, its build step and the image that owns it (catalog role)."""
    if index == 0:
        return "OS base (debian)"
    if owner == "runtime-deps" or "apt-get" in created_by:
        return "runtime-deps packages"
    img = CATALOG.images.get(owner)
    if img is None:
        return "other"
    if img.role == "app":
        if img.approach.native:
            return "native app (Native AOT)"
        return "self-contained app" if img.self_contained else "app (framework-dependent)"
    if img.role == "sdk":
        return "SDK"
    if img.role == "aspnet":
        return ".NET runtime + ASP.NET Core" if img.base == RUNTIME_DEPS else "ASP.NET Core"
    return ".NET runtime"


def images_section(measured: dict[str, sizes.ImageSizes], images: list[dict], pushes: dict[str, dict],
                   rebuilt: dict[str, dict] | None = None) -> list[dict]:
    """Per image: sizes, layers, and ``reproducible`` (built again without cache: the same image ID?
    None when not checked)."""
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
            "reproducible": (rebuilt or {}).get(m.key, {}).get("same"),
            "rebuilt_id": (rebuilt or {}).get(m.key, {}).get("rebuilt_id"),
            "layers": [{
                "index": l.index, "diff_id": l.diff_id, "chain_id": l.chain_id,
                "uncompressed_bytes": l.size, "blob_digest": l.blob_digest, "compressed_bytes": l.blob_size,
                "created_by": l.created_by[:200],
                "category": layer_category(l.index, l.created_by, owner.get(l.chain_id, m.key)),
                "owner": owner.get(l.chain_id, m.key),
            } for l in m.layers],
        })
    return out


def ratio_of(value: float | int | None, base: float | int | None) -> float | None:
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
                fig["ratio_disk"] = ratio_of(fig.get("disk_bytes"), base.get("disk_bytes"))
                fig["ratio_pull"] = ratio_of(fig.get("pull_bytes"), base.get("pull_bytes"))
        scen.append({"id": sc.id, "title": sc.title, "compare": sc.compare, "variants": per})
    across = [{"id": i, "title": t, **sizes.figures(measured, keys)} for i, t, keys in sizes.across_variants()]
    return scen, across


def _verdict(variant: int, measure: str, subject: str, rule: str, value, base, unit: str, *, clear: bool | None = None,
             extra: str = "") -> dict:
    ratio = ratio_of(value, base)
    beats = None if ratio is None else value < base
    if ratio is None:
        text = f"{subject}: not measured"
    else:
        word = "beats" if beats else ("ties with" if value == base else "does NOT beat")
        text = f"{subject}: {fmt_value(value, unit)} vs {fmt_value(base, unit)} -> {word} the baseline (ratio {ratio:.3f})"
        if clear is not None and value != base:
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
                     "native code in the composite (fewer methods compiled: another compile mode, e.g. --mode partial or "
                     "hot); the frontier table shows what each mode costs in JIT-compiled methods and startup.")
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
        # None when nothing was compared (no image in common, or startup not measured in one of the runs)
        "sizes_identical": all(x["uncompressed_equal"] and x["compressed_equal"] is not False for x in sizes_) if sizes_ else None,
        "startup": startup_,
        "startup_medians_within_spreads":
            all(x["within_previous_spread"] and x["previous_within_spread"] for x in startup_) if startup_ else None,
    }
