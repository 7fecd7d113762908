"""Lock files: what was resolved, so that a later build uses exactly that.

``invoke lock`` writes (JSON, meant to be committed)::

    {
      "format": 1,
      "request": {"channel": "10.0", "source": "auto", "rid": "linux-x64"},
      "version": "10.0.15", "aspnet_version": "10.0.15", "rid": "linux-x64", "host_rid": "linux-x64",
      "components": {
        "runtime":   {"package_id", "version", "source", "kind", "url", "sha512", "size"},
        "aspnetcore": {...}, "crossgen2": {...}
      },
      "host": {"path": "/usr/share/dotnet", "dotnet_sha512": "..."},  # when `dotnet` came from a local layout
      "debian": {"suite": "trixie", "os": {package: version}, "runtime-deps": {package: version},
                 "runtime-deps-distroless": {...}}
    }

``debian`` lists the Debian packages that went into the OS base (all of them) and into runtime-deps
(the ones it adds), one entry per OS base locked (``runtime-deps-<os>`` beside the default's);
``invoke lock [--os X]`` builds the images to read them and keeps the other bases' entries while the
suite and the OS base's packages are the same. A ``--locked`` build whose base
images hold other versions fails and names them (:func:`debian_differences`).

``--locked`` (``dci.locked``) makes acquisition take exactly these files: the same URLs (or
local paths) with the same SHA-512 (a cached copy with that hash is used without any network),
and fails on any difference: another RID, a request the locked version does not answer (the
request it was locked with, or one :meth:`~crossgen.acquire.versionspec.VersionSpec.matches` accepts the
locked version for, as every source matches it), a component the lock does not have, a source
other than the one asked for, a file or host whose hash changed.
"""

from __future__ import annotations

import json
from pathlib import Path

from crossgen.acquire import releases
from crossgen.core.files import atomic_write_text
from crossgen.core.errors import DciError, NotFound
from crossgen.core.settings import Settings
from crossgen.acquire.model import Artifact, Plan, source_order
from crossgen.acquire.versionspec import VersionSpec, parse_spec

FORMAT = 1
FIELDS = ("package_id", "version", "source", "kind", "url", "sha512", "size")
KINDS = ("tarball", "nupkg", "framework-dir")


def to_dict(acquired, settings: Settings, debian: dict | None = None) -> dict:
    """The lock document for an :class:`~crossgen.acquire.acquisition.Acquired` result."""
    comps = {}
    for name, c in acquired.components.items():
        kind = "nupkg" if c.url.endswith(".nupkg") else "tarball" if c.url.endswith(".tar.gz") else "framework-dir"
        comps[name] = {
            "package_id": c.package_id, "version": c.version, "source": c.source, "kind": kind,
            "url": c.url, "sha512": c.sha512, "size": c.size,
        }
    doc = {
        "format": FORMAT,
        "comment": "Written by `invoke lock`. `invoke build-all --locked` uses exactly these files and fails on any difference.",
        "request": {"channel": acquired.request or settings.channel, "source": settings.source, "rid": settings.rid},
        "version": acquired.version,
        "aspnet_version": acquired.aspnet_version,
        "rid": acquired.rid,
        "host_rid": acquired.host_rid,
        "components": comps,
    }
    if acquired.host:
        doc["host"] = acquired.host
    if debian:
        doc["debian"] = debian
    return doc


def write(path: Path, acquired, settings: Settings, debian: dict | None = None) -> dict:
    doc = to_dict(acquired, settings, debian)
    atomic_write_text(Path(path), json.dumps(doc, indent=2) + "\n")
    return doc


