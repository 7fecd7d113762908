"""Whatever a program, a path or an image name holds is printed as text, never read as rich markup.

Output with square brackets (``[/usr/share/dotnet/shared/Microsoft.NETCore.App]`` is what
``dotnet --list-runtimes`` prints; ``[bold]`` could be anything) goes through every line printer
and every table of build, verify and report: no MarkupError, and the brackets appear as written.
"""

from __future__ import annotations

import pytest

from crossgen import cli
from crossgen.core import ui
from crossgen.dockerio.imagebuild import BuildOutcome
from crossgen.pipeline import Step
from crossgen.report import render
from crossgen.verify.checks import Check
from tests.test_report_unit import synthetic_report

TRICKY = [
    "Microsoft.NETCore.App 10.0.15 [/usr/share/dotnet/shared/Microsoft.NETCore.App]",
    "closing tag [/] and [bold]not bold[/bold] and [link=x]y[/link]",
]


@pytest.fixture
def wide(monkeypatch):
    monkeypatch.setattr(ui.console, "width", 400)
    monkeypatch.setattr(ui.console, "soft_wrap", True)


@pytest.mark.parametrize("text", TRICKY)
def test_line_printers_print_text_as_written(text, capsys, wide):
    ui.info(text)
    ui.info(text, label="error:")
    ui.step(text)
    ui.detail(text)
    err = capsys.readouterr().err
    assert err.count(text) == 4, err


@pytest.mark.parametrize("text", TRICKY)
def test_tables_print_text_as_written(text, capsys, wide):
    cli.print_checks([Check(f"img:{text}", "list-runtimes", False, text)])
    cli.print_outcomes([BuildOutcome("k", f"ref-{text}", "sha256:x", 1_000_000, 1.0, False),
                        BuildOutcome("s", "sdk-ref", "", 0, 0.0, False, not_built=f"no SDK: {text}")])
    cli.print_plan([Step("image", f"ref-{text}", True, text)])
    err = " ".join(capsys.readouterr().err.split())
    assert "FAIL" in err and "dry run: would publish 0 samples, compile 0 bubbles and build 1 images" in err
    for word in text.split():  # table cells may wrap between words, never inside one
        assert word in err, word


def test_report_headline_prints_names_as_written(capsys, wide):
    r = synthetic_report()
    r["base_os"] = TRICKY[1]
    render.print_headline(r)
    assert TRICKY[1] in capsys.readouterr().err


def test_a_failed_task_prints_its_error_as_written(capsys):
    from invoke import Exit

    with pytest.raises(Exit):
        cli._fail(TRICKY[0], TRICKY[1])
    err = " ".join(capsys.readouterr().err.split())
    assert f"error: {TRICKY[0]} -- {TRICKY[1]}" in err
