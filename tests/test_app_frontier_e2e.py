"""A user's own app, unseen by the project: `invoke report --app DIR --probe exit` publishes it,
builds its images (framework-dependent on the baseline, self-contained composite), checks it against
each composite first (`verify --app`), measures it on every variant with the configured modes (no
extra modes here, to keep CI short) and recommends an image. Its JIT count comes from the runtime's
own list of compiled methods (the app prints nothing for us)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.pipeline_support import task_env

pytestmark = [pytest.mark.slow, pytest.mark.docker]

PROGRAM = r"""
using System.Linq;
using System.Text.Json;
using System.Text.RegularExpressions;

var lines = new[] { "bolt,12,0.25", "nut,40,0.05", "washer,100,0.01", "gear,3,4.50" };
var items = lines.Select(l => l.Split(',')).Select(p => new Item(p[0], int.Parse(p[1]), decimal.Parse(p[2], System.Globalization.CultureInfo.InvariantCulture))).ToList();
var json = JsonSerializer.Serialize(items);
var back = JsonSerializer.Deserialize<List<Item>>(json)!;
var worth = back.Sum(i => i.Count * i.Price);
var vowels = Regex.Matches(string.Join(" ", back.Select(i => i.Name)), "[aeiou]").Count;
Console.WriteLine($"inventory: {back.Count} items worth {worth} ({vowels} vowels)");
record Item(string Name, int Count, decimal Price);
"""
PROJECT = """<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup><OutputType>Exe</OutputType><TargetFramework>net10.0</TargetFramework>
    <ImplicitUsings>enable</ImplicitUsings><Nullable>enable</Nullable></PropertyGroup>
</Project>
"""


def test_report_app_puts_a_users_app_on_every_variant(built_images, tmp_path):
    settings, _, _ = built_images
    app = tmp_path / "inventory"
    app.mkdir()
    (app / "inventory.csproj").write_text(PROJECT)
    (app / "Program.cs").write_text(PROGRAM)
    env = task_env(settings, COLUMNS="200")
    p = subprocess.run([sys.executable, "-m", "invoke", "report", "--app", str(app), "--probe", "exit", "--modes", "none",
                        "--frontier-runs", "2", "--extra-runs", "0", "--no-registry", "--no-charts"],
                       cwd=settings.project_root, env=env, capture_output=True, text=True, timeout=1800, stdin=subprocess.DEVNULL)
    out = p.stdout + p.stderr
    assert p.returncode == 0, out[-3000:]
    assert "Traceback" not in out and "Recommendation: variant" in out
    section = json.loads((settings.workspace.report / "app-inventory" / "frontier.json").read_text())
    points = {(x["variant"], x["mode"]): x for x in section["points"]}
    assert set(points) == {(1, "baseline"), (2, "default"), (3, "default"), (4, "default"), (5, "default")}
    for x in points.values():
        assert x["failed"] == 0 and x["median_ms"] > 0 and x["jit"] > 0, x
    assert points[(5, "default")]["ref"].endswith("app-inventory:10.0-trixie-slim-composite")
    assert points[(1, "baseline")]["ref"].endswith("runtime:10.0-trixie-slim-no-composite")
    # R2R at work: the runtime's own list counts far fewer methods on a framework image than a whole JIT start would
    assert points[(2, "default")]["jit"] < 1000
    assert section["skipped"] == {} and section["recommendation"]["variant"] in (2, 3, 4, 5)
    assert (settings.workspace.report / "app-inventory" / "frontier.md").read_text().startswith("# inventory")
