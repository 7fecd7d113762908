"""Command-line glue between tasks.py and the stages: settings from the invoke configuration and the
flags, the ``friendly`` decorator (no task ends in a traceback), and one function per task that
does its work and prints its result. Docker, HTTP and the pipeline are imported inside those
functions, after the flags were checked: ``invoke <task> --help`` and a refused flag answer at once.
"""

from __future__ import annotations

import functools
import inspect as pyinspect
import json
import os
import sys
from pathlib import Path

from invoke import Exit
from invoke.exceptions import ParseError, UnexpectedExit
from rich.table import Table
from rich.text import Text

from crossgen import inputs
from crossgen.core import ui
from crossgen.core.errors import DciError
from crossgen.compile.modes import MODES, apply_mode, bubble_mode, get_mode
from crossgen.core.settings import ALL_BUBBLES, Settings, environment_notes, from_config

ROOT = Path(__file__).resolve().parent.parent


def settings(c, flags: dict | None = None, *, check: bool = True) -> Settings:
    """The run's settings (invoke configuration + the flags given, as overrides); logs what was taken
    from the user's environment and from where; with ``check``, refuses a bad configured value
    (channel, source, metadata URL, lock file) before any work."""
    s = from_config(c.config, ROOT).with_overrides(**(flags or {}))
    for line in [*environment_notes(c.config, s), _user_config_note(c.config)]:
        ui.detail(line)
    return _checked(s, flags=flags) if check else s


def _user_config_note(config) -> str:
    # invoke marks a level found once it has tried its last extension (``/etc/invoke.py``) even when no
    # file exists: name only the files that are there
    paths = [getattr(config, f"_{level}_path", None) for level in ("system", "user")]
    found = [str(p) for p in paths if p and os.path.isfile(p)]
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
            ui.info(f"({name})", label="interrupted")
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
    ui.info(text + (f" -- {fix}" if fix else ""), label="error:")
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


def on_off(flag: str, value) -> bool:
    """A switch given as on/off (true/false, yes/no, 1/0)."""
    text = str(value).strip().lower()
    if text in ("on", "true", "yes", "1"):
        return True
    if text in ("off", "false", "no", "0"):
        return False
    raise DciError(f"{flag} {str(value)!r}", "not a switch value", "use on or off")


def os_flag(name) -> str | None:
    """``--os``: an OS base of the catalog (None = from the configuration)."""
    if name is None:
        return None
    from crossgen.images.catalog import os_base

    return os_base(str(name).strip()).name


def os_list(flag: str, text: str | None, configured: str) -> tuple[str, ...]:
    """``--bases a,b``: OS bases of the catalog besides ``configured`` (the one the main build is on),
    in the catalog's order; None = every other one, "none" = none."""
    from crossgen.images.catalog import OS_BASES

    if text is None:
        return tuple(b.name for b in OS_BASES if b.name != configured)
    names = [n.strip() for n in str(text).split(",") if n.strip()]
    if names == ["none"]:
        return ()
    if not names:
        raise DciError(f"{flag} {text!r}", "names no OS base", "give some of " + ", ".join(b.name for b in OS_BASES) + " (comma-separated), or none")
    known = {b.name for b in OS_BASES}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise DciError(f"{flag} {text!r}", f"no OS base named {', '.join(unknown)}",
                       "give some of " + ", ".join(b.name for b in OS_BASES) + " (comma-separated), or none")
    chosen = set(names) - {configured}
    return tuple(b.name for b in OS_BASES if b.name in chosen)


def rid_flag(rid) -> str | None:
    """``--rid``: a Linux RID of an architecture the catalog declares (None = from the configuration)."""
    if rid is None:
        return None
    from crossgen.images.catalog import ARCHES

    text = str(rid).strip()
    known = [f"linux-{a.name}" for a in ARCHES]
    if text not in known:
        raise DciError(f"--rid {rid}", "not a Linux runtime identifier of an architecture this tool builds for",
                       "use one of: " + ", ".join(known))
    return text


def channel_flag(channel) -> str | None:
    return None if channel is None else inputs.channel("--channel", channel)


def channel_list(flag: str, text: str | None) -> tuple[str, ...]:
    """``--channels 10.0,11.0``: each a version request, in the order given, each once (None/"" = none)."""
    names = [n.strip() for n in str(text or "").split(",") if n.strip()]
    return tuple(dict.fromkeys(inputs.channel(flag, n) for n in names))


def _source_order(setting: str) -> list[str]:
    from crossgen.acquire.model import source_order

    return source_order(setting)


