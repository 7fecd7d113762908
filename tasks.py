"""Invoke tasks: a thin layer over the `crossgen` package. `invoke --list` shows them all."""

from __future__ import annotations

import functools
import json
from pathlib import Path

from invoke import Exit, task

from crossgen import dockerio, pipeline, ui
from crossgen.acquire import acquire
from crossgen.cache import Cache
from crossgen.errors import DciError
from crossgen.http import new_session
from crossgen.settings import Settings, environment_notes, from_config

ROOT = Path(__file__).resolve().parent


def _settings(c, **overrides) -> Settings:
    """The run's settings; logs once what was taken from the user's environment, and from where."""
    s = from_config(c.config, ROOT).with_overrides(**overrides)
    for line in [*environment_notes(c.config, s), _user_config_note(c.config)]:
        ui.detail(line)
    return s


def _user_config_note(config) -> str:
    found = [str(getattr(config, f"_{level}_path")) for level in ("system", "user") if getattr(config, f"_{level}_found", None)]
    if found:
        return f"invoke configuration: {', '.join(found)} over the project's invoke.yaml"
    return "invoke configuration: the project's invoke.yaml (no /etc/invoke.yaml or ~/.invoke.yaml)"


def friendly(func):
    """Turn DciError into a red one-line message and exit code 1 (no traceback)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except DciError as exc:
            ui.console.print(f"[bold red]error:[/] {exc}")
            raise Exit(code=1) from None

    return wrapper


def _on_off(flag: str, value, default: bool) -> bool:
    """A switch given as on/off (true/false, yes/no, 1/0); None keeps the configured default."""
    if value is None:
        return default
    text = str(value).strip().lower()
    if text in ("on", "true", "yes", "1"):
        return True
    if text in ("off", "false", "no", "0"):
        return False
    raise DciError(f"{flag}={value}", "not a switch value", "use on or off")


CHANNEL_HELP = "'.NET channel (10.0) or exact version (10.0.15); default from invoke.yaml"


@task(help={"force": "rebuild runtime-deps even when up to date"})
@friendly
def base_image(c, force=False):
    """Make the OS base image (mmdebstrap when it cannot be pulled) and the runtime-deps image."""
    s = _settings(c)
    api = dockerio.connect()
    acquired = acquire(s, new_session(), Cache(s.cache_dir), components=("runtime",))
    for o in pipeline.base_images(api, s, acquired, force=force):
        ui.info(f"{o.ref}: {o.size / 1e6:.1f} MB ({'up to date' if o.skipped else f'built in {o.seconds:.0f} s'})")


SOURCE_HELPS = {
    "source": "auto | official | nuget | local, or an order such as nuget,local (default from invoke.yaml: dci.source)",
    "base_url": "official release metadata base URL or mirror (default https://builds.dotnet.microsoft.com/dotnet)",
    "local_path": "source local: a dotnet layout (e.g. /usr/share/dotnet) or a folder of official tarballs",
}


def _source_overrides(source=None, base_url=None, local_path=None, locked=False) -> dict:
    return {
        "source": source,
        "release_base_url": base_url,
        "local_path": Path(local_path).expanduser().resolve() if local_path else None,
        "locked": True if locked else None,
    }


@task(help={"channel": CHANNEL_HELP, **SOURCE_HELPS, "locked": "use exactly what the lock file says (dci.lock_file)"})
@friendly
def download(c, channel=None, source=None, base_url=None, local_path=None, locked=False):
    """Download (cached, SHA-512 verified) the runtime, ASP.NET Core and Crossgen2 and lay out a dotnet root."""
    s = _settings(c, channel=channel, **_source_overrides(source, base_url, local_path, locked))
    a = acquire(s, new_session(), Cache(s.cache_dir))
    for comp in a.components.values():
        ui.info(f"{comp.package_id} {comp.version}  sha512:{comp.sha512[:16]}...  {comp.size / 1e6:.1f} MB  ({comp.source})")


@task(help={"channel": CHANNEL_HELP, **SOURCE_HELPS, "path": "where to write the lock file (default dci.lock_file)"})
@friendly
def lock(c, channel=None, source=None, base_url=None, local_path=None, path=None):
    """Resolve and download, then write the lock file (component, version, source, URL, SHA-512) for --locked builds."""
    from crossgen import lockfile

    s = _settings(c, channel=channel, **_source_overrides(source, base_url, local_path))
    if path:
        s = s.with_overrides(lock_file=Path(path).expanduser().resolve())
    a = acquire(s, new_session(), Cache(s.cache_dir))
    lockfile.write(s.lock_file, a, s)
    for comp in a.components.values():
        ui.info(f"{comp.name}: {comp.package_id} {comp.version} ({comp.source}) sha512:{comp.sha512[:16]}...")
    ui.info(f"[green]wrote[/] {s.lock_file}; build with `invoke build-all --locked`")


@task(
    help={
        "bubble": "version bubble to compile: runtime | aspnet | aspnet-composed",
        "channel": CHANNEL_HELP,
        "inputbubble": "on|off: compile the bubble with --inputbubble (default from invoke.yaml: on)",
        "extra": "extra Crossgen2 argument, e.g. --extra=--instruction-set:x86-64-v3 (repeatable)",
        "parallelism": "Crossgen2 --parallelism (0 = its default)",
        "force": "compile even when an identical result is cached",
        "partial": "on|off: compile only the methods of the MIBC profile (--partial; default from invoke.yaml crossgen.partial)",
    },
    iterable=["extra"],
)
@friendly
def crossgen(c, bubble="runtime", channel=None, inputbubble=None, extra=None, parallelism=None, force=False, partial=None):
    """Compile a version bubble with Crossgen2 inside a container (cached by content)."""
    from dataclasses import replace

    s = _settings(c, channel=channel)
    s = replace(s, crossgen=replace(
        s.crossgen,
        inputbubble=_on_off("--inputbubble", inputbubble, s.crossgen.inputbubble),
        parallelism=s.crossgen.parallelism if parallelism is None else int(parallelism),
        extra_args=s.crossgen.extra_args + tuple(extra or ()),
        partial=s.crossgen.partial if partial is None else ((bubble,) if _on_off("--partial", partial, False) else ()),
    ))
    from crossgen.bubbles import get_bubble

    get_bubble(bubble)  # fail fast on a bad name
    api = dockerio.connect()
    acquired = acquire(s, new_session(), Cache(s.cache_dir))
    results, _ = pipeline.compile_named(api, s, acquired, (bubble,), force=force)
    for name, r in results.items():
        ui.info(f"{name}: {r.out_dir} (composite {r.record['composite']['path']}, {r.record['composite']['size'] / 1e6:.1f} MB)")


def _print_outcomes(outcomes):
    from rich.table import Table

    t = Table(title="images")
    for col in ("image", "size (MB)", "build (s)", "status"):
        t.add_column(col, justify="right" if "(" in col else "left")
    for o in outcomes:
        t.add_row(o.ref, f"{o.size / 1e6:.1f}", f"{o.seconds:.1f}", "up to date" if o.skipped else "built")
    ui.console.print(t)


@task(help={"variant": "variant number or name (e.g. 2 or runtime-composite)", "channel": CHANNEL_HELP, "force": "rebuild even when up to date",
            "locked": "use exactly what the lock file says (dci.lock_file); fail on any difference"})
@friendly
def build(c, variant, channel=None, force=False, locked=False):
    """Build the images of one variant (and what they stand on)."""
    from crossgen.variants import find_variant

    s = _settings(c, channel=channel, locked=True if locked else None)
    v = find_variant(str(variant))
    outcomes = pipeline.build_variants(dockerio.connect(), s, new_session(), Cache(s.cache_dir), selected=[v], force=force)
    _print_outcomes(outcomes)


@task(help={"channel": CHANNEL_HELP, "force": "rebuild every image even when up to date",
            "locked": "use exactly what the lock file says (dci.lock_file); fail on any difference"})
@friendly
def build_all(c, channel=None, force=False, locked=False):
    """Build every image of every variant in dependency order; print sizes and build times."""
    s = _settings(c, channel=channel, locked=True if locked else None)
    outcomes = pipeline.build_variants(dockerio.connect(), s, new_session(), Cache(s.cache_dir), force=force)
    _print_outcomes(outcomes)


@task(
    help={
        "image": "image to verify (repeatable); default: every image from the last build-all",
        "app": "a published app folder: report which of its assemblies collide with the composite of --image",
    },
    iterable=["image"],
)
@friendly
def verify(c, image=None, app=None):
    """Prove each image works and is what it claims: structure, runs, R2R used, conventions; or --app compatibility."""
    from rich.table import Table

    s = _settings(c)
    api = dockerio.connect()
    if app:
        if not image or len(image) != 1:
            raise DciError("--app", "needs exactly one --image to compare with", "e.g. invoke verify --app bin/publish --image dotnet-composite/aspnet:10.0-trixie-slim-composite")
        if not Path(app).is_dir():
            raise DciError(f"--app {app}", "not a folder", "give the folder that `dotnet publish` wrote")
        checks = [pipeline.check_app(api, s, Path(app), image[0])]
        for h in checks[0].data["collisions"]:
            ui.info(f"  {h['assembly']}: app {h['app_version'][0] or '?'} vs framework {h['framework_version'][0] or '?'} in {h['composite']} -> {'COLLIDES (MVID mismatch at run time)' if h['app_copy_loaded'] else 'shadowed by the framework (ok)'}")
    else:
        checks = pipeline.verify_images(api, s, list(image or []) or None)
    t = Table(title="verify")
    for col in ("image", "check", "result", "detail"):
        t.add_column(col, overflow="fold")
    for ch in checks:
        t.add_row(ch.image.removeprefix(s.image_prefix), ch.name, "[green]PASS[/]" if ch.passed else "[red]FAIL[/]", ch.detail[:160])
    ui.console.print(t)
    failed = [ch for ch in checks if not ch.passed]
    ui.info(f"verify: {len(checks) - len(failed)} passed, {len(failed)} failed -> {s.build_dir / 'verify'}")
    if failed:
        raise Exit(code=1)


@task(help={"target": "an image reference or a folder (e.g. a dotnet root)", "json_out": "print JSON instead of a table"})
@friendly
def inspect(c, target, json_out=False):
    """Classify every PE file of an image's /usr/share/dotnet or of a folder: IL-only, R2R, component of X, composite."""
    from crossgen import r2r, verify as v

    if Path(target).exists():
        infos = r2r.classify_tree(target)
    else:
        infos = v.image_structure(dockerio.connect(), target)
    if json_out:
        print(json.dumps([i.to_dict() for i in infos], indent=1))
        return
    from rich.table import Table

    t = Table(title=f"{target}")
    for col in ("file", "kind", "owner composite", "target"):
        t.add_column(col)
    for i in infos:
        t.add_row(i.path, i.kind.value, i.owner_composite or "", i.target or "")
    ui.console.print(t)
    ui.info(json.dumps(r2r.summarize(infos)))


