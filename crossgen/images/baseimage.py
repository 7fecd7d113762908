"""Base images: the OS image (pulled, or made from Debian packages) and runtime-deps."""

from __future__ import annotations

import calendar
import email.utils
import os
import shlex
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import docker
import docker.errors

from crossgen import dockerio
from crossgen.dockerio import reproducible, templates
from crossgen.core import channels, ui
from crossgen.core.errors import DciError
from crossgen.core.settings import Settings
from crossgen.acquire.acquisition import host_rid
from crossgen.images.catalog import DEFAULT_OS, Arch, OsBase, arch_of, os_base

APP_UID = 1654
STATUS_D = "/var/lib/dpkg/status.d"  # a distroless image's package records (docker/distroless-rootfs.sh writes them)
TOOL_BASE = "runtime-deps-slim"  # build-record key of the slim runtime-deps built for the Crossgen2 image on a base without a shell


def os_of(settings: Settings) -> OsBase:
    """The OS base the settings build on (``dci.os`` / ``--os``)."""
    return os_base(settings.os)


def os_tag(settings: Settings) -> str:
    """The tag part naming the OS: ``dci.os_tag`` for slim (trixie-slim), ``<suite>-<os>`` for the others."""
    return os_of(settings).tag(settings.debian_suite, settings.os_tag)


def arch(settings: Settings) -> Arch:
    """The architecture the settings build images for (``dci.rid`` / ``--rid``)."""
    return arch_of(settings.rid)


def host_arch() -> Arch:
    """This machine's architecture (what Crossgen2 and the tool images run on)."""
    return arch_of(host_rid())


def emulated(settings: Settings) -> bool:
    """Its images are of another architecture than this machine's: built and run under emulation."""
    return arch(settings).name != host_arch().name


def image_name(settings: Settings, repo: str, suffix: str = "") -> str:
    """``<prefix><repo>:<major.minor>-<os tag>[-suffix][-<arch suffix>]`` (arm64: ``...-arm64v8``)."""
    channel = ".".join(settings.channel.split(".")[:2])
    tag = f"{channel}-{os_tag(settings)}" + (f"-{suffix}" if suffix else "")
    return f"{settings.image_prefix}{repo}:{arch(settings).tag(tag)}"


def os_image(settings: Settings) -> str:
    """The OS base image of the settings' architecture: ``dci.base_image`` (``debian:trixie-slim``), its
    tag with the architecture's suffix (``debian:trixie-slim-arm64v8``)."""
    return arch(settings).ref(settings.base_image)


def with_shell(settings: Settings) -> Settings:
    """The settings of the Crossgen2 tool image: on the default OS base (with a shell) whatever ``--os`` is,
    and for this machine's architecture (Crossgen2 runs here and targets ``--rid``'s)."""
    host = host_arch().rid(settings.rid)
    if os_of(settings).shell and host == settings.rid:
        return settings
    return settings.with_overrides(os=DEFAULT_OS, rid=host)


def os_base_settings(settings: Settings) -> Settings:
    """The settings whose OS base (:func:`os_image`) runtime-deps is built from. On a base with a shell,
    the target architecture's own (apt runs in it: under emulation for another architecture). On a base
    without one, this machine's: its installer stage fetches the target architecture's packages as apt's
    foreign architecture and the image is FROM scratch, so no OS base of the target is needed or made."""
    host = host_arch().rid(settings.rid)
    if os_of(settings).shell or host == settings.rid:
        return settings
    return settings.with_overrides(rid=host)


def runtime_deps_name(settings: Settings) -> str:
    return image_name(settings, "runtime-deps")


def os_epoch(api: docker.APIClient, settings: Settings) -> int | None:
    """SOURCE_DATE_EPOCH of runtime-deps: ``dci.source_date_epoch`` when set, else the creation time of
    the OS base it stands on (for one made here with mmdebstrap, the date of the Debian archive state it
    was made from). runtime-deps holds no .NET, so nothing of .NET goes into it: one image, and one
    layer, for every .NET channel on that base. None when reproducible images are off, or the OS base
    is not there yet."""
    if not settings.reproducible:
        return None
    if settings.source_date_epoch is not None:
        return settings.source_date_epoch
    ref = os_image(os_base_settings(settings))
    info = dockerio.image_info(api, ref)
    if not info:
        return None
    created = str(info.get("Created") or "")
    try:  # RFC 3339, UTC, with or without fractions of a second: 2026-11-28T14:09:31.123456789Z
        return calendar.timegm(time.strptime(created[:19], "%Y-%m-%dT%H:%M:%S"))
    except ValueError:
        raise DciError(f"OS base {ref}", f"its creation time {created!r} cannot be read to derive runtime-deps' SOURCE_DATE_EPOCH",
                       "set dci.source_date_epoch (or $SOURCE_DATE_EPOCH)") from None


