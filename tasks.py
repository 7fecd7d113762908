"""Invoke tasks: a thin layer over the `crossgen` package. `invoke --list` shows them all."""

from __future__ import annotations

import functools
import inspect as pyinspect
import json
import os
import sys
from pathlib import Path

from invoke import Exit, task
from invoke.exceptions import ParseError, UnexpectedExit
from rich.markup import escape

# Docker, HTTP and the pipeline are imported by the task bodies once their inputs are checked:
# `invoke <task> --help` and a refused flag answer at once.
from crossgen import inputs
from crossgen.core import ui
from crossgen.core.errors import DciError
from crossgen.core.settings import Settings, environment_notes, from_config

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
    """Run a task body so that it never ends in a traceback.

    - ``--help`` / ``-h`` taken as the value of a positional argument (``invoke build --help``)
      prints the task's help (invoke's parser fills positional arguments first);
    - :class:`DciError` -> a red one-line message (input: cause -- fix), exit code 1;
    - Docker SDK and requests exceptions that escape, and OS errors -> one line naming the task
      and the inputs it was given, exit code 1;
    - Ctrl-C -> one line "interrupted", exit code 130;
    - anything else -> one line saying it is a bug (``DCI_TRACEBACK=1`` shows the traceback).
    """
    name = func.__name__.replace("_", "-")
    signature = pyinspect.signature(func)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        if any(isinstance(v, str) and v in HELP_TOKENS for v in [*args[1:], *kwargs.values()]):
            _print_task_help(func, name)
            return None
        try:
            return func(*args, **kwargs)
        except (Exit, ParseError, UnexpectedExit):
            raise
        except DciError as exc:
            _fail(str(exc))
        except KeyboardInterrupt:
            ui.console.print(f"[bold red]interrupted[/] ({escape(name)})", soft_wrap=True)
            raise Exit(code=130) from None
        except Exception as exc:
            given = _given(name, signature, args, kwargs)
            kind = _escaped_kind(exc)
            if kind == "docker":
                _fail(f"{given}: Docker: {_one_line(exc)}", "check the input named above; `docker info` shows whether the daemon is healthy")
            if kind == "network":
                _fail(f"{given}: network: {type(exc).__name__}: {_one_line(exc)}",
                      "check the connection, proxy settings and the URLs in invoke.yaml (dci.release_base_url, NuGet.Config)")
            if kind == "os":
                _fail(f"{given}: {type(exc).__name__}: {_one_line(exc)}",
                      "check that the path exists and is writable, and that the disk is not full")
            if os.environ.get("DCI_TRACEBACK"):
                raise
            _fail(f"{given}: unexpected {type(exc).__name__}: {_one_line(exc)}",
                  "this is a bug; run again with DCI_TRACEBACK=1 to see where, and report it")

    return wrapper


HELP_TOKENS = ("--help", "-h")


def _escaped_kind(exc: BaseException) -> str | None:
    """docker | network | os for the exceptions a task may let escape (the libraries are looked up
    only when loaded: an exception of a library never imported cannot be one of its own)."""
    docker_errors = sys.modules.get("docker.errors")
    if docker_errors is not None and isinstance(exc, docker_errors.DockerException):
        return "docker"
    requests = sys.modules.get("requests")
    if requests is not None and isinstance(exc, requests.RequestException):  # before OSError: it is one
        return "network"
    if isinstance(exc, OSError):
        return "os"
    return None


def _fail(text: str, fix: str = ""):
    ui.console.print(f"[bold red]error:[/] {escape(text)}" + (f" -- {escape(fix)}" if fix else ""), soft_wrap=True)
    raise Exit(code=1) from None


