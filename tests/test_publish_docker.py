"""invoke push against real registries (Debian's docker-registry on 127.0.0.1) with small real images.

Four images are built for the module with dockerio, FROM a tiny imported base (a static busybox),
each with its own random COPY layer, under the prefix ``dci-push-test/``. A build folder of the
module's own holds a build record naming them and a verify record as ``invoke verify`` writes it:
``small-a`` and ``small-b`` passed, ``small-c`` has no result, ``small-d`` failed one check. The
manifests are read back independently (urllib, no proxies) and compared with the local images.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
import warnings

import pytest

from crossgen import dockerio, pipeline
from crossgen.publish import push as publish
from crossgen.publish.dockerconfig import credentials_for
from crossgen.publish.registry import LocalRegistry, RegistryAuthError
from crossgen.verify.checks import Check
from tests import tiny_images
from tests.pipeline_support import ROOT, e2e_settings, task_env

pytestmark = pytest.mark.docker

PREFIX = "dci-push-test/"
KEYS = ("small-a", "small-b", "small-c", "small-d")
ACCEPT = "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json"


@pytest.fixture(scope="module")
def api():
    return dockerio.connect()


@pytest.fixture(scope="module")
def images(api, tmp_path_factory):
    """{key: local ref} of the four small images; removed afterwards."""
    work = tmp_path_factory.mktemp("push-images")
    tag = uuid.uuid4().hex[:10]
    base = f"{PREFIX}tiny-base:{tag}"
    (work / "root.tar").write_bytes(tiny_images.rootfs_tar())
    refs = {k: f"{PREFIX}{k}:{tag}" for k in KEYS}
    try:
        dockerio.import_rootfs(api, work / "root.tar", base, [f"LABEL {dockerio.LABEL_PROJECT}={dockerio.PROJECT}"])
        for k, ref in refs.items():
            (work / k).write_bytes(os.urandom(3000))
            (work / f"Dockerfile.{k}").write_text(f"FROM {base}\nCOPY {k} /{k}\n")
            dockerio.build(api, work, ref, dockerfile=f"Dockerfile.{k}", labels={dockerio.label("role"): "push-test"})
        yield refs
    finally:
        tiny_images.remove_images(api, [*refs.values(), base])


@pytest.fixture(scope="module")
def settings(api, images, tmp_path_factory):
    """Settings on a build folder of the module's own: build record and verify record of the images."""
    build = tmp_path_factory.mktemp("push-build")
    s = e2e_settings(image_prefix=PREFIX, build_dir=build)
    ids = {k: dockerio.image_info(api, ref)["Id"] for k, ref in images.items()}
    record = {"images": [{"key": k, "ref": ref, "image_id": ids[k], "size": 0, "seconds": 0.0, "skipped": True, "not_built": ""}
                         for k, ref in images.items()], "not_built": []}
    (build / "build-all.json").write_text(json.dumps(record))
    checks = [Check(images["small-a"], "structure", True, "ok", {"image_id": ids["small-a"]}),
              Check(images["small-b"], "structure", True, "ok", {"image_id": ids["small-b"]}),
              Check(images["small-d"], "structure", True, "ok", {"image_id": ids["small-d"]}),
              Check(images["small-d"], "runs", False, "exit code 1", {"image_id": ids["small-d"]})]
    (build / "verify").mkdir()
    (build / "verify" / "verify.json").write_text(json.dumps([c.to_dict() for c in checks]))
    return s




def _raw_manifest(host: str, path: str, tag: str, auth: tuple[str, str] | None = None) -> tuple[int, bytes, dict]:
    """GET the manifest with urllib (no proxies), independently of the tool's client."""
    req = urllib.request.Request(f"http://{host}/v2/{path}/manifests/{tag}", headers={"Accept": ACCEPT})
    if auth:
        req.add_header("Authorization", "Basic " + base64.b64encode(":".join(auth).encode()).decode())
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=30) as resp:
            return resp.status, resp.read(), dict(resp.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, b"", {}


def _remote_tags(api, host: str) -> list[str]:
    return [t for i in api.images() for t in (i.get("RepoTags") or []) if t.startswith(f"{host}/")]


def _invoke(args: list[str], settings, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "invoke", *args], cwd=ROOT, env=task_env(settings, **env),
                          capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)


