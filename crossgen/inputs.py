"""Checks of task inputs (flags and the configuration they override), made before any work.

Every check either returns the value in the form the code uses or raises a :class:`DciError`
that names the flag and the value given, says what is wrong and what is accepted. None of them
touches Docker or the network, so a bad input fails in a fraction of a second.

The version request (``--channel`` / ``dci.channel``) and the source order (``--source`` /
``dci.source``) are parsed by the same functions acquisition uses (``releases.check_spec``,
``model.source_order``): what is refused here is exactly what acquisition would refuse later.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterable
from urllib.parse import urlparse

from crossgen.core.errors import DciError

# Docker image references (github.com/distribution/reference, the grammar the daemon applies).
_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_NAME = rf"(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*"
_REFERENCE = re.compile(rf"(?P<name>{_NAME})(?::{_TAG})?(?:@{_DIGEST})?")
_IMAGE_ID = re.compile(r"(?:sha256:)?[0-9a-f]{12,64}")
NAME_MAX = 255

EXAMPLE_IMAGE = "dotnet-composite/runtime:10.0-trixie-slim-composite"
# Image keys of build-all (report --images): lowercase words and dashes, with fnmatch wildcards.
_KEY_PATTERN = re.compile(r"[a-z0-9*?\[\]!.-]+")


def _shown(value: Any) -> str:
    return repr(value) if isinstance(value, str) else repr(str(value))


def is_image_reference(text: str) -> bool:
    """Whether ``text`` is a reference the Docker daemon accepts (name[:tag][@digest], or an image ID)."""
    if _IMAGE_ID.fullmatch(text):
        return True
    m = _REFERENCE.fullmatch(text)
    return m is not None and len(m.group("name")) <= NAME_MAX


def looks_like_path(text: str) -> bool:
    """Whether ``text`` was most likely meant as a file system path rather than an image reference."""
    return (
        text.startswith(("/", "./", "../", "~"))
        or text in (".", "..")
        or text.endswith("/")
        or "\\" in text
        or (("/" in text or "." in Path(text).name) and not is_image_reference(text))
    )


def image_reference(flag: str, value: Any) -> str:
    text = str(value).strip()
    if not is_image_reference(text):
        raise DciError(
            f"{flag} {_shown(value)}", "not a valid image reference",
            f"give NAME[:TAG] in lowercase, e.g. {EXAMPLE_IMAGE}",
        )
    return text


def inspect_target(flag: str, value: Any) -> tuple[str, Path | None]:
    """``(text, folder)`` for an existing path, else ``(reference, None)``; refuses anything else."""
    text = str(value)
    if not text.strip():
        raise DciError(f"{flag} ''", "empty", f"give a folder (e.g. a dotnet root) or an image reference such as {EXAMPLE_IMAGE}")
    path = Path(text).expanduser()
    if path.exists():
        return text, path
    if is_image_reference(text):
        return text, None
    if looks_like_path(text):
        raise DciError(f"{flag} {_shown(value)}", f"the path {path} does not exist (and it is not a valid image reference either)",
                       f"give an existing folder (e.g. a dotnet root) or an image reference such as {EXAMPLE_IMAGE}")
    raise DciError(f"{flag} {_shown(value)}", "neither an existing folder nor a valid image reference",
                   f"give an existing folder (e.g. a dotnet root) or an image reference such as {EXAMPLE_IMAGE}")


def count(flag: str, value: Any, *, minimum: int, example: str) -> int:
    """A whole number >= ``minimum`` given as an int or its decimal text."""
    n = None
    if isinstance(value, int) and not isinstance(value, bool):
        n = value
    elif isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
        n = int(value)
    if n is None or n < minimum:
        raise DciError(f"{flag} {_shown(value)}", f"not a whole number >= {minimum}", f"e.g. {example}")
    return n


def channel(flag: str, value: Any) -> str:
    """A version request: channel, keyword or exact version, as acquisition parses it."""
    from crossgen.acquire.releases import check_spec

    try:
        return str(check_spec(str(value)))
    except DciError as exc:
        raise DciError(f"{flag} {_shown(value)}", exc.cause, exc.fix or "use a channel such as 10.0 or an exact version such as 10.0.15") from None


def source(flag: str, value: Any) -> str:
    """A source or an order of sources (auto | official | nuget | local, comma-separated)."""
    from crossgen.acquire.model import source_order

    try:
        source_order(str(value))
    except DciError as exc:
        raise DciError(f"{flag} {_shown(value)}", exc.cause, exc.fix or "use auto, official, nuget or local") from None
    return str(value)


def http_url(flag: str, value: Any) -> str:
    text = str(value).strip()
    parsed = urlparse(text)
    if parsed.scheme not in ("http", "https") or not parsed.netloc or " " in text:
        raise DciError(f"{flag} {_shown(value)}", "not an http(s) URL",
                       "give the base URL of the release metadata or a mirror, e.g. https://builds.dotnet.microsoft.com/dotnet")
    return text


def existing_folder(flag: str, value: Any, fix: str) -> Path:
    text = str(value)
    path = Path(text).expanduser()
    if not text.strip():
        raise DciError(f"{flag} ''", "empty", fix)
    if not path.exists():
        raise DciError(f"{flag} {_shown(value)}", f"the path {path} does not exist", fix)
    if not path.is_dir():
        raise DciError(f"{flag} {_shown(value)}", f"{path} is not a folder", fix)
    return path.resolve()


def file_to_write(flag: str, value: Any) -> Path:
    text = str(value)
    if not text.strip():
        raise DciError(f"{flag} ''", "empty", "give a file path, e.g. dotnet-composite.lock.json")
    path = Path(text).expanduser().resolve()
    if path.is_dir():
        raise DciError(f"{flag} {_shown(value)}", f"{path} is a folder", "give a file path, e.g. dotnet-composite.lock.json")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise DciError(f"{flag} {_shown(value)}", f"{parent} is a file, not a folder", "give a path inside a folder")
            break
    return path


def crossgen_arguments(flag: str, values: Iterable[Any]) -> tuple[str, ...]:
    out = []
    for v in values:
        text = str(v)
        if not text.startswith("-") or text.strip() in ("-", "--"):
            raise DciError(f"{flag} {_shown(v)}", "not a Crossgen2 option (options start with - or --; the tool passes the inputs itself)",
                           "e.g. --extra=--instruction-set:x86-64-v3 (one option per --extra)")
        out.append(text)
    return tuple(out)


def image_key_patterns(flag: str, value: Any) -> tuple[str, ...]:
    """Comma-separated image keys or fnmatch patterns (empty = every image)."""
    parts = tuple(p.strip() for p in str(value).split(",") if p.strip())
    for p in parts:
        if not _KEY_PATTERN.fullmatch(p):
            raise DciError(f"{flag} {_shown(value)}", f"{p!r} is not an image key or pattern",
                           "use keys such as runtime-composite or patterns such as 'runtime-*,sample-*' (lowercase, digits, -, * and ?)")
    return parts


def comma_list(flag: str, value: Any, *, example: str) -> list[str]:
    """``a,b``: the non-empty parts, in the order given; at least one."""
    parts = [p.strip() for p in str(value).split(",") if p.strip()]
    if not parts:
        raise DciError(f"{flag} {_shown(value)}", "names nothing", f"give one or more, comma-separated, e.g. {flag} {example}")
    return parts


def choice(flag: str, value: Any, lookup) -> Any:
    """``lookup(value)`` (which raises DciError on an unknown name) with the error naming the flag."""
    try:
        return lookup(str(value))
    except DciError as exc:
        raise DciError(f"{flag} {_shown(value)}", exc.cause, exc.fix) from None


def probe(flag: str, value: Any) -> str:
    """How a user's app is probed: ``exit`` (a command that runs and exits) or an HTTP path (``/health``)."""
    text = str(value).strip()
    if text == "exit" or (text.startswith("/") and " " not in text and len(text) < 500):
        return text
    raise DciError(f"{flag} {_shown(value)}", "neither 'exit' nor an HTTP path",
                   "--probe exit for a console app (it runs and exits), or the path a web app answers with 200, e.g. --probe /health")


