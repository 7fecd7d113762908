"""Checks that an image works and is exactly what it claims to be.

What an image claims is read from its labels (role, variant, composites per bubble). Every
check returns a :class:`Check` naming the image, the check and the reason; nothing here raises
for a failing image (a run that does not end in time is a failing check). Containers come from
:class:`crossgen.dockerio.Container` and are removed whatever happens.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import posixpath
import re
import shutil
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import docker

from crossgen import dockerio
from crossgen.compile import r2r
from crossgen.compile.bubbles import BUBBLES
from crossgen.core.errors import DciError
from crossgen.acquire.layout import ASPNETCORE, NETCORE
from crossgen.acquire.muxer import elf_arch
from crossgen.compile.samples import Publish, Sample
from crossgen.images.catalog import PUBLISH_KINDS, arch_of
from crossgen.verify.shell import has_shell, shell_for

DOTNET = "/usr/share/dotnet"
APP_UID = "1654"
CORELIB = "System.Private.CoreLib.dll"


@dataclass
class Check:
    image: str
    name: str
    passed: bool
    detail: str
    data: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Claim:
    """What an image says it is (from its labels)."""

    ref: str
    role: str                       # runtime | aspnet | sdk | app
    variant: int
    composites: dict[str, str]      # bubble -> composite path (relative to dotnet root or app folder)
    app: str | None = None
    app_kind: str | None = None     # console | web (app images)
    self_contained: bool = False
    dotnet_version: str | None = None
    excluded: frozenset[str] = frozenset()  # assembly file names kept out of the composites
    key: str | None = None          # the catalog image key it was built as
    built_as: str = ""              # app images: how the app was built when not for the channel (rolled forward)
    image_id: str = ""              # the image verified (a result holds for this ID only)
    os: str = ""                    # the OS base of its runtime-deps (label; "" for images from elsewhere)
    shell: bool = True              # has /bin/sh (a distroless base has none)
    publish: str = ""               # app images: how the app was published (a PUBLISH_KINDS name; "" on older images)
    rid: str = ""                   # the RID it was built for (label; "" for images from elsewhere)
    architecture: str = ""          # its config's architecture (amd64, arm64)

    @property
    def approach(self) -> Publish | None:
        """The app's publish kind as declared in the catalog (None: not an app, or a kind it does not know)."""
        name = self.publish or ("" if self.role != "app" else "sc" if self.self_contained else "fd")
        return next((p for p in PUBLISH_KINDS if p.name == name), None)

    @property
    def native(self) -> bool:
        return bool(self.approach and self.approach.native)

    @property
    def has_composite(self) -> bool:
        """Holds a composite: one of ours (a bubble), or the one the SDK compiled (sdk-composite apps)."""
        return bool(self.composites) or bool(self.approach and self.approach.sdk_composite)

    @property
    def frameworks(self) -> tuple[str, ...]:
        if self.role == "runtime" or (self.role == "app" and self.app_kind != "web"):
            return (NETCORE,)
        return (NETCORE, ASPNETCORE)

    def expected_owners(self) -> dict[str, str | None]:
        """Framework folder -> the composite its assemblies must be components of (None: plain)."""
        owners: dict[str, str | None] = {fw: None for fw in self.frameworks}
        for bubble, path in self.composites.items():
            b = BUBBLES.get(bubble)
            for fw in b.inputs if b else ():
                if fw in owners:
                    owners[fw] = posixpath.basename(path)
        return owners


def claim_of(api: docker.APIClient, ref: str) -> Claim:
    info = dockerio.image_info(api, ref)
    if not info:
        raise DciError(f"image {ref}", "not found locally", "build it first (invoke build-all) or check the name")
    labels = dockerio.image_labels(info)
    lab = lambda k, d="": labels.get(dockerio.label(k), d)  # noqa: E731
    composites = json.loads(lab("composites", "{}") or "{}")
    excluded = frozenset(n for names in json.loads(lab("excluded", "{}") or "{}").values() for n in names)
    return Claim(
        ref=ref, role=lab("role", "unknown"), variant=int(lab("variant", "0") or 0), composites=composites,
        app=lab("app") or None, app_kind=lab("app-kind") or None, self_contained=lab("self-contained") == "true", dotnet_version=lab("dotnet-version") or None,
        excluded=excluded, key=lab("image-key") or None, built_as=lab("built-as"), image_id=str(info.get("Id") or ""),
        os=lab("os"), shell=has_shell(info), publish=lab("publish"), rid=lab("rid"), architecture=str(info.get("Architecture") or ""),
    )


def image_env(api: docker.APIClient, ref: str) -> dict[str, str]:
    info = dockerio.image_info(api, ref) or {}
    env = (info.get("Config") or {}).get("Env") or []
    return dict(e.split("=", 1) for e in env if "=" in e)


# -- 1. structure --------------------------------------------------------------------------

