"""OS bases (catalog.OS_BASES) without Docker: tags, packages, Dockerfiles, what is not built on a base
without a shell, and how verify judges what it reads from such an image. The docker-marked test that
builds and verifies distroless runtime-deps is test_os_bases_docker.py."""

from __future__ import annotations

import io
import tarfile

import pytest

from crossgen.core.errors import DciError
from crossgen.images import baseimage, specs
from crossgen.images.catalog import CATALOG, DEFAULT_OS, OS_BASES, os_base
from crossgen.verify import checks
from crossgen.verify.shell import IMAGE_SHELL, busybox_shell, busybox_tar, has_shell
from crossgen import dockerio
from crossgen.dockerio.imagebuild import input_digest
from tests.pipeline_support import e2e_settings

SUITE_PACKAGES = ("ca-certificates", "libc6", "libgcc-s1", "libicu76", "libssl3t64", "libstdc++6", "tzdata", "zlib1g")


def test_each_os_base_is_declared_once_and_the_default_is_slim():
    names = [b.name for b in OS_BASES]
    assert len(set(names)) == len(names) and DEFAULT_OS == "slim" and os_base("slim").shell
    with pytest.raises(DciError) as err:
        os_base("alpine")
    assert "distroless-extra" in err.value.fix


def test_tags_name_the_suite_and_the_base_and_os_tag_still_names_slim():
    assert [b.tag("trixie", "trixie-slim") for b in OS_BASES] == ["trixie-slim", "trixie-distroless", "trixie-distroless-extra"]
    assert os_base("slim").tag("bookworm") == "bookworm-slim"
    assert os_base("slim").tag("trixie", "my-own-tag") == "my-own-tag"
    s = e2e_settings()
    assert baseimage.runtime_deps_name(s).endswith("runtime-deps:10.0-trixie-slim")
    assert baseimage.runtime_deps_name(s.with_overrides(os="distroless")).endswith("runtime-deps:10.0-trixie-distroless")
    assert baseimage.image_name(s.with_overrides(os="distroless-extra"), "aspnet", "composite").endswith(
        "aspnet:10.0-trixie-distroless-extra-composite")


def test_packages_leave_out_icu_and_tzdata_where_the_base_has_none():
    assert os_base("slim").packages(SUITE_PACKAGES) == SUITE_PACKAGES
    assert os_base("distroless").packages(SUITE_PACKAGES) == ("ca-certificates", "libc6", "libgcc-s1", "libssl3t64", "libstdc++6", "zlib1g")
    assert os_base("distroless-extra").packages(SUITE_PACKAGES) == SUITE_PACKAGES


EPOCH = 1_764_338_971  # runtime-deps' SOURCE_DATE_EPOCH (its OS base's creation time)


def test_distroless_runtime_deps_is_a_scratch_image_made_by_an_installer_stage(tmp_path):
    s = e2e_settings(os="distroless")
    spec = specs.runtime_deps_spec(s, EPOCH)
    assert spec.scratch and spec.base == s.base_image and spec.network_mode == "host"
    text = spec.dockerfile
    assert f"FROM {s.base_image} AS installer" in text and "FROM scratch" in text and "COPY --from=installer /rootfs/ /" in text
    assert "USER $APP_UID" in text and "DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=true" in text
    assert "libicu" not in text and "tzdata" not in text
    # after FROM scratch: nothing runs
    assert "\nRUN " not in text.split("FROM scratch", 1)[1]
    assert spec.labels[dockerio.label("shell")] == "false" and spec.labels[dockerio.label("os")] == "distroless"
    spec.stage(tmp_path)
    assert (tmp_path / baseimage.DISTROLESS_SCRIPT).read_text().startswith("#!/bin/sh")
    extra = specs.runtime_deps_spec(s.with_overrides(os="distroless-extra"), EPOCH)
    assert "libicu76" in extra.dockerfile and "tzdata" in extra.dockerfile and "GLOBALIZATION_INVARIANT" not in extra.dockerfile
    assert extra.ref != spec.ref and extra.inputs != spec.inputs
    slim = specs.runtime_deps_spec(e2e_settings(), EPOCH)
    assert not slim.scratch and slim.stage is None and slim.labels[dockerio.label("shell")] == "true"


