"""The `dotnet` host for a target architecture that no local dotnet layout provides.

The runtime and ASP.NET packs come from NuGet for any RID, and the runtime pack holds
``libhostfxr.so``; the ``dotnet`` executable (the muxer) is not served by NuGet and a local dotnet
layout has it only for the machine's own architecture. For another architecture (linux-arm64 on an
x64 machine) the tool builds a small muxer, ``data/dotnet-muxer.c``: it finds the newest
``host/fxr/<version>/libhostfxr.so`` beside itself and calls ``hostfxr_main_startupinfo``, which does
all the rest, as the real muxer does. It is compiled with Debian's cross-compiler for the target
(``gcc-aarch64-linux-gnu``; scripts/bootstrap.sh installs it) into a host folder in the download
cache, keyed by the source and the compiler, and used exactly as a local layout's host would be.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

from crossgen.core import ui
from crossgen.core.errors import DciError
from crossgen.core.files import atomic_dir

SOURCE = Path(__file__).parent / "data" / "dotnet-muxer.c"

# architecture (the RID's last part) -> (ELF e_machine, Debian cross-compiler, its Debian packages)
ARCHES: dict[str, tuple[int, str, str]] = {
    "x64": (62, "x86_64-linux-gnu-gcc", "gcc-x86-64-linux-gnu libc6-dev-amd64-cross"),
    "arm64": (183, "aarch64-linux-gnu-gcc", "gcc-aarch64-linux-gnu libc6-dev-arm64-cross"),
}


def elf_arch(path: Path) -> str | None:
    """The architecture (``x64``, ``arm64``) of an ELF executable, None when unknown or not ELF."""
    try:
        with open(path, "rb") as f:
            head = f.read(20)
    except OSError:
        return None
    if len(head) < 20 or head[:4] != b"\x7fELF" or head[5] != 1:  # little-endian only
        return None
    machine = int.from_bytes(head[18:20], "little")
    return next((arch for arch, (m, _, _) in ARCHES.items() if m == machine), None)


def cross_compiler(arch: str, what: str, takes: str) -> tuple[str, str, str]:
    """Debian's C cross-compiler for ``arch`` (one of ``ARCHES``): (its path, its name, its Debian packages).
    Missing, the error names ``what`` needs it and why (``takes``, followed by the compiler's name)."""
    _, compiler, packages = ARCHES[arch]
    exe = shutil.which(compiler)
    if exe is None:
        raise DciError(what, f"{takes} the C cross-compiler {compiler}, which is not installed",
                       f"run scripts/bootstrap.sh (installs it), or apt-get install {packages}")
    return exe, compiler, packages


def host_for(arch: str, cache_root: Path, *, local_host_dir: Path | None = None) -> Path:
    """A folder holding a ``dotnet`` executable for ``arch``: ``local_host_dir`` when its ``dotnet`` is
    of that architecture, else the muxer built for it (once; cached under ``cache_root/hosts``)."""
    local_arch = elf_arch(local_host_dir / "dotnet") if local_host_dir is not None else None
    if local_host_dir is not None and local_arch in (arch, None):  # its own architecture (or not an ELF file: a test's)
        return local_host_dir
    if arch not in ARCHES:
        raise DciError(f"target architecture {arch!r}", "no `dotnet` host for it: the local dotnet layout is for another architecture "
                       "and this tool can build one only for " + ", ".join(ARCHES),
                       "use --source official or local with a dotnet layout (or tarballs) of that architecture")
    exe, compiler, packages = cross_compiler(arch, f"the `dotnet` host for {arch}",
                                             f"NuGet does not serve it, the local dotnet layout has none for {arch}, and building one takes")
    version = subprocess.run([exe, "-dumpfullversion"], capture_output=True, text=True).stdout.strip()
    source = SOURCE.read_bytes()
    key = hashlib.sha256(source + f"\0{compiler}\0{version}".encode()).hexdigest()[:16]
    final = cache_root / "hosts" / f"dotnet-muxer-{arch}-{key}"
    if (final / "dotnet").is_file():
        return final
    ui.detail(f"building the `dotnet` host for {arch} ({SOURCE.name}, {compiler} {version})")
    with atomic_dir(final) as tmp:
        out = tmp / "dotnet"
        proc = subprocess.run(
            [exe, "-O2", "-s", "-Wall", "-Werror", "-ffile-prefix-map=" + str(SOURCE.parent) + "=.", "-o", str(out), str(SOURCE), "-ldl"],
            capture_output=True, text=True,
        )
        if proc.returncode != 0 or elf_arch(out) != arch:
            raise DciError(f"the `dotnet` host for {arch}", f"{compiler} failed (exit {proc.returncode}): {proc.stderr.strip()[-400:]}",
                           f"check the cross-compiler (apt-get install --reinstall {packages})")
        out.chmod(0o755)
        for notice in ("LICENSE.txt", "ThirdPartyNotices.txt"):  # the same .NET's notices, as the layout's host has them
            if local_host_dir is not None and (local_host_dir / notice).is_file():
                shutil.copyfile(local_host_dir / notice, tmp / notice)
    return final
