"""Rendering the report: report.md, the headline table in the terminal, and the README block between
the ``report:latest`` markers."""

from __future__ import annotations

import json
from pathlib import Path


from crossgen.core import ui
from crossgen.images.catalog import CATALOG
from crossgen.report.analyse import ratio_of


README_BEGIN = "<!-- report:latest:begin (written by `invoke report`; do not edit by hand) -->"


README_END = "<!-- report:latest:end -->"


def md_previous(r: dict) -> list[str]:
    c = r.get("previous_run")
    if not c:
        return ["No earlier report to compare with."]
    rebuilt = [x["key"] for x in c["sizes"] if not x["same_image"]]
    differ = [x["key"] for x in c["sizes"] if not x["uncompressed_equal"] or x["compressed_equal"] is False]
    if c["sizes_identical"] is None:
        sizes_text = "no image in common"
    else:
        sizes_text = ("identical for all images" if c["sizes_identical"] else f"differ for {', '.join(differ)}") \
            + (f" (rebuilt since: {', '.join(rebuilt)})" if rebuilt else " (same image IDs)")
    within = c["startup_medians_within_spreads"]
    startup_text = ("not compared (startup was not measured in both runs)." if within is None else
                    "each within the other run's min-max spread." if within else "NOT all within the other run's spread:")
    lines = [f"Compared with the report of {c['previous_generated_at']}: sizes {sizes_text}; startup medians {startup_text}", ""]
    if c["startup"]:
        lines += ["| target | mode | median ms | previous median ms | inside previous spread | previous inside this spread |", "|---|---|---|---|---|---|"]
        lines += [f"| {x['target']} | {x['mode']} | {x['median_ms']:.1f} | {x['previous_median_ms']:.1f} | {x['within_previous_spread']} | "
                  f"{x['previous_within_spread']} |" for x in c["startup"]]
    return lines


def _count(v) -> str:
    return "n/a" if v is None else f"{v:.0f}"


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
        apps_only = "aspnet" not in variant.roles and bool(variant.apps)  # its aspnet figures are its web app's
        role = f"{web_sample} app" if apps_only else "aspnet"
        asp = imgs.get(roles.get(role, ""), {})
        full = scen.get("runtime+aspnet+sdk", {}).get("variants", {}).get(str(v), {})
        hello = next((s for s in st.values() if s["sample"] == console and s["mode"] == "default" and v in s["variants"]), None)
        web = next((s for s in st.values() if s["sample"] == web_sample and s["mode"] == "default" and v in s["variants"]), None)

        def su(s):
            if not s or s["median_ms"] is None:
                return "n/a"
            return f"{s['median_ms']:.0f}{_ratio_text(s['ratio_to_baseline'])}, {_count(s['jit_median'])}"

        label = variant_title(v) + (" (apps)" if apps_only else "")
        asp_u = f"{mb(asp.get('uncompressed_bytes'))}" if asp else "n/a"
        asp_c = f"{mb(asp.get('compressed_bytes'))}" if asp else "n/a"
        if not variant.baseline and asp:
            base = imgs.get(baseline_roles.get(role, ""), {})
            asp_u += _ratio_text(ratio_of(asp.get("uncompressed_bytes"), base.get("uncompressed_bytes")))
            asp_c += _ratio_text(ratio_of(asp.get("compressed_bytes"), base.get("compressed_bytes")))
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
            ratio = "no baseline" if s["ratio_to_baseline"] is None else f"x{s['ratio_to_baseline']:.2f}"
            cells.append(f"{s['median_ms']:.0f} ({s['min_ms']:.0f}-{s['max_ms']:.0f}), {ratio}, {_count(s['jit_median'])}")
        rows.append(f"| {variant_title(v)} | " + " | ".join(cells) + " |")
    return rows


def md_build_compact(r: dict) -> list[str]:
    b = r["build"]
    parts = [f"{n} {x.get('seconds')} s / {mb(x.get('peak_memory_bytes'))} MB / {mb((x.get('composite') or {}).get('size'))} MB"
             for n, x in sorted(b["bubbles"].items())]
    line = "Crossgen2 per bubble (wall / peak memory / composite size): " + "; ".join(parts) + "."
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
    rows = ["| image | variants | uncompressed MB | compressed MB | layers | push s | reproducible |", "|---|---|---|---|---|---|---|"]
    for i in r["images"]:
        rows.append(f"| `{i['ref']}` | {','.join(map(str, i['variants']))} | {mb(i['uncompressed_bytes'])} | "
                    f"{mb(i['compressed_bytes'])} | {len(i['layers'])} | {i['push_seconds'] if i['push_seconds'] is not None else 'n/a'} | "
                    f"{reproducible_text(i)} |")
    return rows


