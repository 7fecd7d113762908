"""invoke push without Docker: the registry target and the names it gives, credentials from a Docker
configuration, the verify gate, how the daemon's push errors are told apart, and the Bearer token
flow of the registry client against a scripted HTTP server on 127.0.0.1."""

from __future__ import annotations

import base64
import json

import pytest

from crossgen import inputs
from crossgen.core.errors import DciError
from crossgen.publish import push as publish
from crossgen.publish.dockerconfig import CredentialsUnsupported, credentials_for
from crossgen.publish.registry import MANIFEST_V2, RegistryAuthError, RegistryClient, is_loopback, parse_challenge
from crossgen.verify.checks import Check

PREFIX = "dotnet-composite/"


# --- the target and the names ----------------------------------------------------------------------

@pytest.mark.parametrize("text, host, prefix", [
    ("registry.example.com:5000/dotnet", "registry.example.com:5000", "dotnet"),
    ("127.0.0.1:5000", "127.0.0.1:5000", ""),
    ("localhost:5000/a/b-c/", "localhost:5000", "a/b-c"),
    ("ghcr.io/team", "ghcr.io", "team"),
    ("[::1]:5000/x", "[::1]:5000", "x"),
])
def test_registry_targets_parse(text, host, prefix):
    t = inputs.registry_target("--registry", text)
    assert (t.host, t.prefix) == (host, prefix)


@pytest.mark.parametrize("text, says", [
    ("https://registry.example.com", "scheme"),
    ("registry.example.com/Upper", "repository path component"),
    ("registry.example.com:99999", "out of range"),
    ("bad host/x", "not a registry host"),
    ("", "missing"),
])
def test_bad_registry_targets_are_refused_naming_the_flag(text, says):
    with pytest.raises(DciError) as err:
        inputs.registry_target("--registry", text)
    assert err.value.what.startswith("--registry") and says in err.value.cause and err.value.fix


def test_names_replace_the_image_prefix_by_the_target():
    t = publish.Target("127.0.0.1:5000", "team/dotnet")
    assert t.remote(f"{PREFIX}runtime:10.0-trixie-slim-composite", PREFIX) == "127.0.0.1:5000/team/dotnet/runtime:10.0-trixie-slim-composite"
    assert t.remote("debian:trixie-slim", PREFIX) == "127.0.0.1:5000/team/dotnet/debian:trixie-slim"  # no prefix: kept whole
    assert t.remote("other.example.com:443/x/y:1", PREFIX) == "127.0.0.1:5000/team/dotnet/x/y:1"  # another registry's host dropped
    assert publish.Target("h.example").remote(f"{PREFIX}sample-web:10.0", PREFIX) == "h.example/sample-web:10.0"


def test_image_selection_by_key_pattern_and_reference():
    images = [{"key": k, "ref": f"{PREFIX}{k}:t"} for k in ("os", "runtime-deps", "crossgen2", "runtime", "aspnet-composite", "sample-web")]
    keys = lambda got: [i["key"] for i in got]  # noqa: E731
    assert keys(publish.select(images, (), PREFIX)) == ["runtime", "aspnet-composite", "sample-web"]
    assert keys(publish.select(images, ("sample-*", f"{PREFIX}runtime:t", "aspnet-composite:t"), PREFIX)) == ["runtime", "aspnet-composite", "sample-web"]
    assert keys(publish.select(images, ("runtime-deps",), PREFIX)) == ["runtime-deps"]
    with pytest.raises(DciError) as err:
        publish.select(images, ("nothing-*",), PREFIX)
    assert "names no image" in err.value.cause and "runtime" in err.value.fix
    with pytest.raises(DciError):
        inputs.image_selection("--images", "runtime,Not A Name")


# --- credentials -----------------------------------------------------------------------------------

def _config(tmp_path, doc) -> object:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(doc))
    return path