def ensure_os_image(api: docker.APIClient, settings: Settings, *, log=ui.detail) -> str:
    """Make sure ``settings.base_image`` exists locally; returns its image ID.

    Order: already present -> explicit pull (only with base_pull) -> mmdebstrap + import.
    """
    ref = os_image(settings)
    info = dockerio.image_info(api, ref)
    if info:
        return info["Id"]
    if settings.base_pull:
        try:
            log(f"pulling {ref}")
            dockerio.pull(api, ref, platform=arch(settings).platform)
            info = dockerio.image_info(api, ref)
            if info:
                return info["Id"]
        except dockerio.DockerRefused as exc:
            log(f"pull failed ({exc.cause[:120]}); building from Debian packages instead")
    return build_os_image(api, settings, log=log)


DOCKER_CLEAN = (
    'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb '
    '/var/cache/apt/*.bin || true"; }; APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb '
    '/var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; }; '
    'Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";'
)


# Files that record when or on which machine the root file system was made, not what is in it
# (removed as Debian's official images do; mmdebstrap removes some of them itself).
UNREPRODUCIBLE = (
    "/var/log/apt/*", "/var/log/dpkg.log", "/var/log/alternatives.log", "/var/log/bootstrap.log",
    "/var/cache/ldconfig/aux-cache", "/var/lib/dpkg/*-old", "/var/cache/debconf/*-old",
    "/var/cache/apt/*.bin", "/var/lib/apt/lists/*",
)


def build_os_image(api: docker.APIClient, settings: Settings, *, log=ui.detail) -> str:
    """mmdebstrap a minbase root file system (docs and man pages left out, as in -slim) and import it.

    Reproducible (``dci.reproducible``): mmdebstrap runs with SOURCE_DATE_EPOCH, the files that
    record the build time are removed, and the imported layer is rewritten as every other layer
    (:mod:`crossgen.dockerio.reproducible`). The epoch is ``dci.source_date_epoch``, else the date of
    the Debian suite's own Release file (:func:`release_date_hook`).
    """
    ref = os_image(settings)
    target = arch(settings)
    if not shutil.which("mmdebstrap"):
        raise DciError("mmdebstrap", "not installed", "run scripts/bootstrap.sh (installs it) or apt-get install mmdebstrap")
    tmpdir = Path(tempfile.mkdtemp(prefix="rootfs-", dir=_ensure(settings.workspace.tmp)))
    tar = tmpdir / "rootfs.tar"
    release_date = tmpdir / "release-date"
    removed = " ".join(f'"$1"{p}' for p in UNREPRODUCIBLE)
    cmd = [
        "mmdebstrap", "--variant=minbase", "--quiet",
        "--dpkgopt=path-exclude=/usr/share/man/*",
        "--dpkgopt=path-exclude=/usr/share/doc/*",
        "--dpkgopt=path-include=/usr/share/doc/*/copyright",
        "--dpkgopt=path-exclude=/usr/share/info/*",
        "--dpkgopt=path-exclude=/usr/share/locale/*",
        "--aptopt=Acquire::Retries \"3\"",
        # As Debian's official container images: no .deb files or package caches kept after apt runs.
        "--customize-hook=printf '%s\\n' " + shlex.quote(DOCKER_CLEAN) + " > \"$1/etc/apt/apt.conf.d/docker-clean\"",
        # the suite's own date, before the lists go
        "--customize-hook=" + release_date_hook(settings.debian_suite, release_date),
        f"--customize-hook=rm -rf {removed}",
        f"--architectures={target.debian}",
        settings.debian_suite, str(tar),
    ]
    if emulated(settings):
        # Another architecture: the images built on this base run under qemu (binfmt_misc), checked first.
        # mmdebstrap itself installs chrootless: dpkg and the maintainer scripts (Debian's essential and
        # required packages support DPKG_ROOT) run natively on this machine into the new root, instead of
        # every script under qemu (arm64 trixie minbase: about 1 min against about 10).
        require_emulation(settings)
        if not settings.reproducible:
            raise DciError(f"base image {ref}", "only the reproducible rewrite records its architecture (docker import writes this machine's)",
                           "set dci.reproducible: true (the default) for another --rid than this machine's")
        cmd.insert(1, "--mode=chrootless")
        # the host's dpkg does not read the new root's dpkg.cfg.d, where the --dpkgopt path filters go:
        # the same files are removed after the install instead (docs but copyrights, man, info, locales)
        cmd.insert(-2, "--customize-hook=" + SLIM_CHROOTLESS)
    env = dict(os.environ)
    if settings.reproducible and settings.source_date_epoch is not None:
        env["SOURCE_DATE_EPOCH"] = str(settings.source_date_epoch)
    log_path = _ensure(settings.workspace.logs) / f"mmdebstrap-{settings.debian_suite}-{target.debian}.log"
    ui.step(f"Building {ref} from Debian packages (mmdebstrap {settings.debian_suite} minbase, {target.debian})")
    start = time.monotonic()
    try:
        with open(log_path, "w") as logf:
            proc = subprocess.run(cmd, stdout=logf, stderr=subprocess.STDOUT, env=env)
        if proc.returncode != 0:
            tail = log_path.read_text(errors="replace").splitlines()[-8:]
            raise DciError(
                f"base image {ref}",
                f"mmdebstrap {settings.debian_suite} failed (exit {proc.returncode}): " + " | ".join(tail),
                f"see {log_path}; is the Debian archive reachable?",
            )
        dockerio.import_rootfs(api, tar, ref, changes=[
            f'LABEL {dockerio.LABEL_PROJECT}="{dockerio.PROJECT}"',
            f'LABEL {dockerio.label("role")}="os"',
            f'LABEL {dockerio.label("debian-suite")}="{settings.debian_suite}"',
            'CMD ["bash"]',
        ])
        if settings.reproducible:
            epoch = settings.source_date_epoch
            if epoch is None:
                epoch = _release_epoch(release_date, settings)
            info = dockerio.image_info(api, ref)
            if info:
                log(f"rewriting its layer reproducibly (SOURCE_DATE_EPOCH={epoch})")
                reproducible.normalize(api, info["Id"], ref, base_id=None, epoch=epoch, tmp=tmpdir,
                                       platform=target.platform if emulated(settings) else None)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    info = dockerio.image_info(api, ref)
    if not info:
        raise DciError(f"base image {ref}", "import did not produce the image", f"see {log_path}")
    ui.info(f"{ref} in {time.monotonic() - start:.0f} s ({info['Size'] / 1e6:.0f} MB)", label="built")
    return info["Id"]