@task(help={"cache": "also delete the download cache", "build_dir": "also delete the build/ folder"})
@friendly
def clean(c, cache=False, build_dir=False):
    """Remove every container and image this project created (found by label); optionally the caches."""
    import shutil

    s = _settings(c)
    api = dockerio.connect()
    flt = {"label": f"{dockerio.LABEL_PROJECT}={dockerio.PROJECT}"}
    containers = api.containers(all=True, filters=flt)
    for ct in containers:
        api.remove_container(ct["Id"], force=True)
    images = api.images(filters=flt)
    removed = 0
    for img in sorted(images, key=lambda i: i["Created"], reverse=True):
        try:
            api.remove_image(img["Id"], force=True)
            removed += 1
        except Exception as exc:  # an image still used as a parent is removed with its child
            ui.detail(f"{img['Id'][:19]}: {str(exc)[:100]}")
    ui.info(f"removed {len(containers)} containers, {removed} images")
    if cache:
        freed = Cache(s.cache_dir).clear()
        ui.info(f"removed the download cache {s.cache_dir} ({freed / 1e6:.0f} MB)")
    if build_dir and s.build_dir.exists():
        shutil.rmtree(s.build_dir)
        ui.info(f"removed {s.build_dir}")


@task(help={
    "runs": "startup runs per image and mode (default 10; after one warm-up round)",
    "registry": "push to a local registry for compressed sizes (--no-registry skips it: no compressed/pull figures)",
    "startup": "measure startup (--no-startup skips it)",
    "warm_build": "run and time a warm build-all first (--no-warm-build uses the images as they are)",
    "images": "comma-separated image keys or patterns, e.g. 'runtime-*,aspnet-*,sample-*' (default: every image of build-all)",
    "fresh_registry": "empty the registry storage first (every layer is compressed and uploaded again)",
    "readme": "write the headline tables into README.md (--no-readme leaves it alone)",
    "charts": "draw the PNG charts (--no-charts skips them)",
    "cold_build": "also time a cold build-all (scratch image prefix and build folder, removed afterwards; ~10 min on 2 cores)",
})
@friendly
def report(c, runs=10, registry=True, startup=True, warm_build=True, images="", fresh_registry=False, readme=True, charts=True,
           cold_build=False):
    """Measure sizes (uncompressed, compressed), layer sharing, startup and build cost; write build/report/."""
    from crossgen import report as rep

    s = _settings(c)
    opts = rep.ReportOptions(
        runs=int(runs), registry=registry, startup=startup, warm_build=warm_build,
        images=tuple(p.strip() for p in images.split(",") if p.strip()), fresh_registry=fresh_registry,
        readme=readme, charts=charts, cold_build=cold_build,
    )
    r = rep.run(dockerio.connect(), s, opts)
    rep.print_headline(r)
    out = s.build_dir / "report"
    ui.info(f"report: {out / 'report.json'}, {out / 'report.md'}" + "".join(f", {p}" for p in r.get("charts", [])) + f" ({r['seconds']:.0f} s)")
