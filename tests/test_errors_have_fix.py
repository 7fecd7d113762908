"""Every DciError the code raises tells the user what to do: its ``fix`` is never missing or empty.

Read from the source with ``ast`` (no import, no execution), so an error on a path no test
reaches is checked too.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted((ROOT / "crossgen").rglob("*.py")) + [ROOT / "tasks.py"]


def error_classes(paths=SOURCES) -> set[str]:
    """DciError and every class of the sources that derives from it (directly or through another)."""
    bases: dict[str, set[str]] = {}
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                bases[node.name] = {b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases}
    found = {"DciError"}
    while True:
        more = {name for name, bs in bases.items() if bs & found} - found
        if not more:
            return found
        found |= more


ERRORS = error_classes()


def _is_dci_error(func: ast.expr) -> bool:
    name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
    return name in ERRORS


def _empty(node: ast.expr) -> bool:
    """A fix that is visibly empty: "", "   ", f"", None."""
    if isinstance(node, ast.Constant):
        return node.value is None or (isinstance(node.value, str) and not node.value.strip())
    if isinstance(node, ast.JoinedStr):
        return all(isinstance(v, ast.Constant) and not str(v.value).strip() for v in node.values)
    return False


def problems(path: Path, root: Path = ROOT) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    out = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and _is_dci_error(node.func)):
            continue
        where = f"{path.relative_to(root)}:{node.lineno}: {ast.unparse(node)[:160]}"
        if any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords):
            continue  # DciError(*parts) / DciError(**kw): cannot be judged from the source
        fix = node.args[2] if len(node.args) >= 3 else next((k.value for k in node.keywords if k.arg == "fix"), None)
        if fix is None:
            out.append(f"{where}  <- no fix")
        elif _empty(fix):
            out.append(f"{where}  <- empty fix")
    return out


def test_sources_are_found():
    assert len(SOURCES) > 20 and all(p.is_file() for p in SOURCES)


def test_the_scan_knows_the_error_types():
    assert {"DciError", "NotFound", "Unreachable", "IntegrityError"} <= ERRORS


def test_every_dci_error_has_a_fix():
    found = [p for path in SOURCES for p in problems(path)]
    assert not found, "DciError without a fix (say what the user should do):\n" + "\n".join(found)


def test_the_scan_sees_missing_and_empty_fixes(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from crossgen.core.errors import DciError\n"
        "from crossgen.core import errors\n"
        "a = DciError('x', 'y')\n"
        "b = DciError('x', 'y', '')\n"
        "c = errors.DciError('x', 'y', fix=f'')\n"
        "d = DciError('x', 'y', '  ')\n"
        "e = DciError('x', 'y', 'run invoke clean')\n"
        "f = DciError('x', 'y', fix=f'see {a}')\n"
        "g = DciError(what='x', cause='y')\n"
    )
    found = problems(sample, root=tmp_path)
    assert [line.split(":")[1] for line in found] == ["3", "4", "5", "6", "9"]