@pytest.mark.parametrize("os_name", [b.name for b in OS_BASES])
def test_runtime_deps_is_the_same_image_for_every_channel(os_name):
    """runtime-deps holds no .NET: on one OS base, every channel's spec has the same Dockerfile, inputs,
    labels (no .NET version) and epoch, so the same input digest (a channel's build tags the image another
    channel built); only the tag names the channel."""
    specs_by_channel = {ch: specs.runtime_deps_spec(e2e_settings(channel=ch, os=os_name), EPOCH) for ch in ("8.0", "10.0", "11.0")}
    first = specs_by_channel["10.0"]
    assert dockerio.label("dotnet-version") not in first.labels
    assert {s.ref.split(":")[1].split("-")[0] for s in specs_by_channel.values()} == {"8.0", "10.0", "11.0"}
    assert {s.ref.split(":")[0] for s in specs_by_channel.values()} == {first.ref.split(":")[0]}
    digests = {input_digest(s, "sha256:base") for s in specs_by_channel.values()}
    assert len(digests) == 1
    # the epoch is an input: another OS base date is another image
    assert input_digest(specs.runtime_deps_spec(e2e_settings(channel="8.0", os=os_name), EPOCH + 1), "sha256:base") not in digests


def test_no_sdk_image_on_a_base_without_a_shell_and_the_crossgen2_image_stays_on_slim():
    distroless = e2e_settings(os="distroless")
    sdk, rt = CATALOG.images["sdk-no-composite"], CATALOG.images["runtime-no-composite"]
    assert "no shell" in specs.os_refusal(distroless, sdk)
    assert specs.os_refusal(distroless, rt) == "" and specs.os_refusal(e2e_settings(), sdk) == ""
    assert baseimage.with_shell(distroless).os == DEFAULT_OS
    slim = e2e_settings()
    assert baseimage.with_shell(slim) is slim


def test_shells_and_package_managers_are_found_by_name_in_bin_folders():
    paths = ["usr/", "usr/bin/", "usr/bin/dotnet", "usr/share/doc/bash/copyright", "usr/lib/x86_64-linux-gnu/libc.so.6",
             "etc/ssl/certs/ca-certificates.crt", "bin"]
    assert checks.shells_and_package_managers(paths) == []
    assert checks.shells_and_package_managers(paths + ["usr/bin/sh", "usr/bin/dpkg", "sbin/apk", "usr/local/bin/zsh"]) == [
        "/sbin/apk", "/usr/bin/dpkg", "/usr/bin/sh", "/usr/local/bin/zsh"]


PROBE_DISTROLESS = """probe-runtime: .NET 10.0.15 on linux-x64
probe-user: uid=1654 name=app
probe-icu: no (globalization-invariant)
probe-tz: no (Europe/Berlin not found)
probe-roots: 148
probe-trust: yes (ISRG Root X1)
"""


def test_the_probe_is_judged_against_what_the_os_base_promises():
    found = checks.parse_probe(PROBE_DISTROLESS)
    invariant = {"DOTNET_SYSTEM_GLOBALIZATION_INVARIANT": "true"}
    assert checks.judge_probe(found, icu=False, tzdata=False, env=invariant) == []
    # the same answers fail where ICU and tzdata are promised, or where the invariant switch is missing
    assert len(checks.judge_probe(found, icu=True, tzdata=True, env={})) == 2
    assert checks.judge_probe(found, icu=False, tzdata=False, env={}) == ["no ICU but DOTNET_SYSTEM_GLOBALIZATION_INVARIANT is not true"]
    root = dict(found, user="uid=0 name=root")
    assert "runs as uid=0" in checks.judge_probe(root, icu=False, tzdata=False, env=invariant)[0]
    untrusted = dict(found, roots="0", trust="no (ISRG Root X1: UntrustedRoot)")
    assert len(checks.judge_probe(untrusted, icu=False, tzdata=False, env=invariant)) == 2
    assert checks.judge_probe({}, icu=False, tzdata=False, env=invariant) == ["the probe did not run"]