def copy_tree_out(api: docker.APIClient, ref: str, path: str) -> Path:
    """Copy ``path`` out of an image into a new temporary folder (caller removes it)."""
    tmp = Path(tempfile.mkdtemp(prefix="dci-verify-"))
    try:
        dockerio.copy_out(api, ref, path, tmp)
    except Exception:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return tmp / posixpath.basename(path)


def image_structure(api: docker.APIClient, ref: str, path: str = DOTNET) -> list[r2r.PeInfo]:
    folder = copy_tree_out(api, ref, path)
    try:
        return r2r.classify_tree(folder)
    finally:
        shutil.rmtree(folder.parent, ignore_errors=True)


def check_structure(
    infos: list[r2r.PeInfo], ref: str, expect: dict[str, str | None], *, root: Path | None = None,
    excluded: frozenset[str] = frozenset(),
) -> Check:
    """Every managed assembly of each framework folder in ``expect`` must be a component of the
    named composite (or, for None, no component at all); each named composite must exist where
    the runtime looks for it; no composite may exist that nobody claims.

    The runtime looks for a composite in the folder of the first component that asks for it,
    and caches it by name for the process: a composite in the NETCore.App folder that also owns
    System.Private.CoreLib (always loaded first) serves components in other folders too.
    With ``root`` (the copied-out folder) each component's MVID is checked against the
    composite's component table. Assemblies named in ``excluded`` were kept out of the
    composites on purpose and must be plain (not components).
    """
    problems: list[str] = []
    composites = {i.path: i for i in infos if i.kind == r2r.Kind.COMPOSITE}
    corelib = next((i for i in infos if i.path.endswith("/" + CORELIB) or i.path == CORELIB), None)
    netcore_dir = posixpath.dirname(corelib.path) if corelib else None
    mvid_tables: dict[str, dict[str, str]] = {}
    for fw, owner in expect.items():
        members = [
            i for i in infos
            if (i.path.startswith(f"shared/{fw}/") if fw != "." else "/" not in i.path)
            and i.kind in (r2r.Kind.COMPONENT, r2r.Kind.R2R, r2r.Kind.IL_ONLY)
        ]
        if not members:
            problems.append(f"{fw}: no managed assemblies found")
            continue
        if owner is None:
            bad = [i.path for i in members if i.kind == r2r.Kind.COMPONENT]
            if bad:
                problems.append(f"{fw}: {len(bad)} component stubs where plain assemblies were expected (e.g. {bad[0]} -> {next(i.owner_composite for i in members if i.kind == r2r.Kind.COMPONENT)})")
            continue
        kept_out = [i for i in members if posixpath.basename(i.path) in excluded]
        if any(i.kind == r2r.Kind.COMPONENT for i in kept_out):
            problems.append(f"{fw}: assemblies excluded from the composite are components anyway")
        members = [i for i in members if posixpath.basename(i.path) not in excluded]
        bad = [i for i in members if i.kind != r2r.Kind.COMPONENT or i.owner_composite != owner]
        if bad:
            b = bad[0]
            problems.append(f"{fw}: {len(bad)} of {len(members)} assemblies are not components of {owner} (e.g. {b.path}: {b.kind.value}{' of ' + b.owner_composite if b.owner_composite else ''})")
        folder = posixpath.dirname(members[0].path)
        here = f"{folder}/{owner}" if folder else owner
        beside_corelib = f"{netcore_dir}/{owner}" if netcore_dir else None
        found = here if here in composites else None
        if not found and beside_corelib in composites and corelib is not None and corelib.owner_composite == owner:
            found = beside_corelib
        if not found:
            problems.append(f"{fw}: composite {owner} is missing from {folder or '.'} (the runtime fails fast without it)")
            continue
        if root is not None:
            if found not in mvid_tables:
                mvid_tables[found] = {n.lower(): m for n, m in r2r.composite_components(root / found)}
            table = mvid_tables[found]
            wrong = [i.path for i in members if i.kind == r2r.Kind.COMPONENT and i.mvid and table.get(Path(i.path).stem.lower()) not in (None, i.mvid)]
            if wrong:
                problems.append(f"{fw}: {len(wrong)} components whose MVID differs from the one recorded in {owner} (e.g. {wrong[0]})")
    claimed = {o for o in expect.values() if o}
    stray = [p for p in composites if posixpath.basename(p) not in claimed]
    if stray:
        problems.append(f"unexpected composite images: {', '.join(stray)}")
    summary = r2r.summarize(infos)
    detail = "; ".join(problems) if problems else json.dumps(summary, sort_keys=True)
    return Check(ref, "structure", not problems, detail, {"summary": summary, "expected": expect})


