"""Sharing arithmetic on real images, and compressed sizes against a real registry.

Three small images are built from the local OS base image (``debian:trixie-slim``) with tiny COPY
layers of random bytes (new content every run)::

    A = base + x            B = base + y + x            C = A + z

``x`` is the same file in A and B, so its layer has the same DiffID (and, pushed, the same blob
digest) but another ChainID. On disk it is stored twice (rule chain-id), in a pull it is
transferred once (rule blob-digest). The daemon's own disk accounting (``/system/df``) and the
registry's manifests and blobs are the independent references.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import socket
import urllib.request
import uuid

import pytest

from crossgen.images import baseimage
from crossgen import dockerio
from crossgen.report import sizes
from crossgen.publish.registry import LocalRegistry
from tests.pipeline_support import e2e_settings

pytestmark = pytest.mark.docker

PREFIX = "dci-report-test/"
PAYLOAD = {"x": 30_000, "y": 50_000, "z": 70_000}


@pytest.fixture(scope="module")
def api():
    return dockerio.connect()


@pytest.fixture(scope="module")
def payload_dir(tmp_path_factory):
    ctx = tmp_path_factory.mktemp("small-images")
    for name, n in PAYLOAD.items():
        (ctx / name).write_bytes(os.urandom(n))
    return ctx


@pytest.fixture(scope="module")
def small_images(api, payload_dir):
    """{name: ref} of A, B, C built for this module; removed afterwards."""
    settings = e2e_settings()
    base = settings.base_image
    baseimage.ensure_os_image(api, settings)
    ctx = payload_dir
    tag = uuid.uuid4().hex[:10]
    refs = {k: f"{PREFIX}{k.lower()}:{tag}" for k in "ABC"}
    dockerfiles = {
        "A": f"FROM {base}\nCOPY x /x\n",
        "B": f"FROM {base}\nCOPY y /y\nCOPY x /x\n",
        "C": f"FROM {refs['A']}\nCOPY z /z\n",
    }
    try:
        for k in "ABC":
            (ctx / f"Dockerfile.{k}").write_text(dockerfiles[k])
            dockerio.build(api, ctx, refs[k], dockerfile=f"Dockerfile.{k}", labels={dockerio.label("role"): "report-test"})
        yield refs
    finally:
        for k in "CBA":
            try:
                api.remove_image(refs[k], force=True)
            except Exception:
                pass


@pytest.fixture(scope="module")
def measured(api, small_images):
    return {k: sizes.image_sizes(api, ref, k) for k, ref in small_images.items()}


def _unique_bytes(images: dict[str, sizes.ImageSizes], key: str) -> int:
    """What removing ``key`` would free on disk: disk(all) - disk(all but key), rule chain-id."""
    others = [v for k, v in images.items() if k != key]
    return sizes.disk_bytes(images.values()) - sizes.disk_bytes(others)


def test_layer_sizes_come_from_the_daemon(api, measured):
    base = dockerio.image_info(api, e2e_settings().base_image)["Size"]
    assert [l.size for l in measured["A"].layers] == [base, PAYLOAD["x"]]
    assert [l.size for l in measured["B"].layers] == [base, PAYLOAD["y"], PAYLOAD["x"]]
    assert [l.size for l in measured["C"].layers] == [base, PAYLOAD["x"], PAYLOAD["z"]]
    for img in measured.values():
        assert img.size == dockerio.image_info(api, img.ref)["Size"]


def test_same_layer_on_another_chain(measured):
    a, b, c = measured["A"], measured["B"], measured["C"]
    assert a.layers[1].diff_id == b.layers[2].diff_id, "COPY of the same file gave different DiffIDs"
    assert a.layers[1].chain_id != b.layers[2].chain_id
    assert [l.chain_id for l in c.layers[:2]] == [l.chain_id for l in a.layers]


def test_disk_bytes_follow_chain_ids(measured):
    a, b, c = measured["A"], measured["B"], measured["C"]
    base = a.layers[0].size
    assert sizes.disk_bytes([a, b]) == base + PAYLOAD["x"] + PAYLOAD["y"] + PAYLOAD["x"]
    assert sizes.disk_bytes([a, c]) == c.size
    assert sizes.disk_bytes([a, b, c]) == base + PAYLOAD["x"] + PAYLOAD["y"] + PAYLOAD["x"] + PAYLOAD["z"]
    # by content alone x would be counted once: that is not what the daemon does on disk
    assert sizes.pull_uncompressed_bytes([a, b]) == sizes.disk_bytes([a, b]) - PAYLOAD["x"]


def test_disk_bytes_agree_with_the_daemons_accounting(api, small_images, measured):
    """/system/df: Size - SharedSize is what an image holds that no other image on the daemon does."""
    df = {tuple(i.get("RepoTags") or ()): i for i in api.df()["Images"]}
    for k, ref in small_images.items():
        entry = next(v for tags, v in df.items() if ref in tags)
        assert _unique_bytes(measured, k) == entry["Size"] - entry["SharedSize"], k


# --- registry -------------------------------------------------------------------------




@pytest.fixture(scope="module")
def pushed(api, registry, small_images, measured):
    out = {}
    for k, ref in small_images.items():
        out[k] = registry.push(api, ref)
        sizes.attach_registry(measured[k], out[k])
    return out


def _raw_manifest(registry: LocalRegistry, ref: str) -> dict:
    repo, tag = ref.rsplit(":", 1)
    req = urllib.request.Request(f"http://{registry.host}/v2/{repo}/manifests/{tag}",
                                 headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(req, timeout=30) as resp:
        return json.loads(resp.read())


def _raw_blob(registry: LocalRegistry, ref: str, digest: str) -> bytes:
    repo = ref.rsplit(":", 1)[0]
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"http://{registry.host}/v2/{repo}/blobs/{digest}", timeout=60) as resp:
        return resp.read()


@pytest.mark.slow
def test_compressed_sizes_equal_the_registry_manifests(registry, small_images, measured, pushed):
    for k, ref in small_images.items():
        manifest = _raw_manifest(registry, ref)
        img = measured[k]
        assert [(l["digest"], l["size"]) for l in manifest["layers"]] == [(l.blob_digest, l.blob_size) for l in img.layers]
        assert img.compressed == sum(l["size"] for l in manifest["layers"])
        assert (img.config_digest, img.config_size) == (manifest["config"]["digest"], manifest["config"]["size"])
        for layer in img.layers[1:]:  # the small layers: fetch and check the blob itself
            blob = _raw_blob(registry, ref, layer.blob_digest)
            assert len(blob) == layer.blob_size == registry.blob_size(ref.rsplit(":", 1)[0], layer.blob_digest)
            assert "sha256:" + hashlib.sha256(blob).hexdigest() == layer.blob_digest
            assert "sha256:" + hashlib.sha256(gzip.decompress(blob)).hexdigest() == layer.diff_id


@pytest.mark.slow
def test_pull_bytes_count_each_blob_once(registry, small_images, measured, pushed):
    a, b, c = measured["A"], measured["B"], measured["C"]
    assert a.layers[1].blob_digest == b.layers[2].blob_digest  # x: one blob, two chains
    blobs = {}
    for k in "AB":
        m = _raw_manifest(registry, small_images[k])
        for l in m["layers"] + [m["config"]]:
            blobs[l["digest"]] = l["size"]
    assert sizes.pull_bytes([a, b]) == sum(blobs.values())
    assert sizes.pull_bytes([a, b]) == a.compressed + b.compressed - a.layers[0].blob_size - a.layers[1].blob_size + a.config_size + b.config_size
    assert sizes.pull_bytes([a, c]) == c.compressed + a.config_size + c.config_size


@pytest.mark.slow
def test_registry_stops_and_leaves_no_tags(api, tmp_path, small_images):
    reg = LocalRegistry.start(tmp_path / "reg")
    with reg:
        reg.push(api, small_images["A"])
        port = reg.port
    assert reg.process is None
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    tags = [t for i in api.images() for t in (i.get("RepoTags") or [])]
    assert not [t for t in tags if t.startswith(f"127.0.0.1:{port}/")]


def test_layer_entries_tell_how_two_layers_differ(api, payload_dir, measured, tmp_path):
    """x copied again with another mtime: same bytes, another DiffID, and the tar headers say why."""
    a, b = measured["A"], measured["B"]
    x_in_a = sizes.layer_entries(api, a.ref, a.layers[1].diff_id)
    assert [(e.name, e.size) for e in x_in_a] == [("x", PAYLOAD["x"])]
    assert sizes.entry_differences(x_in_a, sizes.layer_entries(api, b.ref, b.layers[2].diff_id))["changed"] == {}
    (tmp_path / "x").write_bytes((payload_dir / "x").read_bytes())
    os.utime(tmp_path / "x", (1_000_000_000, 1_000_000_000))
    (tmp_path / "Dockerfile").write_text(f"FROM {e2e_settings().base_image}\nCOPY x /x\n")
    ref = f"{PREFIX}d:{uuid.uuid4().hex[:10]}"
    try:
        # no build cache: the cache matches COPY sources by content and would hand back A's layer
        for chunk in api.build(path=str(tmp_path), tag=ref, nocache=True, rm=True, decode=True, network_mode="none",
                               labels={dockerio.LABEL_PROJECT: dockerio.PROJECT}):
            assert "error" not in chunk, chunk
        d = sizes.image_sizes(api, ref)
        assert d.layers[1].size == PAYLOAD["x"] and d.layers[1].diff_id != a.layers[1].diff_id
        diff = sizes.entry_differences(x_in_a, sizes.layer_entries(api, ref, d.layers[1].diff_id))
        assert diff["changed"] == {"x": ["mtime"]} and not diff["only_in_first"] and not diff["only_in_second"]
    finally:
        api.remove_image(ref, force=True)


@pytest.mark.slow
def test_garbage_collection_drops_what_no_tag_uses(api, tmp_path, small_images):
    """A tag pushed again with another image: after collect_garbage the old image's own blobs are gone."""
    ref = f"{PREFIX}gc:{uuid.uuid4().hex[:10]}"
    repo, tag = ref.rsplit(":", 1)
    reg = LocalRegistry.start(tmp_path / "reg")
    try:
        api.tag(small_images["B"], repo, tag=tag)
        first = reg.push(api, ref)
        api.tag(small_images["C"], repo, tag=tag)
        second = reg.push(api, ref)
        y_blob = first.layers[1].digest  # only B has y
        assert reg.blob_size(repo, y_blob) == first.layers[1].size
    finally:
        reg.stop()
        api.remove_image(ref, noprune=True)
    assert reg.collect_garbage() >= 2  # B's y layer and B's config
    reg2 = LocalRegistry.start(tmp_path / "reg")
    try:
        assert reg2.describe(repo, tag).layers == second.layers  # what the tag points to is kept
        with pytest.raises(Exception):
            reg2.blob_size(repo, y_blob)
    finally:
        reg2.stop()
