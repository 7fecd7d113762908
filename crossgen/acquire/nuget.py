"""NuGet: read the package sources the way the NuGet client does, and talk to a v3 feed.

Configuration files, from the most to the least specific (the most specific wins; a
``<clear/>`` drops every source from less specific files):

1. ``nuget.config`` / ``NuGet.config`` / ``NuGet.Config`` in the working folder and each parent;
2. the user file ``~/.nuget/NuGet/NuGet.Config``, then ``~/.nuget/NuGet/config/*.config``
   (home is ``$DOTNET_CLI_HOME`` when set, as for the dotnet CLI);
3. machine-wide files ``/etc/opt/NuGet/Config/*.config`` (``$NUGET_COMMON_APPLICATION_DATA``).

Sources are listed closest file first (a key redefined by a closer file moves with it), as
the client's PackageSourceProvider orders them; a source named in ``disabledPackageSources``
is disabled whatever the entry's value. Values may name environment variables as ``%NAME%``
(NuGet 3.4+): they are expanded as the client expands them (.NET's
``Environment.ExpandEnvironmentVariables`` on Linux: case-sensitive names, an undefined
variable stays as written) before a relative path is resolved against the file's folder. Keys
are taken as written, as the client takes them.

An explicit config file (``dci.nuget_config``) replaces all of these, as ``--configfile`` does.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Mapping

import requests

from crossgen.acquire import http
from crossgen.core.errors import DciError, NotFound

CONFIG_NAMES = ("nuget.config", "NuGet.config", "NuGet.Config")


@dataclass(frozen=True)
class Source:
    name: str
    url: str
    enabled: bool = True
    origin: str = ""

    @property
    def is_http_v3(self) -> bool:
        return self.url.startswith(("http://", "https://")) and self.url.rstrip("/").endswith(".json")


def user_config_dir(home: Path | None = None) -> Path:
    """The user-level NuGet folder: ``$DOTNET_CLI_HOME`` (as for the dotnet CLI), else ``~``."""
    home = Path(home) if home else Path(os.environ.get("DOTNET_CLI_HOME") or Path.home())
    return home / ".nuget" / "NuGet"


def user_config_file(home: Path | None = None) -> Path | None:
    """The user's own NuGet.Config, when there is one (the client accepts three casings)."""
    user_dir = user_config_dir(home)
    for name in ("NuGet.Config", "nuget.config", "NuGet.config"):
        if (user_dir / name).is_file():
            return user_dir / name
    return None


def config_files(start: Path, home: Path | None = None, machine_dir: Path | None = None, *, default: bool = False) -> list[Path]:
    """NuGet configuration files in priority order (most specific first). With ``default``, NuGet's
    own default configuration stands where the user's NuGet.Config would, when the user has none."""
    user = _user_files(home)
    if default and user_config_file(home) is None:
        user = [DEFAULT_CONFIG, *user]
    return _ordered(_folder_files(start), user, _machine_files(machine_dir))


def _folder_files(start: Path) -> list[Path]:
    files: list[Path] = []
    folder = Path(start).resolve()
    for d in [folder, *folder.parents]:
        for name in CONFIG_NAMES:
            f = d / name
            if f.is_file():
                files.append(f)
                break
    return files


def _user_files(home: Path | None) -> list[Path]:
    main = user_config_file(home)
    extra = [f for f in _config_glob(user_config_dir(home) / "config") if f.name != "NuGet.Config"]
    return ([main] if main else []) + extra


def _machine_files(machine_dir: Path | None) -> list[Path]:
    if machine_dir is None:
        common = os.environ.get("NUGET_COMMON_APPLICATION_DATA")
        machine_dir = Path(common) / "NuGet" / "Config" if common else Path("/etc/opt/NuGet/Config")
    return _config_glob(Path(machine_dir))


def _ordered(*groups: list[Path]) -> list[Path]:
    """Concatenate, keeping the first place of a file named twice."""
    files: list[Path] = []
    for group in groups:
        files.extend(f for f in group if f not in files)
    return files


def _config_glob(folder: Path) -> list[Path]:
    """``*.config`` and ``*.Config`` files of a folder (not its subfolders), sorted."""
    if not folder.is_dir():
        return []
    return sorted({f for pattern in ("*.config", "*.Config") for f in folder.glob(pattern) if f.is_file()})


def expand_env(value: str, environ: Mapping[str, str] | None = None) -> str:
    """``%NAME%`` replaced by the variable's value, as NuGet's settings do for every value
    (``Environment.ExpandEnvironmentVariables``, non-Windows): scanning left to right, a ``%``
    pair around a defined name is replaced; an undefined name stays as written and its closing
    ``%`` may open the next pair."""
    env = os.environ if environ is None else environ
    out: list[str] = []
    last = 0
    while last < len(value):
        pos = value.find("%", last + 1)
        if pos < 0:
            break
        if value[last] == "%":
            name = value[last + 1:pos]
            found = env.get(name) if name else None
            if found is not None:
                out.append(found)
                last = pos + 1
                continue
        out.append(value[last:pos])
        last = pos
    out.append(value[last:])
    return "".join(out)