def _one_line(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _given(name: str, signature: pyinspect.Signature, args, kwargs) -> str:
    """``task --flag=value ...``: the task and the inputs given that differ from the defaults."""
    try:
        bound = signature.bind(*args, **kwargs)
    except TypeError:
        return name
    parts = [name]
    for pname, value in list(bound.arguments.items())[1:]:
        default = signature.parameters[pname].default
        if value is None or value == default or value == [] or value is False:
            continue
        flag = "--" + pname.replace("_", "-")
        if default is pyinspect.Parameter.empty:
            parts.append(str(value))
        elif value is True:
            parts.append(flag)
        elif isinstance(value, (list, tuple)):
            parts.extend(f"{flag}={v}" for v in value)
        else:
            parts.append(f"{flag}={value}")
    return " ".join(parts)


def _print_task_help(func, name: str) -> None:
    """What ``invoke --help <task>`` prints (by the running program, whose parser holds the flags' help)."""
    from invoke.main import program

    parser = getattr(program, "parser", None)
    if parser is not None and name in getattr(parser, "contexts", {}):
        program.print_task_help(name)
        return
    params = [p for p in pyinspect.signature(func).parameters][1:]
    print(f"Usage: invoke {name} [--options]\n\n{pyinspect.getdoc(func) or ''}\n\nOptions: "
          + ", ".join("--" + p.replace("_", "-") for p in params) + f"\n(invoke --help {name} describes them)")


def _on_off(flag: str, value, default: bool) -> bool:
    """A switch given as on/off (true/false, yes/no, 1/0); None keeps the configured default."""
    if value is None:
        return default
    text = str(value).strip().lower()
    if text in ("on", "true", "yes", "1"):
        return True
    if text in ("off", "false", "no", "0"):
        return False
    raise DciError(f"{flag} {str(value)!r}", "not a switch value", "use on or off")


CHANNEL_HELP = ".NET channel (10.0; 10 means 10.0), latest, lts, sts, or an exact version (10.0.15); default from invoke.yaml"


def _channel_flag(channel) -> str | None:
    return None if channel is None else inputs.channel("--channel", channel)


def _source_order(setting: str) -> list[str]:
    from crossgen.acquire.model import source_order

    return source_order(setting)


def _checked(s: Settings, *, flags: dict | None = None) -> Settings:
    """Check what the configuration (not a flag) decided: the version request, the source order,
    the metadata URL and, for --locked, the lock file. Nothing here touches Docker or the network."""
    given = {k for k, v in (flags or {}).items() if v is not None}
    if "channel" not in given:
        inputs.channel("dci.channel", s.channel)
    if "source" not in given:
        inputs.source("dci.source", s.source)
    if "release_base_url" not in given and "official" in _source_order(s.source):
        inputs.http_url("dci.release_base_url", s.release_base_url)
    if s.locked:
        from crossgen.acquire import lock as lockfile

        lockfile.read(s.lock_file)
    return s


@task(help={"force": "rebuild runtime-deps even when up to date"})
@friendly
def base_image(c, force=False):
    """Make the OS base image (mmdebstrap when it cannot be pulled) and the runtime-deps image."""
    s = _checked(_settings(c))
    from crossgen import dockerio
    from crossgen import pipeline
    from crossgen.acquire.acquisition import acquire
    from crossgen.acquire.cache import Cache
    from crossgen.acquire.http import new_session

    api = dockerio.connect()
    acquired = acquire(s, new_session(), Cache(s.cache_dir), components=("runtime",))
    for o in pipeline.base_images(api, s, acquired, force=force):
        ui.info(f"{o.ref}: {o.size / 1e6:.1f} MB ({'up to date' if o.skipped else f'built in {o.seconds:.0f} s'})")


SOURCE_HELPS = {
    "source": "auto | official | nuget | local, or an order such as nuget,local (default from invoke.yaml: dci.source)",
    "base_url": "official release metadata base URL or mirror (default https://builds.dotnet.microsoft.com/dotnet)",
    "local_path": "source local: a dotnet layout (e.g. /usr/share/dotnet) or a folder of official tarballs",
}


def _source_overrides(channel=None, source=None, base_url=None, local_path=None, locked=False) -> dict:
    """Check the acquisition flags and return them as settings overrides (None = from the configuration)."""
    return {
        "channel": _channel_flag(channel),
        "source": None if source is None else inputs.source("--source", source),
        "release_base_url": None if base_url is None else inputs.http_url("--base-url", base_url),
        "local_path": None if local_path is None else inputs.existing_folder(
            "--local-path", local_path, "give a dotnet layout (e.g. /usr/share/dotnet) or a folder of official .NET tarballs"),
        "locked": True if locked else None,
    }


@task(help={"channel": CHANNEL_HELP, **SOURCE_HELPS, "locked": "use exactly what the lock file says (dci.lock_file)"})
@friendly
def download(c, channel=None, source=None, base_url=None, local_path=None, locked=False):
    """Download (cached, SHA-512 verified) the runtime, ASP.NET Core and Crossgen2 and lay out a dotnet root."""
    flags = _source_overrides(channel, source, base_url, local_path, locked)
    s = _checked(_settings(c, **flags), flags=flags)
    from crossgen.acquire.acquisition import acquire
    from crossgen.acquire.cache import Cache
    from crossgen.acquire.http import new_session

    a = acquire(s, new_session(), Cache(s.cache_dir))
    for comp in a.components.values():
        ui.info(f"{comp.package_id} {comp.version}  sha512:{comp.sha512[:16]}...  {comp.size / 1e6:.1f} MB  ({comp.source})")


@task(help={"channel": CHANNEL_HELP, **SOURCE_HELPS, "path": "where to write the lock file (default dci.lock_file)"})
@friendly
def lock(c, channel=None, source=None, base_url=None, local_path=None, path=None):
    """Resolve and download, then write the lock file (component, version, source, URL, SHA-512) for --locked builds."""
    from crossgen.acquire import lock as lockfile

    flags = _source_overrides(channel, source, base_url, local_path)
    lock_file = None if path is None else inputs.file_to_write("--path", path)
    s = _checked(_settings(c, **flags), flags=flags)
    if lock_file:
        s = s.with_overrides(lock_file=lock_file)
    from crossgen.acquire.acquisition import acquire
    from crossgen.acquire.cache import Cache
    from crossgen.acquire.http import new_session

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
        "parallelism": "Crossgen2 --parallelism: a whole number >= 0 (0 = its default)",
        "force": "compile even when an identical result is cached",
        "partial": "on|off: compile only the methods of the MIBC profile (--partial; default from invoke.yaml crossgen.partial)",
    },
    iterable=["extra"],
)
@friendly
def crossgen(c, bubble="runtime", channel=None, inputbubble=None, extra=None, parallelism=None, force=False, partial=None):
    """Compile a version bubble with Crossgen2 inside a container (cached by content)."""
    from dataclasses import replace

    from crossgen.compile.bubbles import get_bubble

    bubble = inputs.choice("--bubble", bubble, get_bubble).name
    flags = {"channel": _channel_flag(channel)}
    inputbubble_on = None if inputbubble is None else _on_off("--inputbubble", inputbubble, True)
    partial_on = None if partial is None else _on_off("--partial", partial, False)
    extra_args = inputs.crossgen_arguments("--extra", extra or ())
    threads = None if parallelism is None else inputs.count("--parallelism", parallelism, minimum=0, example="--parallelism=4 (0 = Crossgen2's default)")
    s = _checked(_settings(c, **flags), flags=flags)
    s = replace(s, crossgen=replace(
        s.crossgen,
        inputbubble=s.crossgen.inputbubble if inputbubble_on is None else inputbubble_on,
        parallelism=s.crossgen.parallelism if threads is None else threads,
        extra_args=s.crossgen.extra_args + extra_args,
        partial=s.crossgen.partial if partial_on is None else ((bubble,) if partial_on else ()),
    ))
    from crossgen import dockerio
    from crossgen import pipeline
    from crossgen.acquire.acquisition import acquire
    from crossgen.acquire.cache import Cache
    from crossgen.acquire.http import new_session

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
    from crossgen.images.catalog import CATALOG

    v = inputs.choice("--variant", variant, CATALOG.variant)
    flags = {"channel": _channel_flag(channel), "locked": True if locked else None}
    s = _checked(_settings(c, **flags), flags=flags)
    from crossgen import dockerio
    from crossgen import pipeline
    from crossgen.acquire.cache import Cache
    from crossgen.acquire.http import new_session

    outcomes = pipeline.build_variants(dockerio.connect(), s, new_session(), Cache(s.cache_dir), selected=[v], force=force)
    _print_outcomes(outcomes)