def native_app_structure(infos: list[r2r.PeInfo], folder: Path, ref: str, app: str, rid: str | None = None) -> Check:
    """A Native AOT app: /app/<app> is a native (ELF) executable, for ``rid``'s architecture when given (an
    x64 one in an arm64 image would still run here, natively), and no managed assembly is beside it."""
    problems = []
    exe = folder / app
    want = rid.rsplit("-", 1)[-1] if rid else None
    if not exe.is_file():
        problems.append(f"no /app/{app}")
    elif exe.read_bytes()[:4] != b"\x7fELF":
        problems.append(f"/app/{app} is not an ELF executable")
    elif not exe.stat().st_mode & 0o111:
        problems.append(f"/app/{app} is not executable")
    elif want and (found := elf_arch(exe)) != want:
        problems.append(f"/app/{app} is an executable for {found or 'another architecture'}, built for {rid} ({want})")
    managed = [i.path for i in infos if i.kind in (r2r.Kind.IL_ONLY, r2r.Kind.R2R, r2r.Kind.COMPONENT, r2r.Kind.COMPOSITE)]
    if managed:
        problems.append(f"{len(managed)} managed assemblies beside the native executable (e.g. {managed[0]})")
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    detail = "; ".join(problems) or f"native executable /app/{app} ({exe.stat().st_size} bytes), no managed assemblies; files: {', '.join(files[:6])}"
    return Check(ref, "structure", not problems, detail, {"files": files, "native": True})


def verify_structure(api: docker.APIClient, claim: Claim) -> Check:
    if claim.role == "app" and claim.native:
        folder = copy_tree_out(api, claim.ref, "/app")
        try:
            return native_app_structure(r2r.classify_tree(folder), folder, claim.ref, claim.app or "", claim.rid)
        finally:
            shutil.rmtree(folder.parent, ignore_errors=True)
    if claim.role == "app":
        path, expect = "/app", {".": (f"{claim.app}.r2r.dll" if claim.has_composite else None)}
    else:
        path, expect = DOTNET, claim.expected_owners()
    folder = copy_tree_out(api, claim.ref, path)
    try:
        infos = r2r.classify_tree(folder)
        check = check_structure(infos, claim.ref, expect, root=folder, excluded=claim.excluded)
    finally:
        shutil.rmtree(folder.parent, ignore_errors=True)
    _check_architecture(check, claim, infos)
    if claim.role == "app" and not claim.self_contained:
        app_dll = next((i for i in infos if i.path == f"{claim.app}.dll"), None)
        if not app_dll or app_dll.kind != r2r.Kind.IL_ONLY:
            check.passed = False
            check.detail = f"{claim.app}.dll should be IL-only in a framework-dependent image; " + check.detail
    return check


def _check_architecture(check: Check, claim: Claim, infos: list[r2r.PeInfo]) -> None:
    """The image is for the RID it was built for: its config's architecture, and every file of native
    code (composites, ReadyToRun assemblies) compiled for that RID."""
    if not claim.rid:
        return
    problems = []
    want = arch_of(claim.rid).architecture
    if claim.architecture and claim.architecture != want:
        problems.append(f"the image config says architecture {claim.architecture}, built for {claim.rid} ({want})")
    compiled = [i for i in infos if i.kind in (r2r.Kind.COMPOSITE, r2r.Kind.R2R) and i.target]
    off = [i for i in compiled if i.target != claim.rid]
    if off:
        problems.append(f"{len(off)} of {len(compiled)} files of native code are not for {claim.rid} (e.g. {off[0].path}: {off[0].target})")
    check.data["targets"] = sorted({str(i.target) for i in compiled})
    check.data["architecture"] = claim.architecture
    if problems:
        check.passed = False
        check.detail = "; ".join(problems) + ("; " + check.detail if check.detail else "")


# -- 2. runs ---------------------------------------------------------------------------------

def parse_jit(output: str) -> int | None:
    m = re.search(r"jit-methods: (\d+)", output)
    return int(m.group(1)) if m else None


def _app_tar(sample_dir: Path, name: str) -> bytes:
    return dockerio.tar_directory(sample_dir, arcname=f"app/{name}")


CONSOLE_TIMEOUT_S = 120.0
WEB_TIMEOUT_S = 40.0

# Every time limit of a check that runs an image is multiplied by this (images of another architecture
# than this machine's run under emulation: dci.emulation_timeout_factor, set per image by verify).
_TIME_SCALE: contextvars.ContextVar[float] = contextvars.ContextVar("time_scale", default=1.0)


@contextlib.contextmanager
def time_scale(factor: float) -> Iterator[None]:
    """Within the block, every check's time limit is ``factor`` times its own."""
    token = _TIME_SCALE.set(factor)
    try:
        yield
    finally:
        _TIME_SCALE.reset(token)


def time_limit(seconds: float) -> float:
    """A check's time limit as it applies now (scaled under :func:`time_scale`)."""
    return seconds * _TIME_SCALE.get()