def read_sources(files: list[Path]) -> list[Source]:
    """Merge ``packageSources`` of config files given most specific first."""
    sources: dict[str, Source] = {}
    disabled: set[str] = set()
    rank = {str(f): i for i, f in enumerate(files)}
    for f in reversed(files):  # least specific first, so later files override
        try:
            root = ET.parse(f).getroot()
        except (ET.ParseError, OSError) as exc:
            raise DciError(str(f), f"not a readable NuGet configuration ({exc})", "fix or remove the file") from None
        ps = root.find("packageSources")
        if ps is not None:
            for el in ps:
                if el.tag == "clear":
                    sources.clear()
                elif el.tag == "add" and el.get("key") and el.get("value"):
                    value = expand_env(el.get("value", ""))
                    if not value:
                        continue
                    if not value.startswith(("http://", "https://")) and not os.path.isabs(value):
                        value = str((f.parent / value).resolve())
                    sources.pop(el.get("key", ""), None)  # a redefined key moves to its new file
                    sources[el.get("key", "")] = Source(el.get("key", ""), value, True, str(f))
                elif el.tag == "remove" and el.get("key"):
                    sources.pop(el.get("key", ""), None)
        dps = root.find("disabledPackageSources")
        if dps is not None:
            for el in dps:
                if el.tag == "clear":
                    disabled.clear()
                elif el.tag == "add" and el.get("key"):  # the client looks at the key only
                    disabled.add(el.get("key", ""))
    ordered = sorted(sources.values(), key=lambda s: rank[s.origin])  # stable: file order kept
    return [Source(s.name, s.url, s.name not in disabled, s.origin) for s in ordered]


# What the NuGet client does on a machine where the user has no NuGet.Config yet: it writes one
# naming its built-in default source. We read the same content from the package instead of writing
# into the user's home.
DEFAULT_CONFIG = Path(__file__).with_name("data") / "NuGet.default.config"
DEFAULT_ORIGIN = "NuGet's built-in default (no user NuGet.Config yet)"


def configured_sources(explicit: Path | None = None, start: Path | None = None) -> list[Source]:
    """The package sources the NuGet client would use from ``start`` (or only ``explicit``)."""
    if explicit:
        if not Path(explicit).is_file():
            raise DciError(str(explicit), "NuGet configuration file not found", "give an existing NuGet.Config path")
        return read_sources([Path(explicit)])
    files = config_files(start or Path.cwd(), default=True)
    return [replace(s, origin=DEFAULT_ORIGIN) if s.origin == str(DEFAULT_CONFIG) else s for s in read_sources(files)]


class Feed:
    """A NuGet v3 feed: service index -> PackageBaseAddress (flat container)."""

    def __init__(self, session: requests.Session, index_url: str) -> None:
        self.session = session
        self.index_url = index_url
        index = http.get_json(session, index_url)
        bases = [
            r.get("@id")
            for r in index.get("resources", [])
            if str(r.get("@type", "")).startswith("PackageBaseAddress/3.0.0")
        ]
        if not bases:
            raise DciError(index_url, "the service index has no PackageBaseAddress/3.0.0 resource", "use a NuGet v3 feed")
        self.base = bases[0].rstrip("/") + "/"
        self.source: Source | None = None  # the configured source this feed came from (open_feed)

    def describe(self) -> str:
        """Which feed, and where its configuration came from (for the log)."""
        if self.source is None:
            return self.index_url
        return f"{self.index_url} (source {self.source.name!r} from {self.source.origin or 'an explicit list'})"

    def versions(self, package_id: str) -> list[str]:
        """The versions the feed serves of a package (none when it does not know the package)."""
        try:
            data = http.get_json(self.session, f"{self.base}{package_id.lower()}/index.json")
        except NotFound:
            return []
        return list(data.get("versions", []))

    def nupkg_url(self, package_id: str, version: str) -> str:
        pid, ver = package_id.lower(), version.lower()
        return f"{self.base}{pid}/{ver}/{pid}.{ver}.nupkg"


def open_feed(session: requests.Session, sources: list[Source]) -> Feed:
    """The first enabled HTTP v3 source whose service index answers."""
    problems = []
    for s in sources:
        if not s.enabled:
            problems.append(f"{s.name}: disabled")
            continue
        if not s.is_http_v3:
            problems.append(f"{s.name}: {s.url} is not a NuGet v3 HTTP feed")
            continue
        try:
            feed = Feed(session, s.url)
        except DciError as exc:
            problems.append(f"{s.name}: {exc}")
            continue
        feed.source = s
        return feed
    raise DciError(
        "NuGet sources",
        "no usable feed (" + ("; ".join(problems) or "none configured") + ")",
        "add a v3 feed to a NuGet.Config, or name a config file with dci.nuget_config (INVOKE_DCI_NUGET_CONFIG)",
    )