def read(path: Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise NotFound(str(path), "no lock file here", "run `invoke lock` first, with the build's --rid (it writes this file), or set dci.lock_file")
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DciError(str(path), f"not a readable lock file ({exc})", "re-run `invoke lock` to write it again") from None
    problems = []
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        problems.append(f"format {doc.get('format') if isinstance(doc, dict) else None!r} (expected {FORMAT})")
    else:
        for key in ("version", "rid", "components"):
            if not doc.get(key):
                problems.append(f"no {key!r}")
        for name, c in (doc.get("components") or {}).items():
            missing = [f for f in FIELDS if f not in (c or {})]
            if missing:
                problems.append(f"component {name} lacks {', '.join(missing)}")
            elif c["kind"] not in KINDS or not releases.SHA512_HEX.match(str(c["sha512"])):
                problems.append(f"component {name} has a bad kind or sha512")
    if problems:
        raise DciError(str(path), "not a valid lock file: " + "; ".join(problems), "re-run `invoke lock` to write it again")
    return doc


def answers_request(doc: dict, spec: str | VersionSpec) -> bool:
    """Whether the locked version answers ``spec``: the lock was made for that same request, or
    the request matches the locked version (as every source matches versions)."""
    spec = parse_spec(spec)
    recorded = (doc.get("request") or {}).get("channel")
    try:
        if recorded is not None and parse_spec(recorded) == spec:
            return True
    except DciError:
        pass  # a request this version cannot read: judge by the version alone
    return spec.matches(doc["version"])


def plan_from_lock(doc: dict, settings: Settings, components: tuple[str, ...], host_rid: str | None):
    """(plan, Crossgen2 artifact or None, expected host SHA-512 or None) from a lock document."""
    where = str(settings.lock_path)
    diffs = []
    if doc["rid"] != settings.rid:
        diffs.append(f"it is for RID {doc['rid']}, this build asks for {settings.rid}")
    if not answers_request(doc, settings.channel):
        diffs.append(f"it locks .NET {doc['version']}, which is not in the requested channel/version {settings.channel!r}")
    locked = doc["components"]
    missing = [c for c in components if c not in locked]
    if missing:
        diffs.append(f"it has no {', '.join(missing)} (it has {', '.join(locked)})")
    if host_rid and "crossgen2" in locked and doc.get("host_rid") and doc["host_rid"] != host_rid:
        diffs.append(f"its Crossgen2 is for {doc['host_rid']}, this machine is {host_rid}")
    if str(settings.source).strip().lower() != "auto":
        allowed = set(source_order(settings.source))
        for name in components:
            c = locked.get(name)
            if c and name != "crossgen2" and c["source"] not in allowed:
                diffs.append(f"{name} is locked to source {c['source']}, this build asks for {settings.source}")
    for name in components:
        c = locked.get(name)
        if c and name != "crossgen2" and c["version"] != (doc["aspnet_version"] if name == "aspnetcore" else doc["version"]) and name != "sdk":
            diffs.append(f"{name} {c['version']} does not match the locked version {doc['version']}")
    if diffs:
        raise DciError(where, "the lock file differs from this build: " + "; ".join(diffs),
                       "re-run `invoke lock` with these options (and commit it), or build without --locked")

    def art(name: str) -> Artifact:
        c = locked[name]
        return Artifact(name, c["package_id"], c["version"], c["source"], c["kind"], c["url"], c["sha512"].lower(), "lock file")

    arts = {name: art(name) for name in components if name != "crossgen2"}
    host = doc.get("host") or None
    host_dir = Path(host["path"]) if host else None
    if "runtime" in arts and arts["runtime"].kind != "tarball" and host_dir is None:
        raise DciError(where, "the runtime is locked without the dotnet host it was laid out with",
                       "re-run `invoke lock` to write it again")
    sources = sorted({a.source for a in arts.values()}) or ["nuget"]
    plan = Plan("+".join(sources), doc["version"], doc.get("aspnet_version") if "aspnetcore" in arts else None, arts,
                host_dir=host_dir, notes=[f"locked by {where}"])
    cg = art("crossgen2") if "crossgen2" in components else None
    return plan, cg, (host or {}).get("dotnet_sha512")


def merged_debian(previous: dict | None, debian: dict) -> dict:
    """``debian`` plus the runtime-deps entries of other OS bases an earlier lock recorded, while they
    were read off the same suite and OS base packages (else they describe another archive state)."""
    old = (previous or {}).get("debian") or {}
    if old.get("suite") != debian["suite"] or old.get("os") != debian["os"]:
        return debian
    return {**{k: v for k, v in old.items() if k.startswith("runtime-deps")}, **debian}


def debian_differences(doc: dict, suite: str, found: dict[str, dict[str, str]]) -> list[str]:
    """How the Debian packages ``found`` in the base images ({"suite", "os": {...}, "runtime-deps…": {...}})
    differ from the lock's (empty when they agree, or when the lock has no Debian section)."""
    locked = doc.get("debian")
    if not locked:
        return []
    if locked.get("suite") != suite:
        return [f"the lock is for Debian {locked.get('suite')}, this build uses {suite}"]
    diffs = []
    for image in (k for k in found if k != "suite"):
        if image not in locked:
            diffs.append(f"{image}: not in the lock (it was written for another OS base; `invoke lock --os` with this base adds it)")
            continue
        want, got = locked.get(image) or {}, found.get(image) or {}
        for name in sorted(set(want) | set(got)):
            if want.get(name) != got.get(name):
                diffs.append(f"{image}: {name} {got.get(name) or 'absent'} (locked: {want.get(name) or 'absent'})")
    return diffs
