"""Version bubbles: which assemblies Crossgen2 compiles together, and where the composite goes."""

from __future__ import annotations

from dataclasses import dataclass

from crossgen.core.errors import DciError
from crossgen.acquire.layout import ASPNETCORE, NETCORE


@dataclass(frozen=True)
class Bubble:
    name: str
    title: str
    inputs: tuple[str, ...]          # frameworks whose assemblies are compiled into the composite
    references: tuple[str, ...]      # frameworks given as references only
    composite_name: str              # file name of the composite image
    composite_framework: str         # framework folder the composite is placed in


BUBBLES: dict[str, Bubble] = {
    b.name: b
    for b in (
        Bubble("runtime", "Microsoft.NETCore.App as one composite", (NETCORE,), (), "framework-r2r.dll", NETCORE),
        Bubble(
            "aspnet", "Microsoft.NETCore.App + Microsoft.AspNetCore.App as ONE composite",
            (NETCORE, ASPNETCORE), (), "framework-aspnet-r2r.dll", NETCORE,
        ),
        Bubble(
            "aspnet-composed", "Microsoft.AspNetCore.App as a second composite over the runtime composite",
            (ASPNETCORE,), (NETCORE,), "aspnetcore-r2r.dll", ASPNETCORE,
        ),
        Bubble(
            "app", "a self-contained app and its frameworks as one composite (<app>.r2r.dll)",
            (), (), "<app>.r2r.dll", "",
        ),
    )
}


def get_bubble(name: str) -> Bubble:
    try:
        return BUBBLES[name]
    except KeyError:
        raise DciError(f"bubble {name!r}", "no such bubble", f"choose one of: {', '.join(BUBBLES)}") from None
