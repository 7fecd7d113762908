"""PNG charts of a report (matplotlib, Agg backend: no display needed).

* ``layers.png``: stacked layer sizes per image, grouped by variant; uncompressed and compressed;
* ``scenarios.png``: bytes per deployment scenario and variant, on disk (chain-id) and pulled (blob-digest);
* ``startup.png``: every startup run per variant, default settings and DOTNET_ReadyToRun=0, medians marked;
* ``approaches.png``: per sample, the image size of every approach (uncompressed and compressed) with
  its startup median, smallest first.
"""

from __future__ import annotations

import textwrap
import itertools
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from crossgen.images.catalog import CATALOG, Catalog  # noqa: E402

CATEGORY_COLORS = {
    "OS base (debian)": "#9e9e9e",
    "runtime-deps packages": "#c7c7c7",
    ".NET runtime": "#1f77b4",
    "ASP.NET Core": "#ff7f0e",
    ".NET runtime + ASP.NET Core": "#9467bd",
    "SDK": "#2ca02c",
    "app (framework-dependent)": "#e377c2",
    "self-contained app": "#d62728",
    "native app (Native AOT)": "#bcbd22",
    "other": "#17becf",
}
def layer_rows(catalog: Catalog = CATALOG) -> list[tuple[int, str, str]]:
    """(variant drawn under, image key, label) per image: each image once, under the variant that builds
    it, labelled with its role (and the other variants it serves)."""
    rows = []
    for v in catalog.variants:
        for img in catalog.images_of(v):
            owner = catalog.owner(img.key)
            if owner is None or owner.number != v.number or any(k == img.key for _, k, _ in rows):
                continue
            label = f"{img.app} app" if img.role == "app" else img.role
            others = [n for n in catalog.variants_of_image(img.key) if n != v.number]
            rows.append((v.number, img.key, label + (f" (also {', '.join(map(str, others))})" if others else "")))
    return rows


def _style(catalog: Catalog = CATALOG) -> tuple[dict[int, str], dict[int, str]]:
    return {v.number: v.color for v in catalog.variants}, {v.number: v.short for v in catalog.variants}


