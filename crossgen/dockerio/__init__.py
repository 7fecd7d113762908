"""Docker through the SDK's low-level API: streamed builds, one-shot containers, archives.

Everything the project creates carries the label ``LABEL_PROJECT`` so that ``invoke clean``
finds it. Containers are created, started, waited for, read and removed in ``finally``; no
bind mounts (files go in and out through the archive API, so a remote DOCKER_HOST works).
"""

from __future__ import annotations

import io
import os
import re
import socket
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import docker
import docker.errors

from crossgen.core import archives
from crossgen.core.errors import DciError

LABEL_PROJECT = "io.github.dotnet-composite-images.project"
LABEL_PREFIX = "io.github.dotnet-composite-images."
PROJECT = "dotnet-composite-images"


def label(name: str) -> str:
    return LABEL_PREFIX + name


def connect(timeout: int = 1800) -> docker.APIClient:
    """A low-level client for DOCKER_HOST (or the local socket); fails clearly if none answers."""
    try:
        api = docker.APIClient(base_url=os.environ.get("DOCKER_HOST") or "unix://var/run/docker.sock", timeout=timeout, version="auto")
        api.ping()
        return api
    except Exception as exc:  # the SDK raises many kinds here
        where = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
        raise DciError(
            f"Docker daemon at {where}",
            f"not reachable ({type(exc).__name__}: {str(exc)[:200]})",
            "run scripts/bootstrap.sh (it starts dockerd) or set DOCKER_HOST to a running daemon",
        ) from None


def image_info(api: docker.APIClient, ref: str) -> dict | None:
    try:
        return api.inspect_image(ref)
    except docker.errors.ImageNotFound:
        return None
    except docker.errors.NotFound:
        return None


def image_labels(info: dict | None) -> dict:
    return dict(((info or {}).get("Config") or {}).get("Labels") or {})


class BuildError(DciError):
    pass


_STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)$")


def build(
    api: docker.APIClient,
    context: Path,
    tag: str,
    *,
    labels: dict[str, str] | None = None,
    network_mode: str = "none",
    dockerfile: str = "Dockerfile",
    log: Callable[[str], None] | None = None,
) -> str:
    """Build ``context`` with the classic builder, streaming; returns the image ID.

    ``error``, ``errorDetail`` or a bare ``message`` in the stream is a failure.
    """
    log = log or (lambda line: None)
    all_labels = {LABEL_PROJECT: PROJECT, **(labels or {})}
    image_id = None
    tail: list[str] = []
    stream = api.build(
        path=str(context), dockerfile=dockerfile, tag=tag, labels=all_labels, rm=True, forcerm=True,
        decode=True, pull=False, network_mode=network_mode,
    )
    for chunk in stream:
        if "error" in chunk or "errorDetail" in chunk:
            detail = chunk.get("error") or (chunk.get("errorDetail") or {}).get("message") or str(chunk)
            raise BuildError(f"image {tag}", f"docker build failed: {detail.strip()}", "see the build output above" + (": " + " | ".join(tail[-5:]) if tail else ""))
        if set(chunk) == {"message"}:
            raise BuildError(f"image {tag}", f"docker build failed: {chunk['message']}", "see the build output above")
        if "stream" in chunk:
            for line in chunk["stream"].splitlines():
                line = line.rstrip()
                if not line:
                    continue
                tail = (tail + [line])[-20:]
                m = _STEP.match(line)
                if m:
                    if not m.group(3).startswith("LABEL "):
                        log(f"[{m.group(1)}/{m.group(2)}] {m.group(3)[:110]}")
                elif not line.startswith((" ---> ", "Removing intermediate", "Successfully")):
                    log(line)
        aux = chunk.get("aux") or {}
        if "ID" in aux:
            image_id = aux["ID"]
    if not image_id:
        info = image_info(api, tag)
        if not info:
            raise BuildError(f"image {tag}", "the build stream ended without an image", "see the build output above")
        image_id = info["Id"]
    return image_id


