"""Compile modes: how much of a bubble Crossgen2 turns into native code. Declared once here; the
settings (``dci.crossgen.mode``), the ``--mode`` flags, image tags and the report's frontier read it.

Crossgen2's levers (dotnet/runtime: crossgen2's command line and ILCompiler.ReadyToRun's root providers):

* a **positional** input is rooted: its visible methods (all methods for non-trimmable assemblies)
  get code, and so does what they reach;
* ``-u`` (unrooted) keeps an input in the composite and the version bubble, but gives code only to
  what rooted code reaches;
* ``--partial`` with the MIBC profile gives code only to the methods the profile names.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from crossgen.core.errors import DciError
from crossgen.core.settings import ALL_BUBBLES, Settings


@dataclass(frozen=True)
class Mode:
    name: str
    title: str
    partial: bool = False     # --partial: only the profiled methods get code
    hot_only: bool = False    # only the hot assemblies (training programs load them) are rooted; the rest -u


MODES: dict[str, Mode] = {
    m.name: m
    for m in (
        Mode("full", "every input rooted: native code for all visible methods (largest, fewest methods left to the JIT)"),
        Mode("partial", "only the methods of the MIBC profile get native code (smallest; the rest is JIT-compiled)",
             partial=True),
        Mode("hot", "assemblies the training programs load rooted, every other input unrooted (-u: only code they reach)",
             hot_only=True),
    )
}

DEFAULT_MODE = "full"   # a bubble the configuration names no mode for


def get_mode(name: str, what: str = "compile mode") -> Mode:
    try:
        return MODES[name]
    except KeyError:
        raise DciError(f"{what} {name!r}", "no such compile mode",
                       "choose one of: " + ", ".join(MODES) + " (what each does: invoke.yaml, dci.crossgen.mode)") from None


def bubble_mode(settings: Settings, bubble: str) -> Mode:
    """The mode ``bubble`` is compiled in (dci.crossgen.mode, or --mode)."""
    return get_mode(settings.crossgen.mode.get(bubble, DEFAULT_MODE), what=f"dci.crossgen.mode.{bubble}")


def needs_hot_list(settings: Settings, bubbles) -> bool:
    return any(bubble_mode(settings, b).hot_only for b in bubbles)


def apply_mode(settings: Settings, name: str, bubbles: tuple[str, ...] = ALL_BUBBLES, what: str = "--mode") -> Settings:
    """``bubbles`` (default every one) compiled in mode ``name``, the images holding them tagged
    ``...-<mode>`` and recorded apart (build-all-<mode>.json)."""
    mode = get_mode(str(name).strip(), what=what).name
    cg = settings.crossgen
    return replace(settings, crossgen=replace(cg, mode={**cg.mode, **{b: mode for b in bubbles}}, mode_tag=mode))
