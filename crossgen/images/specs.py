"""Image specs from the catalog: for each catalog image, its Dockerfile (rendered template), the base
it is built FROM, what its context holds (staged from the dotnet root, the bubbles' Crossgen2
outputs, the SDK or a published sample) and its labels."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from crossgen import dockerio
from crossgen.dockerio import templates
from crossgen.acquire.acquisition import Acquired
from crossgen.acquire.epoch import source_date_epoch
from crossgen.images.baseimage import (DISTROLESS_SCRIPT, arch, emulated, host_arch, image_name, os_base_settings, os_image, os_of, os_packages,
                                       runtime_deps_dockerfile, runtime_deps_name, stage_runtime_deps)
from crossgen.compile.compiler import CompileResult
from crossgen.dockerio.imagebuild import ImageSpec
from crossgen.images.catalog import RUNTIME_DEPS, Catalog, Image, Variant
from crossgen.core.errors import DciError
from crossgen.acquire.layout import ASPNETCORE, NETCORE
from crossgen.compile.samples import Sample, sdk_versions
from crossgen.core import channels
from crossgen.core.settings import Settings
from crossgen.images.stage import link_tree, stage_dotnet


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


def runtime_deps_spec(settings: Settings, epoch: int | None) -> ImageSpec:
    """runtime-deps on the settings' OS base: the OS base plus packages (slim), or a multi-stage build whose
    installer stage is the OS base and whose image is FROM scratch (distroless). The ``os`` and ``shell``
    labels are inherited by every image built on it (verify reads them). Nothing in it depends on .NET
    (``epoch`` is :func:`baseimage.os_epoch`, no .NET version label): the runtime-deps of every channel on
    one OS base is one image, under each channel's tag."""
    base = os_of(settings)
    inputs: dict = {"packages": list(os_packages(settings))}
    if not base.shell:
        inputs["script"] = hashlib.sha256((settings.project_root / "docker" / DISTROLESS_SCRIPT).read_bytes()).hexdigest()
    return ImageSpec(
        key="runtime-deps", ref=runtime_deps_name(settings), dockerfile=runtime_deps_dockerfile(settings),
        base=os_image(os_base_settings(settings)), inputs=inputs, platform=platform(settings),
        labels={dockerio.label("role"): "runtime-deps", dockerio.label("os"): base.name, dockerio.label("shell"): str(base.shell).lower()},
        network_mode="host", epoch=epoch,
        stage=None if base.shell else partial(stage_runtime_deps, settings=settings), scratch=not base.shell,
    )


def platform(settings: Settings) -> str | None:
    """The Docker platform an image build names: the target architecture's when it is not this machine's."""
    return arch(settings).platform if emulated(settings) else None


@dataclass(frozen=True)
class SdkChoice:
    """The SDK an SDK image of this build holds (``version`` None: there is none, ``why`` says so)."""

    root: Path | None
    version: str | None
    why: str


def sdk_for(settings: Settings, acquired: Acquired) -> SdkChoice:
    """The newest SDK that starts on the acquired runtime (its own ``dotnet.runtimeconfig.json``, under the
    host's default roll-forward): the SDK tarball the acquisition brought (official source, or a
    local folder of tarballs), else from the dotnet layouts the configuration names: ``dci.dotnet_root``,
    then ``dci.local_path`` when it is a layout. An SDK of another channel never qualifies: an image
    named ``sdk:<channel>`` holds a working SDK of that channel, or is not built."""
    runtime = acquired.version
    seen: list[str] = []
    places = [(acquired.sdk_root, "the acquired SDK tarball"),
              (settings.dotnet_root, "dci.dotnet_root"), (settings.local_path, "dci.local_path")]
    for root, origin in places:
        for version in sdk_versions(root):
            assert root is not None
            config = root / "sdk" / version / "dotnet.runtimeconfig.json"
            try:
                need = json.loads(config.read_text(encoding="utf-8-sig"))["runtimeOptions"]["framework"]["version"]
            except (OSError, ValueError, KeyError, TypeError):
                seen.append(f"SDK {version} in {root} (no readable {config.name})")
                continue
            if channels.runs_on(need, runtime):
                return SdkChoice(root, version, f"SDK {version} from {root} ({origin})")
            seen.append(f"SDK {version} in {root} (runs on .NET {need})")
    channel = channels.channel_info(runtime).channel
    found = f"; found {', '.join(seen)}" if seen else f"; no SDK in {', '.join(str(r) for r, _ in places if r) or 'any configured layout'}"
    return SdkChoice(None, None, f"no {channel} SDK from the configured sources (.NET {runtime}{found})")