def test_push_round_trips_the_digests(api, images, settings, registry):
    target = publish.Target(registry.host, "team/dotnet")
    items, published = pipeline.push_images(api, settings, target, ("small-a", "small-b"))
    assert [p.key for p in published] == ["small-a", "small-b"]
    for p in published:
        path, tag = target.repository(p.ref, PREFIX)
        assert p.remote == f"{registry.host}/team/dotnet/{p.key}:{tag}" and path == f"team/dotnet/{p.key}"
        status, body, headers = _raw_manifest(registry.host, path, tag)
        assert status == 200
        assert p.manifest_digest == "sha256:" + hashlib.sha256(body).hexdigest() == headers["Docker-Content-Digest"]
        assert json.loads(body)["config"]["digest"] == p.image_id == dockerio.image_info(api, p.ref)["Id"]
    record = json.loads((settings.workspace.publish / "push.json").read_text())
    assert [r["manifest_digest"] for r in record["pushed"]] == [p.manifest_digest for p in published]
    assert not _remote_tags(api, registry.host), "the temporary tags were left behind"


def test_a_push_that_fails_part_way_records_what_went_up(api, images, tmp_path, registry):
    """Two verified images; the second disappears from the daemon after the plan: the first is on the
    registry, the push fails, and push.json says so (incomplete, why) and names what went up."""
    tag = uuid.uuid4().hex[:10]
    refs = {k: f"{PREFIX}{k}:{tag}" for k in ("part-1", "part-2")}
    build = tmp_path / "build"
    (build / "verify").mkdir(parents=True)
    try:
        for k, ref in refs.items():
            (tmp_path / k).write_bytes(os.urandom(2000))
            (tmp_path / f"Dockerfile.{k}").write_text(f"FROM {images['small-a']}\nCOPY {k} /{k}\n")
            dockerio.build(api, tmp_path, ref, dockerfile=f"Dockerfile.{k}", labels={dockerio.label("role"): "push-test"})
        ids = {k: dockerio.image_info(api, ref)["Id"] for k, ref in refs.items()}
        (build / "build-all.json").write_text(json.dumps({"images": [
            {"key": k, "ref": ref, "image_id": ids[k], "size": 0, "seconds": 0.0, "skipped": True, "not_built": ""}
            for k, ref in refs.items()], "not_built": []}))
        (build / "verify" / "verify.json").write_text(json.dumps(
            [Check(ref, "structure", True, "ok", {"image_id": ids[k]}).to_dict() for k, ref in refs.items()]))
        s = e2e_settings(image_prefix=PREFIX, build_dir=build)
        target = publish.Target(registry.host, "partial")
        items = publish.plan(api, json.loads((build / "build-all.json").read_text())["images"], target, PREFIX,
                             build / "verify" / "verify.json")
        assert [i.key for i in items if i.accepted] == ["part-1", "part-2"]
        api.remove_image(refs["part-2"], force=True)
        done: list = []
        with pytest.raises(Exception):
            with pipeline._push_record(s, target, 0.0) as record:
                record["pushed"] = done
                publish.publish(api, items, target, attempts=1, backoff=0.0, done=done)
        written = json.loads((s.workspace.publish / "push.json").read_text())
        assert written["incomplete"] and [p["key"] for p in written["pushed"]] == ["part-1"]
        assert _raw_manifest(registry.host, "partial/part-1", tag)[0] == 200
    finally:
        tiny_images.remove_images(api, refs.values())


def test_unverified_and_failed_images_are_refused_unless_forced(images, settings, registry):
    target = f"{registry.host}/cli"
    dry = _invoke(["push", "--registry", target, "--images", "small-a,small-c,small-d", "--dry-run"], settings)
    assert dry.returncode == 0, dry.stderr
    assert "would push 1 of 3" in dry.stderr and "no verify result" in dry.stderr and "failed verify" in dry.stderr
    assert _raw_manifest(registry.host, "cli/small-a", images["small-a"].split(":")[1])[0] == 404  # a dry run pushes nothing

    res = _invoke(["push", "--registry", target, "--images", "small-c,small-d"], settings)
    assert res.returncode == 1, res.stderr
    out = " ".join(res.stderr.split())
    assert "no verify result for it" in out and "failed verify (1 of 2 checks: runs)" in out and "invoke verify" in out
    for k in ("small-c", "small-d"):
        assert _raw_manifest(registry.host, f"cli/{k}", images[k].split(":")[1])[0] == 404, f"{k} was pushed"

    forced = _invoke(["push", "--registry", target, "--images", "small-c", "--force"], settings)
    assert forced.returncode == 0, forced.stderr
    assert "1 pushed" in forced.stderr
    assert _raw_manifest(registry.host, "cli/small-c", images["small-c"].split(":")[1])[0] == 200


