"""Checks that a built image works and is what it claims to be."""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import docker

from . import dockerio, r2r
from .layout import NETCORE
from .samples import Sample

DOTNET = "/usr/share/dotnet"


@dataclass
class Check:
    image: str
    name: str
    passed: bool
    detail: str
    data: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def image_env(api: docker.APIClient, ref: str) -> dict[str, str]:
    info = dockerio.image_info(api, ref) or {}
    env = (info.get("Config") or {}).get("Env") or []
    return dict(e.split("=", 1) for e in env if "=" in e)


def check_list_runtimes(api: docker.APIClient, ref: str) -> Check:
    env = image_env(api, ref)
    want = env.get("DOTNET_VERSION")
    res = dockerio.run(api, ref, ["dotnet", "--list-runtimes"], timeout=120)
    found = re.findall(r"^(\S+) (\S+) \[", res.output, re.M)
    ok = res.exit_code == 0 and want is not None and (NETCORE, want) in found
    asp = env.get("ASPNET_VERSION")
    if asp:
        ok = ok and ("Microsoft.AspNetCore.App", asp) in found
    return Check(ref, "list-runtimes", ok, f"{', '.join(f'{a} {b}' for a, b in found) or res.output.strip()[:200]} (DOTNET_VERSION={want})", {"runtimes": found})


def _app_tar(sample: Sample) -> bytes:
    return dockerio.tar_directory(sample.path, arcname=f"app/{sample.name}")


def run_console(api: docker.APIClient, ref: str, sample: Sample, *, env: dict[str, str] | None = None) -> dockerio.RunResult:
    return dockerio.run(
        api, ref, ["dotnet", f"/tmp/app/{sample.name}/{sample.dll}"], environment=env,
        put=[("/tmp", _app_tar(sample))], timeout=120,
    )


def parse_jit(output: str) -> int | None:
    m = re.search(r"jit-methods: (\d+)", output)
    return int(m.group(1)) if m else None


def check_console(api: docker.APIClient, ref: str, sample: Sample) -> Check:
    res = run_console(api, ref, sample)
    ok = res.exit_code == 0 and "Hello from .NET" in res.output
    jit = parse_jit(res.output)
    first = res.output.strip().splitlines()[0] if res.output.strip() else ""
    return Check(ref, "console-runs", ok, f"exit {res.exit_code}: {first[:120]} (jit methods {jit})", {"jit_methods": jit, "output": res.output[-2000:]})


def image_structure(api: docker.APIClient, ref: str) -> list[r2r.PeInfo]:
    tmp = Path(tempfile.mkdtemp(prefix="dci-inspect-"))
    try:
        dockerio.copy_out(api, ref, DOTNET, tmp)
        return r2r.classify_tree(tmp / "dotnet")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def check_structure(infos: list[r2r.PeInfo], ref: str, expect: dict[str, str | None]) -> Check:
    """``expect`` maps a framework folder name to the composite its assemblies must belong to
    (None: plain R2R/IL, no component). Every named composite must exist in that folder."""
    problems: list[str] = []
    by_path = {i.path: i for i in infos}
    composites = {i.path: i for i in infos if i.kind == r2r.Kind.COMPOSITE}
    for fw, owner in expect.items():
        members = [i for i in infos if i.path.startswith(f"shared/{fw}/") and i.kind != r2r.Kind.COMPOSITE and i.kind != r2r.Kind.NOT_MANAGED]
        if not members:
            problems.append(f"{fw}: no managed assemblies")
            continue
        if owner is None:
            bad = [i.path for i in members if i.kind == r2r.Kind.COMPONENT]
            if bad:
                problems.append(f"{fw}: {len(bad)} component stubs where plain assemblies were expected (e.g. {bad[0]})")
            continue
        bad = [i for i in members if i.kind != r2r.Kind.COMPONENT or i.owner_composite != owner]
        if bad:
            problems.append(f"{fw}: {len(bad)} of {len(members)} assemblies are not components of {owner} (e.g. {bad[0].path}: {bad[0].kind.value} {bad[0].owner_composite or ''})")
        folder = members[0].path.rsplit("/", 1)[0]
        comp = by_path.get(f"{folder}/{owner}")
        if not comp or comp.kind != r2r.Kind.COMPOSITE:
            problems.append(f"{fw}: composite {owner} missing from {folder}")
    expected_names = {o for o in expect.values() if o}
    stray = [p for p in composites if p.rsplit("/", 1)[-1] not in expected_names]
    if stray:
        problems.append(f"unexpected composite images: {', '.join(stray)}")
    summary = r2r.summarize(infos)
    detail = "; ".join(problems) if problems else json.dumps({k: v for k, v in summary.items()}, sort_keys=True)
    return Check(ref, "structure", not problems, detail, {"summary": summary})
