"""The main job, step by step: acquire -> compile -> stage/build (or only plan it) -> verify -> report
(with the warm and cold builds it times)."""

from __future__ import annotations

import contextlib
import fnmatch
import json
import shutil
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import docker
import requests

from crossgen.images import baseimage
from crossgen import dockerio
from crossgen.compile import r2r
from crossgen.core import ui
from crossgen.images import specs
from crossgen.images.catalog import ARCHES, CATALOG, DEFAULT_OS, Catalog, Variant, for_app, os_base, publish_kind
from crossgen.images.catalog import Sample as CatalogSample
from crossgen.verify import checks as verify
from crossgen.publish import push as publish
from crossgen.acquire.acquisition import Acquired, acquire, host_rid
from crossgen.compile import training
from crossgen.compile.bubbles import get_bubble
from crossgen.compile.modes import apply_mode, bubble_mode, needs_hot_list
from crossgen.acquire import lock as lockfile
from crossgen.acquire.cache import Cache
from crossgen.acquire.versionspec import version_key
from crossgen.acquire.epoch import source_date_epoch
from crossgen.acquire.http import new_session
from crossgen.report import frontier, render
from crossgen.report import run as report_run
from crossgen.report.analyse import build_summary, update_build_history
from crossgen.core.files import atomic_write_text
from crossgen.core.errors import DciError
from crossgen.compile.compiler import RECORD, CompileResult, Crossgen2, compile_bubble, crossgen2_image_spec, extract_mibc, plan_bubble
from crossgen.dockerio.imagebuild import BuildOutcome, build_image, image_status
from crossgen.compile.samples import SELF_CONTAINED, Publish, Sample, app_folder, planned, publish_source, target_for
from crossgen.compile.samples import publish as publish_sample
from crossgen.core.channels import channel_info
from crossgen.core.settings import Settings


def base_images(api: docker.APIClient, settings: Settings, *, force: bool = False) -> list[BuildOutcome]:
    """The OS base runtime-deps is built from (made when missing, never rebuilt; a distroless arm64
    runtime-deps stands on this machine's, see :func:`baseimage.os_base_settings`) and runtime-deps
    (rebuilt with ``force``)."""
    start = time.monotonic()
    os_settings = baseimage.os_base_settings(settings)
    os_ref = baseimage.os_image(os_settings)
    present = dockerio.image_info(api, os_ref) is not None
    os_id = baseimage.ensure_os_image(api, os_settings)
    os_info = dockerio.image_info(api, os_id) or {}
    seconds = time.monotonic() - start
    # "up to date" only when it was already there; pulled or made with mmdebstrap counts as built
    outcomes = [BuildOutcome("os", os_ref, os_id, int(os_info.get("Size", 0)), seconds, present)]
    if baseimage.emulated(settings):
        baseimage.require_emulation(settings)  # runtime-deps' build runs the target's code (apt, or the loader check)
    outcomes.append(build_image(api, specs.runtime_deps_spec(settings, baseimage.os_epoch(api, settings)), settings.workspace.contexts,
                                force=force))
    shell = baseimage.with_shell(settings)
    if shell is not settings:
        # the Crossgen2 tool image needs a shell and this machine's architecture: it stands on the slim
        # runtime-deps of this machine whatever --os and --rid are
        if baseimage.os_image(shell) != os_ref:
            baseimage.ensure_os_image(api, shell)
        slim = build_image(api, specs.runtime_deps_spec(shell, baseimage.os_epoch(api, shell)), settings.workspace.contexts, force=force)
        outcomes.append(replace(slim, key=baseimage.TOOL_BASE))
    if settings.locked:
        check_debian_lock(api, settings)
    return outcomes


def check_debian_lock(api: docker.APIClient, settings: Settings) -> None:
    """A locked build: the base images hold the Debian package versions the lock file records."""
    doc = lockfile.read(settings.lock_path)
    if not doc.get("debian"):
        ui.detail(f"{settings.lock_path} records no Debian package versions (written before they were locked): not checked")
        return
    diffs = lockfile.debian_differences(doc, settings.debian_suite, baseimage.debian_packages(api, settings))
    if diffs:
        shown = "; ".join(diffs[:12]) + (f"; and {len(diffs) - 12} more" if len(diffs) > 12 else "")
        raise DciError(str(settings.lock_path), f"the base images hold other Debian packages than the lock file: {shown}",
                       "run `invoke lock` to record these versions (and commit it), or rebuild the base images from the "
                       "Debian archive state the lock was made from (invoke base-image --force)")
    ui.detail(f"Debian packages as locked ({len(doc['debian'].get('os') or {})} in the OS base, "
              f"{len(doc['debian'].get('runtime-deps') or {})} added by runtime-deps)")


def _crossgen2(settings: Settings, acquired: Acquired):
    """The acquired Crossgen2 (as run from its image) and the spec of that image."""
    c = acquired.components["crossgen2"]
    cg = Crossgen2(version=c.version, pack=Path(c.path), pack_sha512=c.sha512)
    spec = replace(crossgen2_image_spec(settings, cg, baseimage.runtime_deps_name(baseimage.with_shell(settings)), host_rid()),
                   epoch=source_date_epoch(settings, acquired))
    return Crossgen2(cg.version, cg.pack, cg.pack_sha512, image=spec.ref), spec


def crossgen2_tool(api: docker.APIClient, settings: Settings, acquired: Acquired, *, force: bool = False) -> tuple[Crossgen2, BuildOutcome]:
    cg, spec = _crossgen2(settings, acquired)
    return cg, build_image(api, spec, settings.workspace.contexts, force=force)


def compile_named(
    api, settings: Settings, acquired: Acquired, names: tuple[str, ...], *, force: bool = False,
    apps: dict[str, dict[str, Sample]] | None = None, force_images: bool = False, catalog: Catalog = CATALOG,
) -> tuple[dict[str, CompileResult], list[BuildOutcome]]:
    """Compile the named bubbles (``app`` = the app bubble of each (sample, publish kind) in ``apps`` that
    a catalog image compiles: ``app-<sample>``, ``app-<kind>-<sample>``); ``force`` compiles again what is
    cached, ``force_images`` rebuilds runtime-deps and the Crossgen2 image."""
    outcomes = base_images(api, settings, force=force_images)
    cg, cg_outcome = crossgen2_tool(api, settings, acquired, force=force_images)
    outcomes.append(cg_outcome)
    assert acquired.dotnet_root is not None
    mibc = optimization_profile(settings, acquired)
    results: dict[str, CompileResult] = {}
    for n in names:
        bubble = get_bubble(n)
        if n == "app":
            published = apps if apps is not None else publish_samples(
                settings, acquired, catalog, [i for i in catalog.images.values() if i.role == "app" and i.bubbles])
            for name, (app, kind) in app_bubbles(catalog, published).items():
                results[name] = compile_bubble(api, settings, bubble, None, cg, force=force, app_dir=app.path, app_name=app.name,
                                               mibc=mibc, result_name=name)
        else:
            results[n] = compile_bubble(api, settings, bubble, acquired.dotnet_root, cg, force=force, mibc=mibc)
    return results, outcomes