def _checked(s: Settings, *, flags: dict | None = None) -> Settings:
    """Check what the configuration (not a flag) decided: the version request, the source order,
    the metadata URL and, for --locked, the lock file. Nothing here touches Docker or the network."""
    given = {k for k, v in (flags or {}).items() if v is not None}
    if "rid" not in given and s.rid != "linux-x64":
        rid_flag(s.rid)  # dci.rid: an architecture the catalog declares
    if "channel" not in given:
        inputs.channel("dci.channel", s.channel)
    if "source" not in given:
        inputs.source("dci.source", s.source)
    if "release_base_url" not in given and "official" in _source_order(s.source):
        inputs.http_url("dci.release_base_url", s.release_base_url)
    if s.locked:
        from crossgen.acquire import lock as lockfile

        lockfile.read(s.lock_path)
    for bubble in s.crossgen.mode:
        bubble_mode(s, bubble)
    if "os" not in given:
        from crossgen.images.catalog import os_base

        os_base(s.os)
    return s


MODE_NAMES = " | ".join(MODES)
MODE_HELP = ("compile mode of every bubble: " + MODE_NAMES
             + "; the images are tagged ...-<mode> (default: the modes of invoke.yaml, dci.crossgen.mode, plain tags)")


def mode_list(flag: str, text: str | None) -> tuple[str, ...]:
    """``--modes a,b``: known mode names in the catalog's order; None = all, "none" = none."""
    if text is None:
        return tuple(MODES)
    names = [n.strip() for n in str(text).split(",") if n.strip()]
    if names == ["none"]:
        return ()
    if not names:
        raise DciError(f"{flag} {text!r}", "names no compile mode", f"give some of {', '.join(MODES)} (comma-separated), or none")
    chosen = {get_mode(n, what=f"{flag} {text!r}: mode").name for n in names}
    return tuple(m for m in MODES if m in chosen)


def with_mode(s: Settings, mode: str | None, bubbles: tuple[str, ...] = ALL_BUBBLES) -> Settings:
    """``--mode`` (see :func:`modes.apply_mode`); None keeps the configured modes and plain tags."""
    return s if mode is None else apply_mode(s, mode, bubbles)


def source_overrides(channel=None, source=None, base_url=None, local_path=None, locked=False) -> dict:
    """Check the acquisition flags and return them as settings overrides (None = from the configuration)."""
    return {
        "channel": channel_flag(channel),
        "source": None if source is None else inputs.source("--source", source),
        "release_base_url": None if base_url is None else inputs.http_url("--base-url", base_url),
        "local_path": None if local_path is None else inputs.existing_folder(
            "--local-path", local_path, "give a dotnet layout (e.g. /usr/share/dotnet) or a folder of official .NET tarballs"),
        "locked": True if locked else None,
    }


# --- one function per task --------------------------------------------------------------------------


def _session_and_cache(s: Settings):
    from crossgen.acquire.cache import Cache
    from crossgen.acquire.http import new_session

    return new_session(), Cache(s.cache_dir)


def base_image(s: Settings, *, force: bool) -> None:
    from crossgen import dockerio, pipeline
    from crossgen.acquire.acquisition import acquire

    api = dockerio.connect()
    # runtime-deps holds no .NET: the runtime is acquired for the channel its tag names (latest, lts: resolved)
    s = pipeline.for_channel(s, acquire(s, *_session_and_cache(s), components=("runtime",)))
    for o in pipeline.base_images(api, s, force=force):
        ui.info(f"{o.ref}: {o.size / 1e6:.1f} MB ({'up to date' if o.skipped else f'built in {o.seconds:.0f} s'})")


def download(s: Settings) -> None:
    from crossgen.acquire.acquisition import acquire

    a = acquire(s, *_session_and_cache(s))
    for comp in a.components.values():
        ui.info(f"{comp.package_id} {comp.version}  sha512:{comp.sha512[:16]}...  {comp.size / 1e6:.1f} MB  ({comp.source})")


