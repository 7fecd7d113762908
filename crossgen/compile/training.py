"""The hot assemblies of the ``hot`` compile mode: the framework assemblies that training programs
load. The training programs are samples kept apart from the ones the report judges (record on one
set, judge on another): they are published, run on this machine's dotnet with a startup hook that
writes the names of the loaded assemblies at exit, and the union is cached under build/profile."""

from __future__ import annotations

import hashlib
import json
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from crossgen.core import ui
from crossgen.core.errors import DciError
from crossgen.core.files import atomic_write_text
from crossgen.core.settings import Settings
from crossgen.compile.samples import dotnet_cli, dotnet_env, publish, source_digest

# (sample, arguments): each runs its workload right after start-up and exits 0.
TRAINING: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("train-console", ()),
    ("train-web", ("--exit-after-warmup",)),
)
HOOK_DIR = Path(__file__).parent / "hook"
HOOK = "LoadedAssemblies"
RUN_TIMEOUT_S = 180.0


@dataclass(frozen=True)
class HotList:
    names: frozenset[str]       # simple assembly names
    digest: str                 # of the training programs and the hook: what the list was made from
    path: Path

    def __contains__(self, name: str) -> bool:
        return name in self.names


def _digest(settings: Settings) -> str:
    parts = [source_digest(settings.project_root / "samples" / name, " ".join(args)) for name, args in TRAINING]
    # the dotnet that runs them too (another install, another list)
    return hashlib.sha256("\n".join([*parts, source_digest(HOOK_DIR), dotnet_cli(settings)]).encode()).hexdigest()[:16]


def cached_hot_assemblies(settings: Settings) -> HotList | None:
    """The hot list made from today's training programs, if it was made already."""
    digest = _digest(settings)
    path = settings.workspace.hot_assemblies(digest)
    if not path.is_file():
        return None
    return HotList(frozenset(json.loads(path.read_text())["assemblies"]), digest, path)


def hot_assemblies(settings: Settings) -> HotList:
    """The union of the assemblies the training programs load (made once per training digest)."""
    cached = cached_hot_assemblies(settings)
    if cached is not None:
        return cached
    digest = _digest(settings)
    path = settings.workspace.hot_assemblies(digest)
    ui.step(f"Hot assemblies: running {len(TRAINING)} training programs ({', '.join(n for n, _ in TRAINING)})")
    hook = publish(settings, HOOK, src=HOOK_DIR)
    env = dotnet_env(settings)
    per_program: dict[str, list[str]] = {}
    start = time.monotonic()
    for name, args in TRAINING:
        app = publish(settings, name)
        with tempfile.TemporaryDirectory(prefix="dci-hot-") as tmp:
            listing = Path(tmp) / "loaded.txt"
            run_env = {**env, "DOTNET_STARTUP_HOOKS": str(hook.path / f"{HOOK}.dll"), "DCI_LOADED_ASSEMBLIES": str(listing),
                       "ASPNETCORE_URLS": "http://127.0.0.1:0", "DOTNET_gcServer": "0"}
            cmd = [dotnet_cli(settings), str(app.path / app.dll), *args]
            try:
                proc = subprocess.run(cmd, capture_output=True, text=True, env=run_env, timeout=RUN_TIMEOUT_S, cwd=tmp)
            except subprocess.TimeoutExpired:
                raise DciError(f"training program {name}", f"did not exit within {RUN_TIMEOUT_S:.0f} s",
                               f"run `{' '.join(cmd)}` by hand to see where it hangs") from None
            if proc.returncode != 0 or not listing.is_file():
                tail = " | ".join((proc.stdout + proc.stderr).strip().splitlines()[-4:])
                raise DciError(f"training program {name}", f"exit {proc.returncode}, no list of loaded assemblies: {tail}",
                               f"run `{' '.join(cmd)}` by hand")
            per_program[name] = sorted(set(listing.read_text().split()) - {name})
    names = sorted(set().union(*per_program.values()))
    atomic_write_text(path, json.dumps({"digest": digest, "assemblies": names, "programs": per_program,
                                        "dotnet": dotnet_cli(settings), "made_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
                                       indent=1))
    ui.info(f"{len(names)} hot assemblies from {len(TRAINING)} training programs in {time.monotonic() - start:.0f} s -> {path}",
            label="hot list")
    return HotList(frozenset(names), digest, path)