def reproducible_text(image: dict) -> str:
    """The "reproducible" cell: built again without cache from the same inputs, same image ID?"""
    same = image.get("reproducible")
    if same is None:
        return "not checked"
    return "yes (same image ID)" if same else f"NO (rebuilt as `{(image.get('rebuilt_id') or '')[7:19]}`)"


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
            f"Console: {st['measure']['console']}. Web: {st['measure']['web']}."
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


def _ms(v) -> str:
    return "-" if v is None else f"{v:.0f}"


def _x(v) -> str:
    return "" if v is None else f" (x{v:.2f})"


def _p(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def md_frontier(r: dict) -> list[str]:
    """The frontier table (one row per sample, variant and compile mode) and the defaults the rule picks."""
    fr = r.get("frontier")
    if not fr:
        return []
    cold = "cold-cache median ms" if not fr["cold_cache_skipped"] else None
    head = ["sample", "variant", "mode", "image MB", "compressed MB", f"startup median ms (min-max, {fr['runs']} runs)",
            "JIT methods", "JIT, no AVX2", *([cold] if cold else []), "p(slower)", "p(more JIT)", "rule", "Pareto"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for p in fr["points"]:
        rule = "baseline" if p["mode"] == "baseline" else {True: "pass", False: "fail", None: "-"}[p["passes"]]
        row = [p["sample"], str(p["variant"]), p["mode"], f"{mb(p['size'])}{_x(p['size_ratio'])}", mb(p["compressed"]),
               f"{_ms(p['median_ms'])}{_x(p['startup_ratio'])} ({_ms(p['min_ms'])}-{_ms(p['max_ms'])})",
               f"{_count(p['jit'])}{_x(p['jit_ratio'])}", _count(p["jit_no_avx2"]), *([_ms(p["cold_median_ms"])] if cold else []),
               _p(p.get("slower_p")), _p(p.get("more_jit_p")), rule, "**best**" if p["pareto"] else ""]
        lines.append("| " + " | ".join(row) + " |")
    rec = fr.get("recommendation")
    if rec:
        lines += ["", f"Recommendation: variant {rec['variant']} in mode {rec['mode']} (`{rec['ref']}`): image {mb(rec['size'])} MB"
                  f"{_x(rec['size_ratio'])}, startup{_x(rec['startup_ratio'])}, JIT{_x(rec['jit_ratio'])} against the baseline; {rec['why']}."]
    if fr.get("skipped"):
        lines += ["", "Not measured: " + "; ".join(f"`{ref}`: {why}" for ref, why in fr["skipped"].items())]
    if fr["defaults"]:
        lines += ["", "Default compile mode per bubble, by the rule (on every sample whose image holds the bubble: JIT-compiled "
                  "methods not above the baseline's, and startup not slower than the baseline's — each a higher median with "
                  "p < 0.05, one-sided Mann-Whitney U over the runs; the smallest passing mode, else the fewest "
                  "JIT-compiled methods):", ""]
    for bubble, d in fr["defaults"].items():
        facts = "; ".join(f"{m}: {'passes' if f['passes'] else 'fails on ' + (', '.join(f['failing']) or 'unmeasured samples')}"
                          for m, f in d["modes"].items())
        lines.append(f"- `{bubble}`: **{d['mode']}** ({d['why']}). {facts}{_configured_note(bubble, d)}")
    if fr["cold_cache_skipped"]:
        lines += ["", f"Starts with a dropped page cache were not measured: {fr['cold_cache_skipped']}."]
    return lines


def md_frontier_grid(r: dict) -> list[str]:
    """The frontier in one grid (README): a row per variant and mode, per sample the ratios to the
    baseline (image size / startup median / JIT-compiled methods); Pareto-best cells in bold."""
    fr = r.get("frontier")
    if not fr:
        return []
    samples = list(dict.fromkeys(p["sample"] for p in fr["points"]))
    rows = list(dict.fromkeys((p["variant"], p["mode"]) for p in fr["points"]))
    head = ["variant", "mode", *[f"{s}: size / startup / JIT" for s in samples]]
    lines = [f"Frontier ({fr['runs']} interleaved runs per point; ratios to the baseline, which is 1.00; bold = Pareto-best for "
             f"that sample; ✗ = fails the rule){carried_text(fr)}:", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for v, mode in rows:
        cells = []
        for s in samples:
            p = next((x for x in fr["points"] if x["variant"] == v and x["mode"] == mode and x["sample"] == s), None)
            if p is None:
                cells.append("")
                continue
            text = " / ".join("-" if x is None else f"{x:.2f}" for x in (p["size_ratio"], p["startup_ratio"], p["jit_ratio"]))
            text = f"**{text}**" if p["pareto"] else text
            cells.append(text + (" ✗" if p["passes"] is False else ""))
        lines.append("| " + " | ".join([str(v), mode, *cells]) + " |")
    if fr["defaults"]:
        lines += ["", "Default mode per bubble by the rule: " + "; ".join(f"`{b}` **{d['mode']}**" for b, d in fr["defaults"].items())
                  + " (why, and the absolute figures: `build/report/report.md`)."
                  + "".join(_configured_note(b, d) for b, d in fr["defaults"].items())]
    return lines


def _configured_note(bubble: str, d: dict) -> str:
    """Says so when the mode the settings give a bubble is not the one the rule picks (empty when they agree,
    or when an older report.json does not know the configured mode)."""
    configured = d.get("configured")
    if configured is None or configured == d["mode"]:
        return ""
    return (f" The settings compile `{bubble}` in **{configured}**, not the rule's {d['mode']}: "
            f"set `dci.crossgen.mode.{bubble}: {d['mode']}` in invoke.yaml to follow it.")


def channel_summary(ch: dict) -> str:
    """Does the composite gain hold on this channel: one sentence from its points."""
    pts = [p for p in ch["points"] if p["mode"] != "baseline"]
    jit = [p for p in pts if p["jit_ratio"] is not None]
    fast = [p for p in pts if p["startup_ratio"] is not None]
    size = [p["size_ratio"] for p in pts if p["size_ratio"] is not None]
    if not pts:
        return f"{ch['channel']}: nothing measured"
    text = (f"{ch['channel']} (.NET {ch['dotnet_version']}): JIT-compiled methods at or below the baseline's on "
            f"{sum(1 for p in jit if p['jit_ratio'] <= 1)} of {len(jit)} points, startup median below the baseline's on "
            f"{sum(1 for p in fast if p['startup_ratio'] < 1)} of {len(fast)}")
    if size:
        text += f", images x{min(size):.2f}-x{max(size):.2f} the baseline's size"
    if ch.get("not_built"):
        text += f"; not built: {len(ch['not_built'])} images ({ch['not_built'][0]['why']})"
    return text


def md_channels(r: dict) -> list[str]:
    """One row per variant and sample, a column per channel: image MB / startup ms / JIT methods, each
    with its ratio to that channel's own baseline; then one line per channel."""
    sec = r.get("channels")
    if not sec or not sec["channels"]:
        return []
    chans = sec["channels"]
    rows = list(dict.fromkeys((p["variant"], p["sample"]) for ch in chans for p in ch["points"]))
    head = ["variant", "sample", *[f"{ch['channel']}: image MB / startup ms / JIT" for ch in chans]]
    lines = [f"Channels ({sec['runs']} interleaved runs per point; ratios to the same channel's baseline){carried_text(sec)}:", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for v, sample in sorted(rows):
        cells = []
        for ch in chans:
            p = next((x for x in ch["points"] if x["variant"] == v and x["sample"] == sample), None)
            cells.append("" if p is None else f"{mb(p['size'])}{_x(p['size_ratio'])} / {_ms(p['median_ms'])}{_x(p['startup_ratio'])}"
                                              f" / {_count(p['jit'])}{_x(p['jit_ratio'])}")
        lines.append("| " + " | ".join([str(v), sample, *cells]) + " |")
    lines += [""] + [f"- {channel_summary(ch)}" for ch in chans]
    return lines


def md_pulls(r: dict) -> list[str]:
    """Real pulls onto a node (report --pulls): bytes transferred with the classic builds and with the
    reproducible ones, per scenario, and the registry's blob storage for each set."""
    p = r.get("pulls")
    if not p:
        return []
    rows = ["| pull scenario | node has | pulls | classic: MB transferred (blobs) | reproducible: MB transferred (blobs) | saved MB | "
            "if nothing were shared MB (classic / reproducible) |", "|---|---|---|---|---|---|---|"]
    off_rule = []
    for sc in p["scenarios"]:
        b, a = sc["before"], sc["after"]
        rows.append(f"| {sc['title']} | {', '.join(sc['have']) or 'nothing'} | {', '.join(sc['want'])} | "
                    f"{mb(b['bytes_transferred'])} ({b['blobs_transferred']}) | {mb(a['bytes_transferred'])} ({a['blobs_transferred']}) | "
                    f"{mb(sc['saved_bytes'])} | {mb(b['bytes_if_nothing_shared'])} / {mb(a['bytes_if_nothing_shared'])} |")
        off_rule += [f"{sc['id']} ({name})" for name, x in (("classic", b), ("reproducible", a))
                     if x["bytes_transferred"] != x["bytes_by_digest_rule"]]
    st = p["registry_storage"]
    rows += ["", f"Registry storage (blob files after pushing the {st['after']['images']} images to an empty registry): classic "
                 f"{mb(st['before']['blob_bytes'])} MB in {st['before']['blobs']} blobs, reproducible {mb(st['after']['blob_bytes'])} MB "
                 f"in {st['after']['blobs']} blobs (saved {mb(st['saved_bytes'])} MB)."]
    rows.append("Measured, not computed: each scenario on a new private containerd (content store keyed by blob digest, as on a "
                "Kubernetes node) that first pulls what the node has (not counted), then the images it pulls; the bytes are the "
                "response bodies (manifests and blobs) a proxy between ctr and the registry counted. "
                + ("The measured bytes equal the blob-digest rule's prediction in every scenario." if not off_rule else
                   "The measured bytes differ from the blob-digest rule's prediction in: " + ", ".join(off_rule) + "."))
    if p.get("skipped"):
        rows.append("Not measured (images missing from a set): " + ", ".join(f"{x['id']} ({', '.join(x['missing'])})" for x in p["skipped"]) + ".")
    if p.get("carried_from"):
        rows.append(f"Measured by the report of {p['carried_from']}, not in this run (no --pulls).")
    return rows


def md_approaches(r: dict) -> list[str]:
    """Per sample: every approach (variant) on every OS base measured, its image sizes, startup and JIT
    count, and what it gives up; then which approach wins on size and which on startup."""
    a = r.get("approaches") or {}
    rows_all = a.get("rows") or []
    if not rows_all:
        return []
    out: list[str] = []
    for sample in dict.fromkeys(x["sample"] for x in rows_all):
        mine = [x for x in rows_all if x["sample"] == sample]
        what = "first request" if mine[0]["kind"] == "web" else "end of Main"
        out += [f"**{sample}** ({mine[0]['kind']}; startup = process start to {what}, median of this run's runs)", "",
                "| base | approach | image | uncompressed MB | compressed MB | startup ms | JIT methods | gives up |",
                "|---|---|---|---|---|---|---|---|"]
        for x in sorted(mine, key=lambda x: (x["uncompressed_bytes"] is None, x["uncompressed_bytes"] or 0)):
            image = f"`{x['image_key']}`" + (f" + app layer of `{x['app_layer_from']}`" if x["app_layer_from"] else "")
            gives = x["gives_up"]
            if x["warnings"]:
                gives += "; warnings " + ", ".join(f"{k} x{n}" for k, n in sorted(x["warnings"].items()))
            if x["not_built"]:
                out.append(f"| {x['os']} | {x['variant']} {x['approach']} | not built | | | | | {x['not_built']} |")
                continue
            startup = ("does not start (every run failed; see the startup runs)" if x.get("fails")
                       else "n/a" if x["startup_ms"] is None else f"{x['startup_ms']:.0f}")
            out.append(f"| {x['os']} | {x['variant']} {x['approach']} | {image} | {mb(x['uncompressed_bytes'])} | "
                       f"{mb(x['compressed_bytes'])} | {startup} | {_count(x['jit_methods'])} | {gives} |")
        w = (a.get("winners") or {}).get(sample) or {}
        said = []
        for label, key in (("smallest", "smallest"), ("smallest compressed", "smallest_compressed"), ("fastest to start", "fastest")):
            pick = w.get(key)
            if pick:
                said.append(f"{label}: variant {pick['variant']} ({pick['approach']}) on {pick['os']}")
        out += ["", ("Wins — " + "; ".join(said) + ".") if said else "Nothing measured.", ""]
    return out


def md_framework_modes(r: dict) -> list[str]:
    """Framework images on every OS base measured, as built and in each compile mode of the frontier:
    MB uncompressed / compressed (one row per base and image)."""
    f = r.get("framework_modes") or {}
    rows = f.get("rows") or []
    if not rows:
        return []
    modes = ["default", *f.get("modes", [])]
    by = {(x["os"], x["key"], x["mode"]): x for x in rows}
    out = ["Framework images per OS base and compile mode (MB uncompressed / compressed; `default`: as build-all makes them, "
           "the configured modes; the compile modes change the composite images only):", "",
           "| base | image | " + " | ".join(modes) + " |", "|---|---|" + "---|" * len(modes)]
    for on, key in dict.fromkeys((x["os"], x["key"]) for x in rows):
        cells = [by.get((on, key, m)) for m in modes]
        out.append(f"| {on} | `{key}` | " + " | ".join(f"{mb(x['uncompressed_bytes'])} / {mb(x['compressed_bytes'])}" if x else ""
                                                        for x in cells) + " |")
    return out


def md_approaches_grid(r: dict) -> list[str]:
    """The README's view of the approaches table: per sample, the smallest image, the smallest
    compressed and the fastest to start, with the approach and base each is."""
    won = (r.get("approaches") or {}).get("winners") or {}
    if not won:
        return []

    def cell(pick: dict | None, value: str) -> str:
        if not pick:
            return "n/a"
        return f"{value}: {variant_title(pick['variant'])} on {pick['os']}"

    rows = ["| sample | smallest image (MB) | smallest compressed (MB) | fastest start (ms) |", "|---|---|---|---|"]
    for sample, w in won.items():
        small, packed, fast = w.get("smallest"), w.get("smallest_compressed"), w.get("fastest")
        rows.append(f"| {sample} | {cell(small, mb(small and small['uncompressed_bytes']))} | "
                    f"{cell(packed, mb(packed and packed['compressed_bytes']))} | "
                    f"{cell(fast, _ms(fast and fast['startup_ms']))} |")
    bases = ", ".join((r.get("approaches") or {}).get("bases") or [])
    rows += ["", f"Every approach (variant) on every base measured ({bases}); the whole table per sample, with what each approach "
                 "gives up: `build/report/report.md`, \"The smallest image per approach\"."]
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
              "the sum of the layer blob sizes in the manifest of a local registry the images were pushed to.", "",
              reproducible_line(r), ""] + md_images(r)
    lines += ["", "## Sharing per deployment scenario", ""]
    lines += [f"- `{k}`: {v}" for k, v in r["rules"].items()]
    lines += [""] + md_scenarios(r)
    if r.get("pulls"):
        lines += ["", "## Pulls onto a node: classic against reproducible builds", ""] + md_pulls(r)
    if r.get("approaches"):
        lines += ["", "## The smallest image per approach", ""] + md_approaches(r)
    if r.get("framework_modes"):
        lines += ["", "## Framework images per OS base and compile mode", ""] + md_framework_modes(r)
    lines += ["", "## Startup", ""] + md_startup(r)
    if r.get("frontier"):
        lines += ["", "## Size/startup frontier per compile mode", ""] + md_frontier(r)
    if r.get("channels"):
        lines += ["", "## Channels: does the composite gain hold from one major to the next?", ""] + md_channels(r)
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


def carried_text(section: dict) -> str:
    """For a section an earlier run measured (``carried_from``): say when, and that this run did not."""
    when = section.get("carried_from")
    return f"; measured by the report of {when}, not in this run" if when else ""


def reproducible_line(r: dict) -> str:
    """One line: how many images came out the same when built again, and how many same-source layers
    still have more than one DiffID (sharing lost)."""
    checked = [i for i in r["images"] if i.get("reproducible") is not None]
    same = sum(1 for i in checked if i["reproducible"])
    groups = r.get("layer_identity") or []
    text = (f"Reproducible: {same} of {len(checked)} images built again from the same inputs, without cache, got the same image ID"
            if checked else "Reproducible: not checked in this run (--no-rebuild-check)")
    lost = f"{len(groups)} group{'s' if len(groups) != 1 else ''} of same-source layers with more than one DiffID"
    return f"{text}; {lost} (identical content is one blob when this is 0)."


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
                       *md_build_compact(r), "", reproducible_line(r), "",
                       *([*md_approaches_grid(r), ""] if r.get("approaches") else []),
                       *([*md_framework_modes(r), ""] if r.get("framework_modes") else []),
                       *([*md_pulls(r), ""] if r.get("pulls") else []),
                       *([*md_frontier_grid(r), ""] if r.get("frontier") else []),
                       *([*md_channels(r), ""] if r.get("channels") else []),
                       "Full tables, charts, the verdict per measure and the notes: `build/report/report.md`.", ""])
    path.write_text(head + README_BEGIN + block + README_END + tail)
    return True


def print_headline(r: dict) -> None:
    from rich.table import Table
    from rich.text import Text

    t = Table(title=Text(f"report: .NET {r['dotnet_version']} on {r['base_os']} ({r['machine']['cores']} cores)"))
    header = md_headline(r)[0].strip("|").split("|")
    for h in header:
        t.add_column(Text(h.strip()))
    for row in md_headline(r)[2:]:
        if row.startswith("|"):
            t.add_row(*[Text(c.strip()) for c in row.strip().strip("|").split("|")])
    ui.console.print(t)
