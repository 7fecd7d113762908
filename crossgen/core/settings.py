"""Settings for one run, read from the invoke configuration (invoke.yaml + task flags)."""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

from crossgen.core.errors import DciError
from crossgen.core.workspace import Workspace


def default_cache_dir() -> Path:
    """$XDG_CACHE_HOME/dotnet-composite-images, else ~/.cache/dotnet-composite-images."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "dotnet-composite-images"


def cache_dir_origin(configured: Any) -> str:
    """Where the download cache folder comes from, for the log."""
    if configured:
        return "dci.cache_dir"
    if os.environ.get("XDG_CACHE_HOME"):
        return "$XDG_CACHE_HOME"
    return "default ~/.cache: XDG_CACHE_HOME is not set"


def dotnet_root_origin(configured: Any) -> str:
    """Where the local dotnet layout comes from, for the log."""
    if configured:
        return "dci.dotnet_root"
    if os.environ.get("DOTNET_ROOT"):
        return "$DOTNET_ROOT"
    exe = shutil.which("dotnet")
    if exe:
        return f"the `dotnet` on PATH ({exe})"
    return "none: no dci.dotnet_root, DOTNET_ROOT or `dotnet` on PATH"


def environment_notes(config: Mapping[str, Any], settings: "Settings") -> list[str]:
    """One line per thing taken from the user's environment, and where it came from."""
    dci = dict(config.get("dci", {}) or {})
    root = settings.dotnet_root or "(none)"
    return [
        f"download cache: {settings.cache_dir} ({cache_dir_origin(dci.get('cache_dir'))})",
        f"dotnet layout: {root} ({dotnet_root_origin(dci.get('dotnet_root'))})",
    ]


def default_dotnet_root() -> Path | None:
    """DOTNET_ROOT, else the folder of the real `dotnet` executable on PATH."""
    env = os.environ.get("DOTNET_ROOT")
    if env:
        return Path(env)
    exe = shutil.which("dotnet")
    if exe:
        return Path(exe).resolve().parent
    return None


