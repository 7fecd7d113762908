"""Run Crossgen2 on a version bubble inside a container and cache the result.

Inputs go into the container through the archive API (no bind mounts), a response file
drives the compiler, and /work/out comes back the same way. The output folder mirrors the
dotnet root: component stubs at their framework paths, the composite in its framework folder.
A result is keyed by a hash of the Crossgen2 pack, the arguments and every input file; an
unchanged rerun reuses it without starting a container. A result is written whole or not at all
(a timeout, a lost daemon or Ctrl-C leaves nothing behind).

Crossgen2 prints a line per assembly: that goes to ``<build_dir>/logs/crossgen-<bubble>.log``;
the terminal shows one progress line, then a one-line summary (on failure: the last lines of the
log, and its path).
"""

from __future__ import annotations

import fnmatch
import hashlib
import io
import json
import re
import shutil
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

import docker
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from crossgen.core import archives, channels
from crossgen import dockerio
from crossgen.compile import r2r
from crossgen.dockerio import templates
from crossgen.core import ui
from crossgen.compile.bubbles import Bubble
from crossgen.compile import training
from crossgen.compile.modes import DEFAULT_MODE, MODES, Mode, bubble_mode
from crossgen.core.files import atomic_dir, atomic_write_text, make_dirs
from crossgen.core.errors import DciError
from crossgen.dockerio.imagebuild import ImageSpec
from crossgen.acquire.layout import DotnetRoot
from crossgen.core.settings import Settings

IN = "/work/in"
OUT = "/work/out"
RECORD = "record.json"
TIMEOUT_S = 3600.0     # one bubble's compilation, at most
TAIL_LINES = 12        # log lines shown when Crossgen2 fails


@dataclass(frozen=True)
class Crossgen2:
    version: str
    pack: Path
    pack_sha512: str
    image: str = ""


@dataclass(frozen=True)
class CompileResult:
    bubble: str
    out_dir: Path          # overlay for the dotnet root
    record: dict
    reused: bool


def crossgen2_image_spec(settings: Settings, cg: Crossgen2, base_image: str, host_rid: str) -> ImageSpec:
    docker_dir = settings.project_root / "docker"
    dockerfile = templates.render(docker_dir, "crossgen2", base_image=base_image, crossgen2_version=cg.version, host_rid=host_rid)
    script = (docker_dir / "crossgen2-run.sh").read_text()

    def stage(ctx: Path) -> None:
        archives.extract_zip(cg.pack, ctx / "crossgen2", select=lambda n: n[len("tools/"):] if n.startswith("tools/") else None)
        if not (ctx / "crossgen2" / "crossgen2").is_file():
            raise DciError(str(cg.pack), "no tools/crossgen2 executable in the Crossgen2 pack", "use a .NET 8+ Crossgen2 pack (single-file compiler)")
        (ctx / "crossgen2-run.sh").write_text(script)

    return ImageSpec(
        key="crossgen2", ref=f"{settings.image_prefix}crossgen2:{cg.version}", dockerfile=dockerfile, base=base_image,
        inputs={"pack_sha512": cg.pack_sha512, "script": script}, stage=stage,
        labels={dockerio.label("role"): "crossgen2", dockerio.label("crossgen2-version"): cg.version},
    )


def extract_mibc(runtime_pack: Path, dest_dir: Path) -> Path | None:
    """The runtime pack's optimization profile (tools/*.mibc), extracted once; None if absent."""
    target = dest_dir / "StandardOptimizationData.mibc"
    if not target.is_file():
        tmp = dest_dir / ".mibc-tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        got = archives.extract_zip(runtime_pack, tmp, select=lambda n: n.rsplit("/", 1)[-1] if n == channels.MIBC_IN_RUNTIME_PACK else None)
        if not got:
            shutil.rmtree(tmp, ignore_errors=True)
            return None
        dest_dir.mkdir(parents=True, exist_ok=True)
        (tmp / got[0]).rename(target)
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def managed_assemblies(folder: Path) -> list[Path]:
    """Managed .dll files of a framework folder (native libraries and data files left out)."""
    return sorted(p for p in folder.glob("*.dll") if r2r.is_managed(p))