def os_refusal(settings: Settings, image: Image) -> str:
    """Why ``image`` is not built on the settings' OS base ("" when it is): no SDK image on a base without
    a shell (the SDK runs shell tools and scripts; the official .NET images have no distroless SDK either)."""
    base = os_of(settings)
    if image.role == "sdk" and not base.shell:
        return f"no SDK image on the {base.name} OS base: it has no shell (official .NET images have no distroless SDK either)"
    if image.role == "sdk" and emulated(settings):
        return (f"no SDK image for {settings.rid}: an SDK image holds a working SDK, and the only SDK here is this machine's "
                f"{host_arch().name} one (no {arch(settings).name} SDK is served by NuGet or found in a configured layout)")
    return ""


SDK_PARTS = ("sdk", "packs", "sdk-manifests", "templates")


def _stage_sdk(context: Path, *, root: Path, sdk_version: str) -> None:
    dest = context / "dotnet"
    for part in SDK_PARTS:
        src = root / part
        if part == "sdk":
            link_tree(src / sdk_version, dest / "sdk" / sdk_version)
        elif src.is_dir():
            link_tree(src, dest / part)


def _render(settings: Settings, name: str, **values) -> str:
    return templates.render(settings.project_root / "docker", name, **values)


def image_ref(settings: Settings, catalog: Catalog, key: str) -> str:
    """The reference a catalog key is tagged with (``runtime-deps`` included). Images holding
    composites built with ``--mode X`` are tagged ``...-<suffix>-X``; the configured modes (the
    defaults) keep the plain tag."""
    if key == RUNTIME_DEPS:
        return runtime_deps_name(settings)
    img = catalog.images[key]
    suffix = f"{img.suffix}-{settings.crossgen.mode_tag}" if img.bubbles and settings.crossgen.mode_tag else img.suffix
    return image_name(settings, img.repo, suffix)