def lock(s: Settings) -> None:
    from crossgen import dockerio, pipeline
    from crossgen.acquire import lock as lockfile
    from crossgen.acquire.acquisition import acquire
    from crossgen.images import baseimage

    a = acquire(s, *_session_and_cache(s), optional=("sdk",))  # the SDK tarball too, from a source that serves one
    # the Debian package versions: read from the OS base and runtime-deps (built when missing)
    api = dockerio.connect()
    pipeline.base_images(api, s.with_overrides(locked=False))
    debian = baseimage.debian_packages(api, s)
    try:
        previous = lockfile.read(s.lock_path) if s.lock_path.is_file() else None
    except DciError:
        previous = None  # unreadable: written anew
    debian = lockfile.merged_debian(previous, debian)
    lockfile.write(s.lock_path, a, s, debian)
    for comp in a.components.values():
        ui.info(f"{comp.name}: {comp.package_id} {comp.version} ({comp.source}) sha512:{comp.sha512[:16]}...")
    deps = baseimage.runtime_deps_key(s)
    others = sorted(k for k in debian if k.startswith("runtime-deps") and k != deps)
    ui.info(f"Debian {debian['suite']}: {len(debian['os'])} packages in the OS base, {len(debian[deps])} added by {deps}"
            + (f" (kept: {', '.join(others)})" if others else ""))
    rid = f" --rid {s.rid}" if s.lock_path != s.lock_file else ""
    ui.info(f"{s.lock_path}; build with `invoke build-all --locked{rid}`", label="wrote")


def crossgen(s: Settings, bubble: str, *, force: bool) -> None:
    from crossgen import dockerio, pipeline
    from crossgen.acquire.acquisition import acquire

    api = dockerio.connect()
    acquired = acquire(s, *_session_and_cache(s))
    results, _ = pipeline.compile_named(api, s, acquired, (bubble,), force=force)
    for name, r in results.items():
        ui.info(f"{name}: {r.out_dir} (composite {r.record['composite']['path']}, {r.record['composite']['size'] / 1e6:.1f} MB)")


def crossgen_app(s: Settings, folder: Path, probe: str | None, *, force: bool) -> None:
    """A user's app: its self-contained composite image, and what it is compared with (the app
    framework-dependent on the baseline); ``force`` compiles it again even when cached."""
    from crossgen import dockerio, pipeline

    api = dockerio.connect()
    cat, sample = pipeline.app_catalog(folder, probe)
    composite_apps = [v for v in cat.variants if any(a.bubble for a in v.apps)]
    if not composite_apps:
        raise DciError(f"--app {folder}", "is a framework-dependent publish: there is nothing to compile it with",
                       "give the project folder: it is published self-contained for the composite")
    outcomes = pipeline.build_variants(api, s, *_session_and_cache(s), selected=composite_apps, catalog=cat,
                                       recompile=force, record_path=pipeline.app_records(s, sample.name) / "build.json")
    print_outcomes(outcomes)


def app_report(s: Settings, folder: Path, probe: str | None, opts) -> None:
    from crossgen import dockerio, pipeline
    from crossgen.report.render import md_frontier

    section = pipeline.app_report(dockerio.connect(), s, folder, probe, opts)
    for line in md_frontier({"frontier": section}):
        ui.console.print(Text(line))
    out = pipeline.app_records(s, section["app"]["name"])
    ui.info(f"{section['app']['name']}: {out / 'frontier.json'}, {out / 'frontier.md'}" + (f", {section['chart']}" if section.get("chart") else ""),
            label="report:")


def build(s: Settings, variants=None, *, force: bool, dry_run: bool, images: tuple[str, ...] = ()) -> None:
    """Build the variants (all when None), or with ``dry_run`` say what would be built and why;
    ``images``: key patterns, just the images of the variants that match and what they stand on."""
    from crossgen import dockerio, pipeline
    from crossgen.images.catalog import CATALOG

    only = CATALOG.keys_matching(CATALOG.selection(variants), images) if images else None
    api = dockerio.connect()
    if dry_run:
        print_plan(pipeline.plan_build(api, s, *_session_and_cache(s), selected=variants, force=force, only=only))
    else:
        print_outcomes(pipeline.build_variants(api, s, *_session_and_cache(s), selected=variants, force=force, only=only))


def print_plan(steps) -> None:
    t = Table(title="build plan (dry run)")
    for col in ("step", "what", "would", "why"):
        t.add_column(col, overflow="fold")
    for st in steps:
        verb = {"sample": "publish", "bubble": "compile", "profile": "run"}.get(st.kind, "build")
        t.add_row(st.kind, Text(st.name), Text(verb if st.todo else "-"), Text(st.reason))
    ui.console.print(t)
    todo = [st for st in steps if st.todo]
    counts = {k: sum(1 for st in todo if st.kind == k) for k in ("sample", "bubble", "base", "tool", "image")}
    training = "run the training programs, " if any(st.kind == "profile" for st in todo) else ""
    ui.info(f"dry run: would {training}publish {counts['sample']} samples, compile {counts['bubble']} bubbles and build "
            f"{counts['base'] + counts['tool'] + counts['image']} images; {len(steps) - len(todo)} steps up to date. "
            "Nothing was published, compiled or built (the .NET bits were resolved and cached).")