MIBC = f"{IN}/profile/StandardOptimizationData.mibc"


def crossgen_arguments(
    settings: Settings, composite_name: str, inputs: list[str], references: list[str], *, mibc: bool = False,
    mode: Mode = MODES[DEFAULT_MODE], unrooted: list[str] = (), crossgen2_version: str = "",
) -> list[str]:
    """The response-file lines (one option per line, ``--name:value`` form). ``inputs`` are rooted,
    ``unrooted`` are in the composite but get code only where rooted code reaches them."""
    args = ["--composite"]
    if settings.crossgen.inputbubble:
        args.append("--inputbubble")
        if references:
            # Keep the bubble to the inputs: references are compiled against, not joined.
            args += [f"--inputbubbleref:{p}" for p in [*inputs, *unrooted]]
    args += ["-O", f"--targetos:{settings.target_os}", f"--targetarch:{settings.target_arch}"]
    if settings.instruction_set:  # the target architecture's, spelled as this Crossgen2 version spells it
        args.append(f"--instruction-set:{channels.instruction_set(settings.instruction_set, crossgen2_version)}")
    if mibc:
        args.append(f"--mibc:{MIBC}")
    if mode.partial:
        if not mibc:
            raise DciError(f"compile mode {mode.name}", "needs the MIBC profile (it compiles only the profiled methods)",
                           "set dci.crossgen.mibc: true, or choose another mode")
        args.append("--partial")
    if settings.crossgen.parallelism:
        args.append(f"--parallelism:{settings.crossgen.parallelism}")
    args += list(settings.crossgen.extra_args)
    args += [f"--compositerootpath:{IN}", f"--out:{OUT}/{composite_name}"]
    args += [f"--reference:{p}" for p in references]
    args += [f"--unrooted-input-file-paths:{p}" for p in unrooted]
    args += inputs
    return args


def is_excluded(path: Path, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(path.stem, pat) for pat in patterns)


def framework_inputs(
    bubble: Bubble, root: DotnetRoot, exclude: tuple[str, ...] = ()
) -> tuple[list[tuple[str, Path]], list[tuple[str, Path]], str]:
    """(inputs, references, composite path), paths relative to the dotnet root.

    Assemblies matching ``exclude`` stay out of the composite: they become references.
    """
    dotnet = root.path
    files: list[tuple[str, Path]] = []
    refs: list[tuple[str, Path]] = []
    for fw in bubble.inputs:
        folder = root.framework_dir(fw)
        found = managed_assemblies(folder)
        if not found:
            raise DciError(str(folder), f"no managed assemblies for bubble {bubble.name}", "run `invoke download` first")
        for p in found:
            (refs if is_excluded(p, exclude) else files).append((p.relative_to(dotnet).as_posix(), p))
    for fw in bubble.references:
        refs += [(p.relative_to(dotnet).as_posix(), p) for p in managed_assemblies(root.framework_dir(fw))]
    composite_rel = (root.framework_dir(bubble.composite_framework) / bubble.composite_name).relative_to(dotnet).as_posix()
    return files, refs, composite_rel


def app_inputs(app_dir: Path, app_name: str) -> tuple[list[tuple[str, Path]], list[tuple[str, Path]], str]:
    """A self-contained app folder: every managed assembly (app + framework) is an input."""
    files = [(p.name, p) for p in managed_assemblies(app_dir)]
    if not any(rel == f"{app_name}.dll" for rel, _ in files):
        raise DciError(str(app_dir), f"no {app_name}.dll in the published app", "publish the app self-contained first")
    return files, [], f"{app_name}.r2r.dll"


def app_own_assemblies(app_dir: Path, app_name: str) -> set[str]:
    """The simple names of the app's own assemblies (its project and package references, not the
    runtime packs), read from <app>.deps.json; just the app when there is none."""
    own = {app_name}
    deps = app_dir / f"{app_name}.deps.json"
    if not deps.is_file():
        return own
    data = json.loads(deps.read_text(encoding="utf-8-sig"))
    kinds = {name: lib.get("type", "") for name, lib in (data.get("libraries") or {}).items()}
    for target in (data.get("targets") or {}).values():
        for lib, entry in target.items():
            if kinds.get(lib) in ("project", "package"):
                own |= {Path(dll).stem for dll in (entry.get("runtime") or {})}
    return own