def run_console(api: docker.APIClient, ref: str, sample: Sample | None, *, env: dict[str, str] | None = None,
                timeout: float = CONSOLE_TIMEOUT_S) -> dockerio.RunResult:
    """Run the console sample: framework-dependent from /tmp/app, or the image's own entry point.
    A run still going after ``timeout`` seconds (scaled: :func:`time_limit`): :class:`dockerio.ContainerTimeout`."""
    timeout = time_limit(timeout)
    if sample is None:
        return dockerio.run(api, ref, None, step="console run", environment=env, timeout=timeout,
                            labels={dockerio.label("role"): "verify"})
    return dockerio.run(
        api, ref, ["dotnet", f"/tmp/app/{sample.name}/{sample.dll}"], step=f"console run of {sample.name}", environment=env,
        put=[("/tmp", _app_tar(sample.path, sample.name))], timeout=timeout, labels={dockerio.label("role"): "verify"},
    )


def http_get(url: str, *, deadline: float, alive: Callable[[], bool] | None = None) -> str:
    """GET with back-off until ``deadline`` (monotonic seconds), or until ``alive()`` says the
    server is gone (checked between attempts)."""
    delay = 0.05
    while True:
        try:
            with urllib.request.urlopen(url, timeout=3) as resp:
                if resp.status == 200:
                    return resp.read().decode("utf-8", "replace")
        except OSError:
            pass
        if time.monotonic() + delay > deadline:
            raise TimeoutError(f"no HTTP 200 from {url}")
        if alive is not None and not alive():
            raise ServerExited(f"the server exited before answering {url}")
        time.sleep(delay)
        delay = min(delay * 2, 1.0)


class ServerExited(Exception):
    pass


@dataclass
class WebResult:
    answered: bool
    body: str
    logs: str
    seconds: float
    exit_code: int | None = None   # when the server exited before answering
    timed_out: bool = False        # neither answered nor exited within the time limit


def serve_web(
    api: docker.APIClient, ref: str, sample: Sample | None, *, env: dict[str, str] | None = None,
    path: str = "/jit", timeout: float = WEB_TIMEOUT_S,
) -> WebResult:
    """Start the web sample (host network, 127.0.0.1:free port), GET ``path``; the container is
    always removed. Gives up at ``timeout`` (scaled: :func:`time_limit`) or as soon as the server has exited."""
    timeout = time_limit(timeout)
    port = dockerio.free_port()
    environment = {"ASPNETCORE_HTTP_PORTS": "", "ASPNETCORE_URLS": f"http://127.0.0.1:{port}", **(env or {})}
    command = ["dotnet", f"/tmp/app/{sample.name}/{sample.dll}"] if sample else None
    with dockerio.Container(
        api, ref, command, step=f"web run of {sample.name if sample else 'the app'}", environment=environment,
        network_mode="host", labels={dockerio.label("role"): "verify"},
    ) as box:
        if sample:
            box.put("/tmp", _app_tar(sample.path, sample.name))
        start = time.monotonic()
        box.start()
        exit_code, timed_out = None, False
        try:
            body = http_get(f"http://127.0.0.1:{port}{path}", deadline=start + timeout, alive=lambda: bool(box.state().get("Running")))
            answered = True
        except TimeoutError:
            body, answered, timed_out = "", False, True
        except ServerExited:
            body, answered = "", False
            exit_code = box.state().get("ExitCode")
        return WebResult(answered, body, box.logs(), time.monotonic() - start, exit_code, timed_out)


def _timed_out(ref: str, name: str, exc: dockerio.ContainerTimeout) -> Check:
    return Check(ref, name, False, f"{exc.cause} ({exc.what})", {"timeout": True})


def check_console(api: docker.APIClient, ref: str, sample: Sample | None, *, name: str = "console-runs",
                  timeout: float = CONSOLE_TIMEOUT_S) -> Check:
    try:
        on = run_console(api, ref, sample, timeout=timeout)
    except dockerio.ContainerTimeout as exc:
        return _timed_out(ref, name, exc)
    ok = on.exit_code == 0 and "Hello from .NET" in on.output
    first = on.output.strip().splitlines()[0] if on.output.strip() else ""
    return Check(ref, name, ok, f"exit {on.exit_code}: {first[:100]}", {"jit_methods": parse_jit(on.output), "output": on.output[-1500:]})


def check_web(api: docker.APIClient, ref: str, sample: Sample | None, *, name: str = "web-answers", timeout: float = WEB_TIMEOUT_S) -> Check:
    res = serve_web(api, ref, sample, timeout=timeout)
    ok = res.answered and parse_jit(res.body) is not None
    if res.answered:
        detail = f"HTTP 200 in {res.seconds:.1f} s: {res.body.strip().splitlines()[0] if res.body.strip() else ''}"
    elif res.timed_out:
        detail = f"no HTTP 200 within the time limit ({time_limit(timeout):g} s); logs: {res.logs.strip()[-300:]}"
    else:
        detail = f"no HTTP 200: the server exited with code {res.exit_code} after {res.seconds:.1f} s; logs: {res.logs.strip()[-300:]}"
    # the logs kept are their end; the exception a server logged is looked for in all of them
    return Check(ref, name, ok, detail, {"jit_methods": parse_jit(res.body), "logs": res.logs[-1500:],
                                         "exception": "" if ok else first_exception(res.logs),
                                         **({"timeout": True} if res.timed_out else {})})