BINFMT = Path("/proc/sys/fs/binfmt_misc")


def require_emulation(settings: Settings) -> None:
    """This machine runs the settings' architecture's executables (qemu-user registered with binfmt_misc),
    or a DciError that says how to get there."""
    target = arch(settings)
    entry = BINFMT / target.qemu
    if not (BINFMT / "status").is_file():
        raise DciError(f"--rid {settings.rid}", f"building or running {target.name} images on this {host_arch().name} machine needs "
                       f"emulation, and binfmt_misc is not mounted ({BINFMT})",
                       "run scripts/bootstrap.sh as root (it installs qemu-user-static and mounts binfmt_misc)")
    try:
        state = entry.read_text().splitlines()
    except OSError:
        state = []
    if not state or state[0].strip() != "enabled":
        raise DciError(f"--rid {settings.rid}", f"no enabled qemu entry for {target.name} in {BINFMT} ({entry.name} "
                       f"{'is disabled' if state else 'missing'})",
                       "run scripts/bootstrap.sh as root (installs qemu-user-static and registers it), or "
                       "apt-get install qemu-user-static binfmt-support && update-binfmts --enable")
    flags = next((line.split(":", 1)[1].strip() for line in state if line.startswith("flags:")), "")
    if "F" not in flags:
        # without F the interpreter is looked up inside each container, where there is none
        raise DciError(f"--rid {settings.rid}", f"the binfmt entry {entry} lacks the F (fix binary) flag: containers cannot find qemu",
                       "install Debian's qemu-user-static (its entries are registered with F), then update-binfmts --enable")


SLIM_CHROOTLESS = ('rm -rf "$1"/usr/share/man/* "$1"/usr/share/info/* "$1"/usr/share/locale/* && '
                   'find "$1"/usr/share/doc -mindepth 1 ! -type d ! -name copyright -delete && '
                   'find "$1"/usr/share/doc -mindepth 1 -type d -empty -delete')


def release_date_hook(suite: str, out: Path) -> str:
    """A customize hook (``$1`` the new root) that writes the Date of ``suite``'s own Release file to ``out``.

    Only the suite's: mmdebstrap adds ``<suite>-updates`` and ``<suite>-security`` for a stable suite, and
    their Release files are dated anew with each upload there and each weekly re-signing (Valid-Until), and
    for a while deb.debian.org's mirrors serve older and newer ones side by side: two builds of the same
    packages could take different epochs and give different images. The suite's own Release changes with
    a point release only (and its packages with it). apt names a list file
    ``<host>_<path>_dists_<suite>_InRelease``: ``_dists_<suite>_`` matches the suite and not ``<suite>-updates``.
    """
    lists = '"$1"/var/lib/apt/lists/*_dists_' + shlex.quote(suite) + '_*Release'
    return f"cat {lists} 2>/dev/null | sed -n 's/^Date: //p' | head -n 1 > {shlex.quote(str(out))}"


