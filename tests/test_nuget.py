"""crossgen.acquire.nuget: NuGet.Config discovery and merging as the NuGet client does, and a v3 feed
served by the local ``http_server``."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import pytest

from crossgen.acquire import http, nuget
from crossgen.acquire.cache import Cache
from crossgen.core.errors import DciError, IntegrityError
from crossgen.acquire.nuget import Source



@pytest.fixture
def http_session():
    """The tool's session with a short retry policy (2 attempts, 10 ms back-off), blind to proxies."""
    s = http.new_session(attempts=2, backoff=0.01)
    s.trust_env = False
    yield s
    s.close()


def write_config(path: Path, sources: str = "", disabled: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    dis = f"<disabledPackageSources>{disabled}</disabledPackageSources>" if disabled is not None else ""
    path.write_text(
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f"<configuration><packageSources>{sources}</packageSources>{dis}</configuration>\n"
    )
    return path


def add(key: str, value: str) -> str:
    return f'<add key="{key}" value="{value}" />'


def mine(files: list[Path], root: Path) -> list[Path]:
    """Only the files under ``root`` (a real / or /tmp may hold configs of their own)."""
    return [f for f in files if root in f.parents]


@pytest.fixture
def tree(tmp_path: Path) -> dict[str, Path]:
    """repo/src/app folders, a home and a machine-wide folder, all under tmp_path."""
    d = {
        "repo": tmp_path / "repo",
        "app": tmp_path / "repo" / "src" / "app",
        "home": tmp_path / "home",
        "machine": tmp_path / "machine" / "NuGet" / "Config",
    }
    d["app"].mkdir(parents=True)
    d["home"].mkdir()
    return d


@pytest.fixture
def isolated_env(tree, monkeypatch):
    """HOME and the machine-wide folder point into tmp_path (for configured_sources())."""
    monkeypatch.setenv("HOME", str(tree["home"]))
    monkeypatch.delenv("DOTNET_CLI_HOME", raising=False)
    monkeypatch.setenv("NUGET_COMMON_APPLICATION_DATA", str(tree["machine"].parent.parent))
    return tree


# --- discovery ------------------------------------------------------------------------------


def test_config_files_walk_up_then_user_then_machine(tree):
    app_cfg = write_config(tree["app"] / "nuget.config")
    repo_cfg = write_config(tree["repo"] / "NuGet.Config")
    user_cfg = write_config(tree["home"] / ".nuget" / "NuGet" / "NuGet.Config")
    m2 = write_config(tree["machine"] / "zz.config")
    m1 = write_config(tree["machine"] / "aa.config")
    (tree["machine"] / "notes.txt").write_text("not a config")
    files = nuget.config_files(tree["app"], home=tree["home"], machine_dir=tree["machine"])
    assert mine(files, tree["repo"].parent) == [app_cfg, repo_cfg, user_cfg, m1, m2]
    assert files.index(repo_cfg) < files.index(user_cfg)  # nothing else slipped between


def test_config_files_one_file_per_folder_in_the_clients_casing_order(tree):
    folder = tree["repo"]
    for name in ("NuGet.Config", "NuGet.config", "nuget.config"):
        write_config(folder / name)
    assert mine(nuget.config_files(folder, home=tree["home"], machine_dir=tree["machine"]), folder) == [
        folder / "nuget.config"
    ]
    (folder / "nuget.config").unlink()
    assert mine(nuget.config_files(folder, home=tree["home"], machine_dir=tree["machine"]), folder) == [
        folder / "NuGet.config"
    ]
    (folder / "NuGet.config").unlink()
    assert mine(nuget.config_files(folder, home=tree["home"], machine_dir=tree["machine"]), folder) == [
        folder / "NuGet.Config"
    ]


def test_config_files_from_a_relative_start(tree, monkeypatch):
    cfg = write_config(tree["repo"] / "nuget.config")
    monkeypatch.chdir(tree["repo"])
    files = nuget.config_files(Path("src/app"), home=tree["home"], machine_dir=tree["machine"])
    assert mine(files, tree["repo"]) == [cfg]
    assert all(f.is_absolute() for f in files)


def test_additional_user_configs_follow_the_user_file(tree):
    user_dir = tree["home"] / ".nuget" / "NuGet"
    user_cfg = write_config(user_dir / "NuGet.Config")
    b = write_config(user_dir / "config" / "b.Config")
    a = write_config(user_dir / "config" / "a.config")
    (user_dir / "config" / "readme.md").write_text("x")
    files = nuget.config_files(tree["app"], home=tree["home"], machine_dir=tree["machine"])
    assert mine(files, tree["home"]) == [user_cfg, a, b]


def test_machine_wide_from_env_with_both_casings(tree, monkeypatch):
    upper = write_config(tree["machine"] / "Vendor.Config")
    lower = write_config(tree["machine"] / "feeds.config")
    write_config(tree["machine"] / "sub" / "ide.config")  # subfolders are for IDEs: not read
    monkeypatch.setenv("NUGET_COMMON_APPLICATION_DATA", str(tree["machine"].parent.parent))
    files = nuget.config_files(tree["app"], home=tree["home"])
    assert mine(files, tree["machine"]) == sorted([upper, lower])


def test_dotnet_cli_home_replaces_home(tree, tmp_path, monkeypatch):
    cli_home = tmp_path / "cli-home"
    cli_cfg = write_config(cli_home / ".nuget" / "NuGet" / "NuGet.Config")
    write_config(tree["home"] / ".nuget" / "NuGet" / "NuGet.Config")
    monkeypatch.setenv("HOME", str(tree["home"]))
    monkeypatch.setenv("DOTNET_CLI_HOME", str(cli_home))
    files = nuget.config_files(tree["app"], machine_dir=tree["machine"])
    assert mine(files, tmp_path) == [cli_cfg]


# --- merging -----------------------------------------------------------------------------------


def test_closer_file_wins_and_lists_first(tree):
    app = write_config(tree["app"] / "nuget.config", add("mirror", "https://mirror.example/v3/index.json"))
    user = write_config(
        tree["home"] / "u.config",
        add("nuget.org", "https://api.nuget.org/v3/index.json") + add("mirror", "https://old.example/index.json")
        + add("extra", "https://extra.example/index.json"),
    )
    got = nuget.read_sources([app, user])
    assert [(s.name, s.url, s.origin) for s in got] == [
        ("mirror", "https://mirror.example/v3/index.json", str(app)),
        ("nuget.org", "https://api.nuget.org/v3/index.json", str(user)),
        ("extra", "https://extra.example/index.json", str(user)),
    ]
    assert all(s.enabled for s in got)


def test_document_order_is_kept_within_a_file(tree):
    app = write_config(tree["app"] / "nuget.config", add("z", "https://z/index.json") + add("a", "https://a/index.json"))
    user = write_config(tree["home"] / "u.config", add("a", "https://old-a/index.json") + add("m", "https://m/index.json"))
    assert [s.name for s in nuget.read_sources([app, user])] == ["z", "a", "m"]


def test_clear_drops_less_specific_sources_and_earlier_ones_in_the_same_file(tree):
    app = write_config(
        tree["app"] / "nuget.config",
        add("before", "https://before/index.json") + "<clear />" + add("local", "https://local/index.json"),
    )
    user = write_config(tree["home"] / "u.config", add("nuget.org", "https://api.nuget.org/v3/index.json"))
    machine = write_config(tree["machine"] / "m.config", add("corp", "https://corp/index.json"))
    assert [s.name for s in nuget.read_sources([app, user, machine])] == ["local"]
    # a <clear/> in a less specific file does not touch the closer ones
    user2 = write_config(tree["home"] / "u2.config", "<clear />" + add("u", "https://u/index.json"))
    assert [s.name for s in nuget.read_sources([user2, machine])] == ["u"]
    assert [s.name for s in nuget.read_sources([machine, user2])] == ["corp", "u"]


def test_disabled_sources_across_files(tree):
    repo = write_config(tree["repo"] / "nuget.config", add("corp", "https://corp/index.json"))
    user = write_config(
        tree["home"] / "u.config",
        add("nuget.org", "https://api.nuget.org/v3/index.json"),
        disabled=add("corp", "true"),
    )
    got = {s.name: s.enabled for s in nuget.read_sources([repo, user])}
    assert got == {"corp": False, "nuget.org": True}


def test_disabled_entry_disables_whatever_its_value(tree):
    """NuGet's PackageSourceProvider looks at the keys of disabledPackageSources only."""
    f = write_config(
        tree["repo"] / "nuget.config",
        add("a", "https://a/index.json") + add("b", "https://b/index.json") + add("c", "https://c/index.json"),
        disabled=add("a", "false") + add("b", "TRUE"),
    )
    assert {s.name: s.enabled for s in nuget.read_sources([f])} == {"a": False, "b": False, "c": True}


def test_clear_in_disabled_sources_reenables(tree):
    repo = write_config(tree["repo"] / "nuget.config", add("x", "https://x/index.json"), disabled="<clear />")
    user = write_config(tree["home"] / "u.config", add("y", "https://y/index.json"), disabled=add("x", "true") + add("y", "true"))
    assert {s.name: s.enabled for s in nuget.read_sources([repo, user])} == {"x": True, "y": True}


def test_local_paths_are_relative_to_their_config_file(tree, monkeypatch):
    f = write_config(
        tree["repo"] / "nuget.config",
        add("rel", "packages") + add("up", "../feeds/local") + add("abs", "/srv/feed") + add("web", "https://w/index.json"),
    )
    monkeypatch.chdir(tree["app"])  # the working folder must not matter
    got = {s.name: s.url for s in nuget.read_sources([f])}
    assert got == {
        "rel": str(tree["repo"] / "packages"),
        "up": str(tree["repo"].parent / "feeds" / "local"),
        "abs": "/srv/feed",
        "web": "https://w/index.json",
    }


# --- %VAR% in values ------------------------------------------------------------------------------


def test_environment_variables_in_values_are_expanded_as_the_client_does(tree, monkeypatch):
    monkeypatch.setenv("DCI_TEST_FEED_HOST", "feeds.example")
    monkeypatch.setenv("DCI_TEST_DIR", str(tree["home"] / "pkgs"))
    monkeypatch.setenv("DCI_TEST_REL", "sub")
    monkeypatch.setenv("DCI_TEST_KEY", "expanded")
    monkeypatch.delenv("DCI_TEST_UNDEFINED", raising=False)
    monkeypatch.delenv("dci_test_dir", raising=False)
    f = tree["repo"] / "nuget.config"
    f.write_text(
        '<?xml version="1.0" encoding="utf-8"?>\n<configuration>\n  <packageSources>\n'
        '    <add key="web" value="https://%DCI_TEST_FEED_HOST%/v3/index.json" />\n'
        '    <add key="dir" value="%DCI_TEST_DIR%/local" />\n'
        '    <add key="rel" value="%DCI_TEST_REL%/feed" />\n'             # relative once expanded: from the file's folder
        '    <add key="undefined" value="https://x/%DCI_TEST_UNDEFINED%/index.json" />\n'  # stays as written
        '    <add key="case" value="/srv/%dci_test_dir%" />\n'            # names are case-sensitive on Linux
        '    <add key="%DCI_TEST_KEY%" value="https://k/index.json" />\n'  # keys are not expanded
        '  </packageSources>\n'
        '  <disabledPackageSources>\n    <add key="%DCI_TEST_KEY%" value="true" />\n  </disabledPackageSources>\n'
        '</configuration>\n'
    )
    got = {s.name: (s.url, s.enabled) for s in nuget.read_sources([f])}
    assert got == {
        "web": ("https://feeds.example/v3/index.json", True),
        "dir": (str(tree["home"] / "pkgs" / "local"), True),
        "rel": (str(tree["repo"] / "sub" / "feed"), True),
        "undefined": ("https://x/%DCI_TEST_UNDEFINED%/index.json", True),
        "case": ("/srv/%dci_test_dir%", True),
        "%DCI_TEST_KEY%": ("https://k/index.json", False),
    }


def test_a_value_that_expands_to_nothing_is_no_source(tree, monkeypatch):
    monkeypatch.setenv("DCI_TEST_EMPTY", "")
    f = write_config(tree["repo"] / "nuget.config", add("empty", "%DCI_TEST_EMPTY%") + add("ok", "https://ok/index.json"))
    assert [s.name for s in nuget.read_sources([f])] == ["ok"]


@pytest.mark.parametrize("value, expected", [
    ("%A%", "1"),
    ("x%A%y%B%z", "x1y2z"),
    ("%A%%B%", "12"),
    ("%U%%A%", "%U%1"),          # an undefined name stays; its closing % may open the next pair
    ("%U%A%", "%U1"),
    ("50% off %A%", "50% off 1"),
    ("%%A%", "%1"),
    ("%A", "%A"),
    ("100%", "100%"),
    ("", ""),
    ("%a%", "%a%"),              # case-sensitive
])
def test_expand_env_follows_dotnet_expand_environment_variables(value, expected):
    assert nuget.expand_env(value, {"A": "1", "B": "2"}) == expected


def test_incomplete_entries_are_ignored(tree):
    f = write_config(tree["repo"] / "nuget.config", '<add key="novalue" /><add value="https://nokey/index.json" />' + add("ok", "https://ok/index.json"))
    assert [s.name for s in nuget.read_sources([f])] == ["ok"]


def test_malformed_config_names_the_file(tree):
    bad = tree["repo"] / "nuget.config"
    bad.write_text("<configuration><packageSources>")
    with pytest.raises(DciError) as err:
        nuget.read_sources([bad])
    assert err.value.what == str(bad) and err.value.fix


def test_configured_sources_reads_the_whole_chain(isolated_env):
    t = isolated_env
    write_config(t["repo"] / "nuget.config", add("repo", "https://repo/index.json"))
    write_config(t["home"] / ".nuget" / "NuGet" / "NuGet.Config", add("nuget.org", "https://api.nuget.org/v3/index.json"))
    write_config(t["machine"] / "m.config", add("machine", "https://machine/index.json"), disabled=add("nuget.org", "true"))
    got = nuget.configured_sources(start=t["app"])
    names = [s.name for s in got]
    assert names[:3] == ["repo", "nuget.org", "machine"]
    assert {s.name: s.enabled for s in got}["nuget.org"] is False


def test_explicit_config_replaces_the_chain(isolated_env):
    t = isolated_env
    write_config(t["repo"] / "nuget.config", add("repo", "https://repo/index.json"))
    write_config(t["home"] / ".nuget" / "NuGet" / "NuGet.Config", add("nuget.org", "https://api.nuget.org/v3/index.json"))
    explicit = write_config(t["home"] / "ci.config", add("ci", "https://ci/index.json"))
    assert [s.name for s in nuget.configured_sources(explicit, start=t["app"])] == ["ci"]
    with pytest.raises(DciError) as err:
        nuget.configured_sources(t["home"] / "missing.config", start=t["app"])
    assert "not found" in err.value.cause


@pytest.mark.parametrize(
    "url, v3",
    [
        ("https://api.nuget.org/v3/index.json", True),
        ("http://127.0.0.1:5555/v3/index.json/", True),
        ("https://www.nuget.org/api/v2", False),
        ("/srv/packages", False),
        ("file:///srv/index.json", False),
    ],
)
def test_source_is_http_v3(url: str, v3: bool):
    assert Source("s", url).is_http_v3 is v3


# --- feed ---------------------------------------------------------------------------------------


def nupkg_bytes(package_id: str, version: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(f"{package_id}.nuspec", f"<package><metadata><id>{package_id}</id><version>{version}</version></metadata></package>")
    return buf.getvalue()


PID = "Microsoft.NETCore.App.Runtime.linux-x64"


@pytest.fixture
def feed_url(http_server) -> str:
    return http_server.nuget_feed(
        {PID: {v: nupkg_bytes(PID, v) for v in ("9.0.10", "10.0.14", "10.0.15", "10.0.0-rc.2.25502.107")}}
    )


def test_feed_reads_the_service_index_and_versions(http_server, http_session, feed_url):
    feed = nuget.Feed(http_session, feed_url)
    assert feed.base == http_server.url("/nuget/flat/")
    assert feed.versions(PID) == ["9.0.10", "10.0.14", "10.0.15", "10.0.0-rc.2.25502.107"]
    assert http_server.hits(f"/nuget/flat/{PID.lower()}/index.json") == 1  # ids are lowercased
    assert feed.nupkg_url(PID, "10.0.15") == http_server.url(
        f"/nuget/flat/{PID.lower()}/10.0.15/{PID.lower()}.10.0.15.nupkg"
    )


def test_feed_unknown_package_has_no_versions(http_server, http_session, feed_url):
    feed = nuget.Feed(http_session, feed_url)
    assert feed.versions("No.Such.Package") == []
    assert http_server.hits("/nuget/flat/no.such.package/index.json") == 1


def test_feed_versions_server_error_is_not_an_empty_list(http_server, http_session, feed_url):
    feed = nuget.Feed(http_session, feed_url)
    http_server.route("/nuget/flat/broken/index.json", http_server.Reply.error(500))
    with pytest.raises(DciError) as err:
        feed.versions("Broken")
    assert "HTTP 500" in err.value.cause
    assert http_server.hits("/nuget/flat/broken/index.json") == 2


def test_feed_nupkg_url_downloads_into_the_cache(http_server, http_session, feed_url, tmp_path):
    cache = Cache(tmp_path / "cache")
    feed = nuget.Feed(http_session, feed_url)
    got = http.fetch(http_session, feed.nupkg_url(PID, "10.0.15"), cache)
    assert got.path.read_bytes() == nupkg_bytes(PID, "10.0.15")
    with zipfile.ZipFile(got.path) as zf:
        assert zf.namelist() == [f"{PID}.nuspec"]
    good = hashlib.sha512(nupkg_bytes(PID, "10.0.14")).hexdigest()
    with pytest.raises(IntegrityError) as err:
        http.fetch(http_session, feed.nupkg_url(PID, "10.0.14"), cache, sha512=hashlib.sha512(b"other").hexdigest())
    assert "SHA-512 mismatch" in err.value.cause
    assert http.fetch(http_session, feed.nupkg_url(PID, "10.0.14"), cache, sha512=good).sha512 == good


def test_feed_service_index_retried_after_5xx(http_server, http_session):
    R = http_server.Reply
    index = {"resources": [{"@id": "http://x.invalid/flat", "@type": "PackageBaseAddress/3.0.0"}]}
    url = http_server.route("/v3/index.json", R.error(503), R.json(index))
    feed = nuget.Feed(http_session, url)
    assert feed.base == "http://x.invalid/flat/"
    assert http_server.hits("/v3/index.json") == 2


def test_feed_without_package_base_address(http_server, http_session):
    url = http_server.route(
        "/v3/index.json", http_server.Reply.json({"resources": [{"@id": "http://x/q", "@type": "SearchQueryService"}]})
    )
    with pytest.raises(DciError) as err:
        nuget.Feed(http_session, url)
    assert "PackageBaseAddress" in err.value.cause


def test_open_feed_picks_the_first_usable_source(http_server, http_session, feed_url):
    sources = [
        Source("off", feed_url, enabled=False),
        Source("folder", "/srv/packages"),
        Source("v2", "https://www.nuget.org/api/v2"),
        Source("gone", http_server.url("/gone/index.json")),  # 404
        Source("good", feed_url),
        Source("later", http_server.url("/never/index.json")),
    ]
    feed = nuget.open_feed(http_session, sources)
    assert feed.index_url == feed_url
    assert http_server.hits("/never/index.json") == 0
    assert http_server.hits("/gone/index.json") == 1


def test_open_feed_nothing_usable_lists_why(http_server, http_session):
    sources = [Source("off", "https://a/index.json", enabled=False), Source("folder", "/srv/packages")]
    with pytest.raises(DciError) as err:
        nuget.open_feed(http_session, sources)
    assert "off: disabled" in err.value.cause and "folder: /srv/packages" in err.value.cause
    with pytest.raises(DciError) as err:
        nuget.open_feed(http_session, [])
    assert "none configured" in err.value.cause


def test_open_feed_from_config_files(http_server, http_session, tree, feed_url):
    """End to end: a repo config adds the local feed; the user's nuget.org stays listed after it."""
    repo = write_config(tree["repo"] / "nuget.config", add("local", feed_url))
    user = write_config(tree["home"] / "u.config", add("nuget.org", http_server.url("/unreachable/index.json")))
    feed = nuget.open_feed(http_session, nuget.read_sources([repo, user]))
    assert feed.index_url == feed_url
    assert http_server.hits("/unreachable/index.json") == 0