def split_rooted(files: list[tuple[str, Path]], mode: Mode, hot: frozenset[str] | None,
                 always: set[str] = frozenset()) -> tuple[list[tuple[str, Path]], list[tuple[str, Path]]]:
    """(rooted, unrooted) inputs for ``mode``: in a hot-only mode the inputs whose simple name is in
    ``hot`` (or ``always``) stay rooted, the others are unrooted."""
    if not mode.hot_only:
        return files, []
    if hot is None:
        raise DciError(f"compile mode {mode.name}", "needs the list of hot assemblies", "pass the training programs' list (training.hot_assemblies)")
    rooted = [(rel, p) for rel, p in files if p.stem in hot or p.stem in always]
    if not rooted:
        raise DciError(f"compile mode {mode.name}", f"none of the {len(files)} inputs is a hot assembly (the list has {len(hot)})",
                       "delete build/profile/hot-assemblies-*.json to run the training programs again, or choose another mode")
    return rooted, [(rel, p) for rel, p in files if (rel, p) not in rooted]


class CompileLog:
    """Crossgen2's output: every line into the log file, one live progress line on a terminal."""

    def __init__(self, path: Path, bubble: str, inputs: int) -> None:
        self.path = path
        self.bubble = bubble
        self.inputs = inputs
        self.lines = 0
        self._tail: list[str] = []
        self._file = None
        self._progress: Progress | None = None
        self._task = None

    def __enter__(self) -> "CompileLog":
        make_dirs(self.path.parent)
        self._file = open(self.path, "w", encoding="utf-8", errors="replace")
        if ui.console.is_terminal:
            self._progress = Progress(
                SpinnerColumn(), TextColumn("{task.description}", markup=False), TimeElapsedColumn(),
                console=ui.console, transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task(self._describe(""), total=None)
        return self

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.stop()
        if self._file is not None:
            self._file.close()

    def _describe(self, last: str) -> str:
        text = f"    Crossgen2 {self.bubble}: {self.lines} lines ({self.inputs} inputs)"
        return f"{text}  {last[:70]}" if last else text

    def note(self, text: str) -> None:
        """A line of our own in the log (not counted)."""
        if self._file is not None:
            self._file.write(f"# {text}\n")
            self._file.flush()

    def line(self, text: str) -> None:
        """A line the compiler printed (called from the thread that reads the container's output)."""
        if text.startswith("DCI_PEAK_MEMORY_BYTES="):
            return
        self.lines += 1
        self._tail = (self._tail + [text])[-TAIL_LINES:]
        if self._file is not None and not self._file.closed:
            self._file.write(text + "\n")
            self._file.flush()
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, description=self._describe(text.strip()))

    def tail(self) -> list[str]:
        return list(self._tail)

    def show_tail(self) -> None:
        """The last lines on the terminal (as text, never as markup) and where the rest is."""
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
        ui.detail(f"last {len(self._tail)} of {self.lines} lines of {self.path}:")
        for text in self._tail:
            ui.detail(f"  {text}")


@dataclass(frozen=True)
class BubblePlan:
    """What compiling a bubble would do: its inputs, arguments and cache key (nothing run yet)."""

    name: str
    key: str
    final: Path
    files: list[tuple[str, Path]]
    refs: list[tuple[str, Path]]
    composite_rel: str
    composite_name: str
    args: list[str]
    described: dict      # what the content key is made of (the mode shows in the arguments)
    mode: str

    @property
    def cached(self) -> bool:
        return (self.final / RECORD).is_file()