@dataclass(frozen=True)
class JitRun:
    count: int | None          # the JIT-compiled methods the run reported
    why: str = ""              # why none: the runtime's words, or that it did not end in time
    timed_out: bool = False    # it neither ended (console) nor answered or exited (web) in time


def jit_count(api: docker.APIClient, ref: str, sample: Sample | None, web: bool, env: dict[str, str] | None = None) -> JitRun:
    """One run (``env`` added) and the JIT-compiled method count it reported."""
    if web:
        res = serve_web(api, ref, sample, env=env)
        count = parse_jit(res.body)
        if count is not None:
            return JitRun(count)
        if res.timed_out:
            return JitRun(None, "no answer in time", timed_out=True)
        return JitRun(None, failure_reason(Check(ref, "web", False, "no HTTP answer", {"logs": res.logs})))
    try:
        run = run_console(api, ref, sample, env=env)
    except dockerio.ContainerTimeout:
        return JitRun(None, "no exit in time", timed_out=True)
    count = parse_jit(run.output)
    if count is not None:
        return JitRun(count)
    return JitRun(None, failure_reason(Check(ref, "console", False, f"exit {run.exit_code}", {"output": run.output})))


R2R_OFF = {"DOTNET_ReadyToRun": "0"}


def jit_counts(api: docker.APIClient, ref: str, sample: Sample | None, web: bool,
               reasons: list[str] | None = None, *, ran: Check | None = None) -> tuple[int | None, int | None]:
    """JIT-compiled method counts with ReadyToRun on and off (DOTNET_ReadyToRun=0); None for a run
    that did not report one (or did not end in time). ``reasons`` gets, per run, why it reported none
    (the runtime's words; "" for a run that reported). ``ran``: the check that already ran the sample as
    it is (:func:`check_console`, :func:`check_web`): its count is the one with ReadyToRun on, and the
    sample is not run again for it."""
    if ran is not None:
        on = ran.data.get("jit_methods")
        first = JitRun(on, "" if on is not None else failure_reason(ran))
    else:
        first = jit_count(api, ref, sample, web, {})
    off = jit_count(api, ref, sample, web, R2R_OFF)
    if reasons is not None:
        reasons.extend((first.why, off.why))
    return first.count, off.count


def check_r2r_used(ref: str, on: int | None, off: int | None, baseline: int | None, *, composite: bool,
                   reasons: tuple[str, ...] = (), held: bool = True) -> Check:
    """R2R code must be used (far fewer JIT-compiled methods than with R2R disabled), and a
    composite image must not JIT more than the baseline image for the same sample. ``reasons``: why
    the run with R2R on, and off, reported no count (from :func:`jit_counts`). ``held`` False: a composite
    this tool did not compile (the SDK's own, built to compare with): more than the baseline is said
    and recorded, not failed."""
    problems, said = [], ""
    if on is not None and off is None and len(reasons) > 1 and reasons[1]:
        # e.g. a trimmed app: its composite's code runs, its IL alone does not (type validation, skipped
        # for ReadyToRun code, finds what trimming removed)
        problems.append(f"it runs only with its ReadyToRun code: with DOTNET_ReadyToRun=0 it fails: {reasons[1]}")
    elif on is None or off is None:
        problems.append("the sample did not report its JIT count")
    else:
        if not on * 2 < off:
            problems.append(f"{on} methods JIT-compiled with ReadyToRun vs {off} without: R2R code is not (much) used")
        if composite and baseline is not None and on > baseline:
            if held:
                problems.append(f"composite JIT-compiles {on} methods, more than the baseline's {baseline}")
            else:
                said = " (more than the baseline: a composite this tool did not compile, measured for comparison)"
    detail = f"jit {on} with R2R, {off} with DOTNET_ReadyToRun=0" + (f", baseline {baseline}" if baseline is not None else "") + said
    return Check(ref, "r2r-used", not problems, "; ".join(problems) or detail, {"jit_r2r": on, "jit_no_r2r": off, "jit_baseline": baseline})


def first_exception(text: str) -> str:
    """The first exception a run printed (the runtime's unhandled one, or one a server logged), or ""."""
    for line in (raw.strip() for raw in text.splitlines()):
        if line.startswith("Unhandled exception.") or re.match(r"^[\w.]+(Exception|Error): ", line):
            return line[:300]
        # a single-line logger puts it after the message: "... thrown by the application. System.X: ..."
        m = re.search(r"\s((?:[A-Za-z_]\w*\.)+[A-Za-z_]\w*(?:Exception|Error): .*)", line)
        if m:
            return m.group(1)[:300]
    return ""


def failure_reason(check: Check) -> str:
    """Why a run failed, in the runtime's words: the exception it printed, else the check's detail."""
    return (check.data.get("exception") or first_exception(str(check.data.get("output") or check.data.get("logs") or ""))
            or check.detail[:300])


def not_applicable_r2r(ref: str, jit: int | None, why: str) -> Check:
    """The r2r-used check for an app with no JIT (Native AOT): passes, JIT count as the app reported it
    (0 for a native program), and says why it does not apply."""
    return Check(ref, "r2r-used", True, f"not applicable: {why} (the app reports jit {jit})",
                 {"jit_r2r": jit, "jit_no_r2r": None, "jit_baseline": None, "not_applicable": why})


def sdk_build_samples(api: docker.APIClient, ref: str, sources: Path, names: tuple[str, ...], out: Path,
                      tfm: str | None = None) -> tuple[Check, dict[str, Sample]]:
    """In the SDK image, offline (network none): `dotnet new console` + build, and publish each
    sample (for ``tfm``, the image's channel, when given); the published samples are copied out to
    ``out`` for the runtime/aspnet checks."""
    buf = dockerio.tar_directory(sources, arcname="src")
    retarget = (f" sed -i 's#<TargetFramework>[^<]*</TargetFramework>#<TargetFramework>{tfm}</TargetFramework>#' /tmp/src/*/*.csproj;"
                if tfm else "")
    script = (
        "set -e; cd /tmp; export HOME=/tmp DOTNET_CLI_TELEMETRY_OPTOUT=1 NUGET_PACKAGES=/tmp/nuget;" + retarget +
        " dotnet new console -o /tmp/newapp --no-update-check >/dev/null; dotnet build /tmp/newapp -nologo -v q -p:NuGetAudit=false;"
        + "".join(
            f" dotnet publish /tmp/src/{n}/{n}.csproj -c Release -o /tmp/out/{n} -nologo -v q -p:UseAppHost=false -p:NuGetAudit=false;"
            for n in names
        )
        + " dotnet /tmp/newapp/bin/Debug/net*/newapp.dll"
    )
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    try:
        res = dockerio.run(
            api, ref, ["sh", "-c", script], step="offline SDK build of the samples", network_mode="none",
            put=[("/tmp", buf)], get=[("/tmp/out", out)], timeout=time_limit(900), labels={dockerio.label("role"): "verify"},
        )
    except dockerio.ContainerTimeout as exc:
        return _timed_out(ref, "sdk-builds", exc), {}
    built = {n: Sample(n, out / "out" / n, f"sdk:{ref}") for n in names if (out / "out" / n / f"{n}.dll").is_file()}
    ok = res.exit_code == 0 and "Hello, World!" in res.output and len(built) == len(names)
    detail = (f"offline: dotnet new console + build ran, published {', '.join(built)} in {res.seconds:.0f} s" if ok
              else f"exit {res.exit_code}: {res.output.strip()[-400:]}")
    return Check(ref, "sdk-builds", ok, detail, {"published": sorted(built), "seconds": round(res.seconds, 1)}), built


# -- 4. conventions ----------------------------------------------------------------------------

def check_list_runtimes(api: docker.APIClient, claim: Claim) -> Check:
    env = image_env(api, claim.ref)
    want = env.get("DOTNET_VERSION")
    try:
        res = dockerio.run(api, claim.ref, ["dotnet", "--list-runtimes"], step="dotnet --list-runtimes", timeout=time_limit(CONSOLE_TIMEOUT_S),
                           labels={dockerio.label("role"): "verify"})
    except dockerio.ContainerTimeout as exc:
        return _timed_out(claim.ref, "list-runtimes", exc)
    found = re.findall(r"^(\S+) (\S+) \[", res.output, re.M)
    problems = []
    if res.exit_code != 0:
        problems.append(f"exit {res.exit_code}: {res.output.strip()[:200]}")
    if not want or (NETCORE, want) not in found:
        problems.append(f"DOTNET_VERSION={want} not among the runtimes")
    if claim.dotnet_version and want != claim.dotnet_version:
        problems.append(f"DOTNET_VERSION={want} but the label says {claim.dotnet_version}")
    if ASPNETCORE in claim.frameworks:
        asp = env.get("ASPNET_VERSION")
        if not asp or (ASPNETCORE, asp) not in found:
            problems.append(f"ASPNET_VERSION={asp} not among the runtimes")
    detail = "; ".join(problems) or ", ".join(f"{a} {b}" for a, b in found)
    return Check(claim.ref, "list-runtimes", not problems, detail, {"runtimes": found})


