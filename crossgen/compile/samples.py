"""Build the sample apps (samples/<name>) with the local .NET SDK; cached by source digest."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import re
import time
from dataclasses import dataclass
from pathlib import Path
import xml.etree.ElementTree as ET

from crossgen.acquire.acquisition import host_rid
from crossgen.acquire.muxer import ARCHES, cross_compiler
from crossgen.acquire.versionspec import newest_first, parse_version
from crossgen.core import channels, ui
from crossgen.core.files import atomic_dir, atomic_write_text
from crossgen.core.errors import DciError
from crossgen.core.settings import Settings


@dataclass(frozen=True)
class Publish:
    """One way of publishing an app (an *approach*): the catalog declares them (``PUBLISH_KINDS``),
    :func:`publish` carries them out. ``name`` is part of the output folder's name and of the digest."""

    name: str                                    # fd | sc | trimmed | aot | sdk-composite
    title: str
    self_contained: bool = False                 # carries its runtime (no framework below it)
    properties: tuple[tuple[str, str], ...] = ()  # `dotnet publish -p:NAME=VALUE` beyond the self-contained ones
    native: bool = False                         # a native executable (Native AOT): no IL, no JIT, no `dotnet` host
    pin_runtime: bool = True                     # self-contained: the runtime packs of the acquired version (PIN_VERSIONS)
    pin_crossgen2: bool = False                  # the SDK's own ReadyToRun: its Crossgen2 pack of the acquired Crossgen2 version
    may_break: bool = False                      # trimming/AOT change what the program can do: it is run once before it counts
    sdk_composite: bool = False                  # the SDK wrote <app>.r2r.dll (PublishReadyToRunComposite)

    def flags(self) -> list[str]:
        return [f"-p:{k}={v}" for k, v in self.properties]

    def entry(self, name: str) -> str:
        """The file a finished publish has: the native executable, else the app's IL assembly."""
        return name if self.native else f"{name}.dll"


FRAMEWORK_DEPENDENT = Publish("fd", "framework-dependent")  # IL only, no apphost
SELF_CONTAINED = Publish("sc", "self-contained", self_contained=True)


@dataclass(frozen=True)
class Sample:
    name: str
    path: Path        # published folder
    digest: str
    note: str = ""    # how it was built when that is not the channel's own way (roll-forward), for checks to say
    kind: str = "fd"  # the Publish it was published with
    failed: str = ""  # an approach that may fail (trimming, AOT): why `dotnet publish` failed ("" = published)

    @property
    def dll(self) -> str:
        return f"{self.name}.dll"

    @property
    def record(self) -> dict:
        """What :func:`publish` recorded (seconds, trimming/AOT warnings, pack versions); {} when none."""
        path = record_path(self.path)
        try:
            return json.loads(path.read_text()) if path.is_file() else {}
        except ValueError:
            return {}


def record_path(out: Path) -> Path:
    """The publish record beside a published folder (not in it: it would land in the image)."""
    return out.with_name(out.name + ".publish.json")


_WARNING = re.compile(r"warning (IL\d{4})\b")
_LOCATION = re.compile(r"^\s*(.+?)\((\d+)(?:,\d+)?\)\s*:")


def analysis_warnings(output: str) -> dict[str, int]:
    """Trimming/AOT analysis warnings in `dotnet publish` output: code -> count of distinct warnings.
    A warning is one (code, source file, line): the analyzers at build time and ILLink/ILCompiler at
    publish report the same call site (``Program.cs(10,12)`` and ``Program.cs(10)``), and MSBuild repeats
    every warning in its closing summary. A warning with no source location counts once per text."""
    seen: dict[str, set[str]] = {}
    for line in output.splitlines():
        m = _WARNING.search(line)
        if not m:
            continue
        loc = _LOCATION.match(line)
        seen.setdefault(m.group(1), set()).add(f"{loc.group(1)}:{loc.group(2)}" if loc else line.strip())
    return {code: len(sites) for code, sites in sorted(seen.items())}


def restored_packs(project_dir: Path) -> dict[str, str]:
    """The packs the SDK downloaded for a publish (runtime, ILCompiler, Crossgen2, ILLink packs):
    name -> version, from obj/project.assets.json (``downloadDependencies`` and libraries)."""
    path = project_dir / "obj" / "project.assets.json"
    try:
        doc = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError):
        return {}
    out: dict[str, str] = {}
    for fw in (doc.get("project", {}).get("frameworks") or {}).values():
        for dep in fw.get("downloadDependencies") or []:
            out[dep["name"]] = dep["version"].strip("[]").split(",")[0].strip()
    for key in doc.get("libraries") or {}:
        name, _, version = key.partition("/")
        if "ILCompiler" in name or "ILLink" in name or "Crossgen2" in name:
            out[name] = version
    return dict(sorted(out.items()))