@task(help={"channel": CHANNEL_HELP, "force": "rebuild every image even when up to date",
            "locked": "use exactly what the lock file says (dci.lock_file); fail on any difference"})
@friendly
def build_all(c, channel=None, force=False, locked=False):
    """Build every image of every variant in dependency order; print sizes and build times."""
    flags = {"channel": _channel_flag(channel), "locked": True if locked else None}
    s = _checked(_settings(c, **flags), flags=flags)
    from crossgen import dockerio
    from crossgen import pipeline
    from crossgen.acquire.cache import Cache
    from crossgen.acquire.http import new_session

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

    images = [inputs.image_reference("--image", ref) for ref in (image or [])]
    app_dir = None
    if app is not None:
        app_dir = inputs.existing_folder("--app", app, "give the folder that `dotnet publish` wrote")
        if len(images) != 1:
            raise DciError(f"--app {app}", "needs exactly one --image to compare with",
                           f"e.g. invoke verify --app bin/publish --image {inputs.EXAMPLE_IMAGE}")
    s = _settings(c)
    from crossgen import dockerio
    from crossgen import pipeline

    api = dockerio.connect()
    if app_dir is not None:
        checks = [pipeline.check_app(api, s, app_dir, images[0])]
        for h in checks[0].data["collisions"]:
            ui.info(f"  {h['assembly']}: app {h['app_version'][0] or '?'} vs framework {h['framework_version'][0] or '?'} in {h['composite']} -> {'COLLIDES (MVID mismatch at run time)' if h['app_copy_loaded'] else 'shadowed by the framework (ok)'}")
    else:
        checks = pipeline.verify_images(api, s, images or None)
    t = Table(title="verify")
    for col in ("image", "check", "result", "detail"):
        t.add_column(col, overflow="fold")
    for ch in checks:
        t.add_row(ch.image.removeprefix(s.image_prefix), ch.name, "[green]PASS[/]" if ch.passed else "[red]FAIL[/]", ch.detail[:160])
    ui.console.print(t)
    failed = [ch for ch in checks if not ch.passed]
    ui.info(f"verify: {len(checks) - len(failed)} passed, {len(failed)} failed -> {s.workspace.verify}")
    if failed:
        raise Exit(code=1)


