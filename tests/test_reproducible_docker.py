"""Reproducible builds through the real daemon, on tiny images (seconds, not minutes)."""

from __future__ import annotations

import pytest

from crossgen import dockerio
from crossgen.dockerio.imagebuild import ImageSpec, build_image
from tests import tiny_images

pytestmark = pytest.mark.docker

EPOCH = 1_793_304_112
DOCKERFILE = ("FROM {base}\nCOPY dotnet/ /usr/share/dotnet/\n"
              "RUN mkdir -p /etc/dotnet && echo /usr/share/dotnet > /etc/dotnet/install_location\n")


def _stage(context, payload: bytes = b"framework bits"):
    (context / "dotnet/shared").mkdir(parents=True)
    (context / "dotnet/shared/System.Runtime.dll").write_bytes(payload)
    (context / "dotnet/dotnet").write_bytes(b"host")


def _spec(name: str, base: str, *, epoch: int | None = EPOCH, payload: bytes = b"framework bits") -> ImageSpec:
    """The same image (key) under the tag ``name``."""
    return ImageSpec(key="runtime", ref=f"{tiny_images.PREFIX}{name}:repro", dockerfile=DOCKERFILE.format(base=base), base=base,
                     inputs={"payload": payload.decode()}, stage=lambda c: _stage(c, payload), epoch=epoch)


@pytest.fixture
def api_and_bases():
    api = dockerio.connect()
    made = [tiny_images.make_image(api, "repro-base-a"), tiny_images.make_image(api, "repro-base-b", files={"etc/other": "b"})]
    yield api, made
    tiny_images.remove_images(api, [*made, *(f"{tiny_images.PREFIX}{k}:repro" for k in ("one", "two", "other"))])


def test_same_inputs_built_twice_are_one_image(api_and_bases, tmp_path):
    api, (base, _) = api_and_bases
    first = build_image(api, _spec("one", base), tmp_path)
    second = build_image(api, _spec("two", base), tmp_path, force=True)
    assert not second.skipped  # built again (no cache: a cache handing back the first image would prove nothing)
    assert first.image_id == second.image_id


def test_same_files_on_other_bases_are_one_layer_and_other_files_are_not(api_and_bases, tmp_path):
    api, (base_a, base_b) = api_and_bases
    on_a = build_image(api, _spec("one", base_a), tmp_path)
    on_b = build_image(api, _spec("two", base_b), tmp_path)
    other = build_image(api, _spec("other", base_a, payload=b"other bits"), tmp_path)
    layers = {o.ref.split("/")[1].split(":")[0]: dockerio.image_info(api, o.image_id)["RootFS"]["Layers"] for o in (on_a, on_b, other)}
    assert layers["one"][-2:] == layers["two"][-2:]      # COPY and RUN layers: one blob each
    assert layers["one"][:-2] != layers["two"][:-2]      # on different bases
    assert layers["other"][-2] != layers["one"][-2]      # other content, other blob
    assert layers["other"][-1] == layers["one"][-1]      # the same RUN result


def test_rewritten_image_runs_and_has_the_files(api_and_bases, tmp_path):
    api, (base, _) = api_and_bases
    built = build_image(api, _spec("one", base), tmp_path)
    run = dockerio.run(api, built.image_id, ["cat", "/etc/dotnet/install_location", "/usr/share/dotnet/shared/System.Runtime.dll"],
                       timeout=60)
    assert run.exit_code == 0 and run.output.strip() == "/usr/share/dotnet\nframework bits"
    assert list(tmp_path.iterdir()) == []  # no context, context tar or saved layers left behind
