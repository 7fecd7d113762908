"""Render the Dockerfile templates kept in the project's docker/ folder."""

from __future__ import annotations

from pathlib import Path

import jinja2


def render(docker_dir: Path, name: str, **values) -> str:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(docker_dir)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    return env.get_template(f"{name}.Dockerfile.j2").render(**values)