def spec_for(
    settings: Settings,
    acquired: Acquired,
    catalog: Catalog,
    image: Image,
    compiled: dict[str, CompileResult],
    apps: dict[str, dict[str, Sample]] | None = None,
) -> ImageSpec:
    """The spec of one catalog image. ``compiled`` holds the bubbles by name (``app-<sample>``,
    ``app-<kind>-<sample>`` for the app bubbles); ``apps`` maps a sample to its publishes by kind."""
    base_ref = image_ref(settings, catalog, image.base)
    inherited = catalog.images[image.base].bubbles if image.base != RUNTIME_DEPS else ()
    try:
        holds = [compiled[b] for b in image.bubbles]
    except KeyError as exc:
        raise DciError(f"image {image.key}", f"bubble {exc.args[0]} was not compiled", "compile every bubble the catalog names for it") from None
    own = tuple(c.out_dir for c in holds if c.bubble not in inherited)
    owner = catalog.owner(image.key)
    title = owner.title if owner else image.key
    labels = _labels(settings, acquired, owner, image.role, holds)
    ref = image_ref(settings, catalog, image.key)
    root = acquired.dotnet_root
    assert root is not None
    if image.role == "runtime":
        dockerfile = _render(settings, "runtime", base_image=base_ref, dotnet_version=acquired.version, variant_title=title)
        return ImageSpec(
            key=image.key, ref=ref, dockerfile=dockerfile, base=base_ref,
            inputs={"layout": root.path.parent.name, "crossgen": [c.record["key"] for c in holds]},
            stage=partial(_stage_dotnet_and_link, root=root, frameworks=(NETCORE,), host=True, overlays=own), labels=labels,
            epoch=source_date_epoch(settings, acquired), platform=platform(settings),
        )
    if image.role == "aspnet":
        full_root = image.base == RUNTIME_DEPS  # the whole dotnet root in one layer (one composite for both frameworks)
        frameworks = (NETCORE, ASPNETCORE) if full_root else (ASPNETCORE,)
        dockerfile = _render(settings, "aspnet", base_image=base_ref, dotnet_version=acquired.version,
                             aspnet_version=root.aspnet_version, variant_title=title, full_root=full_root)
        return ImageSpec(
            key=image.key, ref=ref, dockerfile=dockerfile, base=base_ref,
            inputs={"layout": root.path.parent.name, "crossgen": [c.record["key"] for c in holds], "frameworks": list(frameworks)},
            stage=partial(_stage_dotnet_and_link if full_root else stage_dotnet, root=root, frameworks=frameworks, host=full_root,
                          overlays=own), labels=labels,
            epoch=source_date_epoch(settings, acquired), platform=platform(settings),
        )
    if image.role == "sdk":
        sdk = sdk_for(settings, acquired)
        if sdk.version is None or sdk.root is None:
            raise DciError(f"image {ref}", sdk.why, "point dci.dotnet_root or dci.local_path at a dotnet layout with an SDK of this channel")
        sdk_root, sdk_version = sdk.root, sdk.version
        labels[dockerio.label("sdk-version")] = sdk_version
        dockerfile = _render(settings, "sdk", base_image=base_ref, sdk_version=sdk_version, variant_title=title)
        return ImageSpec(
            key=image.key, ref=ref, dockerfile=dockerfile, base=base_ref,
            inputs={"sdk_root": sdk_root.name, "sdk_version": sdk_version, "parts": list(SDK_PARTS)},
            stage=partial(_stage_sdk, root=sdk_root, sdk_version=sdk_version), labels=labels,
            epoch=source_date_epoch(settings, acquired), platform=platform(settings),
        )
    if image.role == "app":
        sample = (apps or {}).get(image.app or "", {}).get(image.publish)
        if sample is None:
            raise DciError(f"image {image.key}", f"sample {image.app} was not published {image.publish}", "publish every sample the catalog names")
        if sample.failed:
            raise DciError(f"image {image.key}", sample.failed, "see the publish log under build/logs/")
        kind = image.approach
        dockerfile = _render(settings, "app", base_image=base_ref, app_name=sample.name, variant_title=title,
                             self_contained=kind.self_contained, native=kind.native)
        labels[dockerio.label("app")] = sample.name
        labels[dockerio.label("app-kind")] = catalog.sample(sample.name).kind
        labels[dockerio.label("self-contained")] = str(kind.self_contained).lower()
        labels[dockerio.label("publish")] = kind.name
        record = sample.record
        if kind.name != "fd" or record.get("warnings"):
            # what the approach gives up: trimming/AOT analysis warnings (code -> count); the packs it took
            labels[dockerio.label("analysis-warnings")] = json.dumps(record.get("warnings", {}), sort_keys=True)
            if record.get("packs"):
                labels[dockerio.label("publish-packs")] = json.dumps(record["packs"], sort_keys=True)
        if sample.note:  # built another way than for the channel (rolled forward): verify says so
            labels[dockerio.label("built-as")] = sample.note
        return ImageSpec(
            key=image.key, ref=ref, dockerfile=dockerfile, base=base_ref,
            inputs={"sample": sample.digest, "sample_dir": sample.path.name, "crossgen": [c.record["key"] for c in holds]},
            stage=partial(_stage_app, app=sample.path, overlays=own), labels=labels,
            epoch=source_date_epoch(settings, acquired), platform=platform(settings),
        )
    raise DciError(f"image {image.key}", f"unknown role {image.role!r}", "use runtime, aspnet, sdk or app in the catalog")


DOTNET_LINK = ("usr/bin/dotnet", "/usr/share/dotnet/dotnet")


def _stage_dotnet_and_link(context: Path, **kw) -> None:
    """The dotnet root (:func:`stage_dotnet`) and the link ``/usr/bin/dotnet`` the image puts on PATH."""
    stage_dotnet(context, **kw)
    link = context / DOTNET_LINK[0]
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(DOTNET_LINK[1])


def _stage_app(context: Path, *, app: Path, overlays: tuple[Path, ...]) -> None:
    link_tree(app, context / "app")
    for overlay in overlays:
        link_tree(overlay, context / "app")