def print_outcomes(outcomes) -> None:
    t = Table(title="images")
    for col in ("image", "size (MB)", "build (s)", "status"):
        t.add_column(col, justify="right" if "(" in col else "left")
    for o in outcomes:
        if o.not_built:
            t.add_row(Text(o.ref), "-", "-", Text(f"skipped: {o.not_built}"))
        else:
            t.add_row(Text(o.ref), f"{o.size / 1e6:.1f}", f"{o.seconds:.1f}", "up to date" if o.skipped else "built")
    ui.console.print(t)


def verify(s: Settings, images: list[str], app_dir: Path | None) -> None:
    from crossgen import dockerio, pipeline

    api = dockerio.connect()
    if app_dir is not None:
        checks = [pipeline.check_app(api, s, app_dir, images[0])]
        for h in checks[0].data["collisions"]:
            verdict = "COLLIDES (MVID mismatch at run time)" if h["app_copy_loaded"] else "shadowed by the framework (ok)"
            ui.info(f"  {h['assembly']}: app {h['app_version'][0] or '?'} vs framework {h['framework_version'][0] or '?'} "
                           f"in {h['composite']} -> {verdict}")
    else:
        checks = pipeline.verify_images(api, s, images or None)
    print_checks(checks, s.image_prefix)
    failed = [ch for ch in checks if not ch.passed]
    ui.info(f"verify: {len(checks) - len(failed)} passed, {len(failed)} failed -> {s.workspace.verify}")
    if failed:
        raise Exit(code=1)


def push(s: Settings, target, wanted: tuple[str, ...], *, force: bool, dry_run: bool, multi_arch: bool = False) -> None:
    """Push the verified images of the last build-all (``wanted``: some) to ``target``; exit 1 when
    the verify gate refused any (they are named, with the reason and the fix). ``multi_arch``: every
    architecture's images and an image index per key (:func:`push_multiarch`)."""
    from crossgen import dockerio, pipeline
    from crossgen.publish.push import NotVerified

    if multi_arch:
        return push_multiarch(s, target, wanted, force=force, dry_run=dry_run)
    api = dockerio.connect()
    items, published = pipeline.push_images(api, s, target, wanted, force=force, dry_run=dry_run)
    refused = [i for i in items if not i.accepted]
    done = {p.ref: p for p in published}
    t = Table(title=f"push to {target}" + (" (dry run)" if dry_run else ""))
    for col in ("image", "registry name", "result", "detail"):
        t.add_column(col, overflow="fold")
    for i in items:
        if not i.accepted:
            result, detail = Text("refused", style="red"), f"{i.refused} -- {i.fix}"
        elif dry_run:
            result, detail = Text("would push"), f"forced: {i.forced}" if i.forced else "verified"
        else:
            p = done[i.ref]
            result, detail = Text("pushed", style="green"), f"{p.manifest_digest}" + (f" (forced: {i.forced})" if i.forced else "")
        t.add_row(Text(i.ref.removeprefix(s.image_prefix)), Text(i.remote), result, Text(detail))
    ui.console.print(t)
    for i in refused:
        ui.info(f"{i.ref}: {i.refused} -- {i.fix}", label="refused", style="red")
    accepted = len(items) - len(refused)
    if dry_run:
        ui.info(f"push (dry run): would push {accepted} of {len(items)} images to {target}, {len(refused)} refused; nothing was pushed")
        return
    uploaded = sum(p.layers_uploaded for p in published)
    ui.info(f"push: {len(published)} pushed to {target} ({uploaded} layers uploaded, manifest and config digests checked), "
            f"{len(refused)} refused -> {s.workspace.publish / 'push.json'}")
    if refused:
        raise NotVerified(f"push to {target}", f"{len(refused)} of {len(items)} images refused by the verify gate "
                          f"({', '.join(i.key for i in refused)}), nothing of them was pushed",
                          "run `invoke verify`, then push again (or push them anyway with --force)")