def tar_directory(src: Path, arcname: str = ".") -> bytes:
    """A tar of ``src`` (files owned by root, modes kept) as bytes."""
    buf = io.BytesIO()

    def reset(ti: tarfile.TarInfo) -> tarfile.TarInfo:
        ti.uid = ti.gid = 0
        ti.uname = ti.gname = "root"
        return ti

    with tarfile.open(fileobj=buf, mode="w") as tf:
        tf.add(str(src), arcname=arcname, filter=reset)
    return buf.getvalue()


def tar_files(files: dict[str, bytes], mode: int = 0o644) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in files.items():
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            ti.mode = mode
            ti.mtime = int(time.time())
            tf.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


class _ChunkReader(io.RawIOBase):
    """A file object over the chunks the API streams (archives, saved images)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._it = iter(chunks)
        self._buf = b""

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        while not self._buf:
            try:
                self._buf = next(self._it)
            except StopIteration:
                return 0
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


def image_tar(api: docker.APIClient, ref: str) -> io.BufferedReader:
    """``docker save`` of one image as a stream (nothing is stored)."""
    return io.BufferedReader(_ChunkReader(api.get_image(ref)), 1 << 20)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (for host-network servers)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RunResult:
    exit_code: int
    output: str
    seconds: float


def run(
    api: docker.APIClient,
    image: str,
    command: list[str] | None = None,
    *,
    network_mode: str = "none",
    environment: dict[str, str] | None = None,
    user: str | None = None,
    working_dir: str | None = None,
    entrypoint: list[str] | None = None,
    put: list[tuple[str, bytes]] | None = None,
    get: list[tuple[str, Path]] | None = None,
    timeout: float = 600,
    stream_output: Callable[[str], None] | None = None,
    labels: dict[str, str] | None = None,
    mem_limit: str | None = None,
) -> RunResult:
    """Run one container to completion and remove it.

    ``put``: (container folder, tar bytes) copied in before start. ``get``: (container path,
    host folder) copied out after exit (extracted safely). The container is removed in all cases.
    """
    host_config = api.create_host_config(network_mode=network_mode, mem_limit=mem_limit)
    container = api.create_container(
        image, command=command, environment=environment, user=user, working_dir=working_dir,
        entrypoint=entrypoint, host_config=host_config, labels={LABEL_PROJECT: PROJECT, **(labels or {})},
        network_disabled=network_mode == "none",
    )
    cid = container["Id"]
    output: list[str] = []
    start = time.monotonic()
    try:
        for path, data in put or []:
            if not api.put_archive(cid, path, data):
                raise DciError(f"container of {image}", f"could not copy files into {path}", "check that the folder exists in the image")
        api.start(cid)
        for raw in api.logs(cid, stream=True, follow=True):
            text = raw.decode("utf-8", "replace")
            output.append(text)
            if stream_output:
                for line in text.splitlines():
                    stream_output(line)
            if time.monotonic() - start > timeout:
                api.kill(cid)
                raise DciError(f"container of {image}", f"still running after {timeout:.0f} s", "raise the timeout or look at its output")
        status = api.wait(cid, timeout=max(10, timeout))
        seconds = time.monotonic() - start
        code = int(status.get("StatusCode", -1))
        for path, dest in get or []:
            if code != 0:
                break
            chunks, _ = api.get_archive(cid, path)
            archives.extract_tar(io.BufferedReader(_ChunkReader(chunks), 1 << 20), dest, label=f"{image}:{path}")
        return RunResult(code, "".join(output), seconds)
    finally:
        try:
            api.remove_container(cid, force=True)
        except docker.errors.APIError:
            pass


def containers_with_label(api: docker.APIClient, key: str, value: str) -> list[dict]:
    """Containers (running or not) carrying label ``key=value``."""
    return api.containers(all=True, filters={"label": f"{key}={value}"})


def copy_out(api: docker.APIClient, image: str, path: str, dest: Path) -> None:
    """Copy ``path`` out of an image (through a created, never started container)."""
    container = api.create_container(image, command=["true"], labels={LABEL_PROJECT: PROJECT}, network_disabled=True)
    try:
        chunks, _ = api.get_archive(container["Id"], path)
        archives.extract_tar(io.BufferedReader(_ChunkReader(chunks), 1 << 20), dest, label=f"{image}:{path}")
    finally:
        api.remove_container(container["Id"], force=True)