@pytest.fixture(scope="module")
def login_registry(tmp_path_factory):
    """A registry that needs a login (htpasswd, bcrypt made with crypt), and DOCKER_CONFIG folders
    with the right and a wrong password."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # Python 3.11 warns that crypt goes in 3.13
        import crypt
    root = tmp_path_factory.mktemp("login-registry")
    salt = crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)  # the cheapest cost: every request checks it
    (root / "htpasswd").write_text(f"alice:{crypt.crypt('right-pw', salt)}\n")
    reg = LocalRegistry.start(root, htpasswd=root / "htpasswd")
    configs = {}
    for name, pw in (("right", "right-pw"), ("wrong", "wrong-pw")):
        folder = root / f"docker-{name}"
        folder.mkdir()
        auth = base64.b64encode(f"alice:{pw}".encode()).decode()
        (folder / "config.json").write_text(json.dumps({"auths": {reg.host: {"auth": auth}}}))
        configs[name] = folder
    try:
        yield reg, configs
    finally:
        reg.stop()


def test_push_with_a_login_from_the_docker_config(images, settings, login_registry):
    reg, configs = login_registry
    res = _invoke(["push", "--registry", f"{reg.host}/private", "--images", "small-b"], settings, DOCKER_CONFIG=str(configs["right"]))
    assert res.returncode == 0, res.stderr
    tag = images["small-b"].split(":")[1]
    assert _raw_manifest(reg.host, "private/small-b", tag)[0] == 401
    status, body, _ = _raw_manifest(reg.host, "private/small-b", tag, auth=("alice", "right-pw"))
    assert status == 200 and "sha256:" + hashlib.sha256(body).hexdigest() in res.stderr.replace("\n", "")


def test_a_wrong_password_is_a_typed_error_naming_docker_login(api, images, settings, login_registry):
    reg, configs = login_registry
    target = publish.Target(reg.host, "private")
    items = publish.plan(api, [{"key": "small-a", "ref": images["small-a"]}], target, PREFIX, settings.workspace.verify / "verify.json")
    for config in (configs["wrong"] / "config.json", configs["wrong"] / "absent.json"):
        with pytest.raises(RegistryAuthError) as err:
            publish.publish(api, items, target, config_path=config, backoff=0.01)
        assert reg.host in err.value.what and f"docker login {reg.host}" in err.value.fix
    assert _raw_manifest(reg.host, "private/small-a", images["small-a"].split(":")[1], auth=("alice", "right-pw"))[0] == 404
    # the readback alone: the registry refuses the wrong password over HTTP too
    client = publish.client_for(api, target, credentials_for(reg.host, path=configs["wrong"] / "config.json"), attempts=1)
    with pytest.raises(RegistryAuthError) as err:
        client.manifest("private/small-a", "x")
    client.close()
    assert "alice" in err.value.cause and "401" in err.value.cause
    res = _invoke(["push", "--registry", reg.host, "--images", "small-a"], settings, DOCKER_CONFIG=str(configs["wrong"]))
    assert res.returncode == 1 and f"docker login {reg.host}" in res.stderr.replace("\n", "")


def test_a_registry_that_comes_up_late_is_retried(api, images, settings, tmp_path):
    """The first push meets no registry (connection refused); the registry starts during the back-off
    and the next attempt succeeds."""
    port = dockerio.free_port()
    target = publish.Target(f"127.0.0.1:{port}", "late")
    items = publish.plan(api, [{"key": "small-a", "ref": images["small-a"]}], target, PREFIX, settings.workspace.verify / "verify.json")
    started: list[LocalRegistry] = []
    lines: list[str] = []

    def log(line: str) -> None:
        lines.append(line)
        if "retrying" in line and not started:
            started.append(LocalRegistry.start(tmp_path / "late", port=port))

    try:
        published = publish.publish(api, items, target, log=log, backoff=0.2)
    finally:
        for reg in started:
            reg.stop()
    assert started, "the first attempt did not fail"
    assert published[0].attempts == 2 and "connection refused" in " ".join(lines)
    assert published[0].manifest_digest.startswith("sha256:")


# --- multi-arch: x64 and arm64 under one tag (an OCI image index) ---------------------------------------

MA_KEYS = ("multi-a", "multi-b")   # multi-a: verified on both architectures; multi-b: on x64 only
INDEX = "application/vnd.oci.image.index.v1+json"


@pytest.fixture(scope="module")
def multiarch_settings(api, tmp_path_factory):
    """Two keys built for x64 and for arm64 (tiny images; the arm64 ones rewritten by the reproducible
    normalization to say linux/arm64, tagged ``...-arm64v8`` as the catalog names them), with the
    build and verify records each architecture's build-all and verify write, in a build folder of
    the module's own: multi-a passed verify on both, multi-b only on x64."""
    from crossgen.dockerio import reproducible
    from crossgen.images.catalog import ARCHES

    x64, arm64 = ARCHES
    work = tmp_path_factory.mktemp("multiarch-images")
    build = tmp_path_factory.mktemp("multiarch-build")
    tag = uuid.uuid4().hex[:10]
    base = f"{PREFIX}tiny-base-ma:{tag}"
    (work / "root.tar").write_bytes(tiny_images.rootfs_tar())
    refs = {a.name: {k: a.ref(f"{PREFIX}{k}:{tag}") for k in MA_KEYS} for a in ARCHES}
    try:
        dockerio.import_rootfs(api, work / "root.tar", base, [f"LABEL {dockerio.LABEL_PROJECT}={dockerio.PROJECT}"])
        base_id = dockerio.image_info(api, base)["Id"]
        ids: dict[str, dict[str, str]] = {}
        for a in ARCHES:
            for k, ref in refs[a.name].items():
                (work / k).write_bytes(os.urandom(3000))
                (work / f"Dockerfile.{k}").write_text(f"FROM {base}\nCOPY {k} /{k}\n")
                built = dockerio.build(api, work, ref, dockerfile=f"Dockerfile.{k}", labels={dockerio.label("role"): "push-test"})
                if a is arm64:
                    built = reproducible.normalize(api, built, ref, base_id=base_id, epoch=1_700_000_000, tmp=work / "tmp",
                                                   platform=a.platform)
                ids.setdefault(a.name, {})[k] = built
        settings = e2e_settings(image_prefix=PREFIX, build_dir=build)
        verified = {"x64": MA_KEYS, "arm64": ("multi-a",)}
        for a in ARCHES:
            work_a = settings.with_overrides(rid=f"linux-{a.name}").workspace
            record = {"images": [{"key": k, "ref": ref, "image_id": ids[a.name][k], "size": 0, "seconds": 0.0, "skipped": True,
                                  "not_built": ""} for k, ref in refs[a.name].items()], "not_built": []}
            work_a.build_record.write_text(json.dumps(record))
            checks = [Check(refs[a.name][k], "structure", True, "ok", {"image_id": ids[a.name][k]}) for k in verified[a.name]]
            work_a.verify.mkdir()
            (work_a.verify / "verify.json").write_text(json.dumps([c.to_dict() for c in checks]))
        yield settings, refs, ids
    finally:
        tiny_images.remove_images(api, [*refs["x64"].values(), *refs["arm64"].values(), base])


