"""The experiment's images: what each variant builds, FROM what, with which Crossgen2 output."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import partial

from . import dockerio, templates
from .acquire import Acquired
from .baseimage import image_name, runtime_deps_dockerfile, runtime_deps_name
from .compiler import CompileResult
from .images import ImageSpec
from .layout import NETCORE
from .settings import Settings
from .stage import stage_dotnet


@dataclass(frozen=True)
class Variant:
    number: int
    name: str
    title: str
    bubbles: tuple[str, ...]


VARIANTS: tuple[Variant, ...] = (
    Variant(1, "no-composite", "baseline: no composite", ()),
    Variant(2, "runtime-composite", "composite .NET runtime", ("runtime",)),
)


def find_variant(text: str) -> Variant:
    for v in VARIANTS:
        if text in (str(v.number), v.name):
            return v
    from .errors import DciError

    raise DciError(f"variant {text!r}", "no such variant", "choose one of: " + ", ".join(f"{v.number} ({v.name})" for v in VARIANTS))


def _labels(settings: Settings, acquired: Acquired, variant: Variant | None, image_kind: str, compiled: list[CompileResult]) -> dict[str, str]:
    labels = {
        dockerio.label("role"): image_kind,
        dockerio.label("dotnet-version"): acquired.version,
        dockerio.label("rid"): settings.rid,
        dockerio.label("sources"): json.dumps({k: c.source for k, c in acquired.components.items()}, sort_keys=True),
        dockerio.label("input-sha512"): json.dumps({k: c.sha512[:32] for k, c in acquired.components.items() if k != "crossgen2"}, sort_keys=True),
    }
    if variant:
        labels[dockerio.label("variant")] = str(variant.number)
        labels[dockerio.label("variant-name")] = variant.name
    if compiled:
        cg = compiled[0].record
        labels[dockerio.label("bubble")] = ",".join(c.bubble for c in compiled)
        labels[dockerio.label("crossgen2-version")] = cg["crossgen2_version"]
        labels[dockerio.label("crossgen2-args")] = json.dumps(
            {c.bubble: [a for a in c.record["arguments"] if a.startswith("-")] for c in compiled}, sort_keys=True
        )
        labels[dockerio.label("composites")] = json.dumps({c.bubble: c.record["composite"]["path"] for c in compiled}, sort_keys=True)
        labels[dockerio.label("crossgen-keys")] = json.dumps({c.bubble: c.record["key"][:16] for c in compiled}, sort_keys=True)
    return labels


def runtime_deps_spec(settings: Settings, acquired: Acquired) -> ImageSpec:
    return ImageSpec(
        key="runtime-deps", ref=runtime_deps_name(settings), dockerfile=runtime_deps_dockerfile(settings),
        base=settings.base_image, inputs={"packages": list(settings.runtime_deps_packages)},
        labels={dockerio.label("role"): "runtime-deps", dockerio.label("dotnet-version"): acquired.version},
        network_mode="host",
    )


def runtime_spec(settings: Settings, acquired: Acquired, variant: Variant, compiled: list[CompileResult]) -> ImageSpec:
    root = acquired.dotnet_root
    assert root is not None
    suffix = "no-composite" if not compiled else "composite"
    dockerfile = templates.render(
        settings.project_root / "docker", "runtime", base_image=runtime_deps_name(settings),
        dotnet_version=acquired.version, variant_title=variant.title,
    )
    return ImageSpec(
        key=f"runtime-{suffix}", ref=image_name(settings, "runtime", suffix), dockerfile=dockerfile,
        base=runtime_deps_name(settings),
        inputs={"layout": root.path.parent.name, "crossgen": [c.record["key"] for c in compiled]},
        stage=partial(_stage_runtime, root=root, overlays=tuple(c.out_dir for c in compiled)),
        labels=_labels(settings, acquired, variant, "runtime", compiled),
    )


def _stage_runtime(context, *, root, overlays):
    stage_dotnet(context, root, frameworks=(NETCORE,), host=True, overlays=overlays)


def specs_for(settings: Settings, acquired: Acquired, variant: Variant, compiled: dict[str, CompileResult]) -> list[ImageSpec]:
    """Image specs of one variant, in dependency order."""
    if variant.number == 1:
        return [runtime_spec(settings, acquired, variant, [])]
    if variant.number == 2:
        return [runtime_spec(settings, acquired, variant, [compiled["runtime"]])]
    raise AssertionError(variant)