@dataclass(frozen=True)
class CrossgenOptions:
    inputbubble: bool = True
    parallelism: int = 0
    extra_args: tuple[str, ...] = ()
    # --instruction-set: one for every target, or one per target architecture ({"x64": "x86-64-v3", "arm64": ""});
    # "" = Crossgen2's default
    instruction_set: str | dict[str, str] = ""
    # compile with the runtime pack's StandardOptimizationData.mibc profile (-m)
    mibc: bool = False
    # bubble name -> compile mode (declared in crossgen/compile/modes.py); unnamed bubbles: its default
    mode: dict[str, str] = field(default_factory=dict)
    # set by --mode: every bubble in that mode, and the images holding them tagged ...-<mode>
    mode_tag: str = ""
    # bubble name -> simple-name patterns (fnmatch) of framework assemblies kept out of its composite
    exclude: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Settings:
    project_root: Path
    channel: str = "10.0"
    rid: str = "linux-x64"
    image_prefix: str = "dotnet-composite/"
    os_tag: str = "trixie-slim"
    # OS base of runtime-deps (crossgen/images/catalog.py, OS_BASES): slim | distroless | distroless-extra
    os: str = "slim"
    base_image: str = "debian:trixie-slim"
    debian_suite: str = "trixie"
    base_pull: bool = False
    runtime_deps_packages: tuple[str, ...] = ()
    build_dir: Path = Path("build")
    cache_dir: Path = field(default_factory=default_cache_dir)
    nuget_config: Path | None = None
    dotnet_root: Path | None = None
    crossgen: CrossgenOptions = CrossgenOptions()
    # Acquisition (crossgen/acquire/): source order, official metadata mirror, local folder, lock file.
    source: str = "auto"
    release_base_url: str = "https://builds.dotnet.microsoft.com/dotnet"
    local_path: Path | None = None
    lock_file: Path = Path("dotnet-composite.lock.json")
    locked: bool = False
    # Reproducible images (crossgen/dockerio/reproducible.py): layers rewritten after each build, with
    # file and image times at source_date_epoch (None: derived from the inputs, see images/epoch.py).
    reproducible: bool = True
    source_date_epoch: int | None = None
    # Images of another architecture than this machine's run under emulation (qemu-user): every time
    # limit of the checks that run them is multiplied by this.
    emulation_timeout_factor: float = 10.0

    @property
    def workspace(self) -> Workspace:
        """Every path under the build folder."""
        return Workspace(self.build_dir, self.crossgen.mode_tag, "" if self.target_arch == "x64" else self.target_arch)

    @property
    def lock_path(self) -> Path:
        """The lock file of the target architecture: ``lock_file`` for x64, another architecture's beside
        it with the architecture after the name's first part (dotnet-composite-arm64.lock.json)."""
        if self.target_arch == "x64":
            return self.lock_file
        stem, dot, rest = self.lock_file.name.partition(".")
        return self.lock_file.with_name(f"{stem}-{self.target_arch}{dot}{rest}")

    @property
    def target_os(self) -> str:
        return self.rid.split("-")[0].replace("musl", "")

    @property
    def target_arch(self) -> str:
        return self.rid.rsplit("-", 1)[1]

    @property
    def instruction_set(self) -> str:
        """The Crossgen2 instruction set for the target architecture (``dci.crossgen.instruction_set``: one for
        every architecture, or one per architecture)."""
        chosen = self.crossgen.instruction_set
        return chosen.get(self.target_arch, "") if isinstance(chosen, dict) else chosen

    def with_overrides(self, **changes: Any) -> "Settings":
        """Return a copy with the non-None keyword arguments applied."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


ALL_BUBBLES = ("runtime", "aspnet", "aspnet-composed", "app")


def _bubble_modes(value: Any) -> dict[str, str]:
    """crossgen.mode: one mode name for every bubble, or a mapping bubble -> mode name (names are
    checked where modes are declared, crossgen.compile.modes)."""
    if isinstance(value, str):
        return {b: value for b in ALL_BUBBLES}
    if not isinstance(value, Mapping):
        raise DciError(f"crossgen.mode {value!r}", "is neither a mode name nor a mapping bubble: mode",
                       "write e.g. `mode: {runtime: hot, aspnet: hot}` or `mode: full` in invoke.yaml")
    unknown = [str(k) for k in value if str(k) not in ALL_BUBBLES]
    if unknown:
        raise DciError(f"crossgen.mode.{unknown[0]}", "no such bubble", f"use bubble names from {', '.join(ALL_BUBBLES)}")
    return {str(k): str(v) for k, v in value.items()}


def from_config(config: Mapping[str, Any], project_root: Path) -> Settings:
    """Build Settings from the ``dci`` section of the invoke configuration."""
    dci = dict(config.get("dci", {}) or {})
    cg = dict(dci.pop("crossgen", {}) or {})
    if "partial" in cg:
        raise DciError("crossgen.partial (invoke.yaml)", "was replaced by crossgen.mode",
                       "write `mode: {runtime: partial, ...}` instead of `partial: [...]` (the modes: crossgen/compile/modes.py)")
    root = Path(project_root)

    def path_or_none(value: Any) -> Path | None:
        return Path(value).expanduser() if value else None

    build_dir = Path(dci.get("build_dir") or "build").expanduser()
    if not build_dir.is_absolute():
        build_dir = root / build_dir
    lock_file = Path(dci.get("lock_file") or "dotnet-composite.lock.json").expanduser()
    if not lock_file.is_absolute():
        lock_file = root / lock_file
    source = dci.get("source") or "auto"
    source = ",".join(str(x) for x in source) if isinstance(source, (list, tuple)) else str(source)
    rid = str(dci.get("rid", "linux-x64"))
    if "-" not in rid:
        raise DciError(f"rid {rid!r}", "not a runtime identifier", "use a RID such as linux-x64")
    return Settings(
        project_root=root,
        channel=str(dci.get("channel", "10.0")),
        rid=rid,
        image_prefix=_image_prefix(dci.get("image_prefix", "dotnet-composite/")),
        os_tag=str(dci.get("os_tag", "trixie-slim")),
        os=str(dci.get("os") or "slim"),
        base_image=_image_reference("dci.base_image", dci.get("base_image", "debian:trixie-slim")),
        debian_suite=str(dci.get("debian_suite", "trixie")),
        base_pull=bool(dci.get("base_pull", False)),
        runtime_deps_packages=tuple(dci.get("runtime_deps_packages") or ()),
        build_dir=build_dir,
        cache_dir=path_or_none(dci.get("cache_dir")) or default_cache_dir(),
        nuget_config=path_or_none(dci.get("nuget_config")),
        dotnet_root=path_or_none(dci.get("dotnet_root")) or default_dotnet_root(),
        crossgen=CrossgenOptions(
            inputbubble=bool(cg.get("inputbubble", True)),
            parallelism=int(cg.get("parallelism", 0) or 0),
            extra_args=tuple(str(a) for a in (cg.get("extra_args") or ())),
            instruction_set=_instruction_set(cg.get("instruction_set")),
            mibc=bool(cg.get("mibc", False)),
            mode=_bubble_modes(cg.get("mode") or {}),
            exclude={str(k): tuple(str(p) for p in (v or ())) for k, v in dict(cg.get("exclude") or {}).items()},
        ),
        source=source,
        release_base_url=str(dci.get("release_base_url") or "https://builds.dotnet.microsoft.com/dotnet"),
        local_path=path_or_none(dci.get("local_path")),
        lock_file=lock_file,
        locked=bool(dci.get("locked", False)),
        reproducible=bool(dci.get("reproducible", True)),
        source_date_epoch=_epoch(dci.get("source_date_epoch")),
        emulation_timeout_factor=_factor(dci.get("emulation_timeout_factor", 10)),
    )


def _instruction_set(value: Any) -> str | dict[str, str]:
    """crossgen.instruction_set: one instruction set for every target, or a mapping architecture -> set
    (``{x64: x86-64-v3, arm64: ""}``)."""
    if isinstance(value, Mapping):
        unknown = [str(k) for k in value if str(k) not in ("x64", "arm64", "x86", "arm")]
        if unknown:
            raise DciError(f"crossgen.instruction_set.{unknown[0]}", "is not an architecture Crossgen2 targets",
                           "key the mapping by x64, arm64 (the RID's last part), e.g. `instruction_set: {x64: x86-64-v3, arm64: \"\"}`")
        return {str(k): str(v or "") for k, v in value.items()}
    return str(value or "")


def _factor(value: Any) -> float:
    try:
        factor = float(value)
    except (TypeError, ValueError):
        factor = 0.0
    if not factor >= 1:
        raise DciError(f"dci.emulation_timeout_factor {value!r}", "is not a number of at least 1",
                       "give how many times longer checks may take under emulation, e.g. 10")
    return factor


# Docker's reference grammar (distribution/reference): an optional registry host (its first part has a
# dot or a port, or is localhost; any case), then lowercase path components joined by "/", an optional tag
_HOST = re.compile(r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?")
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_NAME = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*(?::\w[\w.-]{{0,127}})?(?:@[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[0-9a-fA-F]{{32,}})?")
_REFERENCE_FIX = "Docker repository names are lowercase letters, digits and . _ - between slashes, after an optional registry host[:port]"


def _is_reference(ref: str) -> bool:
    first, slash, rest = ref.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        return bool(_HOST.fullmatch(first) and _NAME.fullmatch(rest))
    return bool(_NAME.fullmatch(ref))


def _image_reference(key: str, value: Any) -> str:
    ref = str(value)
    if not _is_reference(ref):
        raise DciError(f"{key} {ref!r}", "is not a Docker image reference", f"{_REFERENCE_FIX}, e.g. debian:trixie-slim")
    return ref


def _image_prefix(value: Any) -> str:
    """``dci.image_prefix``: what every image name starts with (``<prefix>runtime:10.0``), so it must make one."""
    prefix = str(value or "")
    if not _is_reference(f"{prefix}runtime:10.0"):
        raise DciError(f"dci.image_prefix {prefix!r}", f"does not make Docker image names ({prefix}runtime:10.0)",
                       f"{_REFERENCE_FIX}, e.g. dotnet-composite/ or registry.example:5000/team/")
    return prefix


def _epoch(value: Any) -> int | None:
    """dci.source_date_epoch, else $SOURCE_DATE_EPOCH (the reproducible-builds convention), else None."""
    origin = "dci.source_date_epoch"
    if value in (None, ""):
        value, origin = os.environ.get("SOURCE_DATE_EPOCH", ""), "$SOURCE_DATE_EPOCH"
    if value in (None, ""):
        return None
    try:
        epoch = int(str(value).strip())
    except ValueError:
        epoch = -1
    if epoch < 0:
        raise DciError(f"{origin} {value!r}", "is not a time in seconds since 1970-01-01 UTC",
                       "give a whole non-negative number, e.g. $(date -d 2025-11-11 +%s), or leave it empty for the derived default")
    return epoch
