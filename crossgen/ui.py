"""Terminal output: one rich console on stderr, progress bars and timers for long steps."""

from __future__ import annotations

import contextlib
import time
from typing import Iterator

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)

console = Console(stderr=True, highlight=False)
if not console.is_terminal:  # logs (CI): wide enough for the tables, no wrapping of image names
    console = Console(stderr=True, highlight=False, width=160)


def info(message: str) -> None:
    console.print(message)


def step(message: str) -> None:
    console.print(f"[bold cyan]==>[/] {message}")


def detail(message: str) -> None:
    console.print(f"    [dim]{message}[/]", markup=True)


def download_progress() -> Progress:
    """A progress display for byte transfers (hidden when stderr is not a terminal)."""
    return Progress(
        TextColumn("    {task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )


@contextlib.contextmanager
def timed(label: str) -> Iterator[dict]:
    """Time a block; yields a dict whose ``seconds`` is filled in on exit."""
    result: dict = {}
    start = time.monotonic()
    try:
        yield result
    finally:
        result["seconds"] = time.monotonic() - start


def spinner(label: str):
    """A status spinner with elapsed time for a step with no measurable progress."""
    return Progress(
        TextColumn("    {task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )
