"""`invoke report --no-charts` works where matplotlib is not installed (it is an optional extra).

A child Python makes ``import matplotlib`` fail (``sys.modules['matplotlib'] = None``), then runs
the report task with charts off, end to end except for Docker: the task's flag checks, the
settings, ``report.run`` over a build record and a fake Docker API (two synthetic images),
the markdown, the JSON and the headline table. Any import of matplotlib on that path fails the
run; at the end matplotlib must still be unimported. No Docker daemon, no network.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = textwrap.dedent(r'''
    import hashlib, json, sys
    from pathlib import Path

    sys.modules["matplotlib"] = None  # `import matplotlib` (and any submodule) now raises ImportError
    try:
        import crossgen.report.charts  # noqa: F401
    except ImportError:
        pass
    else:
        raise SystemExit("the matplotlib block does not work")

    root, tmp = Path(sys.argv[1]), Path(sys.argv[2])
    sys.path.insert(0, str(root))

    def digest(text):
        return "sha256:" + hashlib.sha256(text.encode()).hexdigest()

    IMAGES = {  # key -> layers (content, size); the runtime image stands on runtime-deps
        "runtime-deps": [("os", 1000), ("deps", 200)],
        "runtime-no-composite": [("os", 1000), ("deps", 200), ("runtime", 3000)],
    }

    class FakeApi:
        """The few daemon calls report.run makes with registry, startup and warm build off."""

        def inspect_image(self, ref):
            key = ref.split("/")[-1].split(":")[0]
            layers = IMAGES[key]
            return {"Id": digest("id:" + key), "Size": sum(s for _, s in layers),
                    "RootFS": {"Layers": [digest("diff:" + name) for name, _ in layers]}, "Config": {"Labels": {}}}

        def history(self, image_id):
            key = next(k for k in IMAGES if digest("id:" + k) == image_id)
            return [{"Size": s, "CreatedBy": f"/bin/sh -c #(nop) ADD {n}"} for n, s in reversed(IMAGES[key])]

        def version(self):
            return {"Version": "0.0-fake"}

    build = tmp / "build"
    build.mkdir()
    (build / "build-all.json").write_text(json.dumps({
        "finished_at": "2026-01-01T00:00:00Z", "seconds": 1.0, "dotnet_version": "10.0.15", "bubbles": {},
        "images": [{"key": k, "ref": f"dci-test/{k}:10.0", "skipped": True, "seconds": 0} for k in IMAGES],
    }))

    import tasks
    from crossgen import dockerio
    from crossgen.report import run as report
    from invoke import Config, Context

    dockerio.connect = lambda *a, **k: FakeApi()
    report.base_os = lambda api, ref: "Debian GNU/Linux 13 (fake)"  # would run a container
    config = Config(project_location=str(root), overrides={"dci": {"build_dir": str(build)}})
    config.load_project()
    tasks.report(Context(config), charts=False, registry=False, startup=False, warm_build=False, readme=False, modes="none",
                 rebuild_check=False)

    written = json.loads((build / "report" / "report.json").read_text())
    assert not written.get("charts"), written.get("charts")
    assert (build / "report" / "report.md").is_file()
    assert [i["key"] for i in written["images"]] == list(IMAGES)
    loaded = sorted(m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib."))
    assert sys.modules.get("matplotlib") is None and loaded == ["matplotlib"], loaded
    print("OK no matplotlib")
''')


def _child_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INVOKE_", "DCI_"))}
    env.update({"DOCKER_HOST": f"unix://{tmp}/no-docker.sock", "XDG_CACHE_HOME": str(tmp / "cache"),
                "PYTHONPATH": str(ROOT), "COLUMNS": "200"})
    return env


def test_report_without_charts_never_imports_matplotlib(tmp_path):
    res = subprocess.run([sys.executable, "-c", CHILD, str(ROOT), str(tmp_path)], cwd=ROOT, env=_child_env(tmp_path),
                         capture_output=True, text=True, timeout=120)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out
    assert "OK no matplotlib" in res.stdout, out
    assert "Traceback" not in out and "error:" not in out, out


def test_report_with_charts_but_no_matplotlib_fails_early_in_one_line(tmp_path):
    """With charts on and matplotlib missing: a one-line error naming --charts, before any work."""
    child = textwrap.dedent(r'''
        import sys
        sys.modules["matplotlib"] = None
        sys.argv = ["invoke", "report", "--no-registry"]
        from invoke.main import program
        program.run()
    ''')
    res = subprocess.run([sys.executable, "-c", child], cwd=ROOT, env=_child_env(tmp_path), capture_output=True,
                         text=True, timeout=120)
    out = res.stdout + res.stderr
    assert res.returncode == 1, out
    assert "Traceback" not in out, out
    lines = [line for line in out.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "--charts" in lines[0] and "matplotlib" in lines[0] and "--no-charts" in lines[0], out
    assert "Docker daemon" not in out, out


def test_report_module_imports_without_matplotlib():
    code = ("import sys; sys.modules['matplotlib'] = None; import crossgen.report, tasks; "
            "assert sys.modules['matplotlib'] is None; print(json.dumps(sorted(m for m in sys.modules if 'matplotlib' in m)))")
    res = subprocess.run([sys.executable, "-c", "import json; " + code], cwd=ROOT, capture_output=True, text=True,
                         timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == ["matplotlib"]