def _raw_index(host: str, path: str, tag: str) -> tuple[int, bytes, dict]:
    """GET the plain tag asking for an OCI image index only (urllib, no proxies)."""
    req = urllib.request.Request(f"http://{host}/v2/{path}/manifests/{tag}", headers={"Accept": INDEX})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(req, timeout=30) as resp:
        return resp.status, resp.read(), dict(resp.headers)


def test_multi_arch_push_puts_an_oci_index_of_both_architectures(api, multiarch_settings, registry):
    settings, refs, ids = multiarch_settings
    assert settings.workspace.build_record.name == "build-all.json"  # the x64 workspace, the arm64 one beside it
    target = publish.Target(registry.host, "ma")
    indexes, done = pipeline.push_multiarch(api, settings, target, ("multi-a",))
    assert [i.key for i in indexes] == ["multi-a"] and [d.key for d in done] == ["multi-a"]
    tag = refs["x64"]["multi-a"].split(":")[1]
    status, body, headers = _raw_index(registry.host, "ma/multi-a", tag)
    assert status == 200 and headers["Content-Type"] == INDEX
    doc = json.loads(body)
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    assert doc["mediaType"] == INDEX and digest == headers["Docker-Content-Digest"] == done[0].digest
    assert len(doc["manifests"]) == 2
    assert [(m["platform"]["os"], m["platform"]["architecture"]) for m in doc["manifests"]] == [("linux", "amd64"), ("linux", "arm64")]
    for entry, (suffix, arch) in zip(doc["manifests"], (("amd64", "x64"), ("arm64v8", "arm64"))):
        child_status, child, child_headers = _raw_manifest(registry.host, "ma/multi-a", f"{tag}-{suffix}")
        assert child_status == 200
        assert entry["digest"] == "sha256:" + hashlib.sha256(child).hexdigest() == child_headers["Docker-Content-Digest"]
        assert entry["size"] == len(child) and entry["mediaType"] == json.loads(child)["mediaType"]
        config_digest = json.loads(child)["config"]["digest"]
        assert config_digest == ids[arch]["multi-a"]
        with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(
                f"http://{registry.host}/v2/ma/multi-a/blobs/{config_digest}", timeout=30) as resp:
            config = json.loads(resp.read())
        assert config["architecture"] == entry["platform"]["architecture"] == ("arm64" if arch == "arm64" else "amd64")
    record = json.loads((settings.workspace.publish / "push.json").read_text())
    assert record["multi_arch"] and record["indexes"][0]["digest"] == digest
    assert [m["digest"] for m in record["indexes"][0]["manifests"]] == [m["digest"] for m in doc["manifests"]]
    assert not _remote_tags(api, registry.host), "the temporary tags were left behind"


