"""Terminal output: one rich console on stderr, progress bars for long steps.

Every message is plain text: whatever it holds (a path, an image name, a program's output with
``[`` and ``]``) is printed as it is, never read as rich markup. Colour comes only from the
``label`` the code itself gives (``ui.info("runtime bubble ...", label="compiled")``)."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

console = Console(stderr=True, highlight=False)
if not console.is_terminal:  # logs (CI): wide enough for the tables, no wrapping of image names
    console = Console(stderr=True, highlight=False, width=160)


LABEL_STYLES = {"error": "bold red", "interrupted": "bold red", "FAIL": "red", "PASS": "green", "warning": "yellow"}


def _line(text: str, label: str | None = None, style: str | None = None, indent: str = "", text_style: str = "") -> Text:
    line = Text(indent)
    if label:
        line.append(label, style=style or LABEL_STYLES.get(label.rstrip(":"), "green"))
        line.append(" ")
    line.append(str(text), style=text_style)
    return line


def info(text: str, *, label: str | None = None, style: str | None = None, indent: str = "") -> None:
    """One line of plain text, after an optional coloured ``label`` (green unless ``style`` says otherwise)."""
    console.print(_line(text, label, style, indent), soft_wrap=True)


def step(text: str) -> None:
    """The start of a long step."""
    console.print(_line(text, "==>", "bold cyan"), soft_wrap=True)


def detail(text: str) -> None:
    """A line of tool output (build steps, compiler lines), dimmed."""
    console.print(_line(text, indent="    ", text_style="dim"), soft_wrap=True)


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
        TextColumn("    {task.description}", markup=False),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=console,
        transient=True,
    )
