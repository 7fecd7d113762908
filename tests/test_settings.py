"""crossgen.core.settings: Settings from the invoke configuration (the project's invoke.yaml)."""

from __future__ import annotations

from dataclasses import FrozenInstanceError, fields
from pathlib import Path

import pytest
import yaml
from invoke import Config

from crossgen.core import settings as st
from crossgen.core.errors import DciError
from crossgen.core.settings import CrossgenOptions, Settings, from_config

PROJECT_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def clean_env(tmp_path: Path, monkeypatch):
    """No XDG_CACHE_HOME / DOTNET_ROOT, HOME in tmp_path, no `dotnet` on PATH."""
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.delenv("DOTNET_ROOT", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    return tmp_path


def project_config(tmp_path: Path) -> Config:
    """The invoke configuration tasks.py sees: invoke.yaml of the project, nothing else."""
    c = Config(
        project_location=str(PROJECT_ROOT),
        system_prefix=str(tmp_path / "no-system."),
        user_prefix=str(tmp_path / "no-user."),
    )
    c.load_project()
    return c


def yaml_dci() -> dict:
    return yaml.safe_load((PROJECT_ROOT / "invoke.yaml").read_text())["dci"]


def expected_value(value, got):
    """What a non-empty invoke.yaml value becomes in Settings."""
    if isinstance(value, list):
        return tuple(str(v) for v in value)
    if isinstance(value, dict):
        return {str(k): expected_value(v, got.get(k)) for k, v in value.items()}
    if isinstance(got, Path):
        p = Path(value).expanduser()
        return p if p.is_absolute() or got == p else PROJECT_ROOT / p
    if isinstance(got, str):
        return str(value)
    return value


def test_every_invoke_yaml_key_reaches_settings(clean_env: Path):
    """No key of invoke.yaml is silently dropped, and each arrives with its value."""
    s = from_config(project_config(clean_env), PROJECT_ROOT)
    dci = yaml_dci()
    cg = dci.pop("crossgen", {})
    names = {f.name for f in fields(Settings)}
    assert set(dci) <= names, f"invoke.yaml keys without a setting: {set(dci) - names}"
    assert set(cg) <= {f.name for f in fields(CrossgenOptions)}
    for key, value in [*dci.items(), *(("crossgen." + k, v) for k, v in cg.items())]:
        got = getattr(s.crossgen, key[9:]) if key.startswith("crossgen.") else getattr(s, key)
        if value in ("", None):
            continue  # "" = a computed default: see the tests below
        assert got == expected_value(value, got), key


def test_empty_values_in_invoke_yaml_mean_the_computed_defaults(clean_env: Path):
    dci = yaml_dci()
    assert dci["cache_dir"] == "" and dci["nuget_config"] == "" and dci["dotnet_root"] == ""
    s = from_config(project_config(clean_env), PROJECT_ROOT)
    assert s.cache_dir == clean_env / "home" / ".cache" / "dotnet-composite-images"
    assert s.nuget_config is None
    assert s.dotnet_root is None  # no DOTNET_ROOT, no dotnet on PATH
    assert s.build_dir == PROJECT_ROOT / "build"
    assert s.project_root == PROJECT_ROOT
    assert (s.channel, s.rid, s.target_os, s.target_arch) == ("10.0", "linux-x64", "linux", "x64")


def test_no_dci_section_still_gives_usable_settings(clean_env: Path):
    s = from_config({}, PROJECT_ROOT)
    assert (s.channel, s.rid) == ("10.0", "linux-x64")
    assert s.build_dir == PROJECT_ROOT / "build"
    assert s.cache_dir == clean_env / "home" / ".cache" / "dotnet-composite-images"
    assert s.crossgen.inputbubble is True and s.crossgen.parallelism == 0 and s.crossgen.extra_args == ()


def test_values_from_the_config(clean_env: Path):
    cfg = {
        "dci": {
            "channel": "9.0",
            "rid": "linux-musl-x64",
            "image_prefix": "reg.local:5000/dci/",
            "os_tag": "bookworm-slim",
            "base_image": "debian:bookworm-slim",
            "debian_suite": "bookworm",
            "base_pull": True,
            "runtime_deps_packages": ["libc6", "libicu72"],
            "build_dir": "out/build",
            "cache_dir": "~/dl-cache",
            "nuget_config": "~/ci/NuGet.Config",
            "dotnet_root": "/opt/dotnet",
            "crossgen": {"inputbubble": False, "parallelism": "3", "extra_args": ["--verbose", 5]},
        }
    }
    s = from_config(cfg, PROJECT_ROOT)
    home = clean_env / "home"
    assert (s.channel, s.rid, s.image_prefix) == ("9.0", "linux-musl-x64", "reg.local:5000/dci/")
    assert (s.os_tag, s.base_image, s.debian_suite, s.base_pull) == ("bookworm-slim", "debian:bookworm-slim", "bookworm", True)
    assert s.runtime_deps_packages == ("libc6", "libicu72")
    assert s.build_dir == PROJECT_ROOT / "out" / "build"
    assert s.cache_dir == home / "dl-cache"
    assert s.nuget_config == home / "ci" / "NuGet.Config"
    assert s.dotnet_root == Path("/opt/dotnet")
    assert (s.crossgen.inputbubble, s.crossgen.parallelism, s.crossgen.extra_args) == (False, 3, ("--verbose", "5"))
    assert (s.target_os, s.target_arch) == ("linux", "x64")


def test_absolute_and_home_build_dir(clean_env: Path, tmp_path: Path):
    assert from_config({"dci": {"build_dir": str(tmp_path / "b")}}, PROJECT_ROOT).build_dir == tmp_path / "b"
    assert from_config({"dci": {"build_dir": "~/b"}}, PROJECT_ROOT).build_dir == clean_env / "home" / "b"
    assert from_config({"dci": {"build_dir": ""}}, PROJECT_ROOT).build_dir == PROJECT_ROOT / "build"


def test_cache_dir_follows_xdg(clean_env: Path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(clean_env / "xdg"))
    assert from_config({}, PROJECT_ROOT).cache_dir == clean_env / "xdg" / "dotnet-composite-images"
    assert st.default_cache_dir() == clean_env / "xdg" / "dotnet-composite-images"
    # an explicit cache_dir wins over XDG
    assert from_config({"dci": {"cache_dir": "/srv/c"}}, PROJECT_ROOT).cache_dir == Path("/srv/c")


def test_dotnet_root_from_env_then_path(clean_env: Path, monkeypatch):
    install = clean_env / "opt" / "dotnet"
    install.mkdir(parents=True)
    exe = install / "dotnet"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    bin_dir = clean_env / "bin"
    bin_dir.mkdir()
    (bin_dir / "dotnet").symlink_to(exe)  # like /usr/bin/dotnet -> /usr/share/dotnet/dotnet
    monkeypatch.setenv("PATH", str(bin_dir))
    assert from_config({}, PROJECT_ROOT).dotnet_root == install
    monkeypatch.setenv("DOTNET_ROOT", "/elsewhere/dotnet")
    assert from_config({}, PROJECT_ROOT).dotnet_root == Path("/elsewhere/dotnet")
    assert from_config({"dci": {"dotnet_root": "/cfg/dotnet"}}, PROJECT_ROOT).dotnet_root == Path("/cfg/dotnet")


@pytest.mark.parametrize("rid", ["x64", "linux", ""])
def test_bad_rid(clean_env: Path, rid: str):
    with pytest.raises(DciError) as err:
        from_config({"dci": {"rid": rid}}, PROJECT_ROOT)
    assert "runtime identifier" in err.value.cause and err.value.fix


@pytest.mark.parametrize("prefix, ok", [
    ("dotnet-composite/", True), ("", True), ("dci-ci-1796117886-11728/", True), ("team_a-b.c/", False), ("team__a/", True),
    ("127.0.0.1:5000/demo/", True), ("Registry.Example:5000/team/", True), ("localhost/x/", True),
    ("dci-osA/", False), ("My/", False), ("dci-/", False), ("two  words/", False), ("a//", False), ("registry:port/", False),
])
def test_an_image_prefix_that_cannot_make_a_docker_name_is_refused_before_any_work(clean_env: Path, prefix: str, ok: bool):
    """Docker's own answer comes only after mmdebstrap or a build ("invalid reference format: repository name
    must be lowercase"), as a daemon error; the prefix is checked when the settings are read."""
    if ok:
        assert from_config({"dci": {"image_prefix": prefix}}, PROJECT_ROOT).image_prefix == prefix
        return
    with pytest.raises(DciError) as err:
        from_config({"dci": {"image_prefix": prefix}}, PROJECT_ROOT)
    assert "image_prefix" in err.value.what and "lowercase" in err.value.fix and "runtime:10.0" in err.value.cause


@pytest.mark.parametrize("ref, ok", [
    ("debian:trixie-slim", True), ("127.0.0.1:5000/library/debian:trixie", True),
    ("debian:trixie-slim@sha256:" + "ab" * 32, True), ("Debian:trixie", False), ("debian:", False), ("debian:trixie slim", False),
])
def test_the_base_image_setting_is_a_docker_reference(clean_env: Path, ref: str, ok: bool):
    if ok:
        assert from_config({"dci": {"base_image": ref}}, PROJECT_ROOT).base_image == ref
    else:
        with pytest.raises(DciError) as err:
            from_config({"dci": {"base_image": ref}}, PROJECT_ROOT)
        assert "base_image" in err.value.what and err.value.fix


@pytest.mark.parametrize(
    "rid, os_, arch", [("linux-x64", "linux", "x64"), ("linux-musl-arm64", "linux", "arm64"), ("linux-arm64", "linux", "arm64")]
)
def test_target_os_and_arch(rid: str, os_: str, arch: str):
    s = Settings(project_root=PROJECT_ROOT, rid=rid)
    assert (s.target_os, s.target_arch) == (os_, arch)


def test_with_overrides(clean_env: Path):
    base = from_config(project_config(clean_env), PROJECT_ROOT)
    changed = base.with_overrides(channel="9.0", rid=None, base_pull=True)
    assert (changed.channel, changed.rid, changed.base_pull) == ("9.0", "linux-x64", True)
    assert (base.channel, base.base_pull) == ("10.0", False)  # the original is untouched
    assert base.with_overrides(channel=None) == base
    with pytest.raises(TypeError):
        base.with_overrides(chanel="9.0")  # a typo is an error, not a silent no-op
    with pytest.raises(FrozenInstanceError):
        base.channel = "8.0"  # type: ignore[misc]


def test_invoke_overrides_reach_settings(clean_env: Path):
    """Per-machine overrides (~/.invoke.yaml, INVOKE_DCI_*) arrive merged into the config."""
    c = project_config(clean_env)
    c.load_overrides({"dci": {"channel": "8.0", "crossgen": {"parallelism": 2}}})
    s = from_config(c, PROJECT_ROOT)
    assert s.channel == "8.0" and s.crossgen.parallelism == 2
    assert s.crossgen.inputbubble is True and s.rid == "linux-x64"  # the rest still from invoke.yaml


def test_env_overrides_through_invoke(clean_env: Path, monkeypatch):
    monkeypatch.setenv("INVOKE_DCI_CHANNEL", "9.0")
    monkeypatch.setenv("INVOKE_DCI_BASE_PULL", "1")
    c = project_config(clean_env)
    c.load_shell_env()
    s = from_config(c, PROJECT_ROOT)
    assert s.channel == "9.0" and s.base_pull is True


def test_the_configuration_note_names_only_files_that_exist(tmp_path, monkeypatch):
    """Every task says which invoke configuration files apply: a user's ~/.invoke.yaml by its path,
    and none when there is none (invoke reports the level found either way)."""
    from invoke import Config

    from crossgen.cli import _user_config_note

    monkeypatch.setenv("HOME", str(tmp_path))

    def note() -> str:
        c = Config()
        c.load_system()
        c.load_user()
        return _user_config_note(c)

    assert "no /etc/invoke.yaml or ~/.invoke.yaml" in note()
    (tmp_path / ".invoke.yaml").write_text("dci:\n  channel: '9.0'\n")
    assert str(tmp_path / ".invoke.yaml") in note()
