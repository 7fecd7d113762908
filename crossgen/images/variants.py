"""The experiment's images: what each variant builds, FROM what, with which Crossgen2 output."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from packaging.version import Version

from crossgen import dockerio
from crossgen.dockerio import templates
from crossgen.acquire.acquisition import Acquired
from crossgen.images.baseimage import image_name, runtime_deps_dockerfile, runtime_deps_name
from crossgen.compile.compiler import CompileResult
from crossgen.dockerio.imagebuild import ImageSpec
from crossgen.core.errors import DciError
from crossgen.acquire.layout import ASPNETCORE, NETCORE
from crossgen.compile.samples import Sample
from crossgen.core.settings import Settings
from crossgen.images.stage import link_tree, stage_dotnet


@dataclass(frozen=True)
class Variant:
    number: int
    name: str
    title: str
    bubbles: tuple[str, ...]


VARIANTS: tuple[Variant, ...] = (
    Variant(1, "no-composite", "baseline: no composite", ()),
    Variant(2, "runtime-composite", "composite .NET runtime", ("runtime",)),
    Variant(3, "aspnet-composite", "composite .NET runtime + ASP.NET Core in one composite", ("aspnet",)),
    Variant(4, "aspnet-composed-composite", "composite .NET runtime + composed ASP.NET Core composite", ("runtime", "aspnet-composed")),
    Variant(5, "app-composite", "self-contained composite apps", ("app",)),
)


def find_variant(text: str) -> Variant:
    for v in VARIANTS:
        if text in (str(v.number), v.name):
            return v
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
        labels[dockerio.label("excluded")] = json.dumps(
            {c.bubble: sorted(r.rsplit("/", 1)[-1] for r in c.record.get("excluded", [])) for c in compiled if c.record.get("excluded")}, sort_keys=True
        )
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
        stage=partial(stage_dotnet, root=root, frameworks=(NETCORE,), host=True, overlays=tuple(c.out_dir for c in compiled)),
        labels=_labels(settings, acquired, variant, "runtime", compiled),
    )


def _render(settings: Settings, name: str, **values) -> str:
    return templates.render(settings.project_root / "docker", name, **values)


def _aspnet_spec(settings, acquired, variant, *, base, suffix, compiled, full_root, frameworks, host, overlays) -> ImageSpec:
    root = acquired.dotnet_root
    dockerfile = _render(
        settings, "aspnet", base_image=base, dotnet_version=acquired.version,
        aspnet_version=root.aspnet_version, variant_title=variant.title, full_root=full_root,
    )
    return ImageSpec(
        key=f"aspnet-{suffix}", ref=image_name(settings, "aspnet", suffix), dockerfile=dockerfile, base=base,
        inputs={"layout": root.path.parent.name, "crossgen": [c.record["key"] for c in compiled], "frameworks": list(frameworks)},
        stage=partial(stage_dotnet, root=root, frameworks=frameworks, host=host, overlays=tuple(overlays)),
        labels=_labels(settings, acquired, variant, "aspnet", compiled),
    )


def sdk_layout(settings: Settings) -> tuple[Path, str]:
    """The local dotnet layout that provides the SDK layer, and its SDK version."""
    root = settings.dotnet_root
    versions = sorted((root / "sdk").iterdir(), key=lambda p: Version(p.name)) if root and (root / "sdk").is_dir() else []
    if not versions:
        raise DciError(f"dotnet layout {root}", "has no sdk/ folder", "set dci.dotnet_root to an installed .NET SDK")
    return root, versions[-1].name


SDK_PARTS = ("sdk", "packs", "sdk-manifests", "templates")


def _stage_sdk(context: Path, *, root: Path, sdk_version: str) -> None:
    dest = context / "dotnet"
    for part in SDK_PARTS:
        src = root / part
        if part == "sdk":
            link_tree(src / sdk_version, dest / "sdk" / sdk_version)
        elif src.is_dir():
            link_tree(src, dest / part)


def _sdk_spec(settings, acquired, variant, *, aspnet: ImageSpec, compiled) -> ImageSpec:
    root, sdk_version = sdk_layout(settings)
    suffix = aspnet.key.removeprefix("aspnet-")
    suffix = {"runtime-composite": "runtime-composite", "composite": "aspnet-composite", "composed-composite": "aspnet-composed-composite"}.get(suffix, suffix)
    dockerfile = _render(settings, "sdk", base_image=aspnet.ref, sdk_version=sdk_version, variant_title=variant.title)
    labels = _labels(settings, acquired, variant, "sdk", compiled)
    labels[dockerio.label("sdk-version")] = sdk_version
    return ImageSpec(
        key=f"sdk-{suffix}", ref=image_name(settings, "sdk", suffix), dockerfile=dockerfile, base=aspnet.ref,
        inputs={"sdk_root": str(root), "sdk_version": sdk_version, "parts": list(SDK_PARTS)},
        stage=partial(_stage_sdk, root=root, sdk_version=sdk_version),
        labels=labels,
    )


def _app_spec(settings, acquired, variant, *, sample: Sample, base: str, suffix: str, self_contained: bool, compiled) -> ImageSpec:
    dockerfile = _render(settings, "app", base_image=base, app_name=sample.name, variant_title=variant.title, self_contained=self_contained)
    overlays = tuple(c.out_dir for c in compiled)

    def stage(context: Path) -> None:
        link_tree(sample.path, context / "app")
        for overlay in overlays:
            link_tree(overlay, context / "app")

    labels = _labels(settings, acquired, variant, "app", compiled)
    labels[dockerio.label("app")] = sample.name
    labels[dockerio.label("self-contained")] = str(self_contained).lower()
    return ImageSpec(
        key=f"sample-{sample.name}-{suffix}", ref=image_name(settings, f"sample-{sample.name}", suffix), dockerfile=dockerfile,
        base=base, inputs={"sample": sample.digest, "sample_dir": sample.path.name, "crossgen": [c.record["key"] for c in compiled]},
        stage=stage, labels=labels,
    )


def specs_for(
    settings: Settings,
    acquired: Acquired,
    variant: Variant,
    compiled: dict[str, CompileResult],
    apps: dict[str, tuple[Sample, Sample]] | None = None,
) -> list[ImageSpec]:
    """Image specs of one variant, in dependency order.

    ``apps`` maps a sample name to (framework-dependent publish, self-contained publish);
    ``compiled`` holds the bubbles by name (``app-<sample>`` for the app bubbles).
    """
    deps = runtime_deps_name(settings)
    n = variant.number
    if n == 1:
        rt = runtime_spec(settings, acquired, variant, [])
        asp = _aspnet_spec(settings, acquired, variant, base=rt.ref, suffix="no-composite", compiled=[], full_root=False,
                           frameworks=(ASPNETCORE,), host=False, overlays=())
        return [rt, asp, _sdk_spec(settings, acquired, variant, aspnet=asp, compiled=[])]
    if n == 2:
        c = [compiled["runtime"]]
        rt = runtime_spec(settings, acquired, variant, c)
        asp = _aspnet_spec(settings, acquired, variant, base=rt.ref, suffix="runtime-composite", compiled=c, full_root=False,
                           frameworks=(ASPNETCORE,), host=False, overlays=())
        return [rt, asp, _sdk_spec(settings, acquired, variant, aspnet=asp, compiled=c)]
    if n == 3:
        c = [compiled["aspnet"]]
        asp = _aspnet_spec(settings, acquired, variant, base=deps, suffix="composite", compiled=c, full_root=True,
                           frameworks=(NETCORE, ASPNETCORE), host=True, overlays=[c[0].out_dir])
        return [asp, _sdk_spec(settings, acquired, variant, aspnet=asp, compiled=c)]
    if n == 4:
        rt = runtime_spec(settings, acquired, VARIANTS[1], [compiled["runtime"]])
        c = [compiled["runtime"], compiled["aspnet-composed"]]
        asp = _aspnet_spec(settings, acquired, variant, base=rt.ref, suffix="composed-composite", compiled=c, full_root=False,
                           frameworks=(ASPNETCORE,), host=False, overlays=[compiled["aspnet-composed"].out_dir])
        return [rt, asp, _sdk_spec(settings, acquired, variant, aspnet=asp, compiled=c)]
    if n == 5:
        specs = []
        for name, (fd, sc) in (apps or {}).items():
            base_variant = VARIANTS[0]
            fd_base = image_name(settings, "aspnet" if name == "web" else "runtime", "no-composite")
            specs.append(_app_spec(settings, acquired, base_variant, sample=fd, base=fd_base, suffix="no-composite", self_contained=False, compiled=[]))
            specs.append(_app_spec(settings, acquired, variant, sample=sc, base=deps, suffix="composite", self_contained=True,
                                   compiled=[compiled[f"app-{name}"]]))
        return specs
    raise AssertionError(variant)
