"""How verify and report run a shell script in an image: its own ``/bin/sh``, or, in an image without
a shell (a distroless OS base), a static busybox put into the container before it starts (through the
archive API: a remote DOCKER_HOST works). The image itself is never changed.

The busybox is this machine's ``/bin/busybox`` from Debian's ``busybox-static`` (statically linked: it
runs on any Linux file system; scripts/bootstrap.sh installs it). Its ``sh`` runs its own applets
(``date``, ``id``, ``find``, ``kill``...) without looking them up on ``PATH``.
"""

from __future__ import annotations

import io
import tarfile
from dataclasses import dataclass
from pathlib import Path

import docker

from crossgen import dockerio
from crossgen.core.errors import DciError

BUSYBOX = Path("/bin/busybox")
INJECTED_DIR = ".dci"            # where the busybox goes in the container: /.dci/busybox


@dataclass(frozen=True)
class Shell:
    """``argv`` + ``-c SCRIPT [ARG0 ARGS...]`` runs a script; ``put`` are (folder, tar) copied into the
    container before it starts; ``now_ns`` is a shell expression for the Unix time in nanoseconds."""

    argv: tuple[str, ...]
    put: tuple[tuple[str, bytes], ...] = ()
    now_ns: str = "$(date +%s%N)"
    name: str = "the image's /bin/sh"

    def command(self, script: str, *args: str) -> list[str]:
        return [*self.argv, "-c", script, *args]

    def prepare(self, box: dockerio.Container) -> None:
        for folder, data in self.put:
            box.put(folder, data)


IMAGE_SHELL = Shell(("/bin/sh",))


def busybox_tar(busybox: Path = BUSYBOX) -> bytes:
    """``.dci/busybox`` (and its folder) as a tar for the container's root folder."""
    try:
        data = busybox.read_bytes()
    except OSError as exc:
        raise DciError(str(busybox), f"cannot be read ({exc.strerror or exc}): images without a shell are checked with a static busybox",
                       "install Debian's busybox-static (scripts/bootstrap.sh does)") from None
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        folder = tarfile.TarInfo(INJECTED_DIR)
        folder.type, folder.mode = tarfile.DIRTYPE, 0o755
        tf.addfile(folder)
        exe = tarfile.TarInfo(f"{INJECTED_DIR}/busybox")
        exe.size, exe.mode = len(data), 0o755
        tf.addfile(exe, io.BytesIO(data))
    return buf.getvalue()


def busybox_shell(busybox: Path = BUSYBOX) -> Shell:
    # busybox's date has no %N: its sh has $EPOCHREALTIME (seconds.microseconds)
    return Shell((f"/{INJECTED_DIR}/busybox", "sh"), (("/", busybox_tar(busybox)),),
                 now_ns="$(t=$EPOCHREALTIME; echo ${t%.*}${t#*.}000)", name=f"busybox from {busybox} (the image has no shell)")


def has_shell(info: dict | None) -> bool:
    """What the image's labels say (runtime-deps sets ``shell``, every image on it inherits it); an
    image that says nothing has one."""
    return dockerio.image_labels(info).get(dockerio.label("shell"), "true") != "false"


def shell_for(api: docker.APIClient, ref: str) -> Shell:
    return IMAGE_SHELL if has_shell(dockerio.image_info(api, ref)) else busybox_shell()