def _auth(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def test_credentials_come_from_auths_as_the_docker_cli_reads_them(tmp_path):
    path = _config(tmp_path, {"auths": {"127.0.0.1:5000": {"auth": _auth("alice", "s:cret")},
                                        "https://registry.example.com/v1/": {"auth": _auth("bob", "pw")}}})
    alice = credentials_for("127.0.0.1:5000", path=path)
    assert (alice.username, alice.password) == ("alice", "s:cret")  # split at the first colon only
    assert credentials_for("registry.example.com", path=path).username == "bob"  # a URL key counts for its host
    assert credentials_for("127.0.0.1:5001", path=path) is None
    assert credentials_for("x", path=tmp_path / "absent.json") is None
    assert "s:cret" not in repr(alice)


def test_docker_config_env_names_the_folder(tmp_path, monkeypatch):
    from crossgen.publish.dockerconfig import config_path

    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    assert config_path() == tmp_path / "config.json"


def test_credential_helpers_are_named_as_not_supported(tmp_path):
    path = _config(tmp_path, {"credHelpers": {"registry.example.com": "ecr-login"}, "credsStore": "pass",
                              "auths": {"stored.example.com": {}, "plain.example.com": {"auth": _auth("u", "p")}}})
    with pytest.raises(CredentialsUnsupported) as err:
        credentials_for("registry.example.com", path=path)
    assert "docker-credential-ecr-login" in err.value.cause and "docker login registry.example.com" in err.value.fix
    with pytest.raises(CredentialsUnsupported) as err:
        credentials_for("stored.example.com", path=path)
    assert "docker-credential-pass" in err.value.cause
    assert credentials_for("plain.example.com", path=path).username == "u"
    assert credentials_for("elsewhere.example.com", path=path) is None  # never logged in: anonymous


def test_broken_docker_configs_name_the_file_and_the_fix(tmp_path):
    path = tmp_path / "config.json"
    path.write_text("{not json")
    with pytest.raises(DciError) as err:
        credentials_for("h.example", path=path)
    assert str(path) in err.value.what and "docker login" in err.value.fix
    path.write_text(json.dumps({"auths": {"h.example": {"auth": "bm9jb2xvbg=="}}}))  # "nocolon"
    with pytest.raises(DciError) as err:
        credentials_for("h.example", path=path)
    assert "user:password" in err.value.cause


# --- the verify gate ---------------------------------------------------------------------------------

def _checks(ref: str, image_id: str | None, *passed: bool) -> list[dict]:
    return [Check(ref, f"check-{n}", ok, "detail", {"image_id": image_id} if image_id else {}).to_dict() for n, ok in enumerate(passed)]


def test_the_gate_lets_through_only_images_verified_as_they_are(tmp_path):
    record = tmp_path / "verify.json"
    ref, me = "p/runtime:t", "sha256:" + "a" * 64
    results = {ref: _checks(ref, me, True, True)}
    assert publish.gate(ref, me, results, record) == ("", "")
    cases = {
        "no verify result (": publish.gate(ref, me, None, record),
        "no verify result for it": publish.gate(ref, me, {}, record),
        "built again since": publish.gate(ref, "sha256:" + "b" * 64, results, record),
        "does not say which image": publish.gate(ref, me, {ref: _checks(ref, None, True)}, record),
        "failed verify (1 of 2 checks: check-1)": publish.gate(ref, me, {ref: _checks(ref, me, True, False)}, record),
    }
    for says, (why, fix) in cases.items():
        assert says in why, why
        assert "invoke verify" in fix and "--force" in fix


def test_verify_results_are_read_per_image(tmp_path):
    path = tmp_path / "verify.json"
    path.write_text(json.dumps(_checks("a:1", "sha256:1", True) + _checks("b:1", "sha256:2", False)))
    got = publish.read_verify_results(path)
    assert set(got) == {"a:1", "b:1"} and got["b:1"][0]["passed"] is False
    assert publish.read_verify_results(tmp_path / "none.json") is None


# --- the daemon's push errors ---------------------------------------------------------------------------

@pytest.mark.parametrize("message, kind", [
    ("no basic auth credentials", "auth"),                                    # seen from Docker 20.10
    ("unauthorized: authentication required", "auth"),                       # seen from Docker 20.10
    ("denied: requested access to the resource is denied", "auth"),
    ('Get "http://127.0.0.1:1/v2/": dial tcp 127.0.0.1:1: connect: connection refused', "transient"),  # seen
    ("received unexpected HTTP status: 503 Service Unavailable", "transient"),
    ("received unexpected HTTP status: 502 Bad Gateway", "transient"),
    ("read tcp 127.0.0.1:1->127.0.0.1:2: read: connection reset by peer", "transient"),
    ("net/http: TLS handshake timeout", "transient"),
    ("name invalid: invalid repository name", "request"),
    ("manifest invalid: manifest invalid", "request"),
    ("received unexpected HTTP status: 413 Request Entity Too Large", "request"),
    ("received unexpected HTTP status: 429 Too Many Requests", "transient"),
])
def test_push_failures_are_told_apart(message, kind):
    assert publish.failure_kind(message) == kind


# --- the registry client -----------------------------------------------------------------------------------

def test_challenges_parse():
    scheme, params = parse_challenge('Bearer realm="http://127.0.0.1:1/token",service="reg",scope="repository:a/b:pull,push"')
    assert scheme == "bearer" and params == {"realm": "http://127.0.0.1:1/token", "service": "reg", "scope": "repository:a/b:pull,push"}
    assert parse_challenge('Basic realm="x"')[0] == "basic"
    assert is_loopback("127.0.0.1:5000") and is_loopback("localhost:5000") and is_loopback("[::1]:5000")
    assert not is_loopback("registry.example.com:5000")


MANIFEST = json.dumps({"schemaVersion": 2, "mediaType": MANIFEST_V2,
                       "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 2, "digest": "sha256:" + "c" * 64},
                       "layers": []}).encode()


def test_bearer_challenges_are_answered_with_a_token_fetched_with_the_login(http_server):
    from crossgen.publish.dockerconfig import Credentials

    R = http_server.Reply
    host = http_server.base_url.removeprefix("http://")
    challenge = f'Bearer realm="{http_server.base_url}/token",service="test-registry",scope="repository:team/app:pull"'
    http_server.route("/v2/team/app/manifests/1", R(401, b"{}", (("WWW-Authenticate", challenge),)),
                      R(200, MANIFEST, (("Content-Type", MANIFEST_V2),)))
    token_path = "/token?service=test-registry&scope=repository%3Ateam%2Fapp%3Apull"
    http_server.route(token_path, R.json({"token": "t0ken"}))
    client = RegistryClient(host, scheme="http", credentials=Credentials("alice", "pw", "test"), attempts=1)
    try:
        m = client.manifest("team/app", "1")
    finally:
        client.close()
    assert m.config_digest == "sha256:" + "c" * 64 and m.digest.startswith("sha256:")
    token_request = [r for r in http_server.seen if r.path == token_path][0]
    assert token_request.headers["authorization"] == "Basic " + _auth("alice", "pw")
    last = [r for r in http_server.seen if r.path == "/v2/team/app/manifests/1"][-1]
    assert last.headers["authorization"] == "Bearer t0ken"
    assert MANIFEST_V2 in last.headers["accept"] and "application/vnd.oci.image.manifest.v1+json" in last.headers["accept"]


def test_a_token_service_refusing_the_login_is_a_typed_error(http_server):
    from crossgen.publish.dockerconfig import Credentials

    R = http_server.Reply
    host = http_server.base_url.removeprefix("http://")
    challenge = f'Bearer realm="{http_server.base_url}/token",service="s"'
    http_server.route("/v2/a/manifests/1", R(401, b"{}", (("WWW-Authenticate", challenge),)))
    http_server.route("/token?service=s", R.error(401))
    client = RegistryClient(host, scheme="http", credentials=Credentials("alice", "wrong", "cfg.json"), attempts=1)
    with pytest.raises(RegistryAuthError) as err:
        client.manifest("a", "1")
    client.close()
    assert host in err.value.what and f"docker login {host}" in err.value.fix and "alice" in err.value.cause


# --- multi-arch: which keys go into an index, under which tags -------------------------------------------

def _arch_records(tmp_path, built: dict[str, list[str] | None], verified: dict[str, list[str]]):
    """ArchRecords as each architecture's build-all and verify write them (refs tagged as the catalog
    names each architecture's images), and the ``docker inspect`` of each image."""
    from crossgen.images.catalog import ARCHES

    records, inspect = [], {}
    for a in ARCHES:
        folder = tmp_path / a.name
        folder.mkdir()
        keys = built[a.name]
        images = None if keys is None else [{"key": k, "ref": a.ref(f"{PREFIX}{k}:10.0-trixie-slim")} for k in keys]
        checks = []
        for img in images or []:
            image_id = f"sha256:{a.name}-{img['key']}"
            inspect[img["ref"]] = {"Id": image_id, "Os": "linux", "Architecture": a.platform.split("/")[1]}
            if img["key"] in verified[a.name]:
                checks += _checks(img["ref"], image_id, True)
        (folder / "verify.json").write_text(json.dumps(checks))
        records.append(publish.ArchRecord(a, images, folder / "build-all.json", folder / "verify.json"))
    return records, inspect


def test_multi_arch_plan_pairs_the_architectures_under_official_tags(tmp_path):
    both = ["runtime", "aspnet-composite"]
    records, inspect = _arch_records(tmp_path, {"x64": both, "arm64": both}, {"x64": both, "arm64": both})
    plan = publish.plan_multiarch(records, (), publish.Target("r.example", "dotnet"), PREFIX, inspect.get)
    assert [i.key for i in plan] == both and all(i.accepted for i in plan)
    runtime = plan[0]
    assert runtime.remote == "r.example/dotnet/runtime:10.0-trixie-slim"
    assert [(a.name, c.ref, c.remote) for a, c in runtime.children] == [
        ("x64", f"{PREFIX}runtime:10.0-trixie-slim", "r.example/dotnet/runtime:10.0-trixie-slim-amd64"),
        ("arm64", f"{PREFIX}runtime:10.0-trixie-slim-arm64v8", "r.example/dotnet/runtime:10.0-trixie-slim-arm64v8"),
    ]
    assert [c.image_id for _, c in runtime.children] == ["sha256:x64-runtime", "sha256:arm64-runtime"]
    assert (runtime.repository, runtime.tag) == ("dotnet/runtime", "10.0-trixie-slim")
    # --images selects keys (or either architecture's reference); both architectures follow
    assert [i.key for i in publish.plan_multiarch(records, (f"{PREFIX}aspnet-composite:10.0-trixie-slim-arm64v8",),
                                                  publish.Target("r.example"), PREFIX, inspect.get)] == ["aspnet-composite"]


def test_multi_arch_plan_refuses_keys_not_verified_on_both_with_the_reason(tmp_path):
    records, inspect = _arch_records(tmp_path, {"x64": ["runtime", "aspnet", "sdk", "sample-web"], "arm64": ["runtime", "aspnet", "sample-web", "arm-only"]},
                                     {"x64": ["runtime", "aspnet", "sdk", "sample-web"], "arm64": ["runtime", "sample-web", "arm-only"]})
    wrong = f"{PREFIX}sample-web:10.0-trixie-slim-arm64v8"
    inspect[wrong] = {**inspect[wrong], "Architecture": "amd64"}  # built without the platform rewrite
    plan = {i.key: i for i in publish.plan_multiarch(records, (), publish.Target("r.example"), PREFIX, inspect.get)}
    assert list(plan) == ["runtime", "aspnet", "sdk", "sample-web", "arm-only"]
    assert plan["runtime"].accepted
    assert plan["aspnet"].refused.startswith("verified on x64 only: arm64: no verify result for it")
    assert "`invoke verify --rid linux-arm64`" in plan["aspnet"].fix and "nothing of it is pushed" in plan["aspnet"].fix
    assert plan["sdk"].refused.startswith("verified on x64 only: arm64: not built for arm64")
    assert "invoke build-all --rid linux-arm64" in plan["sdk"].fix
    assert "arm64: its config says linux/amd64, not linux/arm64" in plan["sample-web"].refused
    assert plan["arm-only"].refused.startswith("verified on arm64 only: x64: not built for x64")
    assert plan["arm-only"].remote == "r.example/arm-only:10.0-trixie-slim"  # the plain tag, without -arm64v8
    # --force lets a missing verify result through (kept as the reason), never a missing build
    forced = {i.key: i for i in publish.plan_multiarch(records, (), publish.Target("r.example"), PREFIX, inspect.get, force=True)}
    assert forced["aspnet"].accepted and "no verify result" in forced["aspnet"].children[1][1].forced
    assert not forced["sdk"].accepted


def test_multi_arch_plan_refuses_images_of_different_dotnet_versions(tmp_path):
    from crossgen import dockerio

    records, inspect = _arch_records(tmp_path, {"x64": ["runtime"], "arm64": ["runtime"]}, {"x64": ["runtime"], "arm64": ["runtime"]})
    for ref, version in zip(inspect, ("10.0.15", "10.0.12")):
        inspect[ref]["Config"] = {"Labels": {dockerio.label("dotnet-version"): version}}
    (plan,) = publish.plan_multiarch(records, (), publish.Target("r.example"), PREFIX, inspect.get)
    assert plan.refused == "its architectures' images carry different .NET versions (x64 has .NET 10.0.15, arm64 has .NET 10.0.12)"
    assert "--channel 10.0.12" in plan.fix


def test_multi_arch_plan_without_an_arm64_build_refuses_every_key(tmp_path):
    records, inspect = _arch_records(tmp_path, {"x64": ["runtime"], "arm64": None}, {"x64": ["runtime"], "arm64": []})
    (plan,) = publish.plan_multiarch(records, (), publish.Target("r.example"), PREFIX, inspect.get)
    assert f"arm64: no arm64 build ({records[1].build_record} does not exist)" in plan.refused


def test_the_index_document_names_each_child_by_digest_size_media_type_and_platform():
    child = {"mediaType": MANIFEST_V2, "digest": "sha256:" + "d" * 64, "size": 525, "platform": {"architecture": "arm64", "os": "linux"}}
    doc = json.loads(publish.index_document([child]))
    assert doc == {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [child]}
    assert publish.config_platform({"os": "linux", "architecture": "arm64", "variant": "v8"}) == "linux/arm64/v8"
    assert publish.config_platform({"Os": "linux", "Architecture": "amd64"}) == "linux/amd64"
