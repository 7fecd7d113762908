"""Real pulls onto a private containerd from a real local registry, counted by the proxy (tiny images,
built through the real daemon both ways): what sharing identical layers saves, measured."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from crossgen.core.settings import Settings
from crossgen.dockerio import containerd
from crossgen.dockerio.imagebuild import ImageSpec, build_image
from crossgen.images.catalog import PullScenario
from crossgen.report import pulls
from tests import tiny_images

pytestmark = pytest.mark.docker

PREFIX = "dci-pulls-test/"
EPOCH = 1_793_304_112
PAYLOAD = random.Random(20201).randbytes(400_000)   # incompressible: its blob is about its size
DOCKERFILE = "FROM {base}\nCOPY dotnet/ /usr/share/dotnet/\n"


def _stage(context: Path) -> None:
    (context / "dotnet/shared").mkdir(parents=True)
    (context / "dotnet/shared/System.Private.CoreLib.dll").write_bytes(PAYLOAD)


def _spec(name: str, base: str, epoch: int | None) -> ImageSpec:
    return ImageSpec(key=name, ref=f"{PREFIX}{name}:{'repro' if epoch else 'classic'}", dockerfile=DOCKERFILE.format(base=base),
                     base=base, inputs={"payload": len(PAYLOAD)}, stage=_stage, epoch=epoch)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The same files COPYed onto two different bases, built reproducibly and the classic way (at
    different times, as two builds are): ``{"before": {key: ref}, "after": {key: ref}}``."""
    from crossgen import dockerio

    api = dockerio.connect()
    tmp = tmp_path_factory.mktemp("contexts")
    bases = [tiny_images.make_image(api, "pulls-base-a"), tiny_images.make_image(api, "pulls-base-b", files={"etc/other": "b"})]
    refs = []
    try:
        sets: dict[str, dict[str, str]] = {"before": {}, "after": {}}
        for name, base in zip(("on-a", "on-b"), bases):
            out = build_image(api, _spec(name, base, EPOCH), tmp, force=True)
            sets["after"][name] = out.ref
            refs.append(out.ref)
        for name, base in zip(("on-a", "on-b"), bases):
            out = build_image(api, _spec(name, base, None), tmp, force=True)
            sets["before"][name] = out.ref
            refs.append(out.ref)
            time.sleep(1.1)   # the next classic build a second later: other directory times
        yield api, sets
    finally:
        tiny_images.remove_images(api, [*refs, *bases])


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(project_root=tmp_path, build_dir=tmp_path / "build")


def test_identical_layers_are_transferred_once_only_when_reproducible(built, settings):
    api, sets = built
    node_has_a = PullScenario("a-then-b", "a node with on-a pulls on-b", 0, ("on-a",), ("on-b",))
    section = pulls.measure(api, settings, sets["before"], sets["after"], [node_has_a])
    row = section["scenarios"][0]
    for name in pulls.SETS:
        pushed = section["registry_storage"][name]["pushed"]
        a, b = pushed["on-a"], pushed["on-b"]
        got = row[name]
        # the real transfer is what the blob-digest rule says: b's manifest and the blobs a did not bring
        new = {d: s for d, s in [b["config"], *b["layers"]] if d not in {d for d, _ in [a["config"], *a["layers"]]}}
        assert got["blob_digests"] == sorted(new)
        assert got["blob_bytes"] == sum(new.values())
        assert got["manifest_bytes"] == b["manifest"][1]
        assert got["bytes_transferred"] == got["bytes_by_digest_rule"] == b["manifest"][1] + sum(new.values())
        assert got["bytes_if_nothing_shared"] == b["manifest"][1] + b["config"][1] + sum(s for _, s in b["layers"])
        # the registry stores each distinct blob once (manifests are blobs there too)
        stored = {d: s for p in (a, b) for d, s in [p["manifest"], p["config"], *p["layers"]]}
        assert section["registry_storage"][name]["blob_bytes"] == sum(stored.values())
        assert section["registry_storage"][name]["blobs"] == len(stored)
    before, after = row["before"], row["after"]
    copy_after = section["registry_storage"]["after"]["pushed"]["on-b"]["layers"][-1]
    copy_before = section["registry_storage"]["before"]["pushed"]["on-b"]["layers"][-1]
    # reproducible: the COPY layer of on-b is on-a's blob, already on the node; classic: a blob of its own
    assert copy_after == section["registry_storage"]["after"]["pushed"]["on-a"]["layers"][-1]
    assert copy_after[0] not in after["blob_digests"] and copy_before[0] in before["blob_digests"]
    assert before["blobs_transferred"] == after["blobs_transferred"] + 1
    assert row["saved_bytes"] > len(PAYLOAD) * 0.9
    assert section["registry_storage"]["saved_bytes"] > len(PAYLOAD) * 0.9
    assert list((settings.workspace.tmp).iterdir()) == []   # registries and their storage removed
    _rendered(section, settings.project_root)


