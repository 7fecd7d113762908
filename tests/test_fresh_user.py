"""A brand-new user: no NuGet.Config, no ~/.invoke.yaml, nothing in HOME.

The NuGet client, finding no user configuration, writes one that names its built-in default
source (nuget.org) and uses it. The tool must do the same without writing into the user's home,
and say where the feed came from.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from crossgen.acquire import nuget
from crossgen.compile import samples
from crossgen.core.settings import default_cache_dir
from tests.pipeline_support import e2e_settings

ROOT = Path(__file__).resolve().parent.parent
NUGET_ORG = "https://api.nuget.org/v3/index.json"


def write_config(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'<?xml version="1.0" encoding="utf-8"?>\n<configuration>{body}</configuration>\n')
    return path


@pytest.fixture
def new_user(tmp_path: Path, monkeypatch) -> Path:
    """An empty HOME, no DOTNET_CLI_HOME, an empty machine-wide NuGet folder."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("DOTNET_CLI_HOME", raising=False)
    monkeypatch.setenv("NUGET_COMMON_APPLICATION_DATA", str(tmp_path / "machine"))
    return home


def test_no_configuration_means_the_clients_built_in_default(new_user: Path, tmp_path: Path):
    got = nuget.configured_sources(start=tmp_path)
    assert [(s.name, s.url, s.enabled) for s in got] == [("nuget.org", NUGET_ORG, True)]
    assert "built-in default" in got[0].origin
    assert list(new_user.iterdir()) == []  # nothing written into the home


def test_the_default_stands_where_the_user_file_would(new_user: Path, tmp_path: Path):
    """A project's nuget.config comes first; a machine-wide file after the default."""
    write_config(tmp_path / "repo" / "nuget.config", '<packageSources><add key="repo" value="https://repo.example/v3/index.json" /></packageSources>')
    write_config(tmp_path / "machine" / "NuGet" / "Config" / "m.config",
                 '<packageSources><add key="corp" value="https://corp.example/v3/index.json" /></packageSources>')
    assert [s.name for s in nuget.configured_sources(start=tmp_path / "repo")] == ["repo", "nuget.org", "corp"]


def test_a_project_clear_drops_the_default(new_user: Path, tmp_path: Path):
    write_config(tmp_path / "repo" / "nuget.config",
                 '<packageSources><clear /><add key="only" value="https://only.example/v3/index.json" /></packageSources>')
    assert [s.name for s in nuget.configured_sources(start=tmp_path / "repo")] == ["only"]


def test_a_user_file_replaces_the_default(new_user: Path, tmp_path: Path):
    write_config(new_user / ".nuget" / "NuGet" / "NuGet.Config",
                 '<packageSources><add key="mine" value="https://mine.example/v3/index.json" /></packageSources>')
    got = nuget.configured_sources(start=tmp_path)
    assert [s.name for s in got] == ["mine"]
    assert got[0].origin == str(new_user / ".nuget" / "NuGet" / "NuGet.Config")


def test_the_cli_home_gets_nugets_default_when_the_user_has_no_config(new_user: Path, tmp_path: Path):
    """The dotnet CLI runs with a private home: with no user configuration it gets NuGet's default."""
    s = e2e_settings(cache_dir=tmp_path / "cache")
    env = samples.dotnet_env(s)
    assert env["DOTNET_CLI_HOME"].startswith(str(tmp_path / "cache")) and env["HOME"] == env["DOTNET_CLI_HOME"]
    assert env["NUGET_PACKAGES"].startswith(str(tmp_path / "cache"))
    private = Path(env["DOTNET_CLI_HOME"]) / ".nuget" / "NuGet" / "NuGet.Config"
    assert [(x.name, x.url) for x in nuget.read_sources([private])] == [("nuget.org", NUGET_ORG)]
    assert list(new_user.iterdir()) == []


def test_the_cli_home_gets_the_users_whole_configuration(new_user: Path, tmp_path: Path):
    """Credentials, source mapping and extra config files come along; a relative local source stays
    pointing where it pointed; the user's own files are left as they are."""
    user_dir = new_user / ".nuget" / "NuGet"
    body = ('<packageSources><clear /><add key="corp" value="https://corp.example/v3/index.json" />'
            '<add key="local" value="../../feeds/local" /></packageSources>'
            '<packageSourceCredentials><corp><add key="Username" value="me" />'
            '<add key="ClearTextPassword" value="%CORP_TOKEN%" /></corp></packageSourceCredentials>'
            '<packageSourceMapping><packageSource key="corp"><package pattern="Corp.*" /></packageSource></packageSourceMapping>')
    user = write_config(user_dir / "NuGet.Config", body)
    extra = write_config(user_dir / "config" / "team.config", '<packageSources><add key="team" value="https://team.example/v3/index.json" /></packageSources>')
    before = (user.read_text(), extra.read_text())
    env = samples.dotnet_env(e2e_settings(cache_dir=tmp_path / "cache"))
    private = Path(env["DOTNET_CLI_HOME"]) / ".nuget" / "NuGet"
    copied = (private / "NuGet.Config").read_text()
    assert "packageSourceCredentials" in copied and "%CORP_TOKEN%" in copied and "packageSourceMapping" in copied
    srcs = {x.name: x.url for x in nuget.read_sources([private / "NuGet.Config"])}
    assert srcs == {"corp": "https://corp.example/v3/index.json", "local": str((user_dir / "../../feeds/local").resolve())}
    assert (private / "config" / "team.config").is_file()
    assert (user.read_text(), extra.read_text()) == before
    # the private home sees what the real one would: the same sources, in the same order
    private_sources = [(x.name, x.url) for x in nuget.configured_sources(start=tmp_path)]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DOTNET_CLI_HOME", env["DOTNET_CLI_HOME"])
        assert [(x.name, x.url) for x in nuget.configured_sources(start=tmp_path)] == private_sources


@pytest.mark.slow
def test_download_from_nuget_with_an_empty_home(tmp_path: Path):
    """`invoke download --source nuget` as a user who never ran .NET: works, says where the feed
    came from, and leaves HOME empty. Downloads share the suite's cache folder."""
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("DOTNET_CLI_HOME", "NUGET_PACKAGES")}
    env.update(HOME=str(home), XDG_CACHE_HOME=str(default_cache_dir().parent),
               INVOKE_DCI_BUILD_DIR=str(tmp_path / "build"), NUGET_COMMON_APPLICATION_DATA=str(tmp_path / "machine"))
    proc = subprocess.run([sys.executable, "-m", "invoke", "-r", str(ROOT), "download", "--source", "nuget"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "Traceback" not in out
    assert f"NuGet feed {NUGET_ORG} (source 'nuget.org' from NuGet's built-in default" in " ".join(out.split())
    assert "download cache:" in out and "dotnet layout:" in out
    # no user configuration file: none is named (invoke itself calls the level found)
    assert "invoke configuration: the project's invoke.yaml (no /etc/invoke.yaml or ~/.invoke.yaml)" in out
    assert "Microsoft.NETCore.App.Crossgen2.linux-x64" in out
    assert list(home.iterdir()) == [], "the download wrote into the user's home"


@pytest.mark.slow
def test_publishing_a_sample_leaves_the_home_alone(new_user: Path, tmp_path: Path):
    """`dotnet publish` writes first-run files and a NuGet.Config into its home: it gets a private one."""
    s = e2e_settings(build_dir=tmp_path / "build", cache_dir=tmp_path / "cache")
    app = samples.publish(s, "hello")
    assert (app.path / "hello.dll").is_file()
    assert list(new_user.iterdir()) == []
