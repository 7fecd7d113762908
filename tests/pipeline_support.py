"""Shared set-up for the end-to-end tests: one real build of every variant per session (but three of
build-all's images: :data:`SESSION_IMAGES`).

Images (the OS base too) are tagged with the prefix ``dci-test/`` and built into ``build/test`` so
that the test suite never touches a user's own images or build folder; downloads share the user's
cache. ``DCI_TEST_PREFIX`` replaces the prefix and ``DCI_TEST_BUILD_DIR`` the build folder: ``.ci/run``
gives every run a scratch prefix and folder that no earlier run left behind, so each image and each
bubble is built from nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

from invoke.config import Config

from crossgen import dockerio
from crossgen import pipeline
from crossgen.acquire.cache import Cache
from crossgen.acquire.http import new_session
from crossgen.core.settings import Settings, from_config
from crossgen.images.catalog import CATALOG

ROOT = Path(__file__).resolve().parent.parent
TEST_PREFIX = os.environ.get("DCI_TEST_PREFIX") or "dci-test/"


def e2e_settings(**overrides) -> Settings:
    """The project's defaults (invoke.yaml) with the test image prefix and build folder."""
    config = Config(project_location=str(ROOT))
    config.load_project()
    config["dci"]["image_prefix"] = TEST_PREFIX
    config["dci"]["base_image"] = f"{TEST_PREFIX}{config['dci']['base_image']}"
    config["dci"]["build_dir"] = os.environ.get("DCI_TEST_BUILD_DIR") or str(ROOT / "build" / "test")
    # The official CDN cannot be reached here; the NuGet feed serves the same bits (and the
    # sources tests cover the official path against a local server).
    config["dci"]["source"] = "nuget"
    return from_config(config, ROOT).with_overrides(**overrides)


# The session's build: build-all's images but three, for CI's time (as `build-all --images` patterns;
# test_e2e_build runs `invoke build-all --dry-run --images` with them):
# - the SDK images of variants 3 and 4: each is the same SDK layer on another ASP.NET image (0.5 GB to
#   send, commit and rewrite) and verify builds every sample with it inside; the SDK on a composite
#   framework is built, verified and measured in variant 2's SDK image, variant 1's is the baseline;
# - variant 5's image of the broad console sample: its composite compiles the whole runtime again. The
#   service sample's (the whole runtime and ASP.NET Core) is built, and a console app's self-contained
#   composite is built and run by test_app_frontier_e2e (`report --app` on a console app).
SESSION_IMAGES = ("runtime-*", "aspnet-*", "sample-*-no-composite", "sample-service-composite", "sdk-no-composite",
                  "sdk-runtime-composite")


def session_images() -> set[str]:
    """The image keys of build-all that the session's build builds (with the bases they stand on)."""
    return CATALOG.keys_matching(CATALOG.selection(None), SESSION_IMAGES)


def build_everything(settings: Settings):
    """The session's build: :data:`SESSION_IMAGES` of build-all."""
    api = dockerio.connect()
    outcomes = pipeline.build_variants(api, settings, new_session(), Cache(settings.cache_dir), only=session_images())
    return api, outcomes


def suite_containers(api, *labels: str) -> list[dict]:
    """The project's containers (running or not) made from this suite's images, optionally only those
    carrying every ``key=value`` in ``labels``: a container another run left (its process killed, say)
    is not this suite's to account for."""
    flt = {"label": [f"{dockerio.LABEL_PROJECT}={dockerio.PROJECT}", *labels]}
    return [c for c in api.containers(all=True, filters=flt) if c["Image"].startswith(TEST_PREFIX)]


def task_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment for running `invoke <task>` in a subprocess on these settings' images, build
    folder and source (the end-to-end ones, or a build folder of a test's own)."""
    return dict(os.environ, INVOKE_DCI_IMAGE_PREFIX=settings.image_prefix, INVOKE_DCI_BASE_IMAGE=settings.base_image,
                INVOKE_DCI_BUILD_DIR=str(settings.build_dir), INVOKE_DCI_SOURCE=settings.source, PYTHONUNBUFFERED="1", **extra)