@dataclass(frozen=True)
class Target:
    """What a sample is built as for a channel: the channel's target framework when the SDK at hand
    targets it, else the SDK's own newest one with ``RollForward=Major`` (it then runs on the
    channel's newer runtime, and every check that runs it says so)."""

    tfm: str
    roll_forward: bool = False
    note: str = ""

    @property
    def tag(self) -> str:
        return self.tfm + ("-rollforward" if self.roll_forward else "")


def sdk_versions(root: Path | None) -> list[str]:
    """The SDK versions of a dotnet layout (``sdk/<version>/``), newest first: stable ones before
    previews; folders that are not versions are ignored."""
    names = [p.name for p in (root / "sdk").iterdir() if p.is_dir()] if root and (root / "sdk").is_dir() else []
    ordered = newest_first(names)
    return [v for v in ordered if not parse_version(v).is_prerelease] + [v for v in ordered if parse_version(v).is_prerelease]


def host_sdk_version(settings: Settings) -> str | None:
    """The SDK ``dotnet publish`` uses here: the newest in the dotnet layout of :func:`dotnet_cli`."""
    try:
        root = Path(dotnet_cli(settings)).resolve().parent
    except DciError:
        return None
    found = sdk_versions(root)
    return found[0] if found else None


def target_for(settings: Settings, channel: str) -> Target:
    """How the samples are built for ``channel`` (a channel or a version) with the SDK at hand."""
    info = channels.channel_info(channel)
    sdk = host_sdk_version(settings)
    if sdk is None or channels.sdk_targets(sdk, info.channel):
        return Target(info.tfm)
    own = channels.channel_info(sdk)
    return Target(own.tfm, True, f"built for {own.tfm} by SDK {sdk} and rolled forward to .NET {info.channel} "
                                 f"(RollForward=Major): no SDK here targets {info.tfm}")


_TFM = re.compile(r"<TargetFramework>[^<]*</TargetFramework>")


def retarget(project: Path, tfm: str) -> None:
    """Make the project file ``project`` build for ``tfm`` (a copy of ours, never a user's file)."""
    text = project.read_text(encoding="utf-8-sig")
    if not _TFM.search(text):
        raise DciError(str(project), "has no single <TargetFramework>", "give the sample one <TargetFramework> element")
    project.write_text(_TFM.sub(f"<TargetFramework>{tfm}</TargetFramework>", text, count=1), encoding="utf-8")


# How samples are published, beyond the sources and the mode: part of their digest (a change republishes).
# The output must not depend on the folder it is built in: the compiler records source and PDB paths,
# which PathMap rewrites to /src/<name> (publish_flags).
PUBLISH_FLAGS = ("-p:ContinuousIntegrationBuild=true", "-p:PathMap=<project>=/src/<name>")


def publish_flags(project_dir: Path, name: str) -> list[str]:
    """:data:`PUBLISH_FLAGS` for one project folder."""
    return [f.replace("<project>", str(project_dir)).replace("<name>", name) for f in PUBLISH_FLAGS]