def plan_bubble(
    settings: Settings,
    bubble: Bubble,
    root: DotnetRoot | None,
    cg: Crossgen2,
    *,
    app_dir: Path | None = None,
    app_name: str | None = None,
    mibc: Path | None = None,
    hot: frozenset[str] | None = None,
    result_name: str | None = None,
) -> BubblePlan:
    """The inputs, Crossgen2 arguments and content key of ``bubble`` (frameworks of ``root``, or
    the self-contained app in ``app_dir``) in its configured mode; where its cached result lives.
    ``hot``: the hot assemblies, for the hot-only modes. ``result_name`` names an app bubble's result
    (default ``<bubble>-<app>``; ``app-trimmed-<app>`` for the same app published another way)."""
    mode = bubble_mode(settings, bubble.name)
    always: set[str] = set()
    if app_dir is not None:
        assert app_name
        files, refs, composite_rel = app_inputs(app_dir, app_name)
        name = result_name or f"{bubble.name}-{app_name}"
        composite_name = composite_rel
        always = app_own_assemblies(app_dir, app_name)
    else:
        assert root is not None
        files, refs, composite_rel = framework_inputs(bubble, root, settings.crossgen.exclude.get(bubble.name, ()))
        name = bubble.name
        composite_name = bubble.composite_name
    rooted, unrooted = split_rooted(files, mode, hot, always)
    args = crossgen_arguments(
        settings, composite_name, [f"{IN}/{rel}" for rel, _ in rooted], [f"{IN}/{rel}" for rel, _ in refs],
        mibc=mibc is not None, mode=mode, unrooted=[f"{IN}/{rel}" for rel, _ in unrooted], crossgen2_version=cg.version,
    )
    described = {
        "mibc_sha256": _sha256(mibc) if mibc else None,
        "bubble": name,
        "crossgen2_pack_sha512": cg.pack_sha512,
        "arguments": args,
        "inputs": {rel: _sha256(p) for rel, p in files},
        "references": {rel: _sha256(p) for rel, p in refs},
        "format": 1,
    }
    key = hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()
    final = settings.workspace.crossgen(name) / key[:16]
    return BubblePlan(name, key, final, files, refs, composite_rel, composite_name, args, described, mode.name)