def optimization_profile(settings: Settings, acquired: Acquired) -> Path | None:
    """The runtime pack's StandardOptimizationData.mibc when ``crossgen.mibc`` is on."""
    if not settings.crossgen.mibc:
        return None
    runtime = acquired.components.get("runtime")
    if runtime is None or not _is_zip(Path(runtime.path)):
        ui.detail("no runtime pack (nupkg) among the acquired bits: compiling without the MIBC profile")
        return None
    return extract_mibc(Path(runtime.path), settings.workspace.profile(acquired.version))


def _is_zip(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"PK\x03\x04"
    except OSError:
        return False


def publish_samples(settings: Settings, acquired: Acquired, catalog: Catalog, images: list | None = None) -> dict[str, dict[str, Sample]]:
    """Each sample of the catalog (or a user's app), published each way some image of ``images`` (default:
    every catalog image) needs: sample -> publish kind -> Sample (framework-dependent always); the
    samples for the acquired channel (``samples.target_for``), self-contained ones on the acquired
    version. An approach that may fail (trimming, Native AOT) and does is a Sample with ``failed``
    (why): its images are then not built; any other failed publish stops the build."""
    wanted = images if images is not None else list(catalog.images.values())
    out: dict[str, dict[str, Sample]] = {}
    for s in catalog.samples:
        out[s.name] = {}
        for name in catalog.publish_kinds(wanted)[s.name]:
            out[s.name][name] = publish_one(settings, acquired, s, publish_kind(name))
    return out


def _publish_args(settings: Settings, acquired: Acquired, kind: Publish) -> dict:
    """What publishing a sample the ``kind`` way takes besides the sample: the RID and runtime version
    when self-contained, our Crossgen2's version when the kind pins it (as published and as planned)."""
    crossgen2 = acquired.components.get("crossgen2")
    return {"kind": kind, "rid": settings.rid if kind.self_contained else None,
            "runtime_version": acquired.version if kind.self_contained else None,
            "crossgen2_version": crossgen2.version if crossgen2 and kind.pin_crossgen2 else None}


def publish_one(settings: Settings, acquired: Acquired, s: CatalogSample, kind: Publish) -> Sample:
    """One sample published one way (see :func:`publish_samples`)."""
    try:
        return publish_source(settings, s.name, s.source, channel=acquired.version, **_publish_args(settings, acquired, kind))
    except DciError as exc:
        if not kind.may_break:
            raise
        ui.info(f"{s.name} ({kind.name}): {exc.cause}", label="not published", style="yellow")
        return Sample(s.name, Path(), "", kind=kind.name, failed=f"{kind.title}: {exc.cause}")


def _published(apps: dict[str, dict[str, Sample]], img) -> Sample | None:
    """The publish an app image is made from (None: not an app image, or not published that way)."""
    return apps.get(img.app or "", {}).get(img.publish) if img.role == "app" else None


def app_bubbles(catalog: Catalog, apps: dict[str, dict[str, Sample]]) -> dict[str, tuple[Sample, str]]:
    """Compiled app bubble name -> (the publish it is compiled from, its kind), for every catalog image
    with an app bubble whose sample was published that way (and did not fail)."""
    out: dict[str, tuple[Sample, str]] = {}
    for img in catalog.images.values():
        if img.role != "app" or not img.bubbles or img.app not in apps:
            continue
        app = apps[img.app].get(img.publish)
        if app is not None and not app.failed:
            for b in img.bubbles:
                out[b] = (app, img.publish)
    return out


def for_channel(settings: Settings, acquired: Acquired) -> Settings:
    """``settings`` with the channel the acquisition resolved (``latest``/``lts``/``sts`` name no
    channel; the images are tagged with the one they hold)."""
    channel = channel_info(acquired.version).channel
    return settings if settings.channel.split(".")[:2] == channel.split(".") else settings.with_overrides(channel=channel)


def _sdk_if_needed(images, settings: Settings) -> tuple[str, ...]:
    """The SDK tarball comes along (from a source that serves one) when an SDK image is to be built."""
    return ("sdk",) if any(img.role == "sdk" and not specs.os_refusal(settings, img) for img in images) else ()


def _not_built(img, ref: str, why: str) -> BuildOutcome:
    ui.info(f"{ref}: {why}", label="skipped", style="yellow")
    return BuildOutcome(img.key, ref, "", 0, 0.0, False, not_built=why)


def build_variants(
    api: docker.APIClient,
    settings: Settings,
    session: requests.Session,
    cache: Cache,
    *,
    selected: list[Variant] | None = None,
    force: bool = False,
    catalog: Catalog = CATALOG,
    record_path: Path | None = None,
    recompile: bool = False,
    only: set[str] | None = None,
) -> list[BuildOutcome]:
    """Build the selected variants (default all) in dependency order; writes ``record_path`` (default
    build/build-all.json, or build-all-<mode>.json). ``force`` rebuilds the images, ``recompile``
    compiles the bubbles again even when cached; ``only``: of the variants' images, just these keys and
    the images they stand on."""
    start = time.monotonic()
    chosen = catalog.selection(selected)
    images = catalog.to_build(chosen, only)
    acquired = acquire(settings, session, cache, optional=_sdk_if_needed(images, settings))
    settings = for_channel(settings, acquired)
    apps = publish_samples(settings, acquired, catalog, images) if any(img.role == "app" for img in images) else {}
    compiled, outcomes = compile_named(api, settings, acquired, catalog.bubbles_of(chosen, only), apps=apps, force_images=force,
                                       force=recompile, catalog=catalog)
    sdk = specs.sdk_for(settings, acquired) if any(img.role == "sdk" for img in images) else None
    not_built: dict[str, str] = {}
    for img in images:
        ref = specs.image_ref(settings, catalog, img.key)
        app = _published(apps, img)
        why = (specs.os_refusal(settings, img) or (sdk.why if img.role == "sdk" and sdk and sdk.version is None else "")
               or (f"its base {img.base} was not built" if img.base in not_built else "")
               or (app.failed if app is not None and app.failed else ""))
        if why:
            not_built[img.key] = why
            outcomes.append(_not_built(img, ref, why))
            continue
        spec = specs.spec_for(settings, acquired, catalog, img, compiled, apps)
        trial = _trial_of(api, settings, img, spec)
        known = None if force or trial is None else trial.found
        if known:  # this very input failed its trial run before: not built again to fail again
            not_built[img.key] = f"{known} (its trial run on these same inputs, {settings.workspace.trials.name}; --force tries again)"
            outcomes.append(_not_built(img, ref, not_built[img.key]))
            continue
        outcome = build_image(api, spec, settings.workspace.contexts, force=force)
        why = ""
        if trial is not None and not (outcome.skipped and known == ""):
            with verify.time_scale(settings.emulation_timeout_factor if dockerio.runs_emulated(api, outcome.ref) else 1.0):
                run = trial_run(api, catalog, img, outcome.ref)
            why = trial.trials.record(trial.digest, run)
        if why:  # trimmed or compiled ahead of time, the program no longer does what it did: no image of it
            dockerio.remove_image(api, outcome.ref)
            not_built[img.key] = why
            outcomes.append(_not_built(img, ref, why))
            continue
        outcomes.append(outcome)
    total = time.monotonic() - start
    record = {
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "seconds": round(total, 1),
        "dotnet_version": acquired.version,
        "channel": settings.channel,
        "os": settings.os,
        "os_tag": baseimage.os_tag(settings),
        # everything build-all builds (not some variants or --images): only such a build is a cold or warm one
        "whole": not only and [v.number for v in chosen] == [v.number for v in catalog.selection(None)],
        "sdk": sdk.why if sdk else None,
        "images": [asdict(o) for o in outcomes if not o.not_built],
        "not_built": [{"key": o.key, "ref": o.ref, "why": o.not_built} for o in outcomes if o.not_built],
        "bubbles": {
            n: {k: c.record[k] for k in ("key", "seconds", "peak_memory_bytes", "composite", "input_bytes", "output_bytes")} | {"reused": c.reused}
            for n, c in compiled.items()
        },
        "publishes": publish_records(images, apps),
    }
    atomic_write_text(record_path or settings.workspace.build_record, json.dumps(record, indent=2))
    built = sum(1 for o in outcomes if not o.skipped and not o.not_built)
    left = f", {len(not_built)} not built" if not_built else ""
    ui.info(f"{len(outcomes)} images ({built} built, {len(outcomes) - built - len(not_built)} up to date{left}) in {total:.1f} s",
            label="build-all:", style="bold green")
    return outcomes


def publish_records(images, apps: dict[str, dict[str, Sample]]) -> dict[str, dict]:
    """App image key -> how its sample was published: the approach, the publish's seconds (when it was
    published, cached or not), trimming/AOT analysis warnings (code -> count), the packs the SDK took,
    or why it could not be published."""
    out: dict[str, dict] = {}
    for img in images:
        app = _published(apps, img)
        if app is None:
            continue
        record = app.record if not app.failed else {}
        out[img.key] = {"sample": img.app, "publish": img.publish, "failed": app.failed or None,
                        "seconds": record.get("seconds"), "warnings": record.get("warnings", {}), "packs": record.get("packs", {})}
    return out


class Trials:
    """What the trial runs found, by image input digest (build/trials.json): "" it ran, else why not.
    A failed input is not built again (the build would only fail the same way); an image that is up to
    date and ran is not tried again."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _read(self) -> dict[str, str]:
        try:
            doc = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}  # none yet, or unreadable: every image is tried
        return {k: v for k, v in doc.items() if isinstance(v, str)} if isinstance(doc, dict) else {}

    def get(self, digest: str | None) -> str | None:
        return None if digest is None else self._read().get(digest)

    def put(self, digest: str | None, why: str) -> None:
        if digest is not None:
            atomic_write_text(self.path, json.dumps({**self._read(), digest: why}, indent=1, sort_keys=True))

    def record(self, digest: str | None, run: TrialRun) -> str:
        """Remembers what a trial run found, unless it ran out of time (this machine's load, or a slow
        emulator, may be why: the next build tries again); returns why the image is not kept ("" it is)."""
        if run.timed_out:
            return f"{run.why} (a time limit: not remembered, the next build tries again)"
        self.put(digest, run.why)
        return run.why


@dataclass(frozen=True)
class TrialRun:
    """One trial run of an app image: why the program does not work as built ("" it does), and whether
    that is a time limit rather than the program's own failure."""
    why: str = ""
    timed_out: bool = False


@dataclass(frozen=True)
class _Trial:
    trials: Trials
    digest: str | None      # the image's input digest (None: its base is not built yet)
    found: str | None       # what this input's last trial run found: "" it ran, else why not; None: never tried


def _trial_of(api: docker.APIClient, settings: Settings, img, spec) -> _Trial | None:
    """The trial record of an app image whose approach may change what the program does (None for any
    other image): the build and its plan both read it."""
    if img.role != "app" or not img.approach.may_break:
        return None
    trials = Trials(settings.workspace.trials)
    digest = image_status(api, spec).digest
    return _Trial(trials, digest, trials.get(digest))


def trial_run(api: docker.APIClient, catalog: Catalog, img, ref: str) -> TrialRun:
    """An approach that may change what the program does (trimming, Native AOT): its image run once as
    verify runs it (a console sample prints and exits 0, a web sample answers), and an image holding a
    composite once more with its ReadyToRun code off: that code is rejected where the CPU lacks the
    instruction set it was compiled for, and the app must then still run from its IL (a trimmed app
    whose IL trimming left incomplete does not). Why not is in the runtime's words."""
    web = catalog.sample(img.app).kind == "web"
    check = verify.check_web(api, ref, None) if web else verify.check_console(api, ref, None)
    if not check.passed:
        return TrialRun(f"{img.approach.title}: published, but fails at run time: {verify.failure_reason(check)}",
                        timed_out=bool(check.data.get("timeout")))
    if img.bubbles:
        off = verify.jit_count(api, ref, None, web, verify.R2R_OFF)
        if off.count is None:
            return TrialRun(f"{img.approach.title}: runs only with its ReadyToRun code (rejected on a CPU without the instruction "
                            f"set it was compiled for); with DOTNET_ReadyToRun=0 it fails: {off.why}", timed_out=off.timed_out)
    return TrialRun()


# --- plan: what build-all would do, and why (nothing compiled or built) ----------------------------


@dataclass(frozen=True)
class Step:
    kind: str        # base | tool | sample | profile | bubble | image
    name: str
    todo: bool       # would be published / compiled / built
    reason: str      # why (or "up to date" / "cached")


def plan_build(
    api: docker.APIClient,
    settings: Settings,
    session: requests.Session,
    cache: Cache,
    *,
    selected: list[Variant] | None = None,
    force: bool = False,
    catalog: Catalog = CATALOG,
    only: set[str] | None = None,
) -> list[Step]:
    """What :func:`build_variants` would publish, compile and build, each with its reason. The .NET
    bits are resolved and fetched into the download cache (that is how the inputs are known);
    nothing is published, compiled or built. ``only`` as for :func:`build_variants`."""
    chosen = catalog.selection(selected)
    images = catalog.to_build(chosen, only)
    acquired = acquire(settings, session, cache, optional=_sdk_if_needed(images, settings))
    settings = for_channel(settings, acquired)
    steps: list[Step] = []
    changed: set[str] = set()   # keys (images, bubbles, samples) that would be made anew

    def add(kind: str, name: str, todo: bool, reason: str) -> None:
        steps.append(Step(kind, name, todo, reason))
        if todo:
            changed.add(name)

    made = "pulled, else made with mmdebstrap" if settings.base_pull else "made with mmdebstrap"

    def add_os(ref: str) -> None:
        present = dockerio.image_info(api, ref) is not None
        add("base", ref, not present, "present" if present else f"missing: {made}")

    os_ref = baseimage.os_image(baseimage.os_base_settings(settings))
    add_os(os_ref)
    _plan_image(api, "base", specs.runtime_deps_spec(settings, baseimage.os_epoch(api, settings)), force, changed, add)
    if (shell := baseimage.with_shell(settings)) is not settings:  # the Crossgen2 image's base, as base_images makes it
        if baseimage.os_image(shell) != os_ref:
            add_os(baseimage.os_image(shell))
        _plan_image(api, "base", specs.runtime_deps_spec(shell, baseimage.os_epoch(api, shell)), force, changed, add)
    cg, tool = _crossgen2(settings, acquired)
    _plan_image(api, "tool", tool, force, changed, add)

    apps: dict[str, dict[str, Sample]] = {}
    target = target_for(settings, acquired.version)
    kinds = catalog.publish_kinds(images)  # as publish_samples does
    for s in catalog.samples if any(img.role == "app" for img in images) else ():
        apps[s.name] = {}
        for name in kinds[s.name]:
            sample, done = planned(settings, s.name, target=target, **_publish_args(settings, acquired, publish_kind(name)))
            apps[s.name][name] = sample
            add("sample", _sample_step(s.name, name), not done, "published" if done else "sources changed or never published")

    mibc = optimization_profile(settings, acquired)
    hot = None
    if needs_hot_list(settings, catalog.bubbles_of(chosen, only)):
        listed = training.cached_hot_assemblies(settings)
        add("profile", "hot assemblies", listed is None,
            f"made from the training programs ({listed.path.name})" if listed else "the training programs have not run yet")
        hot = listed.names if listed else None
    compiled: dict[str, CompileResult] = {}
    for n in catalog.bubbles_of(chosen, only):
        bubble = get_bubble(n)
        targets = [(name, app, kind) for name, (app, kind) in app_bubbles(catalog, apps).items()] if n == "app" else [(n, None, "")]
        for name, sc, kind in targets:
            if sc is not None and _sample_step(sc.name, kind) in changed:
                add("bubble", name, True, "its sample is published anew first")
                continue
            if bubble_mode(settings, n).hot_only and hot is None:
                add("bubble", name, True, "the hot assemblies are listed first")
                continue
            bp = plan_bubble(settings, bubble, None if sc else acquired.dotnet_root, cg,
                             app_dir=sc.path if sc else None, app_name=sc.name if sc else None, mibc=mibc, hot=hot,
                             result_name=name if sc else None)
            if bp.cached:  # --force rebuilds images, it does not recompile (as build_variants)
                compiled[name] = CompileResult(name, bp.final / "out", json.loads((bp.final / RECORD).read_text()), True)
                add("bubble", name, False, f"cached (key {bp.key[:16]})")
            else:
                add("bubble", name, True, f"no cached result for these inputs (key {bp.key[:16]})")

    sdk = specs.sdk_for(settings, acquired) if any(img.role == "sdk" for img in images) else None
    not_built: set[str] = set()
    for img in images:
        ref = specs.image_ref(settings, catalog, img.key)
        refusal = specs.os_refusal(settings, img)
        if refusal or (img.role == "sdk" and sdk and sdk.version is None) or img.base in not_built:
            not_built.add(img.key)
            add("image", ref, False, f"not built: {refusal or (sdk.why if img.role == 'sdk' and sdk else f'its base {img.base} is not built')}")
            continue
        anew = [b for b in img.bubbles if b in changed]
        sample = _sample_step(img.app, img.publish) if img.app else ""
        if anew or sample in changed:
            add("image", ref, True, f"bubble {', '.join(anew)} is compiled anew" if anew else f"sample {sample} is published anew")
            continue
        spec = specs.spec_for(settings, acquired, catalog, img, compiled, apps)
        trial = None if force else _trial_of(api, settings, img, spec)
        failed = trial.found if trial else None
        if failed:
            add("image", ref, False, f"not built: its trial run on these inputs failed ({failed[:160]})")
            continue
        _plan_image(api, "image", spec, force, changed, add)
    return steps


def _sample_step(name: str, kind: str) -> str:
    return f"{name} ({publish_kind(kind).title})"


def _plan_image(api, kind: str, spec, force: bool, changed: set[str], add) -> None:
    if spec.base in changed:
        add(kind, spec.ref, True, f"its base {spec.base} is built anew")
        return
    status = image_status(api, spec)
    if force:
        add(kind, spec.ref, True, "forced")
    else:
        add(kind, spec.ref, not status.up_to_date and not status.same, "up to date" if status.up_to_date else status.reason)


def verify_images(api: docker.APIClient, settings: Settings, refs: list[str] | None = None, *, catalog: Catalog = CATALOG) -> list[verify.Check]:
    """Verify every image of the last build-all (or those named); writes build/verify/verify.json.

    SDK images are checked first: they build and publish the samples offline, and what they
    publish is what the runtime/aspnet images of the same variant then run. Baselines come
    before composites so that each composite's JIT count can be compared with its baseline.
    """
    if not refs:
        for o in _not_built_images(settings):
            ui.info(f"{o['ref']}: not built: {o['why']}", label="skipped", style="yellow")
    built = [] if refs else _built_images(settings)
    targets = refs or [o["ref"] for o in built if o["key"] not in ("os", "runtime-deps", baseimage.TOOL_BASE, "crossgen2")]
    # runtime-deps on an OS base without a shell: what it promises (user, no shell, ICU, tzdata, CA bundle)
    targets += [o["ref"] for o in built if o["key"] == "runtime-deps" and not verify.claim_of(api, o["ref"]).shell]
    claims = sorted((verify.claim_of(api, r) for r in targets), key=lambda c: ({"sdk": 0}.get(c.role, 1), c.variant != catalog.baseline.number, c.variant))
    host_samples: dict[tuple[str, str | None], Sample] = {}

    def host_sample(s: CatalogSample, version: str | None) -> Sample:
        """The sample published here for the channel of ``version`` (the image's .NET)."""
        if (s.name, version) not in host_samples:
            host_samples[(s.name, version)] = publish_source(settings, s.name, s.source, channel=version)
        return host_samples[(s.name, version)]

    for version in dict.fromkeys(c.dotnet_version for c in claims if c.role not in ("app", "runtime-deps")):
        kinds = set().union(*(_kinds_run(catalog, c) for c in claims if c.dotnet_version == version and c.role not in ("app", "runtime-deps")))
        for s in catalog.samples:  # published first (one long step), then the checks; only the kinds some image runs
            if s.kind in kinds:
                host_sample(s, version)
    # runtime-deps holds no .NET (one image for every channel): its os probe runs on the newest .NET of the
    # images verified with it, else on the last build's
    probe_version = max((c.dotnet_version for c in claims if c.dotnet_version), key=version_key, default=None) or _built_version(settings)
    sdk_samples: dict[tuple[int, str | None], dict[str, Sample]] = {}
    baseline_jit: dict[tuple[str, str], int | None] = {}
    checks: list[verify.Check] = []
    work = settings.workspace.verify
    claim = None

    def add(check: verify.Check) -> None:
        if claim is not None and claim.image_id:
            check.data.setdefault("image_id", claim.image_id)  # what `invoke push` accepts it for
        checks.append(check)
        ui.info(f"{check.name}: {check.detail[:150]}", label="PASS" if check.passed else "FAIL", indent="    ")

    # as dockerio.runs_emulated decides (Docker's init): against the daemon's architecture, not this machine's;
    # the claim already holds the image's architecture, so no image lookup per claim
    daemon_arch = dockerio.daemon_architecture(api)
    emulation_checked: set[str] = set()
    for claim in claims:
        emulated = bool(claim.architecture) and claim.architecture != daemon_arch
        if emulated and (rid := _claim_rid(settings, claim)) not in emulation_checked:
            # before the first image of the architecture: a clear error, not "exec format error" in every check
            baseimage.require_emulation(settings.with_overrides(rid=rid))
            emulation_checked.add(rid)
        ui.step(f"Verifying {claim.ref} ({claim.role}, variant {claim.variant}"
                + (f"; {claim.architecture} under emulation, time limits x{settings.emulation_timeout_factor:g})" if emulated else ")"))
        with verify.time_scale(settings.emulation_timeout_factor if emulated else 1.0):
            _verify_claim(api, settings, catalog, claim, add, host_sample, sdk_samples, baseline_jit, work, probe_version)
    atomic_write_text(work / "verify.json", json.dumps([c.to_dict() for c in checks], indent=2))
    return checks


def _kinds_run(catalog: Catalog, claim) -> set[str]:
    """The kinds of sample (console, web) verify runs on a framework image: what the catalog runs on it, or
    on the nearest image below it that runs some (an SDK image: what its ASP.NET base runs); an image from
    elsewhere by its role."""
    return set(catalog.kinds_to_run(claim.key) or {"web" if claim.role == "aspnet" else "console"})


def _verify_claim(api, settings: Settings, catalog: Catalog, claim, add, host_sample, sdk_samples, baseline_jit, work,
                  probe_version: str | None) -> None:
    """Every check of one image (see :func:`verify_images`)."""
    if not claim.shell:
        add(verify.check_no_shell(api, claim))
    if claim.role == "runtime-deps":
        add(verify.check_conventions(api, claim))
        add(_os_probe(settings, api, claim, claim.dotnet_version or probe_version))
        return
    add(verify.verify_structure(api, claim) if claim.role != "sdk" else _sdk_structure(api, claim))
    add(verify.check_conventions(api, claim))
    runs: list[tuple[Sample | None, bool, tuple[str, str]]] = []  # (sample, web?, baseline key)
    if claim.role == "app":
        runs.append((None, claim.app_kind == "web", (f"app-{claim.app}", claim.app or "")))
    else:
        add(verify.check_list_runtimes(api, claim))
        if claim.role == "sdk":
            check, built = verify.sdk_build_samples(api, claim.ref, settings.project_root / "samples",
                                                    tuple(s.name for s in catalog.samples),
                                                    work / "sdk-built" / claim.ref.replace("/", "_").replace(":", "_"),
                                                    tfm=channel_info(claim.dotnet_version).tfm if claim.dotnet_version else None)
            add(check)
            sdk_samples[(claim.variant, claim.dotnet_version)] = built
        kinds = _kinds_run(catalog, claim)
        group = "sdk" if claim.role == "sdk" else "run"  # JIT counts compare with the baseline's of the same group
        for s in catalog.samples:
            if s.kind in kinds:
                built = sdk_samples.get((claim.variant, claim.dotnet_version), {}).get(s.name) or host_sample(s, claim.dotnet_version)
                runs.append((built, s.kind == "web", (group, s.name)))
    for sample, web, key in runs:
        run = verify.check_web(api, claim.ref, sample) if web else verify.check_console(api, claim.ref, sample)
        if sample is not None:
            run.data["app_built_by"] = sample.digest if sample.digest.startswith("sdk:") else "host SDK"
        note = sample.note if sample is not None else claim.built_as
        if note:  # e.g. rolled forward: no SDK here targets the image's channel
            run.data["built_as"] = note
            run.detail += f" ({note})"
        add(_about(run, key[1]))
        if claim.native:  # compiled ahead of time: nothing to JIT, no ReadyToRun code to use
            add(_about(verify.not_applicable_r2r(claim.ref, run.data.get("jit_methods"), "Native AOT: no JIT, no ReadyToRun code"), key[1]))
            continue
        reasons: list[str] = []
        on, off = verify.jit_counts(api, claim.ref, sample, web, reasons, ran=run)
        composite = claim.has_composite
        if not composite:
            baseline_jit.setdefault(key, on)
        # the SDK's own composite is built to compare with: not held to the baseline as this tool's composites are
        held = not (claim.approach and claim.approach.sdk_composite)
        add(_about(verify.check_r2r_used(claim.ref, on, off, baseline_jit.get(key) if composite else None, composite=composite,
                                         reasons=tuple(reasons), held=held), key[1]))


PROBE_DIR = Path(verify.__file__).parent / "probe"


def _claim_rid(settings: Settings, claim: verify.Claim) -> str:
    """The RID an image was built for: its label, else its config's architecture, else the settings'."""
    if claim.rid:
        return claim.rid
    arch = next((a for a in ARCHES if a.architecture == claim.architecture), None)
    return arch.rid(settings.rid) if arch else settings.rid


def _os_probe(settings: Settings, api: docker.APIClient, claim: verify.Claim, version: str | None) -> verify.Check:
    """The os probe, published self-contained for .NET ``version`` (None: the SDK's own) and the image's
    architecture, run in it (what its OS base promises)."""
    base = os_base(claim.os or DEFAULT_OS)
    probe = publish_sample(settings, "OsProbe", kind=SELF_CONTAINED, src=PROBE_DIR, rid=_claim_rid(settings, claim),
                           runtime_version=version)
    return verify.check_os_probe(api, claim, probe, icu=base.icu, tzdata=base.tzdata)


def _about(check: verify.Check, sample: str) -> verify.Check:
    """Name the sample a run check ran (an image runs every sample of its kind)."""
    check.data["sample"] = sample
    check.detail = f"{sample}: {check.detail}"
    return check


def _sdk_structure(api: docker.APIClient, claim: verify.Claim) -> verify.Check:
    """SDK images: the shared frameworks as their ASP.NET base promises (only shared/ is copied out)."""
    folder = verify.copy_tree_out(api, claim.ref, f"{verify.DOTNET}/shared")
    try:
        infos = [replace(i, path=f"shared/{i.path}") for i in r2r.classify_tree(folder)]
        return verify.check_structure(infos, claim.ref, claim.expected_owners(), root=folder.parent, excluded=claim.excluded)
    finally:
        shutil.rmtree(folder.parent, ignore_errors=True)


def check_app(api: docker.APIClient, settings: Settings, app_dir: Path, ref: str) -> verify.Check:
    check = verify.check_app_compat(api, ref, app_dir)
    atomic_write_text(settings.workspace.verify / "app-compat.json", json.dumps(check.to_dict(), indent=2))
    return check


def _last_record(settings: Settings) -> dict:
    """The last build's record ({} when there is none)."""
    path = settings.workspace.build_record
    return json.loads(path.read_text()) if path.is_file() else {}


def _not_built_images(settings: Settings) -> list[dict]:
    """What the last build left out, and why (an SDK image with no SDK of its channel)."""
    return _last_record(settings).get("not_built", [])


def _built_version(settings: Settings) -> str | None:
    """The .NET version of the last build (None: no build record)."""
    return _last_record(settings).get("dotnet_version")


def _built_images(settings: Settings) -> list[dict]:
    path = settings.workspace.build_record
    if not path.is_file():
        raise DciError(str(path), "no build record", "run `invoke build-all` first, or name images to verify")
    return json.loads(path.read_text())["images"]


# --- push: verified images to a registry ---------------------------------------------------------

def push_images(api: docker.APIClient, settings: Settings, target: publish.Target, wanted: tuple[str, ...] = (), *,
                force: bool = False, dry_run: bool = False, attempts: int = publish.ATTEMPTS,
                backoff: float = publish.BACKOFF) -> tuple[list[publish.Item], list[publish.Published]]:
    """The images of the last build-all (``wanted``: some of them) that passed verify, pushed to
    ``target`` and read back; with ``dry_run`` only what would be pushed and refused, and why.
    Writes build/publish/push.json (what was pushed, with the digests, and what was refused)."""
    images = publish.select(_built_images(settings), wanted, settings.image_prefix)
    items = publish.plan(api, images, target, settings.image_prefix, settings.workspace.verify / "verify.json", force=force)
    if dry_run:
        return items, []
    start = time.monotonic()
    published: list[publish.Published] = []
    with _push_record(settings, target, start) as record:
        record["refused"] = [{"key": i.key, "ref": i.ref, "remote": i.remote, "why": i.refused, "fix": i.fix}
                             for i in items if not i.accepted]
        record["pushed"] = published  # what went up, also when a later push fails
        publish.publish(api, items, target, attempts=attempts, backoff=backoff, done=published)
    return items, published


@contextlib.contextmanager
def _push_record(settings: Settings, target: publish.Target, start: float):
    """build/publish/push.json, written when the push ends, also when it fails part-way (then with
    ``incomplete``: why, and what went up before it); lists in the record are turned into dicts."""
    record: dict = {"target": str(target)}
    try:
        yield record
    except BaseException as exc:
        record["incomplete"] = f"{type(exc).__name__}: {exc}"[:500]
        raise
    finally:
        record["seconds"] = round(time.monotonic() - start, 1)
        record["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        out = {k: [x.to_dict() if hasattr(x, "to_dict") else x for x in v] if isinstance(v, list) else v for k, v in record.items()}
        atomic_write_text(settings.workspace.publish / "push.json", json.dumps(out, indent=2))


def arch_records(settings: Settings) -> list[publish.ArchRecord]:
    """Every architecture's last build-all and verify record (the workspace's names for each: build-all.json
    and verify/ for x64, build-all-arm64.json and verify-arm64/ for arm64)."""
    records = []
    for arch in ARCHES:
        work = settings.with_overrides(rid=arch.rid(settings.rid)).workspace
        path = work.build_record
        images = json.loads(path.read_text())["images"] if path.is_file() else None
        records.append(publish.ArchRecord(arch, images, path, work.verify / "verify.json"))
    if all(r.images is None for r in records):
        raise DciError(", ".join(str(r.build_record) for r in records), "no build record",
                       "run `invoke build-all` and `invoke build-all --rid linux-arm64` (then verify each) first")
    return records


def push_multiarch(api: docker.APIClient, settings: Settings, target: publish.Target, wanted: tuple[str, ...] = (), *,
                   force: bool = False, dry_run: bool = False, attempts: int = publish.ATTEMPTS,
                   backoff: float = publish.BACKOFF) -> tuple[list[publish.IndexItem], list[publish.PublishedIndex]]:
    """The image keys of the last build-all of every architecture (``wanted``: some of them) verified on
    each: pushed as ``<tag>-amd64`` / ``<tag>-arm64v8`` and an OCI image index under ``<tag>``, read back;
    a key not verified on every architecture is refused (nothing of it pushed). ``dry_run``: the plan only.
    Writes build/publish/push.json (the indexes and their children, with the digests, and what was refused)."""
    records = arch_records(settings)
    indexes = publish.plan_multiarch(records, wanted, target, settings.image_prefix,
                                     lambda ref: dockerio.image_info(api, ref), force=force)
    if dry_run:
        return indexes, []
    start = time.monotonic()
    pushed: list[publish.Published] = []
    done: list[publish.PublishedIndex] = []
    with _push_record(settings, target, start) as record:
        record["multi_arch"] = True
        record["records"] = {r.arch.name: {"build": str(r.build_record), "verify": str(r.verify_record)} for r in records}
        record["indexes"], record["pushed"] = done, pushed  # what went up, also when a later push fails
        record["refused"] = [{**i.to_dict(), "pushed": "nothing (refused from the index, not pushed single-arch either)"}
                             for i in indexes if not i.accepted]
        publish.publish_multiarch(api, indexes, target, attempts=attempts, backoff=backoff, pushed=pushed, done=done)
    return indexes, done


# --- report: build (timed) then measure ---------------------------------------------------------

COLD_PREFIX = "dci-report-cold/"


def build_modes(api: docker.APIClient, settings: Settings, modes: tuple[str, ...], catalog: Catalog, *, force: bool = False,
                record_dir: Path | None = None, only: set[str] | None = None) -> list[BuildOutcome]:
    """The composite variants of ``catalog`` once more in each of ``modes`` (images tagged ...-<mode>);
    each build's record is build-all-<mode>.json, or <record_dir>/build-<mode>.json; ``only`` as for
    :func:`build_variants`."""
    composites = [v for v in catalog.variants if not v.baseline and catalog.bubbles_of([v])]  # those a compile mode changes
    outcomes: list[BuildOutcome] = []
    for mode in modes:
        ui.step(f"the composite variants with --mode {mode}")
        outcomes += build_variants(api, apply_mode(settings, mode), new_session(), Cache(settings.cache_dir), catalog=catalog,
                                   selected=composites, force=force, only=only,
                                   record_path=record_dir / f"build-{mode}.json" if record_dir else None)
    return outcomes


def report(api: docker.APIClient, settings: Settings, opts: report_run.ReportOptions) -> dict:
    """``invoke report``: optionally time a cold and a warm build-all, then measure what exists."""
    started = time.monotonic()  # the report's "took": its builds as well as its measurements
    timings: dict[str, float] = {}
    cold_measured = None
    if opts.cold_build:
        ui.step(f"Cold build-all (timed) into {COLD_PREFIX} and a scratch build folder")
        start = time.monotonic()
        cold_measured = cold_build(api, settings)
        timings["cold_build"] = round(time.monotonic() - start, 1)
    warm_seconds = None
    if opts.warm_build:
        if settings.workspace.build_record.is_file():  # keep the build the warm one replaces (a cold one, say)
            update_build_history(settings, json.loads(settings.workspace.build_record.read_text()))
        ui.step("Warm build of every variant (timed), those build-all leaves out too")
        start = time.monotonic()
        build_variants(api, settings, new_session(), Cache(settings.cache_dir), selected=list(CATALOG.variants))
        warm_seconds = timings["warm_build"] = round(time.monotonic() - start, 1)
    if opts.modes and opts.warm_build:
        start = time.monotonic()
        build_modes(api, settings, opts.modes, CATALOG)
        timings["mode_builds"] = round(time.monotonic() - start, 1)
    channel_builds = None
    if opts.channels and opts.startup:
        start = time.monotonic()
        channel_builds = build_channels(api, settings, opts.channels)
        timings["channel_builds"] = round(time.monotonic() - start, 1)
    os_builds = None
    if opts.os_bases and opts.warm_build:
        start = time.monotonic()
        os_builds = build_os_bases(api, settings, opts.os_bases, opts.modes)
        timings["os_builds"] = round(time.monotonic() - start, 1)
    elif opts.os_bases:  # --no-warm-build: what earlier reports built on those bases, where it is still there
        os_builds = os_base_records(settings, opts.os_bases)
    rebuilt = None
    if opts.rebuild_check:
        start = time.monotonic()
        rebuilt = rebuild_check(api, settings, opts.images)
        timings["rebuild_check"] = round(time.monotonic() - start, 1)
    with contextlib.ExitStack() as stack:
        classic = None
        if opts.pulls:  # kept until the report has measured them
            stack.enter_context(scratch_prefix(api, CLASSIC_PREFIX))
            start = time.monotonic()
            classic = classic_builds(api, settings)
            timings["classic_builds"] = round(time.monotonic() - start, 1)
        return report_run.run(api, settings, opts, warm_seconds=warm_seconds, cold_measured=cold_measured, timings=timings,
                              channel_builds=channel_builds, rebuilt=rebuilt, classic_builds=classic, os_builds=os_builds,
                              started=started)


@contextlib.contextmanager
def scratch_prefix(api: docker.APIClient, prefix: str):
    """Images tagged under ``prefix`` (a build the report makes beside the real one: cold, rebuilt,
    classic) exist only within the block: none before it, none after it, whatever the outcome."""
    dockerio.remove_tags_with_prefix(api, prefix, log=ui.detail)
    try:
        yield prefix
    finally:
        dockerio.remove_tags_with_prefix(api, prefix, log=ui.detail)


CLASSIC_PREFIX = "dci-report-classic/"


def classic_builds(api: docker.APIClient, settings: Settings) -> dict[str, str]:
    """The "before" of ``report --pulls``: the images of the catalog's pull scenarios built as the
    classic builder makes them (``reproducible=False``) under CLASSIC_PREFIX, from the same build folder
    (Crossgen2 outputs reused) and on the same OS base; image key -> reference. The caller keeps them (``scratch_prefix``) until measured."""
    record = json.loads(settings.workspace.build_record.read_text())
    classic = settings.with_overrides(channel=record.get("channel"), image_prefix=CLASSIC_PREFIX, reproducible=False)
    wanted = {k for sc in CATALOG.pull_scenarios() for k in (*sc.have, *sc.want)}
    variants = [v for v in CATALOG.variants if wanted & {i.key for i in CATALOG.images_of(v)}]
    ui.step(f"Classic builds for --pulls: variants {', '.join(v.name for v in variants)} under {CLASSIC_PREFIX}, as the classic builder makes them")
    outcomes = build_variants(api, classic, new_session(), Cache(settings.cache_dir), selected=variants,
                              record_path=settings.workspace.report / "classic.json")
    return {o.key: o.ref for o in outcomes if o.image_id}


def build_channels(api: docker.APIClient, settings: Settings, wanted: tuple[str, ...]) -> list[tuple[Settings, dict]]:
    """Every variant of each requested channel (images up to date are kept), each build's record in
    build/report/channels/build-<channel>.json; the settings with the channel each resolved to."""
    out: list[tuple[Settings, dict]] = []
    folder = settings.workspace.report / "channels"
    for request in wanted:
        ui.step(f"build-all --channel {request} (report --channels)")
        path = folder / f"build-{request}.json"
        build_variants(api, settings.with_overrides(channel=request), new_session(), Cache(settings.cache_dir), record_path=path)
        record = json.loads(path.read_text())
        out.append((settings.with_overrides(channel=record["channel"]), record))
    return out


def build_os_bases(api: docker.APIClient, settings: Settings, wanted: tuple[str, ...], modes: tuple[str, ...] = ()) -> list[tuple[Settings, dict]]:
    """Every variant (those build-all leaves out too) on each OS base of ``wanted`` (images up to date are kept; Crossgen2 outputs and
    published samples are shared with the main build), each build's record in
    build/report/os/build-<os>.json; then the framework images a compile mode changes in each of ``modes``
    (records in build/report/os/<os>/build-<mode>.json). The settings on each base, and its record."""
    out: list[tuple[Settings, dict]] = []
    for name in wanted:
        ui.step(f"build-all --os {name} (report --bases)")
        on = settings.with_overrides(os=name)
        path = _os_record_path(settings, name)
        build_variants(api, on, new_session(), Cache(settings.cache_dir), selected=list(CATALOG.variants), record_path=path)
        if modes:
            build_modes(api, on, modes, CATALOG, record_dir=path.parent / name, only=set(CATALOG.mode_framework_images()))
        out.append((on, json.loads(path.read_text())))
    return out


def _os_record_path(settings: Settings, name: str) -> Path:
    return settings.workspace.report / "os" / f"build-{name}.json"


def os_base_records(settings: Settings, wanted: tuple[str, ...]) -> list[tuple[Settings, dict]]:
    """The builds an earlier ``report`` made on the OS bases of ``wanted`` (those it made)."""
    out = []
    for name in wanted:
        path = _os_record_path(settings, name)
        if path.is_file():
            out.append((settings.with_overrides(os=name), json.loads(path.read_text())))
        else:
            ui.detail(f"--bases {name}: no build on that base yet ({path}); run the report with its warm build to make one")
    return out


def cold_build(api: docker.APIClient, settings: Settings) -> dict:
    """Time a build-all with nothing built: images under COLD_PREFIX, a scratch build folder (Crossgen2
    outputs, published samples); the download cache is shared. Removes what it built afterwards."""
    scratch = settings.workspace.report / "cold-build"
    if scratch.exists():
        shutil.rmtree(scratch)
    cold = settings.with_overrides(image_prefix=COLD_PREFIX, build_dir=scratch)
    try:
        with scratch_prefix(api, COLD_PREFIX):
            build_variants(api, cold, new_session(), Cache(cold.cache_dir))
        record = json.loads(cold.workspace.build_record.read_text())
        return build_summary(record) | {"build_dir": str(scratch), "image_prefix": COLD_PREFIX}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


REBUILD_PREFIX = "dci-report-rebuild/"


def rebuild_check(api: docker.APIClient, settings: Settings, patterns: tuple[str, ...] = ()) -> dict[str, dict]:
    """The report's "reproducible" column: build the images of the last build-all again under
    REBUILD_PREFIX, from the same inputs (Crossgen2 outputs and published samples reused from the build
    folder; Crossgen2's own determinism has a test of its own), with no build cache, and compare image
    IDs by key. The OS base is made once and not rebuilt here. Removes what it built."""
    record = json.loads(settings.workspace.build_record.read_text())
    settings = settings.with_overrides(channel=record.get("channel"))
    ids = {i["key"]: i["image_id"] for i in record["images"] if i["key"] != "os"}
    wanted = {k for k in ids if not patterns or any(fnmatch.fnmatch(k, p) for p in patterns)}
    # for each image, the first variant that builds it (runtime-deps and the Crossgen2 image come with any)
    owners = {o.number for o in map(CATALOG.owner, wanted) if o is not None}
    variants = [v for v in CATALOG.variants if v.number in owners] or list(CATALOG.variants[:1])
    scratch = settings.with_overrides(image_prefix=REBUILD_PREFIX)
    ui.step(f"Reproducible? Building {len(wanted)} images again from the same inputs, without cache, under {REBUILD_PREFIX}")
    with scratch_prefix(api, REBUILD_PREFIX):
        outcomes = build_variants(api, scratch, new_session(), Cache(settings.cache_dir), selected=variants, force=True,
                                  record_path=settings.workspace.report / "rebuild.json", only=wanted)
    again = {o.key: o.image_id for o in outcomes if o.image_id}
    out = {k: {"image_id": ids[k], "rebuilt_id": again[k], "same": again[k] == ids[k]} for k in sorted(wanted) if k in again}
    same = sum(1 for v in out.values() if v["same"])
    ui.info(f"{same} of {len(out)} images rebuilt with the same image ID", label="reproducible:",
            style="bold green" if same == len(out) else "bold red")
    return out


# --- a user's own app: its app images, and its own frontier ---------------------------------------


def app_catalog(folder: Path, probe: str | None) -> tuple[Catalog, CatalogSample]:
    """The catalog for a user's app: the app as the only sample, a web app when it uses ASP.NET Core
    (probed with GET ``probe``, default /), else a console app (``probe`` exit: it runs and exits).
    A published folder is taken as it is: framework-dependent only."""
    app = app_folder(folder)
    if app.published and app.self_contained:
        raise DciError(f"app folder {app.path}", "is a self-contained publish: this tool publishes the app itself, both ways",
                       "give the project folder, or a framework-dependent publish (then without the self-contained composite)")
    probe = probe or ("/" if app.web else "exit")
    if app.web and probe == "exit":
        raise DciError(f"--probe exit for {app.name}", "it is a web app (it uses ASP.NET Core): it serves and does not exit",
                       "give the HTTP path it answers with 200, e.g. --probe /health (default /)")
    if not app.web and probe != "exit":
        raise DciError(f"--probe {probe} for {app.name}", "it is a console app (no ASP.NET Core): it does not serve HTTP",
                       "leave --probe out, or give --probe exit")
    sample = CatalogSample(app.name, "web" if app.web else "console", source=str(app.path), probe=probe)
    return for_app(sample, self_contained=not app.published), sample


def app_records(settings: Settings, name: str) -> Path:
    return settings.workspace.report / f"app-{name}"


def build_app(api: docker.APIClient, settings: Settings, folder: Path, probe: str | None, *, modes: tuple[str, ...] = (),
              force: bool = False) -> tuple[Catalog, list[BuildOutcome]]:
    """What the app's frontier runs it on, for every variant of its catalog (the configured modes), then
    for the composite variants again in each of ``modes``: the framework images of its kind and its own
    self-contained composite (no SDK image, no framework-dependent app image: the frontier measures the
    app on the framework images as it is published); the build records go to build/report/app-<name>/."""
    cat, sample = app_catalog(folder, probe)
    out = app_records(settings, sample.name)
    runners = cat.runners()
    outcomes = build_variants(api, settings, new_session(), Cache(settings.cache_dir), catalog=cat, force=force,
                              record_path=out / "build.json", only=runners)
    outcomes += build_modes(api, settings, modes, cat, force=force, record_dir=out, only=runners)
    return cat, outcomes


def app_report(api: docker.APIClient, settings: Settings, folder: Path, probe: str | None, opts: report_run.ReportOptions) -> dict:
    """``invoke report --app DIR``: the app on every variant and mode (framework-dependent on the
    framework images, self-contained composite), its collisions with each composite checked first
    (``verify --app``), measured on its own frontier with a recommendation."""
    cat, _ = build_app(api, settings, folder, probe, modes=opts.modes)
    sample = cat.samples[0]
    out = app_records(settings, sample.name)
    fd = publish_source(settings, sample.name, sample.source)
    points = frontier.plan_points(settings, opts.modes, cat)
    skipped: dict[str, str] = {}
    for ref in dict.fromkeys(p.ref for p in points if p.mode != frontier.BASELINE and not cat.images[p.image_key].self_contained):
        ui.step(f"verify --app {fd.path} --image {ref}")
        check = verify.check_app_compat(api, ref, fd.path)
        ui.info(check.detail[:200], label="PASS" if check.passed else "FAIL", indent="    ")
        if not check.passed:
            skipped[ref] = check.detail
    points = [p for p in points if p.ref not in skipped]
    section = frontier.measure(api, settings, points, runs=opts.frontier_runs, extra_runs=opts.extra_runs, seed=opts.seed, catalog=cat)
    section["recommendation"] = frontier.recommend([frontier.Point(**p) for p in section["points"]])
    section["skipped"] = skipped
    section["app"] = {"name": sample.name, "folder": sample.source, "kind": sample.kind, "probe": sample.probe}
    report = {"frontier": section}
    atomic_write_text(out / "frontier.json", json.dumps(section, indent=1))
    atomic_write_text(out / "frontier.md", "\n".join([f"# {sample.name}: size/startup frontier", "", *render.md_frontier(report)]) + "\n")
    if opts.charts:
        from crossgen.report.charts import frontier_chart

        chart = frontier_chart(report, out / "frontier.png")
        section["chart"] = str(chart) if chart else None
    return section