def app_probe(flag: str, value: Any, app: Any) -> str | None:
    """--probe, checked; it only goes with --app."""
    if value is None:
        return None
    text = probe(flag, value)
    if app is None:
        raise DciError(f"{flag} {_shown(value)}", "says how to time your app, and no --app was given",
                       "add --app DIR (your app's folder), or leave --probe out")
    return text


__all__ = [
    "is_image_reference", "looks_like_path", "image_reference", "inspect_target", "count", "channel", "source",
    "http_url", "existing_folder", "file_to_write", "crossgen_arguments", "image_key_patterns", "choice", "probe", "app_probe",
]


def registry_target(flag: str, value: Any):
    """``HOST[:PORT][/PREFIX]`` of ``invoke push`` -> a :class:`crossgen.publish.push.Target`."""
    from crossgen.publish.push import EXAMPLE_TARGET, Target

    if value is None or not str(value).strip():
        raise DciError(f"{flag} {_shown(value or '')}", "missing", f"give the registry as HOST[:PORT][/PREFIX], e.g. {EXAMPLE_TARGET}")
    try:
        target = Target.parse(str(value))
    except DciError as exc:
        raise DciError(f"{flag} {_shown(value)}", exc.cause, exc.fix) from None
    if not is_image_reference(f"{target}/runtime:10.0"):
        raise DciError(f"{flag} {_shown(value)}", "does not make valid image names", f"give HOST[:PORT][/PREFIX], e.g. {EXAMPLE_TARGET}")
    return target


def image_selection(flag: str, value: Any) -> tuple[str, ...]:
    """Comma-separated image keys (or key patterns) and image references (empty = the default set)."""
    parts = tuple(dict.fromkeys(p.strip() for p in str(value or "").split(",") if p.strip()))
    for p in parts:
        if not (_KEY_PATTERN.fullmatch(p) or is_image_reference(p)):
            raise DciError(f"{flag} {_shown(value)}", f"{p!r} is neither an image key nor an image reference",
                           f"use keys such as runtime-composite, patterns such as 'sample-*', or references such as {EXAMPLE_IMAGE}")
    return parts