def push_multiarch(s: Settings, target, wanted: tuple[str, ...], *, force: bool, dry_run: bool) -> None:
    """``invoke push --multi-arch``: one row per image key (its index and its architectures' tags); exit 1
    when any key was refused from the index (named, with the reasons and the fix)."""
    from crossgen import dockerio, pipeline
    from crossgen.publish.push import NotVerified, arch_suffix

    api = dockerio.connect()
    indexes, done = pipeline.push_multiarch(api, s, target, wanted, force=force, dry_run=dry_run)
    refused = [i for i in indexes if not i.accepted]
    published = {d.key: d for d in done}
    t = Table(title=f"push --multi-arch to {target}" + (" (dry run)" if dry_run else ""))
    for col in ("image", "index (plain tag)", "images", "result", "detail"):
        t.add_column(col, overflow="fold")
    for i in indexes:
        children = "\n".join(f"{c.remote.rsplit('/', 1)[-1]} <- {c.ref.removeprefix(s.image_prefix) if c.image_id else '(none)'} ({a.platform})"
                             for a, c in i.children)
        forced = "; ".join(f"{a.name} forced: {c.forced}" for a, c in i.children if c.forced)
        if not i.accepted:
            result, detail = Text("refused", style="red"), f"{i.refused} -- {i.fix}"
        elif dry_run:
            result = Text("would push")
            detail = (f"OCI image index of {', '.join(f'{arch_suffix(a)} ({a.platform})' for a, _ in i.children)}; "
                      + (forced or "verified on every architecture"))
        else:
            result, detail = Text("pushed", style="green"), published[i.key].digest + (f" ({forced})" if forced else "")
        t.add_row(Text(i.key), Text(i.remote), Text(children), result, Text(detail))
    ui.console.print(t)
    for i in refused:
        ui.info(f"{i.key}: refused from the index: {i.refused} -- {i.fix}", label="refused", style="red")
    accepted = len(indexes) - len(refused)
    if dry_run:
        ui.info(f"push --multi-arch (dry run): would push {accepted} of {len(indexes)} images multi-arch to {target}, "
                f"{len(refused)} refused; nothing was pushed")
        return
    ui.info(f"push --multi-arch: {len(done)} image indexes pushed to {target} (each image's manifest, config platform and the "
            f"index digest checked), {len(refused)} refused (nothing of them pushed) -> {s.workspace.publish / 'push.json'}")
    if refused:
        raise NotVerified(f"push --multi-arch to {target}", f"{len(refused)} of {len(indexes)} images refused from the index "
                          f"({', '.join(i.key for i in refused)}), nothing of them was pushed",
                          "build and verify them for every architecture (invoke build-all/verify, and with --rid linux-arm64), "
                          "then push again (or push their x64 images alone: invoke push without --multi-arch)")


def print_checks(checks, prefix: str = "") -> None:
    t = Table(title="verify")
    for col in ("image", "check", "result", "detail"):
        t.add_column(col, overflow="fold")
    for ch in checks:
        result = Text("PASS", style="green") if ch.passed else Text("FAIL", style="red")
        t.add_row(Text(ch.image.removeprefix(prefix)), Text(ch.name), result, Text(ch.detail[:160]))
    ui.console.print(t)


def inspect(target: str, folder: Path | None, *, json_out: bool) -> None:
    from crossgen.compile import r2r

    if folder is not None:
        infos = r2r.classify_tree(folder)
    else:
        from crossgen import dockerio
        from crossgen.verify import checks

        api = dockerio.connect()
        if not dockerio.image_info(api, target):
            raise DciError(f"target {target!r}", "no such folder, and no such image on the Docker daemon",
                           "give an existing folder, or build/pull the image first (invoke build-all; docker images lists them)")
        infos = checks.image_structure(api, target)
    if json_out:
        print(json.dumps([i.to_dict() for i in infos], indent=1))
        return
    t = Table(title=Text(target))
    for col in ("file", "kind", "owner composite", "target"):
        t.add_column(col)
    for i in infos:
        t.add_row(Text(i.path), i.kind.value, Text(i.owner_composite or ""), Text(i.target or ""))
    ui.console.print(t)
    ui.info(json.dumps(r2r.summarize(infos)))


def clean(s: Settings, *, cache: bool, build_dir: bool) -> None:
    import shutil

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


def report(s: Settings, opts) -> None:
    from crossgen import dockerio, pipeline
    from crossgen.report.render import print_headline

    r = pipeline.report(dockerio.connect(), s, opts)
    print_headline(r)
    out = s.workspace.report
    ui.info(f"report: {out / 'report.json'}, {out / 'report.md'}" + "".join(f", {p}" for p in r.get("charts", []))
                   + f" ({r['seconds']:.0f} s)")