def _rendered(section: dict, folder: Path) -> None:
    """The measured figures, and only they, in report.md and in the README block."""
    from crossgen.report import render
    from tests.test_report_unit import synthetic_report

    r = synthetic_report()
    r["pulls"] = section
    row, before, after = section["scenarios"][0], section["scenarios"][0]["before"], section["scenarios"][0]["after"]
    line = (f"| {row['title']} | on-a | on-b | {before['bytes_transferred'] / 1e6:.1f} ({before['blobs_transferred']}) | "
            f"{after['bytes_transferred'] / 1e6:.1f} ({after['blobs_transferred']}) | {row['saved_bytes'] / 1e6:.1f} |")
    md = render.markdown(r)
    assert "## Pulls onto a node" in md and line in md
    assert "equal the blob-digest rule's prediction in every scenario" in md
    readme = folder / "README.md"
    readme.write_text(f"{render.README_BEGIN}\n{render.README_END}\n")
    assert render.update_readme(readme, r) and line in readme.read_text()


def test_nothing_pulled_in_one_scenario_is_reused_by_the_next(built, settings):
    api, sets = built
    same = [PullScenario(f"a-{i}", "an empty node pulls on-a", 0, (), ("on-a",)) for i in (1, 2)]
    section = pulls.measure(api, settings, sets["after"], sets["after"], same)
    first, second = (r["after"] for r in section["scenarios"])
    assert first["bytes_transferred"] == second["bytes_transferred"] == first["bytes_if_nothing_shared"]
    assert first["blob_digests"] == second["blob_digests"] and len(first["blob_digests"]) == 3   # config, base, COPY


def test_one_node_isolates_its_namespaces_and_leaves_nothing_behind(built, tmp_path):
    """Within one private containerd, a blob pulled into one namespace is fetched again for another
    (content_sharing_policy isolated); the daemon and its folder are gone after the block."""
    from crossgen.dockerio.countingproxy import CountingProxy
    from crossgen.publish.registry import LocalRegistry

    api, sets = built
    with LocalRegistry.start(tmp_path / "registry", fresh=True) as reg, CountingProxy.start(reg.port) as proxy:
        pushed = reg.push(api, sets["after"]["on-a"])
        ref = f"{proxy.host}/{pushed.repository}:{pushed.tag}"
        with containerd.Containerd.start() as node:
            node.pull(ref, namespace="one")
            first = pulls.counted(proxy.take())
            node.pull(ref, namespace="two")
            second = pulls.counted(proxy.take())
            node.pull(ref, namespace="two")
            third = pulls.counted(proxy.take())
            assert node.images(namespace="two") == [ref]
            folder, process = node.folder, node.process
        assert first["blob_bytes"] == second["blob_bytes"] == pushed.compressed_bytes + pushed.config.size
        assert third["blob_bytes"] == 0     # the same namespace holds it: nothing fetched
    assert not folder.exists() and process.poll() is not None


def test_pulls_only_from_loopback():
    with pytest.raises(containerd.ContainerdError, match="127.0.0.1"):
        containerd._loopback_only("registry.example:5000/x:y")


def test_a_failed_pull_names_the_image_and_the_node_is_removed_on_errors():
    from crossgen import dockerio

    port = dockerio.free_port()   # nothing listens there
    with pytest.raises(RuntimeError):
        with containerd.Containerd.start() as node:
            folder = node.folder
            with pytest.raises(containerd.ContainerdError, match=f"127.0.0.1:{port}/nothing:here") as err:
                node.pull(f"127.0.0.1:{port}/nothing:here", timeout=60)
            assert err.value.fix
            raise RuntimeError("an error inside the block")
    assert not folder.exists()