def draw_all(report: dict, out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [layers_chart(report, out_dir / "layers.png"), scenarios_chart(report, out_dir / "scenarios.png")]
    st = report.get("startup") or {}
    if st.get("summaries"):
        paths.append(startup_chart(report, out_dir / "startup.png"))
    if (report.get("frontier") or {}).get("points"):
        drawn = frontier_chart(report, out_dir / "frontier.png")
        paths += [drawn] if drawn else []
    if any(r["uncompressed_bytes"] is not None for r in (report.get("approaches") or {}).get("rows", [])):
        paths.append(approaches_chart(report, out_dir / "approaches.png"))
    return paths


def approaches_chart(report: dict, path: Path, catalog: Catalog = CATALOG) -> Path:
    """One panel per sample: a bar per approach and OS base (uncompressed, compressed drawn inside),
    labelled with its startup median and JIT count; smallest at the top."""
    rows = [r for r in report["approaches"]["rows"] if r["uncompressed_bytes"] is not None]
    samples = list(dict.fromkeys(r["sample"] for r in rows))
    colors, _ = _style(catalog)
    height = max(len([r for r in rows if r["sample"] == s]) for s in samples)
    cols = min(2, len(samples))
    nrows = -(-len(samples) // cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(7.5 * cols, nrows * (1.2 + 0.42 * height)), squeeze=False)
    for ax in axes.flat[len(samples):]:
        ax.axis("off")
    for ax, sample in zip(axes.flat, samples):
        mine = sorted((r for r in rows if r["sample"] == sample), key=lambda r: -r["uncompressed_bytes"])
        ys = range(len(mine))
        ax.barh(ys, [r["uncompressed_bytes"] / 1e6 for r in mine], color=[colors.get(r["variant"], "#17becf") for r in mine], alpha=0.45)
        ax.barh(ys, [(r["compressed_bytes"] or 0) / 1e6 for r in mine], height=0.45, color=[colors.get(r["variant"], "#17becf") for r in mine])
        for y, r in zip(ys, mine):
            startup = ("  does not start" if r.get("fails") else "" if r["startup_ms"] is None
                       else f"  {r['startup_ms']:.0f} ms, JIT {r['jit_methods'] if r['jit_methods'] is not None else 'n/a'}")
            ax.text(r["uncompressed_bytes"] / 1e6, y, f" {r['uncompressed_bytes'] / 1e6:.0f} MB{startup}", va="center", fontsize=7)
        ax.set_yticks(list(ys))
        ax.set_yticklabels([f"v{r['variant']} {r['os']}" for r in mine], fontsize=8)
        ax.set_xlim(0, max(r["uncompressed_bytes"] for r in mine) / 1e6 * 1.6)
        ax.set_xlabel("MB (light: uncompressed, dark: compressed)")
        ax.set_title(f"{sample} ({mine[0]['kind']}): image per approach\n(startup median, JIT-compiled methods)", fontsize=10)
        ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


MARKERS = (("s", "square"), ("o", "circle"), ("v", "triangle"), ("D", "diamond"), ("P", "plus"), ("^", "up-triangle"))


def frontier_chart(report: dict, path: Path) -> Path | None:
    """Image size against startup median, one panel per sample; the baseline marked, Pareto-best points
    named; None when no point was measured."""
    points = [p for p in report["frontier"]["points"] if p["median_ms"] is not None]
    samples = list(dict.fromkeys(p["sample"] for p in points))
    if not samples:
        return None
    colors, shorts = _style()
    markers = dict(zip(dict.fromkeys(["baseline", *(p["mode"] for p in points)]), itertools.cycle(MARKERS)))
    variants = sorted({p["variant"] for p in points})
    legend = ", ".join(f"{name} {mode}" for mode, (_, name) in markers.items())
    cols = min(2, len(samples))
    rows = (len(samples) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(7.5 * cols, 5.2 * rows), squeeze=False)
    for ax, sample in zip(axes.flat, samples):
        for p in (p for p in points if p["sample"] == sample):
            marker = markers[p["mode"]][0]
            ax.errorbar(p["size"] / 1e6, p["median_ms"], yerr=[[p["median_ms"] - p["min_ms"]], [p["max_ms"] - p["median_ms"]]],
                        fmt=marker, color=colors.get(p["variant"], "black"), markersize=9 if p["mode"] == "baseline" else 7,
                        mfc="none" if not p["pareto"] else colors.get(p["variant"], "black"), alpha=0.85, capsize=2)
            if p["pareto"] or p["mode"] == "baseline":
                ax.annotate(f"v{p['variant']} {p['mode']}", (p["size"] / 1e6, p["median_ms"]), textcoords="offset points",
                            xytext=(5, 5), fontsize=7)
        kind = next(p["kind"] for p in points if p["sample"] == sample)
        ax.set_title(f"{sample} ({kind}): image size vs startup median\n(filled = Pareto-best; {legend})", fontsize=9)
        ax.set_xlabel("image MB (uncompressed)")
        ax.set_ylabel("startup median ms (bars: min-max)")
        ax.grid(alpha=0.3)
        ax.legend(handles=[Patch(color=colors.get(v, "black"), label=shorts.get(v, str(v))) for v in variants], fontsize=7, loc="upper right")
    for ax in list(axes.flat)[len(samples):]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def layers_chart(report: dict, path: Path) -> Path:
    imgs = {i["key"]: i for i in report["images"]}
    rows = [(v, key, label) for v, key, label in layer_rows() if key in imgs]
    _, short = _style()
    with_compressed = any(imgs[k]["compressed_bytes"] is not None for _, k, _ in rows)
    panels = [("uncompressed_bytes", "uncompressed (daemon)")] + ([("compressed_bytes", "compressed (registry manifest)")] if with_compressed else [])
    fig, axes = plt.subplots(1, len(panels), figsize=(8 * len(panels), 0.42 * len(rows) + 2.2), squeeze=False, sharey=True)
    labels = [f"v{short[v]}: {label}" for v, _, label in rows]
    used: dict[str, str] = {}
    for ax, (field, title) in zip(axes[0], panels):
        for y, (v, key, _) in enumerate(rows):
            left = 0.0
            for layer in imgs[key]["layers"]:
                size = (layer.get(field) or 0) / 1e6
                if size <= 0:
                    continue
                color = CATEGORY_COLORS.get(layer["category"], CATEGORY_COLORS["other"])
                used[layer["category"]] = color
                ax.barh(y, size, left=left, color=color, edgecolor="white", linewidth=0.6, height=0.72)
                left += size
            total = imgs[key].get(field.replace("_bytes", "_bytes"))
            if total is not None:
                ax.text(left + 4, y, f"{total / 1e6:.1f}", va="center", fontsize=8)
        ax.set_title(f"Layers per image, {title}, MB")
        ax.set_xlabel("MB")
        ax.grid(axis="x", alpha=0.3)
        ax.set_xlim(0, ax.get_xlim()[1] * 1.08)
        # separators between variants
        for y in range(1, len(rows)):
            if rows[y][0] != rows[y - 1][0]:
                ax.axhline(y - 0.5, color="black", linewidth=0.6, alpha=0.5)
    axes[0][0].set_yticks(range(len(rows)))
    axes[0][0].set_yticklabels(labels, fontsize=9)
    axes[0][0].invert_yaxis()
    handles = [Patch(color=c, label=name) for name, c in CATEGORY_COLORS.items() if name in used]
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 4), fontsize=9, frameon=False)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def scenarios_chart(report: dict, path: Path) -> Path:
    scen = [s for s in report["scenarios"]]
    panels = [("disk_bytes", "On disk, uncompressed MB (rule: chain-id)")]
    if any(f.get("pull_bytes") for s in scen for f in s["variants"].values()):
        panels.append(("pull_bytes", "Pulled, compressed MB (rule: blob-digest)"))
    fig, axes = plt.subplots(len(panels), 1, figsize=(12, 4.6 * len(panels)), squeeze=False)
    width = 0.16
    colors, short = _style()
    last = max(colors)
    for ax, (field, title) in zip(axes[:, 0], panels):
        for x, sc in enumerate(scen):
            present = [(int(v), f) for v, f in sc["variants"].items() if not f.get("missing") and f.get(field)]
            n = len(present)
            for j, (v, fig_) in enumerate(present):
                pos = x + (j - (n - 1) / 2) * width
                val = fig_[field] / 1e6
                ax.bar(pos, val, width=width * 0.95, color=colors[v], label=short[v] if x == 0 or v == last else None)
                ratio = fig_.get("ratio_disk" if field == "disk_bytes" else "ratio_pull")
                text = f"{val:.0f}" + (f"\nx{ratio:.2f}" if ratio is not None and v != 1 else "")
                ax.text(pos, val, text, ha="center", va="bottom", fontsize=7)
        ax.set_xticks(range(len(scen)))
        ax.set_xticklabels([textwrap.fill(s["title"], 24) for s in scen], fontsize=9)
        ax.set_title(title)
        ax.set_ylabel("MB")
        ax.set_ylim(0, ax.get_ylim()[1] * 1.15)
        ax.grid(axis="y", alpha=0.3)
        handles, labels = ax.get_legend_handles_labels()
        uniq = dict(zip(labels, handles))
        ax.legend(uniq.values(), uniq.keys(), fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def startup_chart(report: dict, path: Path) -> Path:
    st = report["startup"]
    samples = list(dict.fromkeys(x["sample"] for x in st["summaries"]))
    fig, axes = plt.subplots(1, len(samples), figsize=(7.5 * len(samples), 5.2), squeeze=False)
    mode_style = {"default": ("#1f77b4", "default settings"), "r2r-off": ("#ff7f0e", "DOTNET_ReadyToRun=0")}
    for ax, sample in zip(axes[0], samples):
        mine = [x for x in st["summaries"] if x["sample"] == sample]
        groups = list(dict.fromkeys(x["target"] for x in mine))
        for gx, target in enumerate(groups):
            for j, (mode, (color, label)) in enumerate(mode_style.items()):
                s = next((x for x in mine if x["target"] == target and x["mode"] == mode), None)
                if not s or not s["values_ms"]:
                    continue
                pos = gx + (j - 0.5) * 0.34
                n = len(s["values_ms"])
                xs = [pos + ((k % 5) - 2) * 0.025 for k in range(n)]
                ax.scatter(xs, s["values_ms"], s=10, color=color, alpha=0.55, label=label if gx == 0 else None)
                ax.hlines(s["median_ms"], pos - 0.13, pos + 0.13, color="black", linewidth=2)
                jit = f"\nJIT {s['jit_median']:.0f}" if s["jit_median"] is not None else ""
                ratio = f"\nx{s['ratio_to_baseline']:.2f}" if s["ratio_to_baseline"] is not None and 1 not in s["variants"] else ""
                ax.text(pos, s["max_ms"], f"{s['median_ms']:.0f}{ratio}{jit}", ha="center", va="bottom", fontsize=7)
        ax.set_xticks(range(len(groups)))
        names = []
        for target in groups:
            s = next(x for x in mine if x["target"] == target)
            names.append("v" + ",".join(map(str, s["variants"])) + "\n" + s["image_key"].replace("-composite", "-comp."))
        ax.set_xticklabels(names, fontsize=8)
        ax.set_ylim(0, ax.get_ylim()[1] * 1.18)
        ax.set_ylabel("ms")
        ax.grid(axis="y", alpha=0.3)
        kind = mine[0].get("kind", "console")
        what = f"{sample} (console): process start to end of Main" if kind == "console" else f"{sample} (web): process start to first HTTP 200"
        ax.set_title(f"{what}\n(each dot one run; bar = median; xN = median / baseline)", fontsize=10)
        ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