def compile_bubble(
    api: docker.APIClient,
    settings: Settings,
    bubble: Bubble,
    root: DotnetRoot | None,
    cg: Crossgen2,
    *,
    force: bool = False,
    app_dir: Path | None = None,
    app_name: str | None = None,
    mibc: Path | None = None,
    hot: frozenset[str] | None = None,
    timeout: float = TIMEOUT_S,
    result_name: str | None = None,
) -> CompileResult:
    """Compile ``bubble`` (see :func:`plan_bubble`); reuse a cached identical result. The result
    folder is an overlay for the dotnet root (or for the app folder). Crossgen2 gets ``timeout``
    seconds (:class:`dockerio.ContainerTimeout`). A hot-only mode without ``hot`` makes the list first."""
    if hot is None and bubble_mode(settings, bubble.name).hot_only:
        hot = training.hot_assemblies(settings).names
    plan = plan_bubble(settings, bubble, root, cg, app_dir=app_dir, app_name=app_name, mibc=mibc, hot=hot, result_name=result_name)
    name, key, final, files, refs = plan.name, plan.key, plan.final, plan.files, plan.refs
    composite_rel, composite_name, args, described = plan.composite_rel, plan.composite_name, plan.args, plan.described
    if not force and plan.cached:
        record = json.loads((final / RECORD).read_text())
        ui.info(f"{name} bubble, mode {plan.mode} (key {key[:16]}; compiled in {record['seconds']:.0f} s earlier)", label="reused")
        return CompileResult(name, final / "out", record, True)

    unrooted = sum(1 for a in args if a.startswith("--unrooted-input-file-paths:"))
    ui.step(f"Crossgen2 {cg.version}: bubble {name}, mode {plan.mode} ({len(files)} inputs"
            f"{f', {unrooted} of them unrooted' if unrooted else ''}, {len(refs)} references) in {cg.image}")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for rel, p in files + refs:
            tf.add(str(p), arcname=rel)
        if mibc:
            tf.add(str(mibc), arcname=MIBC[len(IN) + 1:])
        rsp = ("\n".join(args) + "\n").encode()
        ti = tarfile.TarInfo("crossgen.rsp")
        ti.size = len(rsp)
        tf.addfile(ti, io.BytesIO(rsp))
    log_path = settings.workspace.logs / f"crossgen-{name}.log"
    with atomic_dir(final) as tmp, CompileLog(log_path, name, len(files)) as log:
        started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        log.note(f"{started} Crossgen2 {cg.version} in {cg.image}: bubble {name}, {len(files)} inputs, {len(refs)} references")
        log.note("arguments: " + " ".join(a for a in args if not a.startswith(f"{IN}/") and not a.startswith("--reference:")))
        try:
            result = dockerio.run(
                api, cg.image, [f"{IN}/crossgen.rsp"], step=f"Crossgen2 on bubble {name}", network_mode="none",
                put=[(IN, buf.getvalue())], get=[(OUT, tmp)], timeout=timeout, stream_output=log.line,
                labels={dockerio.label("role"): "crossgen2-run", dockerio.label("bubble"): name},
            )
        except DciError as exc:
            log.note(f"stopped: {exc}")
            raise type(exc)(exc.what, exc.cause, f"{exc.fix}; its output so far: {log_path}" if exc.fix else f"its output so far: {log_path}") from None
        except KeyboardInterrupt:
            log.note("interrupted (Ctrl-C): nothing was kept")
            raise
        if result.exit_code != 0:
            log.note(f"Crossgen2 exited with {result.exit_code}")
            log.show_tail()
            last = next((line for line in reversed(log.tail()) if line.strip()), "")
            raise DciError(f"bubble {name}", f"Crossgen2 exited with {result.exit_code}: {last[:200]}",
                           f"see the last lines above and the whole output in {log_path}; check the extra arguments")
        m = re.search(r"DCI_PEAK_MEMORY_BYTES=(\d+)", result.output)
        peak = int(m.group(1)) if m else None
        out = tmp / "out"
        produced = out / composite_name
        if not produced.is_file():
            raise DciError(f"bubble {name}", f"Crossgen2 wrote no {composite_name}", f"see its output in {log_path}")
        if composite_rel != composite_name:
            (out / composite_rel).parent.mkdir(parents=True, exist_ok=True)
            produced.rename(out / composite_rel)
        outputs = {p.relative_to(out).as_posix(): p.stat().st_size for p in sorted(out.rglob("*")) if p.is_file()}
        missing = [rel for rel, _ in files if rel not in outputs]
        if missing:
            raise DciError(f"bubble {name}", f"no component stub for {len(missing)} inputs (e.g. {missing[0]})", "the composite root or output layout is wrong")
        for p in out.rglob("*"):
            p.chmod(0o755 if p.is_dir() else 0o644)
        record = {
            **{k: v for k, v in described.items() if k not in ("inputs", "references")},
            "mode": plan.mode,
            "key": key,
            "crossgen2_version": cg.version,
            "crossgen2_image": cg.image,
            "started_at": started,
            "seconds": round(result.seconds, 2),
            "peak_memory_bytes": peak,
            "inputs": [{"path": rel, "size": p.stat().st_size, "sha256": described["inputs"][rel]} for rel, p in files],
            "references": [{"path": rel, "sha256": described["references"][rel]} for rel, _ in refs],
            "composite": {"path": composite_rel, "size": outputs[composite_rel]},
            "excluded": [rel for rel, _ in refs if not any(rel.startswith(f"shared/{fw}/") for fw in bubble.references)],
            "outputs": outputs,
            "input_bytes": sum(p.stat().st_size for _, p in files),
            "output_bytes": sum(outputs.values()),
        }
        atomic_write_text(tmp / RECORD, json.dumps(record, indent=2))
    mem = f", peak memory {peak / 2**30:.2f} GiB" if peak else ""
    ui.info(f"{name} bubble, mode {plan.mode}, in {record['seconds']:.0f} s: composite {record['composite']['size'] / 1e6:.1f} MB{mem}"
            f" ({log.lines} lines of compiler output in {log_path})", label="compiled")
    return CompileResult(name, final / "out", record, False)
