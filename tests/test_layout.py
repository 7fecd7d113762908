"""The layout is the architecture: stages import only the stages before them, and only dockerio
talks to the Docker SDK. Read from the source (ast), so a new module is checked without an edit."""

from __future__ import annotations

import ast
from pathlib import Path

import docker

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "crossgen"
# data-flow order; a module may import its own layer and the ones before it
LAYERS = ["core", "dockerio", "acquire", "compile", "images", "verify", "publish", "report", "pipeline", "inputs", "cli"]
RANK = {name: i for i, name in enumerate(LAYERS)}
RANK["inputs"] = RANK["pipeline"]  # flag checks and the pipeline are independent of each other


def layer_of(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0].removesuffix(".py")


def imported_layers(path: Path) -> set[tuple[str, int]]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "crossgen":
            parts = node.module.split(".")
            names = [parts[1]] if len(parts) > 1 else [a.name for a in node.names]
            found |= {(n, node.lineno) for n in names}
        elif isinstance(node, ast.Import):
            found |= {(a.name.split(".")[1], node.lineno) for a in node.names if a.name.startswith("crossgen.")}
    return found


def test_every_module_belongs_to_a_layer():
    for path in PACKAGE.rglob("*.py"):
        if path.parent != PACKAGE or path.name != "__init__.py":
            assert layer_of(path) in RANK, f"{path}: add its layer to LAYERS (and to the README's table)"


def test_imports_only_go_down():
    upward = []
    for path in PACKAGE.rglob("*.py"):
        if path == PACKAGE / "__init__.py":
            continue
        mine = RANK[layer_of(path)]
        for name, line in imported_layers(path):
            if name in RANK and RANK[name] > mine:
                upward.append(f"{path.relative_to(ROOT)}:{line} imports crossgen.{name}")
    assert not upward, "imports that run upward:\n" + "\n".join(upward)


SDK_METHODS = {name for name in dir(docker.APIClient) if not name.startswith("_")} - {"api_version", "base_url", "timeout"}


def sdk_calls(path: Path) -> list[str]:
    """``api.<Docker SDK method>(...)`` calls in a file."""
    return [f"{path.name}:{node.lineno}: {ast.unparse(node)[:100]}" for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in SDK_METHODS
            and isinstance(node.func.value, ast.Name) and node.func.value.id in ("api", "client", "docker_api")]


def test_only_dockerio_calls_the_docker_sdk():
    """No `api.<SDK method>(...)` outside crossgen/dockerio: containers, images, pushes and pulls all
    go through the one door (its timeouts, removal and error mapping)."""
    calls = [c for path in PACKAGE.rglob("*.py") if layer_of(path) != "dockerio" for c in sdk_calls(path)]
    assert not calls, "Docker SDK calls outside crossgen/dockerio:\n" + "\n".join(calls)


def test_the_scans_see_what_they_look_for(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("from crossgen.report import run\n\ndef f(api):\n    return api.containers(all=True)\n")
    assert ("report", 1) in imported_layers(probe)
    assert sdk_calls(probe) == ["probe.py:4: api.containers(all=True)"]
