"""Terminal output: one rich console on stderr, progress bars and timers for long steps."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

console = Console(stderr=True, highlight=False)
if not console.is_terminal:  # logs (CI): wide enough for the tables, no wrapping of image names
    console = Console(stderr=True, highlight=False, width=160)


def info(message: str) -> None:
    console.print(message)


def step(message: str) -> None:
    console.print(f"[bold cyan]==>[/] {message}")


def detail(message: str) -> None:
    """A line of tool output (build steps, compiler lines): shown as is, never read as markup."""
    console.print(f"    [dim]{escape(message)}[/]")


class _QuietProgress:
    """Stands in for a progress bar where stderr is not a terminal (logs, CI): prints nothing."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def add_task(self, *args, **kwargs) -> int:
        return 0

    def update(self, *args, **kwargs) -> None:
        pass


def download_progress() -> Progress | _QuietProgress:
    """A progress display for byte transfers (nothing when stderr is not a terminal)."""
    if not console.is_terminal:
        return _QuietProgress()
    return Progress(
        TextColumn("    {task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=console,
        transient=True,
    )