def check_conventions(api: docker.APIClient, claim: Claim) -> Check:
    """Environment, the non-root `app` user, no world-writable files without the sticky bit."""
    env = image_env(api, claim.ref)
    problems = []
    for key, want in (("DOTNET_RUNNING_IN_CONTAINER", "true"), ("APP_UID", APP_UID), ("ASPNETCORE_HTTP_PORTS", "8080")):
        if env.get(key) != want:
            problems.append(f"{key}={env.get(key)!r} (want {want!r})")
    script = (
        "echo uid=$(id -u) app=$(id -u app 2>/dev/null);"
        " find / -xdev \\( -type f -o -type d \\) -perm -0002 ! -perm -1000 2>/dev/null | head -20 | sed 's/^/ww: /'"
    )
    shell = shell_for(api, claim.ref)  # an image without a shell: a busybox put into the container
    try:
        res = dockerio.run(api, claim.ref, shell.command(script), step="conventions check", entrypoint=[], timeout=time_limit(CONSOLE_TIMEOUT_S),
                           put=list(shell.put), labels={dockerio.label("role"): "verify"})
    except dockerio.ContainerTimeout as exc:
        return _timed_out(claim.ref, "conventions", exc)
    m = re.search(r"uid=(\d+) app=(\d*)", res.output)
    if not m:
        problems.append(f"could not read users: {res.output.strip()[:200]}")
    else:
        uid, app_uid = m.groups()
        if app_uid != APP_UID:
            problems.append(f"user app has UID {app_uid or 'none'} (want {APP_UID})")
        if (claim.role == "app" or not claim.shell) and uid != APP_UID:
            what = "app image" if claim.role == "app" else "image without a shell"
            problems.append(f"{what} runs as UID {uid} (want the non-root app user {APP_UID})")
    ww = [line[4:] for line in res.output.splitlines() if line.startswith("ww: ") and not line[4:].startswith("/.dci")]
    if ww:
        problems.append(f"world-writable without sticky bit: {', '.join(ww[:5])}")
    detail = "; ".join(problems) or f"env ok, user app={APP_UID}, default uid {m.group(1) if m else '?'}, no world-writable files"
    return Check(claim.ref, "conventions", not problems, detail, {"world_writable": ww})


# -- 4b. images without a shell (distroless OS bases) -----------------------------------------

BIN_DIRS = ("bin", "sbin", "usr/bin", "usr/sbin", "usr/local/bin", "usr/local/sbin")
SHELLS = frozenset({"sh", "bash", "dash", "ash", "zsh", "ksh", "mksh", "csh", "tcsh", "fish", "busybox", "toybox"})
PACKAGE_MANAGERS = frozenset({"apt", "apt-get", "apt-cache", "aptitude", "dpkg", "dpkg-deb", "dpkg-query", "apk", "rpm", "yum",
                              "dnf", "microdnf", "tdnf"})


def shells_and_package_managers(paths: list[str]) -> list[str]:
    """The paths that are a shell or a package manager: in a bin folder (``/bin``, ``/usr/bin``...), named
    like one (``*sh``, busybox) or like apt/dpkg/apk/rpm."""
    found = []
    for path in paths:
        folder, _, name = path.rstrip("/").rpartition("/")
        if folder in BIN_DIRS and (name in SHELLS or name.endswith("sh") or name in PACKAGE_MANAGERS):
            found.append("/" + path.rstrip("/"))
    return sorted(found)


def check_no_shell(api: docker.APIClient, claim: Claim) -> Check:
    """Read from the image's file system (no shell run): no shell and no package manager in any bin folder."""
    paths = dockerio.image_paths(api, claim.ref)
    found = shells_and_package_managers(paths)
    detail = (f"found {', '.join(found[:8])}" if found
              else f"no shell, no package manager in {', '.join('/' + d for d in BIN_DIRS)} ({len(paths)} paths)")
    return Check(claim.ref, "no-shell", not found, detail, {"found": found, "paths": len(paths)})


PROBE_TIMEOUT_S = 120.0


def parse_probe(output: str) -> dict[str, str]:
    """``probe-<what>: <answer>`` lines of the os probe (crossgen/verify/probe)."""
    return {m.group(1): m.group(2).strip() for m in re.finditer(r"^probe-([a-z]+): (.*)$", output, re.M)}


def judge_probe(found: dict[str, str], *, icu: bool, tzdata: bool, env: dict[str, str]) -> list[str]:
    """What is wrong with an OS base, from the probe's answers: it must run as the non-root app user,
    hold ICU and time zones exactly when its OS base says so (globalization-invariant without ICU),
    and trust a root of the CA bundle through the system store."""
    problems = []
    if "runtime" not in found:
        return ["the probe did not run"]
    if not re.match(rf"uid={APP_UID} name=app$", found.get("user", "")):
        problems.append(f"runs as {found.get('user') or '?'} (want uid={APP_UID} name=app)")
    if found.get("icu", "").startswith("yes") != icu:
        problems.append(f"ICU: {found.get('icu') or '?'} (want {'ICU' if icu else 'none'})")
    if not icu and env.get("DOTNET_SYSTEM_GLOBALIZATION_INVARIANT") != "true":
        problems.append("no ICU but DOTNET_SYSTEM_GLOBALIZATION_INVARIANT is not true")
    if found.get("tz", "").startswith("yes") != tzdata:
        problems.append(f"time zones: {found.get('tz') or '?'} (want {'Europe/Berlin' if tzdata else 'none'})")
    roots = found.get("roots", "")
    if not roots.isdigit() or int(roots) == 0:
        problems.append(f"the system root store is empty or unreadable ({roots or '?'})")
    if not found.get("trust", "").startswith("yes"):
        problems.append(f"a root of the CA bundle is not trusted: {found.get('trust') or '?'}")
    return problems