def _release_epoch(path: Path, settings: Settings) -> int:
    text = path.read_text().strip() if path.is_file() else ""
    try:
        return int(email.utils.parsedate_to_datetime(text).timestamp())
    except (TypeError, ValueError):
        raise DciError(f"Debian {settings.debian_suite} Release file", f"no readable Date ({text or 'none'!r}) to derive SOURCE_DATE_EPOCH from",
                       "set dci.source_date_epoch (or $SOURCE_DATE_EPOCH)") from None


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def runtime_deps_packages(settings: Settings) -> tuple[str, ...]:
    """``dci.runtime_deps_packages``, else the Debian suite's list (crossgen/core/channels.py)."""
    if settings.runtime_deps_packages:
        return settings.runtime_deps_packages
    known = channels.runtime_deps_packages(settings.debian_suite)
    if known is None:
        raise DciError(f"debian_suite {settings.debian_suite!r}", "no list of the packages .NET needs on this suite",
                       f"set dci.runtime_deps_packages, or use a suite with a list: {', '.join(channels.RUNTIME_DEPS_PACKAGES)}")
    return known


def os_packages(settings: Settings) -> tuple[str, ...]:
    """The Debian packages runtime-deps takes on the settings' OS base (no ICU or tzdata where it has none)."""
    return os_of(settings).packages(runtime_deps_packages(settings))


DISTROLESS_SCRIPT = "distroless-rootfs.sh"


def runtime_deps_dockerfile(settings: Settings) -> str:
    base = os_of(settings)
    return templates.render(
        settings.project_root / "docker", base.template,
        base_image=os_image(os_base_settings(settings)), packages=list(os_packages(settings)), unreproducible=UNREPRODUCIBLE,
        title=base.title, app_uid=APP_UID, invariant=not base.icu, deb_arch=arch(settings).debian,
        multiarch=arch(settings).multiarch,
    )


def stage_runtime_deps(context: Path, *, settings: Settings) -> None:
    """A distroless runtime-deps context holds the script that lays out its file system."""
    if not os_of(settings).shell:
        shutil.copyfile(settings.project_root / "docker" / DISTROLESS_SCRIPT, context / DISTROLESS_SCRIPT)


def installed_packages(api: docker.APIClient, ref: str) -> dict[str, str]:
    """The Debian packages installed in image ``ref``: {package: version} (dpkg's own list)."""
    result = dockerio.run(api, ref, ["dpkg-query", "-W", "-f", "${Package}\\t${Version}\\n"], step="listing Debian packages",
                          timeout=120)
    if result.exit_code != 0:
        raise DciError(f"image {ref}", f"dpkg-query failed (exit {result.exit_code}): {result.output.strip()[-200:]}",
                       "is it a Debian image? rebuild it with invoke base-image --force")
    return dict(line.split("\t", 1) for line in result.output.splitlines() if "\t" in line)


def recorded_packages(api: docker.APIClient, ref: str) -> dict[str, str]:
    """The Debian packages a distroless image (no dpkg to ask) records in /var/lib/dpkg/status.d, one
    control stanza per package, as distroless images do: {package: version}."""
    with tempfile.TemporaryDirectory(prefix="dci-status-") as tmp:
        dockerio.copy_out(api, ref, STATUS_D, Path(tmp))
        found = {}
        for entry in sorted((Path(tmp) / Path(STATUS_D).name).iterdir()):
            fields = dict(line.split(": ", 1) for line in entry.read_text().splitlines() if ": " in line)
            if "Package" in fields and "Version" in fields:
                found[fields["Package"]] = fields["Version"]
    if not found:
        raise DciError(f"image {ref}", f"{STATUS_D} records no package", "rebuild it with invoke base-image --force")
    return found


def runtime_deps_key(settings: Settings) -> str:
    """The lock file's key for the packages of runtime-deps on this OS base (``runtime-deps`` on the default)."""
    name = os_of(settings).name
    return "runtime-deps" if name == DEFAULT_OS else f"runtime-deps-{name}"


def debian_packages(api: docker.APIClient, settings: Settings) -> dict:
    """What the lock file records about Debian: the suite, every package of the OS base runtime-deps is
    built from (:func:`os_base_settings`: a distroless installer's is this machine's), and the packages
    runtime-deps on this OS base adds or changes (under :func:`runtime_deps_key`)."""
    base = installed_packages(api, os_image(os_base_settings(settings)))
    ref = runtime_deps_name(settings)
    deps = installed_packages(api, ref) if os_of(settings).shell else recorded_packages(api, ref)
    return {"suite": settings.debian_suite, "os": base,
            runtime_deps_key(settings): {k: v for k, v in deps.items() if base.get(k) != v}}
