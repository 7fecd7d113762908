"""The report's "smallest image per approach": for every sample, each way this project ships it
(a catalog variant's image that runs it, on each OS base measured), with its size, startup and JIT
count as this run measured them, and what the approach gives up.

Read from the report's own measured sections (images, startup) and the build records; nothing is
measured here. An approach whose image holds the framework but not the app (variants 2–4 run a
framework-dependent app on their framework image) counts the app's layer as measured on the
baseline's app image of the same sample, and says so (``app_layer_from``).
"""

from __future__ import annotations

from crossgen.images.catalog import CATALOG, DEFAULT_OS, Catalog, os_base


def _layers_of(image: dict, owner: str) -> tuple[int, int | None]:
    """Uncompressed and compressed bytes of the layers ``owner`` adds (compressed None: not measured)."""
    mine = [layer for layer in image["layers"] if layer["owner"] == owner]
    packed = [layer.get("compressed_bytes") for layer in mine]
    return sum(layer["uncompressed_bytes"] for layer in mine), (sum(packed) if mine and None not in packed else None)


def _add(a: int | None, b: int | None) -> int | None:
    return None if a is None or b is None else a + b


def rows_for(catalog: Catalog, images: list[dict], summaries: list[dict], record: dict, os_name: str) -> list[dict]:
    """One row per (sample, variant that runs it) for one OS base's build."""
    by_key = {i["key"]: i for i in images}
    not_built = {n["key"]: n.get("why", "") for n in record.get("not_built", [])}
    built = {i["key"]: i for i in record.get("images", [])}
    publishes = record.get("publishes") or {}   # app image key -> its publish (warnings: code -> count)
    baseline_apps = {i.app: i.key for i in catalog.app_images(catalog.baseline)}
    base_lost = os_base(record.get("os") or DEFAULT_OS).gives_up
    out = []
    for sample in catalog.samples:
        for v in catalog.variants:
            key = catalog.runner(v, sample)
            if key is None:
                continue
            image = catalog.images.get(key)
            row = {"os": os_name, "sample": sample.name, "kind": sample.kind, "variant": v.number, "approach": v.title,
                   "gives_up": "; ".join(x for x in (v.gives_up, base_lost) if x), "image_key": key, "ref": (by_key.get(key) or built.get(key) or {}).get("ref"),
                   "uncompressed_bytes": None, "compressed_bytes": None, "app_layer_from": None,
                   "startup_ms": None, "jit_methods": None, "runs": 0, "fails": False,
                   "warnings": (publishes.get(key) or {}).get("warnings") or {}, "not_built": not_built.get(key)}
            measured = by_key.get(key)
            if measured is not None:
                size, packed = measured["uncompressed_bytes"], measured.get("compressed_bytes")
                app_key = baseline_apps.get(sample.name)
                if image is not None and image.role != "app" and app_key in by_key:
                    layer, layer_packed = _layers_of(by_key[app_key], app_key)
                    size, packed = size + layer, _add(packed, layer_packed)
                    row["app_layer_from"] = app_key
                row["uncompressed_bytes"], row["compressed_bytes"] = size, packed
            s = next((x for x in summaries if x["sample"] == sample.name and x["image_key"] == key and x["mode"] == "default"), None)
            if s is not None:
                row.update(startup_ms=s["median_ms"], jit_methods=s["jit_median"], runs=s["runs"] - s.get("failed", 0),
                           fails=s["median_ms"] is None and s["runs"] > 0)
            out.append(row)
    return out


def winners(rows: list[dict]) -> dict[str, dict]:
    """Per sample: the smallest row (uncompressed bytes) and the fastest (startup median), among those
    measured that the sample starts in."""
    out: dict[str, dict] = {}
    for sample in dict.fromkeys(r["sample"] for r in rows):
        # an image the sample does not start in (every startup run failed) wins nothing
        mine = [r for r in rows if r["sample"] == sample and not r["fails"]]
        sized = [r for r in mine if r["uncompressed_bytes"] is not None]
        timed = [r for r in mine if r["startup_ms"] is not None]
        out[sample] = {
            "smallest": _pick(min(sized, key=lambda r: r["uncompressed_bytes"])) if sized else None,
            "smallest_compressed": _pick(min((r for r in sized if r["compressed_bytes"] is not None),
                                             key=lambda r: r["compressed_bytes"], default=None)),
            "fastest": _pick(min(timed, key=lambda r: r["startup_ms"])) if timed else None,
        }
    return out


def _pick(row: dict | None) -> dict | None:
    if row is None:
        return None
    return {k: row[k] for k in ("os", "variant", "approach", "image_key", "uncompressed_bytes", "compressed_bytes", "startup_ms")}


def section(builds: list[tuple[str, list[dict], list[dict], dict]], catalog: Catalog = CATALOG) -> dict:
    """``builds``: (OS base, images section, startup summaries, build record) per base measured."""
    rows = [r for os_name, images, summaries, record in builds for r in rows_for(catalog, images, summaries, record, os_name)]
    return {"rows": rows, "winners": winners(rows), "bases": [b[0] for b in builds]}