def check_os_probe(api: docker.APIClient, claim: Claim, probe: Sample, *, icu: bool, tzdata: bool) -> Check:
    """Run the os probe (self-contained: it needs nothing of .NET in the image) as the image's own user:
    the .NET app runs; user, ICU, time zones and the CA bundle as the OS base promises."""
    try:
        res = dockerio.run(api, claim.ref, [f"/tmp/probe/{probe.name}"], step="os probe", timeout=time_limit(PROBE_TIMEOUT_S),
                           put=[("/tmp", dockerio.tar_directory(probe.path, arcname="probe"))], labels={dockerio.label("role"): "verify"})
    except dockerio.ContainerTimeout as exc:
        return _timed_out(claim.ref, "os-probe", exc)
    found = parse_probe(res.output)
    problems = ([f"exit {res.exit_code}: {res.output.strip()[-300:]}"] if res.exit_code != 0 else []) + \
        judge_probe(found, icu=icu, tzdata=tzdata, env=image_env(api, claim.ref))
    detail = "; ".join(problems) or "; ".join(f"{k}: {v}" for k, v in found.items())
    return Check(claim.ref, "os-probe", not problems, detail, {"probe": found})


# -- 5. app compatibility ------------------------------------------------------------------------

def _deps_runtime_assemblies(deps_json: Path) -> dict[str, tuple[str, str]]:
    """dll file name (lower case) -> (assemblyVersion, fileVersion) from a .deps.json."""
    data = json.loads(deps_json.read_text())
    out: dict[str, tuple[str, str]] = {}
    for target in (data.get("targets") or {}).values():
        for lib in target.values():
            for path, meta in (lib.get("runtime") or {}).items():
                out[posixpath.basename(path).lower()] = ((meta or {}).get("assemblyVersion", ""), (meta or {}).get("fileVersion", ""))
    return out


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", text or "0"))


def app_collisions(app_dir: Path, dotnet_root: Path) -> list[dict]:
    """Assemblies of a published app that would replace a composite component of the image.

    The host takes the app's copy of a framework assembly when its (assembly version, file
    version) is higher than the framework's; a composite then refuses it (MVID mismatch).
    """
    components: dict[str, tuple[str, str, str]] = {}  # name -> (composite path, mvid, framework dir)
    for info in r2r.classify_tree(dotnet_root):
        if info.kind == r2r.Kind.COMPOSITE:
            for name, mvid in r2r.composite_components(dotnet_root / info.path):
                components[name.lower()] = (info.path, mvid, posixpath.dirname(info.path))
    fw_versions: dict[str, tuple[str, str]] = {}
    for deps in dotnet_root.glob("shared/*/*/*.deps.json"):
        fw_versions.update(_deps_runtime_assemblies(deps))
    app_deps = next(iter(sorted(app_dir.glob("*.deps.json"))), None)
    app_versions = _deps_runtime_assemblies(app_deps) if app_deps else {}
    found = []
    for path in sorted(app_dir.rglob("*.dll")):
        name = path.stem.lower()
        if name not in components or not r2r.is_managed(path):
            continue
        composite, comp_mvid, _ = components[name]
        mvid = r2r.read_mvid(path)
        if mvid == comp_mvid:
            continue
        app_v = app_versions.get(path.name.lower(), ("", ""))
        fw_v = fw_versions.get(path.name.lower(), ("", ""))
        wins = (_version_tuple(app_v[0]), _version_tuple(app_v[1])) > (_version_tuple(fw_v[0]), _version_tuple(fw_v[1]))
        found.append({
            "assembly": path.name, "app_version": app_v, "framework_version": fw_v, "composite": composite,
            "app_mvid": mvid, "composite_mvid": comp_mvid, "app_copy_loaded": wins or not app_v[0],
        })
    return found


def check_app_compat(api: docker.APIClient, ref: str, app_dir: Path) -> Check:
    root = copy_tree_out(api, ref, DOTNET)
    try:
        hits = app_collisions(app_dir, root)
    finally:
        shutil.rmtree(root.parent, ignore_errors=True)
    fatal = [h for h in hits if h["app_copy_loaded"]]
    if fatal:
        detail = "; ".join(
            f"{h['assembly']} {h['app_version'][0] or '?'} (app) replaces the component in {posixpath.basename(h['composite'])} "
            f"({h['framework_version'][0]}): the runtime will stop with 'MVID mismatch'"
            for h in fatal
        )
    else:
        detail = f"no collisions ({len(hits)} app copies of framework assemblies, all shadowed by the framework)" if hits else "no collisions"
    return Check(ref, "app-compat", not fatal, detail, {"collisions": hits, "app": str(app_dir)})
