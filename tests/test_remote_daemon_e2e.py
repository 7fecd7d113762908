"""The tasks on a remote Docker host: DOCKER_HOST=tcp://127.0.0.1:PORT pointing at a second dockerd
that cannot see this machine's files (tests/remote_daemon.py: its own mount namespace, where /tmp,
$HOME, the checkout and the download cache are empty; its own data root and containerd).

`invoke lock`, `invoke base-image` (mmdebstrap here, imported through the API), `invoke build
--variant 1 --locked --images 'runtime-*,aspnet-*,sample-hello-*,sample-web-*'` (tests/remote_daemon.REMOTE_IMAGES; image IDs identical to the suite's own build on this machine's daemon; the
composite variants' reproducibility: test_e2e_build's rebuild check and Crossgen2 determinism test), `invoke verify`, `invoke inspect` and `invoke report` (one startup run on each runtime and
ASP.NET image, console and web; no frontier, registry or warm build) run as a user runs them, from a fresh build folder and image prefix. A
task that bind-mounted a path of this machine, or handed the daemon one to read, would find nothing
there and fail: the first test proves that the daemon sees nothing at those paths.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crossgen import dockerio
from crossgen.core.settings import default_cache_dir
from tests.remote_daemon import ROOT

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def test_the_remote_daemon_cannot_see_this_machines_files(remote_build):
    """Every client path the tasks use holds files here, and a bind mount of it on the remote daemon
    shows nothing; the remote daemon is not this machine's daemon and keeps no volume."""
    daemon = remote_build.daemon
    paths = [ROOT, remote_build.settings.build_dir, default_cache_dir(), Path.home(), Path("/tmp")]
    for path in paths:
        assert any(path.iterdir()), f"{path} should hold the client's files"
        assert daemon.sees(path) in (None, []), f"the remote daemon sees {path} of this machine"
    remote = daemon.api().info()
    local = dockerio.connect().info() if _local_daemon_answers() else {}
    assert remote["DockerRootDir"].startswith(str(daemon.state)) and remote["DockerRootDir"] != local.get("DockerRootDir")
    assert daemon.api().volumes().get("Volumes") in (None, [])  # no task made a volume either


def test_build_made_the_images_on_the_remote_daemon_only(remote_build):
    """The build record names every image of variant 1 that `--images` took (not the SDK image, nor the
    broad samples') with its image ID, as the remote daemon has it; this machine's daemon has none of them."""
    record = remote_build.record
    keys = {i["key"] for i in record["images"]}
    assert {"os", "runtime-deps", "runtime-no-composite", "aspnet-no-composite", "sample-web-no-composite"} <= keys
    assert not keys & {"sdk-no-composite", "sample-broad-no-composite", "sample-service-no-composite"} and not record["not_built"]
    remote = remote_build.daemon.api()
    for image in record["images"]:
        assert image["ref"].startswith(remote_build.settings.image_prefix)
        assert (dockerio.image_info(remote, image["ref"]) or {}).get("Id") == image["image_id"]
    if _local_daemon_answers():
        local = dockerio.connect()
        assert [i["ref"] for i in record["images"] if dockerio.image_info(local, i["ref"])] == []
    assert json.loads(remote_build.lock_file.read_text())  # what another daemon builds the same images from


def test_two_cold_builds_that_share_nothing_are_the_same_images(remote_build, built_images):
    """Reproducible, proven: the suite's build on this machine's daemon and the remote daemon's (its own
    empty data root and containerd, an empty build folder, another image prefix, the lock file of the
    same .NET bits) share nothing but the inputs, and give identical image IDs: the OS base made by
    mmdebstrap twice, runtime-deps installed by apt twice, the samples published twice, every image of
    variant 1 the remote build made."""
    _, _, outcomes = built_images
    here = {k: o.image_id for k, o in outcomes.items() if o.image_id}
    there = remote_build.image_ids()
    common = sorted(set(here) & set(there))
    assert {"os", "runtime-deps", "runtime-no-composite", "aspnet-no-composite", "sample-hello-no-composite",
            "sample-web-no-composite"} <= set(common)
    different = {k: (here[k][7:19], there[k][7:19]) for k in common if here[k] != there[k]}
    assert not different, (f"{len(different)} of {len(common)} images differ: {different}; the first, the OS base if it is one: "
                           + _how_they_differ(dockerio.connect(), remote_build.daemon.api(), here, there,
                                              "os" if "os" in different else sorted(different)[0]))


def _how_they_differ(local, remote, here: dict[str, str], there: dict[str, str], key: str) -> str:
    """What differs between the two images of ``key``: creation time (the epoch), layers, config fields."""
    a, b = local.inspect_image(here[key]), remote.inspect_image(there[key])
    layers = [i for i, (x, y) in enumerate(zip(a["RootFS"]["Layers"], b["RootFS"]["Layers"])) if x != y]
    config = sorted(k for k in set(a["Config"]) | set(b["Config"]) if a["Config"].get(k) != b["Config"].get(k))
    return (f"{key}: created {a['Created']} here, {b['Created']} there; layers {len(a['RootFS']['Layers'])} here, "
            f"{len(b['RootFS']['Layers'])} there, differing at {layers}; config fields differing: {config}")


def test_verify_on_the_remote_daemon(remote_build):
    remote_build.invoke("verify")
    checks = json.loads((remote_build.settings.build_dir / "verify" / "verify.json").read_text())
    assert checks and all(c["passed"] for c in checks)
    verified = {c["image"] for c in checks}
    built = {i["ref"] for i in remote_build.record["images"] if i["key"] not in ("os", "runtime-deps", "crossgen2")}
    assert verified == built
    assert {c["name"] for c in checks} >= {"structure", "conventions"}


def test_inspect_on_the_remote_daemon(remote_build):
    ref = next(i["ref"] for i in remote_build.record["images"] if i["key"] == "runtime-no-composite")
    infos = json.loads(remote_build.invoke("inspect", ref, "--json-out").stdout)
    assert [i for i in infos if i["kind"] == "r2r"] and not [i for i in infos if i["kind"] == "composite"]


def test_report_on_the_remote_daemon(remote_build):
    readme = (ROOT / "README.md").read_text()
    remote_build.invoke("report", "--runs", "1", "--images", "runtime-*,aspnet-*", "--no-registry", "--no-warm-build", "--no-rebuild-check",
                        "--modes", "none", "--extra-runs", "0", "--no-charts", "--no-readme")
    report = json.loads((remote_build.settings.build_dir / "report" / "report.json").read_text())
    assert {i["key"] for i in report["images"]} == {"runtime-deps", "runtime-no-composite", "aspnet-no-composite"}
    summaries = report["startup"]["summaries"]  # containers ran on the remote daemon, console and web samples
    assert summaries and all(x["failed"] == 0 and x["runs"] == 1 for x in summaries)
    assert {x["kind"] for x in summaries} == {"console", "web"}
    assert (ROOT / "README.md").read_text() == readme
    print("remote daemon task times (s):", json.dumps(remote_build.seconds))


def _local_daemon_answers() -> bool:
    try:
        dockerio.connect()
        return True
    except dockerio.DaemonUnreachable:
        return False
