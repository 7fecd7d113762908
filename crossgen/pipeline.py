"""The main job, step by step: acquire -> compile -> stage/build -> verify."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

import docker
import requests

from . import baseimage, dockerio, ui, variants, verify
from .acquire import Acquired, acquire, host_rid
from .bubbles import get_bubble
from .cache import Cache, atomic_write_text
from .compiler import CompileResult, Crossgen2, compile_bubble, crossgen2_image_spec
from .images import BuildOutcome, build_image
from .samples import publish
from .settings import Settings


def base_images(api: docker.APIClient, settings: Settings, acquired: Acquired, *, force: bool = False) -> list[BuildOutcome]:
    start = time.monotonic()
    os_id = baseimage.ensure_os_image(api, settings)
    os_info = dockerio.image_info(api, os_id) or {}
    outcomes = [BuildOutcome("os", settings.base_image, os_id, int(os_info.get("Size", 0)), time.monotonic() - start, True)]
    outcomes.append(build_image(api, variants.runtime_deps_spec(settings, acquired), settings.build_dir / "contexts", force=force))
    return outcomes


def crossgen2_tool(api: docker.APIClient, settings: Settings, acquired: Acquired) -> tuple[Crossgen2, BuildOutcome]:
    c = acquired.components["crossgen2"]
    cg = Crossgen2(version=c.version, pack=Path(c.path), pack_sha512=c.sha512)
    spec = crossgen2_image_spec(settings, cg, baseimage.runtime_deps_name(settings), host_rid())
    outcome = build_image(api, spec, settings.build_dir / "contexts")
    return Crossgen2(cg.version, cg.pack, cg.pack_sha512, image=spec.ref), outcome


def compile_named(api, settings: Settings, acquired: Acquired, names: tuple[str, ...], *, force: bool = False) -> tuple[dict[str, CompileResult], list[BuildOutcome]]:
    outcomes = base_images(api, settings, acquired)
    cg, cg_outcome = crossgen2_tool(api, settings, acquired)
    outcomes.append(cg_outcome)
    assert acquired.dotnet_root is not None
    results = {n: compile_bubble(api, settings, get_bubble(n), acquired.dotnet_root, cg, force=force) for n in names}
    return results, outcomes


def build_variants(
    api: docker.APIClient,
    settings: Settings,
    session: requests.Session,
    cache: Cache,
    *,
    selected: list[variants.Variant] | None = None,
    force: bool = False,
) -> list[BuildOutcome]:
    start = time.monotonic()
    acquired = acquire(settings, session, cache)
    chosen = selected or list(variants.VARIANTS)
    bubbles = tuple(dict.fromkeys(b for v in chosen for b in v.bubbles))
    compiled, outcomes = compile_named(api, settings, acquired, bubbles)
    contexts = settings.build_dir / "contexts"
    for v in chosen:
        for spec in variants.specs_for(settings, acquired, v, compiled):
            if any(o.ref == spec.ref for o in outcomes):
                continue
            outcomes.append(build_image(api, spec, contexts, force=force))
    total = time.monotonic() - start
    record = {
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "seconds": round(total, 1),
        "dotnet_version": acquired.version,
        "images": [asdict(o) for o in outcomes],
        "bubbles": {n: {k: c.record[k] for k in ("key", "seconds", "peak_memory_bytes", "composite", "input_bytes", "output_bytes")} | {"reused": c.reused} for n, c in compiled.items()},
    }
    atomic_write_text(settings.build_dir / "build-all.json", json.dumps(record, indent=2))
    built = sum(1 for o in outcomes if not o.skipped)
    ui.info(f"[bold green]build-all[/]: {len(outcomes)} images ({built} built, {len(outcomes) - built} up to date) in {total:.1f} s")
    return outcomes


def verify_images(api: docker.APIClient, settings: Settings, refs: list[str] | None = None) -> list[verify.Check]:
    """Verify every project image of the current settings (or those named)."""
    hello = publish(settings, "hello")
    checks: list[verify.Check] = []
    targets = refs or [o["ref"] for o in _built_images(settings) if o["key"].startswith(("runtime-no", "runtime-comp"))]
    for ref in targets:
        ui.step(f"Verifying {ref}")
        labels = dockerio.image_labels(dockerio.image_info(api, ref))
        checks.append(verify.check_list_runtimes(api, ref))
        checks.append(verify.check_console(api, ref, hello))
        composites = json.loads(labels.get(dockerio.label("composites"), "{}"))
        expect = {"Microsoft.NETCore.App": None}
        if "runtime" in composites:
            expect["Microsoft.NETCore.App"] = composites["runtime"].rsplit("/", 1)[-1]
        infos = verify.image_structure(api, ref)
        checks.append(verify.check_structure(infos, ref, expect))
        for c in checks[-3:]:
            ui.info(f"    {'[green]PASS[/]' if c.passed else '[red]FAIL[/]'} {c.name}: {c.detail}")
    out = settings.build_dir / "verify" / "verify.json"
    atomic_write_text(out, json.dumps([c.to_dict() for c in checks], indent=2))
    return checks


def _built_images(settings: Settings) -> list[dict]:
    path = settings.build_dir / "build-all.json"
    if not path.is_file():
        from .errors import DciError

        raise DciError(str(path), "no build record", "run `invoke build-all` first, or name images to verify")
    return json.loads(path.read_text())["images"]