@task(help={"target": "an image reference or a folder (e.g. a dotnet root)", "json_out": "print JSON instead of a table"})
@friendly
def inspect(c, target, json_out=False):
    """Classify every PE file of an image's /usr/share/dotnet or of a folder: IL-only, R2R, component of X, composite."""
    target, folder = inputs.inspect_target("target", target)
    from crossgen.compile import r2r

    if folder is not None:
        infos = r2r.classify_tree(folder)
    else:
        from crossgen import dockerio
        from crossgen.verify import checks as v

        api = dockerio.connect()
        if not dockerio.image_info(api, target):
            raise DciError(f"target {target!r}", "no such folder, and no such image on the Docker daemon",
                           "give an existing folder, or build/pull the image first (invoke build-all; docker images lists them)")
        infos = v.image_structure(api, target)
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
    from crossgen import dockerio
    from crossgen.acquire.cache import Cache

    containers, images = dockerio.remove_project_objects(dockerio.connect(), log=ui.detail)
    ui.info(f"removed {containers} containers, {images} images")
    if cache:
        freed = Cache(s.cache_dir).clear()
        ui.info(f"removed the download cache {s.cache_dir} ({freed / 1e6:.0f} MB)")
    if build_dir and s.build_dir.exists():
        shutil.rmtree(s.build_dir)
        ui.info(f"removed {s.build_dir}")


def _charts_available() -> None:
    """--charts needs matplotlib (an optional dependency): fail before measuring, not after."""
    try:
        import crossgen.report.charts  # noqa: F401
    except ImportError as exc:
        raise DciError("--charts", f"needs matplotlib, which cannot be imported ({exc})",
                       "install python3-matplotlib (scripts/bootstrap.sh does) or pip install '.[report]', or pass --no-charts") from None


@task(help={
    "runs": "startup runs per image and mode: a whole number >= 1 (default 10; after one warm-up round)",
    "registry": "push to a local registry for compressed sizes (--no-registry skips it: no compressed/pull figures)",
    "startup": "measure startup (--no-startup skips it)",
    "warm_build": "run and time a warm build-all first (--no-warm-build uses the images as they are)",
    "images": "comma-separated image keys or patterns, e.g. 'runtime-*,aspnet-*,sample-*' (default: every image of build-all)",
    "fresh_registry": "empty the registry storage first (every layer is compressed and uploaded again)",
    "readme": "write the headline tables into README.md (--no-readme leaves it alone)",
    "charts": "draw the PNG charts (needs matplotlib; --no-charts skips them)",
    "cold_build": "also time a cold build-all (scratch image prefix and build folder, removed afterwards; minutes of Crossgen2 on 2 cores)",
})
@friendly
def report(c, runs=None, registry=True, startup=True, warm_build=True, images="", fresh_registry=False, readme=True, charts=True,
           cold_build=False):
    """Measure sizes (uncompressed, compressed), layer sharing, startup and build cost; write build/report/."""
    n_runs = 10 if runs is None else inputs.count("--runs", runs, minimum=1, example="--runs=10 (startup runs per image and mode)")
    patterns = inputs.image_key_patterns("--images", images or "")
    if charts:
        _charts_available()
    s = _settings(c)
    from crossgen.report import run as rep

    opts = rep.ReportOptions(
        runs=n_runs, registry=registry, startup=startup, warm_build=warm_build, images=patterns,
        fresh_registry=fresh_registry, readme=readme, charts=charts, cold_build=cold_build,
    )
    from crossgen import dockerio

    from crossgen import pipeline
    from crossgen.report.render import print_headline

    r = pipeline.report(dockerio.connect(), s, opts)
    print_headline(r)
    out = s.workspace.report
    ui.info(f"report: {out / 'report.json'}, {out / 'report.md'}" + "".join(f", {p}" for p in r.get("charts", [])) + f" ({r['seconds']:.0f} s)")
