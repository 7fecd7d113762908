"""Reproducible builds through the real daemon, on tiny images (seconds, not minutes)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from crossgen import dockerio
from crossgen.dockerio.imagebuild import ImageSpec, build_image, image_status
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
    tiny_images.remove_images(api, [*made, *(f"{tiny_images.PREFIX}{k}:repro" for k in ("one", "two", "other")),
                                    *(f"{tiny_images.PREFIX}one:{k}" for k in ("channel-b", "changed"))])


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


def test_a_failed_rewrite_leaves_no_image_that_passes_for_built(api_and_bases, tmp_path, monkeypatch):
    """The classic image is untagged when its rewrite fails: the next build builds it again instead
    of finding an image with the right input digest that is not reproducible."""
    from crossgen.dockerio import reproducible

    api, (base, _) = api_and_bases

    def broken(*_a, **_k):
        raise OSError("disk full")

    monkeypatch.setattr(reproducible, "rewrite_layer", broken)
    spec = _spec("one", base)
    with pytest.raises(OSError):
        build_image(api, spec, tmp_path)
    assert dockerio.image_info(api, spec.ref) is None
    assert not image_status(api, spec).up_to_date
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    assert not build_image(api, spec, tmp_path).skipped


def test_another_tag_with_the_same_inputs_is_tagged_not_built(api_and_bases, tmp_path, monkeypatch):
    """As runtime-deps of two .NET channels: one repository, two tags, the same inputs. The second tag
    names the first one's image and nothing is built; other inputs under that repository are built."""
    api, (base, _) = api_and_bases
    first = build_image(api, _spec("one", base), tmp_path)
    monkeypatch.setattr(dockerio, "build", lambda *a, **k: pytest.fail("built again"))
    same = replace(_spec("one", base), ref=f"{tiny_images.PREFIX}one:channel-b")
    status = image_status(api, same)
    assert not status.up_to_date and status.same == first.ref and "tagged, not built" in status.reason
    second = build_image(api, same, tmp_path)
    assert second.skipped and second.image_id == first.image_id
    assert image_status(api, same).up_to_date
    monkeypatch.undo()
    changed = build_image(api, replace(_spec("one", base, payload=b"other bits"), ref=f"{tiny_images.PREFIX}one:changed"), tmp_path)
    assert not changed.skipped and changed.image_id != first.image_id
