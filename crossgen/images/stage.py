"""Stage Docker build contexts: the parts of a dotnet root (and Crossgen2 overlays) an image adds."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from crossgen.acquire.layout import DotnetRoot


def link_file(src: str | Path, dest: str | Path) -> str:
    """Hard-link ``src`` to ``dest`` (replacing ``dest``); copy when linking is impossible.

    ``dest`` is unlinked first so that a copy never writes through an existing hard link
    into the source tree.
    """
    dest = Path(dest)
    if dest.is_symlink() or dest.exists():
        dest.unlink()
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dest)
    except OSError:
        shutil.copy2(src, dest)
    return str(dest)


def link_tree(src: Path, dest: Path) -> None:
    """Merge the tree ``src`` into ``dest`` with hard links (copies across file systems)."""
    shutil.copytree(src, dest, symlinks=True, copy_function=link_file, dirs_exist_ok=True)


def stage_dotnet(
    context: Path,
    root: DotnetRoot,
    *,
    frameworks: tuple[str, ...],
    host: bool,
    overlays: tuple[Path, ...] = (),
) -> Path:
    """Put ``frameworks`` (and the host when ``host``) of ``root`` under ``context/dotnet``.

    ``overlays`` are Crossgen2 output folders laid over the result: their component stubs
    replace the framework assemblies and their composite lands in its framework folder.
    Only overlay files inside the staged frameworks are taken.
    """
    dest = context / "dotnet"
    dest.mkdir(parents=True, exist_ok=True)
    src = root.path
    if host:
        for item in src.iterdir():
            if item.name == "shared":
                continue
            if item.is_dir():
                link_tree(item, dest / item.name)
            else:
                link_file(item, dest / item.name)
    staged = []
    for fw in frameworks:
        rel = root.framework_dir(fw).relative_to(src)
        link_tree(src / rel, dest / rel)
        staged.append(rel)
    for overlay in overlays:
        for rel in staged:
            part = overlay / rel
            if part.is_dir():
                link_tree(part, dest / rel)
    return dest