def test_a_key_verified_on_x64_only_is_refused_from_the_index(api, multiarch_settings, registry):
    settings, refs, _ = multiarch_settings
    target = f"{registry.host}/ma-cli"
    dry = _invoke(["push", "--registry", target, "--multi-arch", "--dry-run"], settings)
    assert dry.returncode == 0, dry.stderr
    out = " ".join(dry.stderr.split())
    assert "would push 1 of 2 images multi-arch" in out and "verified on x64 only" in out and "no verify result" in out
    tag = refs["x64"]["multi-a"].split(":")[1]
    assert _raw_manifest(registry.host, "ma-cli/multi-a", f"{tag}-amd64")[0] == 404  # a dry run pushes nothing

    res = _invoke(["push", "--registry", target, "--multi-arch", "--images", "multi-*"], settings)
    assert res.returncode == 1, res.stderr
    out = " ".join(res.stderr.split())
    assert "multi-b: refused from the index: verified on x64 only: arm64: no verify result for it" in out
    for suffix in ("", "-amd64", "-arm64v8"):
        assert _raw_manifest(registry.host, "ma-cli/multi-b", tag + suffix)[0] == 404, f"multi-b{suffix} was pushed"
    assert _raw_index(registry.host, "ma-cli/multi-a", tag)[0] == 200
    record = json.loads((settings.workspace.publish / "push.json").read_text())
    assert [r["key"] for r in record["refused"]] == ["multi-b"] and "arm64: no verify result" in record["refused"][0]["why"]
    assert record["refused"][0]["pushed"].startswith("nothing")


def test_a_registry_refusing_an_index_is_a_typed_error_with_its_words(api, registry, login_registry):
    """An index naming a manifest the repository does not hold: the registry's refusal (400,
    MANIFEST_BLOB_UNKNOWN), raised as ManifestRefused; the PUT logs in like the reads (Basic)."""
    from crossgen.publish.dockerconfig import Credentials
    from crossgen.publish.registry import OCI_INDEX, ManifestRefused

    absent = {"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "digest": "sha256:" + "e" * 64, "size": 2,
              "platform": {"architecture": "arm64", "os": "linux"}}
    body = publish.index_document([absent])
    reg, configs = login_registry
    for host, creds in ((registry.host, None), (reg.host, Credentials("alice", "right-pw", "test"))):
        client = publish.client_for(api, publish.Target(host), creds, attempts=1)
        try:
            with pytest.raises(ManifestRefused) as err:
                client.put_manifest("ma/none", "t", body, OCI_INDEX)
        finally:
            client.close()
        assert "ma/none:t" in err.value.what and host in err.value.what
        assert "HTTP 400" in err.value.cause and "MANIFEST_BLOB_UNKNOWN" in err.value.cause and err.value.fix
    client = publish.client_for(api, publish.Target(reg.host), Credentials("alice", "wrong-pw", "test"), attempts=1)
    with pytest.raises(RegistryAuthError):
        client.put_manifest("ma/none", "t", body, OCI_INDEX)
    client.close()