def test_the_injected_busybox_is_a_tar_for_the_root_folder(tmp_path):
    fake = tmp_path / "busybox"
    fake.write_bytes(b"\x7fELF static")
    with tarfile.open(fileobj=io.BytesIO(busybox_tar(fake))) as tf:
        members = {m.name: m for m in tf}
        assert members[".dci"].isdir() and members[".dci/busybox"].mode == 0o755
        assert tf.extractfile(".dci/busybox").read() == b"\x7fELF static"
    shell = busybox_shell(fake)
    assert shell.command("echo hi", "sh", "x") == ["/.dci/busybox", "sh", "-c", "echo hi", "sh", "x"]
    assert shell.put[0][0] == "/" and "EPOCHREALTIME" in shell.now_ns
    assert IMAGE_SHELL.command("true") == ["/bin/sh", "-c", "true"] and IMAGE_SHELL.put == ()
    with pytest.raises(DciError) as err:
        busybox_tar(tmp_path / "missing")
    assert "busybox-static" in err.value.fix


def test_images_say_whether_they_have_a_shell_by_label():
    assert has_shell({"Config": {"Labels": {}}}) and has_shell(None)
    assert not has_shell({"Config": {"Labels": {dockerio.label("shell"): "false"}}})


def test_os_setting_comes_from_invoke_yaml_and_flags():
    assert e2e_settings().os == "slim"
    assert e2e_settings(os="distroless-extra").os == "distroless-extra"


def test_report_bases_default_to_every_other_base_and_are_checked():
    from crossgen.cli import os_list

    assert os_list("--bases", None, "slim") == ("distroless", "distroless-extra")
    assert os_list("--bases", None, "distroless") == ("slim", "distroless-extra")
    assert os_list("--bases", "none", "slim") == ()
    assert os_list("--bases", "distroless-extra, slim", "slim") == ("distroless-extra",)  # the main base is measured anyway
    with pytest.raises(DciError) as err:
        os_list("--bases", "alpine", "slim")
    assert "alpine" in err.value.what and "distroless" in err.value.fix


def test_the_os_base_takes_its_epoch_from_the_suites_own_release_file_not_updates_or_security(tmp_path):
    """mmdebstrap's lists for a stable suite, as apt names them: -updates and -security are dated anew
    with each upload and re-signing (and -updates sorts first), so only the suite's own Release date keeps
    two builds of the same packages the same image."""
    import subprocess

    lists = tmp_path / "root" / "var" / "lib" / "apt" / "lists"
    lists.mkdir(parents=True)
    dates = {
        "deb.debian.org_debian_dists_trixie-updates_InRelease": "Mon, 30 Nov 2026 02:21:41 UTC",
        "deb.debian.org_debian_dists_trixie_InRelease": "Sat, 21 Nov 2026 09:15:44 UTC",
        "security.debian.org_debian-security_dists_trixie-security_InRelease": "Mon, 30 Nov 2026 00:22:33 UTC",
    }
    for name, date in dates.items():
        (lists / name).write_text(f"-----BEGIN PGP SIGNED MESSAGE-----\nOrigin: Debian\nDate: {date}\nValid-Until: x\n")
    (lists / "deb.debian.org_debian_dists_trixie_main_binary-amd64_Packages").write_text("Date: Thu, 01 Jan 2026 00:00:00 UTC\n")
    out = tmp_path / "release-date"
    subprocess.run(["sh", "-c", baseimage.release_date_hook("trixie", out), "hook", str(tmp_path / "root")], check=True)
    assert out.read_text().strip() == "Sat, 21 Nov 2026 09:15:44 UTC"
    assert baseimage._release_epoch(out, e2e_settings()) == 1795252544

    (lists / "deb.debian.org_debian_dists_trixie_InRelease").unlink()  # no Release of the suite: no epoch, a clear error
    subprocess.run(["sh", "-c", baseimage.release_date_hook("trixie", out), "hook", str(tmp_path / "root")], check=True)
    with pytest.raises(DciError) as err:
        baseimage._release_epoch(out, e2e_settings())
    assert "source_date_epoch" in err.value.fix