def source_digest(src: Path, extra: str = "") -> str:
    h = hashlib.sha256((extra + "".join(PUBLISH_FLAGS)).encode())
    for p in sorted(src.rglob("*")):
        if p.is_file() and not {"bin", "obj"} & set(p.relative_to(src).parts):
            h.update(p.relative_to(src).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def dotnet_cli(settings: Settings) -> str:
    if settings.dotnet_root and (settings.dotnet_root / "dotnet").is_file():
        return str(settings.dotnet_root / "dotnet")
    exe = shutil.which("dotnet")
    if not exe:
        raise DciError("dotnet SDK", "not found", "install a .NET SDK or set dci.dotnet_root")
    return exe


def dotnet_env(settings: Settings) -> dict[str, str]:
    """Environment for the `dotnet` CLI that leaves the user's home alone: a private home (the CLI
    writes first-run files and a NuGet.Config under DOTNET_CLI_HOME, NuGet its migrations and HTTP
    cache under XDG_DATA_HOME) holding a copy of the user's NuGet configuration, and the restored
    packages in the download cache."""
    home = settings.cache_dir / "dotnet-cli-home"
    packages = settings.cache_dir / "nuget-packages"
    try:
        for folder in (home, packages):
            folder.mkdir(parents=True, exist_ok=True)
        mirror_user_nuget_config(home)
    except OSError as exc:
        raise DciError(f"download cache folder {settings.cache_dir}", f"cannot prepare the dotnet CLI's home there ({exc.strerror or exc})",
                       "set dci.cache_dir (invoke.yaml) or XDG_CACHE_HOME to a writable folder") from None
    return {
        **os.environ,
        "HOME": str(home),
        "DOTNET_CLI_HOME": str(home),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "NUGET_PACKAGES": str(packages),
        "DOTNET_CLI_TELEMETRY_OPTOUT": "1",
        "DOTNET_NOLOGO": "1",
        "DOTNET_SKIP_FIRST_TIME_EXPERIENCE": "1",
    }


def mirror_user_nuget_config(private_home: Path) -> list[Path]:
    """Copy the user's NuGet configuration (NuGet.Config and config/*.config, credentials and source
    mapping included) into the private home, as the NuGet client would read it from the real one;
    NuGet's default configuration when the user has none. Relative local sources are made absolute
    (they were relative to the user's folder). Returns the files written."""
    from crossgen.acquire.nuget import DEFAULT_CONFIG, user_config_dir, user_config_file

    target = user_config_dir(private_home)
    if target.exists():
        shutil.rmtree(target)
    (target / "config").mkdir(parents=True)
    main = user_config_file() or DEFAULT_CONFIG
    extra = sorted(p for p in (user_config_dir() / "config").glob("*.[cC]onfig") if p.is_file()) if main != DEFAULT_CONFIG else []
    written = [_copy_config(main, target / "NuGet.Config")]
    written += [_copy_config(p, target / "config" / p.name) for p in extra]
    return written


def _copy_config(src: Path, dest: Path) -> Path:
    tree = ET.parse(src)
    for section in ("packageSources", "fallbackPackageFolders"):
        for el in tree.getroot().findall(f"{section}/add"):
            value = el.get("value", "")
            if value and not value.startswith(("http://", "https://", "%")) and not os.path.isabs(value):
                el.set("value", str((src.parent / value).resolve()))
    tree.write(dest, encoding="utf-8", xml_declaration=True)
    return dest


PIN_VERSIONS = """<Project>
  <!-- Written by dotnet-composite-images: self-contained publish takes the runtime packs of this exact version. -->
  <ItemGroup>
    <KnownFrameworkReference Update="Microsoft.NETCore.App;Microsoft.AspNetCore.App" LatestRuntimeFrameworkVersion="{version}" />{more}
  </ItemGroup>
</Project>
"""
PIN_CROSSGEN2 = """
    <KnownCrossgen2Pack Update="Microsoft.NETCore.App.Crossgen2" Crossgen2PackVersion="{version}" />"""


def pin_targets(kind: Publish, runtime_version: str | None, crossgen2_version: str | None) -> str | None:
    """The targets file that pins a self-contained publish's packs to the acquired versions (None: nothing
    to pin). Native AOT keeps the SDK's own packs: its runtime pack must match its ILCompiler pack."""
    if not (kind.self_contained and kind.pin_runtime and runtime_version):
        return None
    more = PIN_CROSSGEN2.format(version=crossgen2_version) if kind.pin_crossgen2 and crossgen2_version else ""
    return PIN_VERSIONS.format(version=runtime_version, more=more)


CROSS_AOT_LINK = """<Project>
  <!-- Written by dotnet-composite-images: Native AOT for {arch} on this {host} machine, linked by Debian's cross
       compiler {compiler}, which takes no clang-style target option (its name is the target). -->
  <Target Name="DciCrossGccLink" AfterTargets="SetupOSSpecificProps" Condition="'$(TargetTriple)' != ''">
    <ItemGroup>
      <LinkerArg Remove="--target=$(TargetTriple)" />
    </ItemGroup>
  </Target>
</Project>
"""


def cross_aot(kind: Publish, rid: str | None) -> tuple[str, list[str]] | None:
    """Native AOT for another architecture than this machine's: (the targets file, the publish flags) that
    link it with Debian's cross gcc (``dotnet publish`` defaults to clang with ``--target``, which needs
    clang and a sysroot); None when nothing is crossed. ILCompiler itself runs here either way."""
    host = host_rid().rsplit("-", 1)[1]
    arch = (rid or "").rsplit("-", 1)[-1]
    if not kind.native or not rid or arch == host:
        return None
    if arch not in ARCHES:
        raise DciError(f"Native AOT for {rid}", f"this tool links it on this {host} machine only for " + ", ".join(ARCHES),
                       f"publish it on a {arch} machine, or leave the aot approach out for {rid}")
    _, compiler, _ = cross_compiler(arch, f"Native AOT for {rid}", "linking it here takes")
    triple = compiler.removesuffix("-gcc")
    return (CROSS_AOT_LINK.format(arch=arch, host=host, compiler=compiler),
            [f"-p:CppCompilerAndLinker={compiler}", f"-p:ObjCopyName={triple}-objcopy"])


def _mode(kind: Publish, rid: str | None, runtime_version: str | None, target: Target | None = None,
          crossgen2_version: str | None = None) -> str:
    """How a sample is published, as its folder names say it: fd, or <kind>-<rid>-<runtime version>
    (``sdk`` for the SDK's own packs; ``-cg<version>`` with a pinned Crossgen2), and the target
    framework it was built for, when a channel asked for one."""
    if kind.self_contained:
        if not rid:
            raise DciError(f"{kind.name} publish", "needs a runtime identifier", "set dci.rid (invoke.yaml)")
        mode = f"{kind.name}-{rid}-{runtime_version if kind.pin_runtime and runtime_version else 'sdk'}"
        if kind.pin_crossgen2 and crossgen2_version and crossgen2_version != runtime_version:
            mode += f"-cg{crossgen2_version}"
    else:
        mode = kind.name
    return f"{mode}-{target.tag}" if target else mode


def _digest_extra(kind: Publish, mode: str) -> str:
    return mode + "".join(kind.flags())


def planned(settings: Settings, name: str, *, kind: Publish = FRAMEWORK_DEPENDENT, rid: str | None = None,
            runtime_version: str | None = None, crossgen2_version: str | None = None,
            src: Path | None = None, target: Target | None = None) -> tuple[Sample, bool]:
    """Where :func:`publish` puts samples/<name> (or the project folder ``src``) for these sources, and
    whether it is there already."""
    src = src or settings.project_root / "samples" / name
    if not (src / f"{name}.csproj").is_file():
        found = sorted(p.parent.name for p in (settings.project_root / "samples").glob("*/*.csproj"))
        raise DciError(f"sample {name!r}", f"no {src}/{name}.csproj", f"choose one of: {', '.join(found)}")
    mode = _mode(kind, rid, runtime_version, target, crossgen2_version)
    digest = source_digest(src, _digest_extra(kind, mode))
    out = settings.workspace.samples / f"{name}-{mode}-{digest}"
    return Sample(name, out, digest, target.note if target else "", kind.name), (out / kind.entry(name)).is_file()


def publish(settings: Settings, name: str, *, kind: Publish = FRAMEWORK_DEPENDENT, rid: str | None = None,
            runtime_version: str | None = None, crossgen2_version: str | None = None,
            src: Path | None = None, target: Target | None = None) -> Sample:
    """``dotnet publish`` samples/<name> (or the project folder ``src``) the ``kind`` way: framework-dependent
    (IL only, no apphost), or self-contained for ``rid`` with the runtime packs of ``runtime_version``
    (and ``kind``'s properties: trimmed, Native AOT, the SDK's ReadyToRun composite); for ``target``'s
    framework (rolled forward when it says so), else the project's own. Beside the output, a record
    of the publish: seconds, trimming/AOT warnings (code -> count), the packs the SDK took."""
    sample, done = planned(settings, name, kind=kind, rid=rid, runtime_version=runtime_version, crossgen2_version=crossgen2_version,
                           src=src, target=target)
    if done:
        return sample
    src, out = src or settings.project_root / "samples" / name, sample.path
    mode = _mode(kind, rid, runtime_version, target, crossgen2_version)
    work = settings.workspace.samples / "src"
    srccopy = work / f"{name}-{mode}"
    shutil.rmtree(srccopy, ignore_errors=True)
    shutil.copytree(src, srccopy, ignore=shutil.ignore_patterns("bin", "obj"))
    if target:
        retarget(srccopy / f"{name}.csproj", target.tfm)
    pins = pin_targets(kind, runtime_version, crossgen2_version)
    cross = cross_aot(kind, rid)
    if pins or cross:  # never both: Native AOT keeps the SDK's own packs
        (srccopy / "Directory.Build.targets").write_text(pins or cross[0])
    ui.step(f"Publishing sample {name} ({kind.title}{' ' + rid if kind.self_contained and rid else ''})")
    start = time.monotonic()
    env = dotnet_env(settings)
    with atomic_dir(out) as tmp:
        cmd = [dotnet_cli(settings), "publish", str(srccopy / f"{name}.csproj"), "-c", "Release", "-o", str(tmp), "--nologo",
               *publish_flags(srccopy, name)]
        cmd += ["-r", str(rid), "--self-contained", "true"] if kind.self_contained else ["-p:UseAppHost=false"]
        cmd += kind.flags() + (cross[1] if cross else [])
        if target and target.roll_forward:
            cmd.append("-p:RollForward=Major")
        if settings.nuget_config:  # an explicit configuration replaces the chain, as for the tool's own downloads
            cmd.append(f"-p:RestoreConfigFile={settings.nuget_config}")
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        output = proc.stdout + proc.stderr
        if proc.returncode != 0:
            log = settings.workspace.logs / f"publish-{name}-{kind.name}.log"
            log.parent.mkdir(parents=True, exist_ok=True)
            log.write_text(" ".join(cmd) + "\n\n" + output)
            raise DciError(f"sample {name}", f"dotnet publish ({kind.name}) failed: {publish_errors(output)}",
                           f"see the whole output in {log}")
        if not (tmp / kind.entry(name)).is_file():
            raise DciError(f"sample {name}", f"dotnet publish ({kind.name}) wrote no {kind.entry(name)}", "run the command by hand to see the full output")
        seconds = time.monotonic() - start
        atomic_write_text(record_path(out), json.dumps({
            "kind": kind.name, "title": kind.title, "seconds": round(seconds, 1), "warnings": analysis_warnings(output),
            "packs": restored_packs(srccopy), "properties": dict(kind.properties), "sdk": host_sdk_version(settings),
        }, indent=2))
    ui.detail(f"published {name} ({kind.name}) in {seconds:.1f} s -> {out}")
    return sample


def publish_errors(output: str) -> str:
    """The compiler's own reasons from a failed `dotnet publish` (its distinct error lines), else its last lines."""
    errors = list(dict.fromkeys(re.sub(r"\s*\[[^\]]*\.csproj[^\]]*\]$", "", line.strip())
                                for line in output.splitlines() if re.search(r"\berror\b", line) and ": error" in line))
    if errors:
        return " | ".join(errors[:4]) + (f" (and {len(errors) - 4} more errors)" if len(errors) > 4 else "")
    return " | ".join(output.strip().splitlines()[-6:])


# --- a user's own app ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AppFolder:
    """A user's app: a project folder (one *.csproj: published here like a sample) or a folder that
    `dotnet publish` wrote (used as it is)."""

    name: str
    path: Path
    published: bool
    self_contained: bool = False
    web: bool = False          # uses ASP.NET Core (its runtimeconfig, or the project's Web SDK / framework reference)


ASPNETCORE_FRAMEWORK = "Microsoft.AspNetCore.App"


def app_folder(path: Path) -> AppFolder:
    """What ``path`` holds: a publish output (``<name>.runtimeconfig.json``) or one project."""
    path = path.resolve()
    configs = sorted(path.glob("*.runtimeconfig.json"))
    if configs:
        name = configs[0].name[: -len(".runtimeconfig.json")]
        if not (path / f"{name}.dll").is_file():
            raise DciError(f"app folder {path}", f"has {configs[0].name} but no {name}.dll", "give the folder `dotnet publish` wrote")
        try:
            options = json.loads(configs[0].read_text(encoding="utf-8-sig")).get("runtimeOptions", {})
        except ValueError as exc:
            raise DciError(str(configs[0]), f"is not JSON ({exc})", "publish the app again") from None
        frameworks = [options.get("framework") or {}, *(options.get("frameworks") or []), *(options.get("includedFrameworks") or [])]
        return AppFolder(name, path, True, self_contained="includedFrameworks" in options,
                         web=any(f.get("name") == ASPNETCORE_FRAMEWORK for f in frameworks))
    projects = sorted(path.glob("*.csproj"))
    if len(projects) == 1:
        text = projects[0].read_text(encoding="utf-8-sig", errors="replace")
        web = "Microsoft.NET.Sdk.Web" in text or f'"{ASPNETCORE_FRAMEWORK}"' in text
        return AppFolder(projects[0].stem, path, False, web=web)
    raise DciError(f"app folder {path}", f"holds {'several projects' if projects else 'no project and no published app'}",
                   "give a folder with one *.csproj, or the folder `dotnet publish` wrote (with <app>.runtimeconfig.json)")


def _folder_digest(path: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(path.rglob("*")):
        if p.is_file():
            st = p.stat()
            h.update(f"{p.relative_to(path).as_posix()}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
    return "app:" + h.hexdigest()[:16]


def _publish_project(settings: Settings, app: AppFolder, *, kind: Publish, rid: str | None, runtime_version: str | None) -> Sample:
    """``dotnet publish`` a user's project where it is (its Directory.Build.*, global.json and project
    references apply; bin/ and obj/ are written there, as by a publish by hand) into a folder of ours;
    self-contained with the runtime packs of ``runtime_version`` (pinned through an extra targets file,
    the project's own files untouched). The app's name is its assembly name, read from the output.
    A user's app is published framework-dependent or self-contained (the approaches that change the
    program, trimming and Native AOT, are for the samples)."""
    if kind not in (FRAMEWORK_DEPENDENT, SELF_CONTAINED):
        raise DciError(f"your app {app.path}", f"is published framework-dependent or self-contained, not {kind.name}",
                       "use the variants whose app images are framework-dependent or self-contained")
    mode = _mode(kind, rid, runtime_version)
    digest = source_digest(app.path, mode)
    out = settings.workspace.samples / f"app-{app.name}-{mode}-{digest}"
    if not any(out.glob("*.runtimeconfig.json")):
        ui.step(f"Publishing your app {app.name} ({kind.title}{' ' + rid if kind.self_contained and rid else ''})")
        start = time.monotonic()
        with atomic_dir(out) as tmp:
            cmd = [dotnet_cli(settings), "publish", str(next(app.path.glob("*.csproj"))), "-c", "Release", "-o", str(tmp), "--nologo",
                   *publish_flags(app.path, app.name)]
            pins = pin_targets(kind, runtime_version, None)
            if kind.self_contained:
                cmd += ["-r", str(rid), "--self-contained", "true"]
                if pins:
                    pin = settings.workspace.samples / "src" / f"pin-{runtime_version}.targets"
                    pin.parent.mkdir(parents=True, exist_ok=True)
                    pin.write_text(pins)
                    cmd.append(f"-p:CustomAfterMicrosoftCommonTargets={pin}")
            else:
                cmd.append("-p:UseAppHost=false")
            if settings.nuget_config:
                cmd.append(f"-p:RestoreConfigFile={settings.nuget_config}")
            proc = subprocess.run(cmd, capture_output=True, text=True, env=dotnet_env(settings), cwd=app.path)
            if proc.returncode != 0:
                tail = " | ".join((proc.stdout + proc.stderr).strip().splitlines()[-6:])
                raise DciError(f"your app {app.path}", f"dotnet publish failed: {tail}", f"run `{' '.join(cmd[:3])} -c Release` there to see the whole output")
        ui.detail(f"published {app.name} in {time.monotonic() - start:.1f} s -> {out}")
    return Sample(app_folder(out).name, out, digest, kind=kind.name)


def publish_source(settings: Settings, name: str, source: str | None, *, kind: Publish = FRAMEWORK_DEPENDENT, rid: str | None = None,
                   runtime_version: str | None = None, crossgen2_version: str | None = None, channel: str | None = None) -> Sample:
    """A catalog sample (samples/<name>) published the ``kind`` way for ``channel`` (:func:`target_for`;
    None: as its project says), or a user's app (``source``, built as its project says): a project is
    published as the samples are; a published folder is taken as it is, if it is of the kind asked for."""
    if source is None:
        return publish(settings, name, kind=kind, rid=rid, runtime_version=runtime_version, crossgen2_version=crossgen2_version,
                       target=target_for(settings, channel) if channel else None)
    app = app_folder(Path(source))
    if not app.published:
        return _publish_project(settings, app, kind=kind, rid=rid, runtime_version=runtime_version)
    if kind.self_contained != app.self_contained or kind not in (FRAMEWORK_DEPENDENT, SELF_CONTAINED):
        want = f"{kind.title} for {rid}" if kind.self_contained else kind.title
        raise DciError(f"app folder {app.path}", f"is a {'self-contained' if app.self_contained else 'framework-dependent'} publish; "
                       f"this step needs it {want}", "give the project folder instead (it is then published both ways)")
    return Sample(app.name, app.path, _folder_digest(app.path), kind=kind.name)
