"""The only door to Docker: streamed builds, containers, archives, clean-up.

Everything the project creates carries the label ``LABEL_PROJECT`` so that ``invoke clean``
(:func:`remove_project_objects`) finds it. Every container is a :class:`Container`: created with
that label, always removed when its ``with`` block ends (also on errors and Ctrl-C), no bind
mounts (files go in and out through the archive API, so a remote DOCKER_HOST works).

Failures come out as :class:`DciError` subclasses naming the step and the image:
:class:`ContainerTimeout` (still running at its deadline, with or without output),
:class:`DaemonLost` (the daemon stopped answering), :class:`DockerRefused` (the daemon
answered with an error) and :class:`DaemonUnreachable` (none answers at DOCKER_HOST).
"""

from __future__ import annotations

import codecs
import contextlib
import io
import os
import re
import signal
import socket
import tarfile
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, NamedTuple

import docker
import docker.errors
import docker.utils
import requests.exceptions
import urllib3.exceptions

from crossgen.core import archives, ui
from crossgen.core.errors import DciError, Unreachable

LABEL_PROJECT = "io.github.dotnet-composite-images.project"
LABEL_PREFIX = "io.github.dotnet-composite-images."
PROJECT = "dotnet-composite-images"


def label(name: str) -> str:
    return LABEL_PREFIX + name


# Who made a container: "<host>:<boot id>:<pid>:<process start>". A process killed outright (SIGKILL,
# a CI job's timeout) cannot remove its containers; the next connect() from the same host removes
# those whose process is gone (another boot, or the pid no longer that process).
LABEL_OWNER = LABEL_PREFIX + "owner"


def _process_start(pid: int) -> str | None:
    """The start time of process ``pid`` (clock ticks since boot: tells a reused pid apart), None when
    there is no such process or no /proc to ask."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _boot_id() -> str | None:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None


def _owner() -> str | None:
    """This process as a container's owner label (None where /proc cannot tell: no label, no sweep)."""
    start, boot = _process_start(os.getpid()), _boot_id()
    return f"{socket.gethostname()}:{boot}:{os.getpid()}:{start}" if start and boot else None


def _orphaned(owner: str) -> bool:
    """Is the process named by an owner label gone? Only said of this host's containers."""
    try:
        host, boot, pid, start = owner.rsplit(":", 3)
        pid_n = int(pid)
    except ValueError:
        return False
    if _owner() is None or host != socket.gethostname():
        return False
    return boot != _boot_id() or _process_start(pid_n) != start


def remove_orphans(api: docker.APIClient) -> int:
    """Remove the project's containers left by processes of this host that ended without removing them;
    returns how many (best effort: an error here never stops the task that connects)."""
    removed = 0
    try:
        for ct in api.containers(all=True, filters={"label": [f"{LABEL_PROJECT}={PROJECT}", LABEL_OWNER]}):
            if _orphaned((ct.get("Labels") or {}).get(LABEL_OWNER, "")):
                api.remove_container(ct["Id"], force=True)
                removed += 1
    except (docker.errors.APIError, *_CONNECTION_ERRORS):
        pass
    return removed


def daemon_address() -> str:
    """Where the daemon is looked for: DOCKER_HOST, else the local socket."""
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


CONNECT_TIMEOUT = 30  # seconds the first answer (version, ping) may take; a dead address fails within it


def connect(timeout: int = 1800) -> docker.APIClient:
    """A low-level client for DOCKER_HOST (or the local socket), TLS as DOCKER_TLS_VERIFY and
    DOCKER_CERT_PATH say; :class:`DaemonUnreachable` when nothing answers there."""
    address = daemon_address()
    try:
        tls = {k: v for k, v in docker.utils.kwargs_from_env().items() if k == "tls"}
        api = docker.APIClient(base_url=address, timeout=CONNECT_TIMEOUT, version="auto", **tls)
        api.ping()
    except Exception as exc:  # the SDK raises many kinds here
        raise DaemonUnreachable(*_unreachable(address, _reason(exc))) from None
    api.timeout = timeout
    orphans = remove_orphans(api)
    if orphans:
        ui.detail(f"removed {orphans} container(s) of this project left by processes that were killed before they could")
    return api


def _reason(exc: BaseException) -> str:
    """The operating system's word for it when there is one ("[Errno 111] Connection refused"), else the exception."""
    text = " ".join(str(exc).split())
    errno = re.search(r"\[Errno -?\d+\] [^'\")\]]+", text)
    return errno.group(0).strip() if errno else f"{type(exc).__name__}: {text[:200]}"


def _unreachable(address: str, why: str) -> tuple[str, str, str]:
    if os.environ.get("DOCKER_HOST"):
        return (f"Docker daemon at {address} (DOCKER_HOST)", f"not reachable ({why})",
                "start the daemon there, or correct DOCKER_HOST (a remote host: tcp://HOST:PORT, with DOCKER_TLS_VERIFY=1 "
                "and DOCKER_CERT_PATH when it needs TLS), or unset DOCKER_HOST to use this machine's daemon "
                "(scripts/bootstrap.sh starts it)")
    return (f"Docker daemon at {address} (DOCKER_HOST is not set)", f"not reachable ({why})",
            "run scripts/bootstrap.sh (it starts dockerd) or set DOCKER_HOST to a running daemon, e.g. tcp://HOST:PORT")


# -- errors ------------------------------------------------------------------------------------

class DaemonUnreachable(Unreachable):
    """No Docker daemon answers at DOCKER_HOST (or at the local socket when it is not set)."""


class DockerRefused(DciError):
    """The daemon answered a request with an error (no such image, no such path...)."""


class DaemonLost(DciError):
    """The daemon stopped answering in the middle of a step."""


class ContainerTimeout(DciError):
    """A container was still running at its deadline (it has been removed)."""


class BuildError(DciError):
    pass


_CONNECTION_ERRORS = (requests.exceptions.RequestException, urllib3.exceptions.HTTPError, ConnectionError)


def _is_read_timeout(exc: BaseException) -> bool:
    """A request that got no answer within its own timeout (the daemon is there, just busy/waiting)."""
    if isinstance(exc, (requests.exceptions.ReadTimeout, urllib3.exceptions.ReadTimeoutError)):
        return True
    return isinstance(exc, requests.exceptions.ConnectionError) and any(
        isinstance(a, urllib3.exceptions.ReadTimeoutError) for a in exc.args)


def _lost(what: str, doing: str, exc: BaseException) -> DaemonLost:
    return DaemonLost(
        what, f"the Docker daemon at {daemon_address()} stopped answering while {doing} ({type(exc).__name__})",
        "start the daemon again (scripts/bootstrap.sh; `docker info` tells whether it is up) and run the task again: "
        "it resumes from what was complete; `invoke clean` removes a container left behind",
    )


@contextlib.contextmanager
def _talking(what: str, doing: str, fix: str = "") -> Iterator[None]:
    """Turn the SDK's exceptions into DciErrors naming ``what`` (step, image) and ``doing``."""
    try:
        yield
    except docker.errors.ImageNotFound as exc:
        raise DockerRefused(what, f"no such image while {doing} ({_explain(exc)})",
                            fix or "build it first (invoke build-all) or check the name; images are never pulled implicitly") from None
    except docker.errors.APIError as exc:
        raise DockerRefused(what, f"Docker refused {doing}: {_explain(exc)}", fix or "`docker info` shows whether the daemon is healthy") from None
    except _CONNECTION_ERRORS as exc:
        raise _lost(what, doing, exc) from None


def _explain(exc: docker.errors.APIError) -> str:
    text = exc.explanation if isinstance(exc.explanation, str) and exc.explanation else str(exc)
    return " ".join(text.split())[:300]


@contextlib.contextmanager
def _interrupts_deferred() -> Iterator[None]:
    """Hold Ctrl-C back for the duration (a container being created or removed is not left
    half-done); it is raised as KeyboardInterrupt when the block ends."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.SIG_DFL if previous is None else previous)  # None: not set from Python
        if caught:
            if callable(previous):
                previous(signal.SIGINT, None)
            elif previous != signal.SIG_IGN:
                raise KeyboardInterrupt


# -- images ------------------------------------------------------------------------------------

def image_info(api: docker.APIClient, ref: str) -> dict | None:
    try:
        return api.inspect_image(ref)
    except docker.errors.NotFound:  # ImageNotFound is one
        return None


def image_history(api: docker.APIClient, image_id: str) -> list[dict]:
    """The daemon's history of an image (newest step first)."""
    with _talking(f"image {image_id[:19]}", "reading its history"):
        return api.history(image_id)


_DAEMON_ARCH: "weakref.WeakKeyDictionary[docker.APIClient, str]" = weakref.WeakKeyDictionary()


def daemon_architecture(api: docker.APIClient) -> str:
    """The daemon's own architecture, named as images name theirs (``amd64``, ``arm64``); asked once per client."""
    if api not in _DAEMON_ARCH:
        with _talking(f"Docker daemon at {daemon_address()}", "reading its architecture"):
            _DAEMON_ARCH[api] = str(api.version().get("Arch", ""))
    return _DAEMON_ARCH[api]


def runs_emulated(api: docker.APIClient, image: str) -> bool:
    """Whether ``image``'s programs are of another architecture than the daemon's (they run under qemu-user)."""
    arch = (image_info(api, image) or {}).get("Architecture", "")
    return bool(arch) and arch != daemon_architecture(api)


def daemon_version(api: docker.APIClient) -> str:
    """The daemon's version ("" when it does not say)."""
    with _talking(f"Docker daemon at {daemon_address()}", "reading its version"):
        return str(api.version().get("Version", ""))


def pull(api: docker.APIClient, ref: str, *, platform: str | None = None) -> None:
    """Pull ``ref`` (only where the configuration asks for it: base_pull), for ``platform`` when given."""
    repo, _, tag = ref.rpartition(":")
    with _talking(f"image {ref}", "pulling it", "check the registry is reachable, or let the tool build the OS base"):
        api.pull(repo or ref, tag=tag or "latest", platform=platform)


def import_rootfs(api: docker.APIClient, tar: Path, ref: str, changes: list[str]) -> None:
    """Import a root file system tarball as image ``ref`` (``docker import``). Its config records the
    daemon's architecture whatever the files are (Docker 20.10): :func:`reproducible.normalize` with a
    ``platform`` sets it."""
    repo, _, tag = ref.rpartition(":")
    with _talking(f"image {ref}", "importing its root file system"), open(tar, "rb") as f:
        api.import_image_from_data(f.read(), repository=repo or ref, tag=tag or "latest", changes=changes)


def load(api: docker.APIClient, archive: Path) -> None:
    """``docker load`` of an archive on this machine (streamed to the daemon: it may be remote)."""
    with _talking(f"archive {archive.name}", "loading it into the daemon"), open(archive, "rb") as f:
        for chunk in api.load_image(f, quiet=True):
            if "error" in chunk or "errorDetail" in chunk:
                detail = chunk.get("error") or (chunk.get("errorDetail") or {}).get("message") or str(chunk)
                raise BuildError(f"archive {archive.name}", f"docker load failed: {detail.strip()}",
                                 "build the image again; if it persists, see the daemon's log")


def remove_image(api: docker.APIClient, image_id: str) -> None:
    """Remove an image that is no longer tagged (and its untagged build intermediates); an image still
    used by a tag or a container stays."""
    try:
        api.remove_image(image_id)
    except docker.errors.APIError:
        pass  # still in use: leave it to `invoke clean`


def push(api: docker.APIClient, ref: str, remote: str, tag: str, *, auth_config: dict | None = None,
         keep_tag: bool = False) -> Iterator[dict]:
    """Tag ``ref`` as ``remote:tag``, push it (the progress messages are yielded) and untag it again
    (``keep_tag``: the caller untags it with :func:`untag`, after reading what the push recorded).
    ``auth_config`` (username, password) is sent as the registry login; without it the SDK looks in
    the Docker configuration itself."""
    with _talking(f"image {ref}", f"pushing it to {remote}"):
        api.tag(ref, remote, tag=tag)
        try:
            yield from api.push(remote, tag=tag, stream=True, decode=True, auth_config=auth_config)
        finally:
            if not keep_tag:
                untag(api, f"{remote}:{tag}")


def tag(api: docker.APIClient, image: str, ref: str) -> None:
    """Tag ``image`` (an ID or reference) as ``ref`` (repository:tag), moving the tag if it names another image."""
    repo, _, name = ref.rpartition(":")
    with _talking(f"image {image[:19]}", f"tagging it {ref}"):
        api.tag(image, repo, tag=name, force=True)


def tagged_with_label(api: docker.APIClient, repository: str, key: str, value: str) -> list[str]:
    """The tags (repository:tag) of the images of ``repository`` whose label ``key`` is ``value``."""
    with _talking(f"images {repository}", f"listing those labelled {key}"):
        found = api.images(name=repository, filters={"label": f"{key}={value}"})
    return sorted(t for i in found for t in (i.get("RepoTags") or []) if t.startswith(repository + ":"))


def untag(api: docker.APIClient, ref: str) -> None:
    """Remove the tag ``ref`` only (``noprune``: the image and its other tags stay); gone already is fine."""
    try:
        api.remove_image(ref, noprune=True)
    except docker.errors.APIError:
        pass
    except _CONNECTION_ERRORS as exc:
        raise _lost(f"image {ref}", "removing the tag", exc) from None


def registry_is_insecure(api: docker.APIClient, host: str) -> bool:
    """Whether the daemon talks plain HTTP to registry ``host[:port]``: named in its insecure
    registries, or an address in one of their CIDRs (127.0.0.0/8 always), as the daemon decides."""
    import ipaddress

    with _talking(f"Docker daemon at {daemon_address()}", "reading its registry configuration"):
        config = api.info().get("RegistryConfig") or {}
    index = (config.get("IndexConfigs") or {}).get(host)
    if index is not None:
        return not index.get("Secure", True)
    name = host[1:].split("]", 1)[0] if host.startswith("[") else host.split(":", 1)[0]
    try:
        addresses = {ipaddress.ip_address(name)}
    except ValueError:
        try:
            addresses = {ipaddress.ip_address(a[4][0]) for a in socket.getaddrinfo(name, None)}
        except (OSError, ValueError):
            return False
    networks = []
    for cidr in config.get("InsecureRegistryCIDRs") or []:
        try:
            networks.append(ipaddress.ip_network(cidr))
        except ValueError:
            pass
    return any(a in n for a in addresses for n in networks if a.version == n.version)


def remove_tags_with_prefix(api: docker.APIClient, prefix: str, *, log: Callable[[str], None] | None = None) -> int:
    """Untag (and so remove) every image tagged under ``prefix``, newest first; returns how many tags went."""
    removed = 0
    with _talking(f"images {prefix}*", "removing them"):
        mine = [i for i in api.images() if any(t.startswith(prefix) for t in (i.get("RepoTags") or []))]
        for img in sorted(mine, key=lambda i: i["Created"], reverse=True):
            for tag in img.get("RepoTags") or []:
                if tag.startswith(prefix):
                    try:
                        api.remove_image(tag)
                        removed += 1
                    except docker.errors.APIError as exc:
                        (log or (lambda line: None))(f"could not remove {tag}: {_explain(exc)[:100]}")
    return removed


def image_labels(info: dict | None) -> dict:
    return dict(((info or {}).get("Config") or {}).get("Labels") or {})


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
    epoch: int | None = None,
) -> str:
    """Build ``context`` with the classic builder, streaming; returns the image ID.

    An image of another architecture is built without naming it: the classic builder takes the FROM
    image as it is and runs its RUN steps through binfmt_misc (given a platform, Docker 20.10's classic
    builder refuses its own intermediate images at the next COPY), and records the daemon's architecture
    in the config; :func:`reproducible.normalize` with a ``platform`` writes the right one.

    With ``epoch`` the context goes to the daemon as a reproducible tar (:func:`context_tar`), so that
    what ``COPY`` writes and the history's ``dir:<hash>`` do not depend on who staged it, or when.
    ``error``, ``errorDetail`` or a bare ``message`` in the stream is a failure.
    """
    log = log or (lambda line: None)
    all_labels = {LABEL_PROJECT: PROJECT, **(labels or {})}
    image_id = None
    tail: list[str] = []
    tail_all: list[str] = []   # every step and image line (a multi-stage build's stage images are removed after it)
    with contextlib.ExitStack() as stack, _talking(f"image {tag}", "building it"):
        where: dict = {"path": str(context)}
        if epoch is not None:
            tar = context.parent / f".{context.name}.context.tar"
            stack.callback(tar.unlink, missing_ok=True)
            context_tar(context, epoch, tar)
            where = {"fileobj": stack.enter_context(open(tar, "rb")), "custom_context": True}
        # the Dockerfile may ask for SOURCE_DATE_EPOCH (`ARG SOURCE_DATE_EPOCH`): given only then
        wants_epoch = epoch is not None and "ARG SOURCE_DATE_EPOCH" in (context / dockerfile).read_text()
        stream = api.build(
            **where, dockerfile=dockerfile, tag=tag, labels=all_labels, rm=True, forcerm=True,
            decode=True, pull=False, network_mode=network_mode,
            # reproducible: every image is built anew, never handed back by the classic cache
            nocache=epoch is not None,
            buildargs={"SOURCE_DATE_EPOCH": str(epoch)} if wants_epoch else None,
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
                    if line.startswith((" ---> ", "Step ")):
                        tail_all.append(line)
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
    _remove_stage_images(api, stage_ends(tail_all), image_id)
    return image_id


def stage_ends(lines: list[str]) -> list[str]:
    """The images that ended the earlier stages of a multi-stage build, from the classic builder's output:
    the last `` ---> <id>`` before each ``Step n/m : FROM`` after the first."""
    ends: list[str] = []
    last = None
    for line in lines:
        m = _STEP.match(line)
        if m and m.group(3).upper().startswith("FROM ") and int(m.group(1)) > 1 and last:
            ends.append(last)
        arrow = re.match(r"^ ---> ([0-9a-f]{12,64})$", line)
        if arrow:
            last = arrow.group(1)
    return ends


def _remove_stage_images(api: docker.APIClient, ids: list[str], final: str) -> None:
    """The classic builder keeps the image of each earlier stage (a cache nobody uses here: builds run
    without cache): remove those that nothing tags (never a named base image a stage was only FROM)."""
    for short in ids:
        info = image_info(api, short)
        if info and not info.get("RepoTags") and info["Id"] != final:
            remove_image(api, info["Id"])


def context_tar(context: Path, epoch: int, dest: Path) -> None:
    """``context`` as a build context tar whose bytes depend only on the files: entries in name order,
    mtimes at ``epoch``, owned by root without names, modes kept."""
    def fixed(ti: tarfile.TarInfo) -> tarfile.TarInfo:
        ti.mtime = epoch
        ti.uid = ti.gid = 0
        ti.uname = ti.gname = ""
        return ti

    with tarfile.open(dest, "w:", format=tarfile.PAX_FORMAT) as tf:
        for path in sorted(context.rglob("*"), key=lambda p: p.relative_to(context).parts):
            tf.add(str(path), arcname=str(path.relative_to(context)), recursive=False, filter=fixed)


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


class _ForwardOnly(io.RawIOBase):
    """A stream that ``tarfile`` may seek forward in (what it skips is read and dropped): its plain
    ``r:`` mode reads a member's bytes straight from the stream, where the streaming ``r|`` mode copies
    every byte three times (most of the time of taking a layer out of ``docker save``)."""

    def __init__(self, raw: io.BufferedReader) -> None:
        self.raw = raw
        self.pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        self.pos += len(data)
        return data

    def readinto(self, b) -> int:
        n = self.raw.readinto(b)
        self.pos += n
        return n

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        target = {io.SEEK_SET: offset, io.SEEK_CUR: self.pos + offset}.get(whence)
        if target is None or target < self.pos:
            raise io.UnsupportedOperation(f"a docker save stream only seeks forward (at {self.pos}, asked {offset}, {whence})")
        while self.pos < target:
            if not self.read(min(target - self.pos, 1 << 20)):
                break
        return self.pos


@contextlib.contextmanager
def saved_image(api: docker.APIClient, ref: str) -> Iterator[tarfile.TarFile]:
    """``docker save`` of one image as a tar archive read as it streams (nothing is stored): iterate
    over it (``for member in archive``) and read members with ``archive.extractfile``, in order."""
    with image_tar(api, ref) as stream, tarfile.open(fileobj=_ForwardOnly(stream), mode="r:") as archive:
        yield archive


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (for host-network servers)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- containers --------------------------------------------------------------------------------

class ExecResult(NamedTuple):
    exit_code: int
    output: str


class Container:
    """One container of the project, removed when the ``with`` block ends, whatever ends it.

    ::

        with Container(api, image, ["sh", "-c", "..."], step="bubble runtime") as box:
            box.put("/work/in", tar_bytes)        # before or after start
            box.start()
            box.follow(on_line)                   # stream its output (a thread), optional
            code = box.wait(timeout=600)          # ContainerTimeout at the deadline, output or not
            box.copy_out("/work/out", dest)
        # removed here (also on errors, timeouts and Ctrl-C)

    Long-running ones (``entrypoint=["sleep", "infinity"]``) are used with :meth:`exec`,
    :meth:`exec_detached` and :meth:`exec_info`. ``step`` names the container in errors.

    An image of another architecture than the daemon's runs with Docker's init as PID 1: its program runs
    under qemu-user, which ends a program that dies of a signal (an unhandled .NET exception aborts) by
    sending itself that signal and waiting for it, and the kernel never delivers it to a PID namespace's
    init: as PID 1 the container would run until its time limit instead of exiting.
    """

    def __init__(
        self,
        api: docker.APIClient,
        image: str,
        command: list[str] | None = None,
        *,
        step: str | None = None,
        network_mode: str = "none",
        environment: dict[str, str] | None = None,
        user: str | None = None,
        working_dir: str | None = None,
        entrypoint: list[str] | None = None,
        labels: dict[str, str] | None = None,
        mem_limit: str | None = None,
    ) -> None:
        self.api = api
        self.image = image
        self.what = f"{step} (image {image})" if step else f"container of {image}"
        self._create = dict(
            command=command, environment=environment, user=user, working_dir=working_dir, entrypoint=entrypoint,
            labels={LABEL_PROJECT: PROJECT, **({LABEL_OWNER: owner} if (owner := _owner()) else {}), **(labels or {})},
            network_disabled=network_mode == "none",
        )
        self._host = dict(network_mode=network_mode, mem_limit=mem_limit)
        self.id: str | None = None
        self._started_at: float | None = None
        self._ended_at: float | None = None
        self._chunks: list[str] = []
        self._follower: threading.Thread | None = None
        self._on_line: Callable[[str], None] | None = None

    # lifetime
    def __enter__(self) -> "Container":
        try:
            with _talking(self.what, "creating the container"), _interrupts_deferred():
                init = {"init": True} if runs_emulated(self.api, self.image) else {}
                host_config = self.api.create_host_config(**self._host, **init)
                self.id = self.api.create_container(self.image, host_config=host_config, **self._create)["Id"]
        except BaseException:  # Ctrl-C held back during the creation arrives here: nothing is left
            self.remove()
            raise
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        lost = self.remove()
        if lost and (exc_type is None or (issubclass(exc_type, DciError) and not issubclass(exc_type, DaemonLost))):
            # what looked like an exit code or a refusal was the daemon going away
            raise _lost(self.what, "the container ran", lost) from None

    def remove(self) -> BaseException | None:
        """Remove the container (killing it if it runs); returns the connection error if the
        daemon could not be reached (nothing else escapes: removal is best effort)."""
        if self.id is None:
            return None
        with _interrupts_deferred():
            try:
                self.api.remove_container(self.id, force=True)
            except docker.errors.APIError:
                pass  # gone already, or being removed
            except _CONNECTION_ERRORS as exc:
                return exc
            finally:
                self.id = None
        return None

    def _need(self) -> str:
        if self.id is None:
            raise RuntimeError("Container used outside its with block")
        return self.id

    # files
    def put(self, folder: str, tar_bytes: bytes) -> None:
        """Unpack a tar into ``folder`` (which must exist in the image)."""
        with _talking(self.what, f"copying files into {folder}", "check that the folder exists in the image and that the daemon has disk space (docker system df)"):
            ok = self.api.put_archive(self._need(), folder, tar_bytes)
        if not ok:
            raise DockerRefused(self.what, f"could not copy files into {folder}", "check that the folder exists in the image")

    def copy_out(self, path: str, dest: Path) -> None:
        """Copy ``path`` (a file or folder) out into the host folder ``dest`` (extracted safely)."""
        with _talking(self.what, f"copying {path} out", f"check that {path} exists in the image"):
            chunks, _ = self.api.get_archive(self._need(), path)
            archives.extract_tar(io.BufferedReader(_ChunkReader(chunks), 1 << 20), dest, label=f"{self.image}:{path}")

    # running
    def start(self) -> None:
        with _talking(self.what, "starting the container"):
            self.api.start(self._need())
        self._started_at = time.monotonic()

    @property
    def seconds(self) -> float:
        """From start to the end of :meth:`wait` (or now)."""
        if self._started_at is None:
            return 0.0
        return (self._ended_at or time.monotonic()) - self._started_at

    def follow(self, on_line: Callable[[str], None] | None = None) -> None:
        """Collect the container's output in a thread as it comes, calling ``on_line`` for each
        line (from that thread); :meth:`output` returns all of it."""
        if self._follower is not None:
            return
        self._on_line = on_line
        cid = self._need()
        with _talking(self.what, "reading its output"):
            stream = self.api.logs(cid, stream=True, follow=True)

        def pump() -> None:
            decoder = codecs.getincrementaldecoder("utf-8")("replace")
            pending = ""
            try:
                for raw in stream:
                    text = decoder.decode(raw)
                    self._chunks.append(text)
                    pending += text
                    *lines, pending = pending.split("\n")
                    for line in lines:
                        self._tell(line.rstrip("\r"))
                tail = decoder.decode(b"", final=True)
                self._chunks.append(tail)
                if (pending + tail).strip():
                    self._tell((pending + tail).rstrip("\r\n"))
            except Exception:  # the container was removed, or the daemon went away: wait() says which
                pass

        self._follower = threading.Thread(target=pump, name=f"logs-{cid[:12]}", daemon=True)
        self._follower.start()

    def _tell(self, line: str) -> None:
        if self._on_line:
            try:
                self._on_line(line)
            except Exception:  # a broken display must not stop the collection
                pass

    def output(self) -> str:
        """Everything :meth:`follow` collected (after :meth:`wait`: all of it).

        A follow stream can miss the very end of a container that exits at once (its last
        line without a newline); after the exit the log is read once more to complete it."""
        if self._follower is not None:
            self._follower.join(30)
            got = "".join(self._chunks)
            if self._ended_at is not None and self.id is not None:
                full = self.logs()
                if len(full) > len(got) and full.startswith(got):
                    rest = full[len(got):]
                    self._chunks.append(rest)
                    for line in rest.splitlines():
                        self._tell(line)
        return "".join(self._chunks)

    def logs(self) -> str:
        """The output so far, read at once."""
        with _talking(self.what, "reading its output"):
            return self.api.logs(self._need()).decode("utf-8", "replace")

    def state(self) -> dict:
        with _talking(self.what, "inspecting the container"):
            return dict(self.api.inspect_container(self._need()).get("State") or {})

    def wait(self, timeout: float) -> int:
        """Wait for the exit (seconds from :meth:`start`, or from now); returns the exit code.

        At the deadline the container is removed and :class:`ContainerTimeout` raised, whether
        or not it printed anything.
        """
        cid = self._need()
        deadline = (self._started_at or time.monotonic()) + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                quiet = self._follower is not None and not "".join(self._chunks).strip()
                self.remove()
                raise ContainerTimeout(
                    self.what, f"still running after {timeout:g} s{' without printing anything' if quiet else ''}; the container was removed",
                    "look at its output; if it is just slow, give it more time",
                )
            try:
                status = self.api.wait(cid, timeout=min(remaining, 30.0) + 0.05)
                break
            except _CONNECTION_ERRORS as exc:
                if _is_read_timeout(exc):
                    continue
                raise _lost(self.what, "waiting for the container", exc) from None
            except docker.errors.APIError as exc:
                raise DockerRefused(self.what, f"Docker refused waiting for the container: {_explain(exc)}",
                                    "`docker info` shows whether the daemon is healthy") from None
        self._ended_at = time.monotonic()
        code = int(status.get("StatusCode", -1))
        if code >= 128 or code < 0:
            # killed: by the kernel (memory), by the daemon shutting down, or by itself
            if self.state().get("OOMKilled"):
                raise DciError(self.what, f"killed for lack of memory (exit code {code})", "give the Docker daemon more memory, or lower the parallelism")
        return code

    def exec(self, cmd: list[str], env: dict[str, str] | None = None, *, timeout: float | None = None) -> ExecResult:
        """Run ``cmd`` in the running container; stdout and stderr together.
        With ``timeout``: :class:`ContainerTimeout` if it has not ended by then (it is left running)."""
        cid = self._need()
        with _talking(self.what, f"running {cmd[0]} in the container"):
            ex = self.api.exec_create(cid, cmd, environment=env or None, stdout=True, stderr=True)
            if timeout is None:
                out = self.api.exec_start(ex["Id"])
            else:
                got: dict = {}

                def read() -> None:
                    try:
                        got["out"] = self.api.exec_start(ex["Id"])
                    except BaseException as exc:  # handed to the caller's thread
                        got["error"] = exc

                reader = threading.Thread(target=read, name=f"exec-{cid[:12]}", daemon=True)
                reader.start()
                reader.join(timeout)
                if reader.is_alive():
                    raise ContainerTimeout(self.what, f"{' '.join(cmd)[:200]} still running after {timeout:g} s", "look at what it does; if it is just slow, give it more time")
                if "error" in got:
                    raise got["error"]
                out = got["out"]
            code = self.api.exec_inspect(ex["Id"]).get("ExitCode")
        return ExecResult(int(code if code is not None else -1), out.decode("utf-8", "replace"))

    def exec_detached(self, cmd: list[str], env: dict[str, str] | None = None) -> str:
        """Start ``cmd`` in the running container and return at once; the exec ID is returned."""
        cid = self._need()
        with _talking(self.what, f"starting {cmd[0]} in the container"):
            ex = self.api.exec_create(cid, cmd, environment=env or None)
            self.api.exec_start(ex["Id"], detach=True)
        return ex["Id"]

    def exec_info(self, exec_id: str) -> dict:
        """``Running`` and ``ExitCode`` of an exec started with :meth:`exec_detached`."""
        with _talking(self.what, "inspecting a process in the container"):
            return dict(self.api.exec_inspect(exec_id))


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
    step: str | None = None,
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
    """Run one container to completion (at most ``timeout`` seconds) and remove it.

    ``put``: (container folder, tar bytes) copied in before start. ``get``: (container path,
    host folder) copied out after a zero exit (extracted safely). ``stream_output`` gets each
    line as it comes (from another thread).
    """
    with Container(
        api, image, command, step=step, network_mode=network_mode, environment=environment, user=user,
        working_dir=working_dir, entrypoint=entrypoint, labels=labels, mem_limit=mem_limit,
    ) as box:
        for path, data in put or []:
            box.put(path, data)
        box.start()
        box.follow(stream_output)
        code = box.wait(timeout)
        output = box.output()
        if code == 0:
            for path, dest in get or []:
                box.copy_out(path, dest)
        return RunResult(code, output, box.seconds)


def copy_out(api: docker.APIClient, image: str, path: str, dest: Path) -> None:
    """Copy ``path`` out of an image (through a created, never started container)."""
    with Container(api, image, ["true"], step=f"copying {path} out") as box:
        box.copy_out(path, dest)


def image_paths(api: docker.APIClient, image: str) -> list[str]:
    """Every path in an image's file system, without a leading ``/`` (``docker export`` of a created,
    never started container, streamed: only the names are read)."""
    with Container(api, image, ["true"], step="listing its files") as box:
        with _talking(box.what, "exporting its file system"):
            stream = io.BufferedReader(_ChunkReader(api.export(box._need())), 1 << 20)
            with tarfile.open(fileobj=stream, mode="r|") as tf:
                return [m.name[2:] if m.name.startswith("./") else m.name.lstrip("/") for m in tf]


def containers_with_label(api: docker.APIClient, key: str, value: str) -> list[dict]:
    """Containers (running or not) carrying label ``key=value``."""
    return api.containers(all=True, filters={"label": f"{key}={value}"})


def remove_project_objects(api: docker.APIClient, *, log: Callable[[str], None] | None = None) -> tuple[int, int]:
    """Remove every container, then every image, that carries the project label (what
    ``invoke clean`` does); returns (containers removed, images removed)."""
    log = log or (lambda line: None)
    with _talking(f"Docker daemon at {daemon_address()}", "removing the project's containers and images"):
        containers = 0
        for ct in containers_with_label(api, LABEL_PROJECT, PROJECT):
            with _interrupts_deferred():
                try:
                    api.remove_container(ct["Id"], force=True)
                    containers += 1
                except docker.errors.NotFound:
                    pass  # removed meanwhile (its own with block)
        images = 0
        for img in sorted(api.images(filters={"label": f"{LABEL_PROJECT}={PROJECT}"}), key=lambda i: i["Created"], reverse=True):
            try:
                api.remove_image(img["Id"], force=True)
                images += 1
            except docker.errors.APIError as exc:  # an image still used as a parent is removed with its child
                log(f"{img['Id'][:19]}: {_explain(exc)[:100]}")
    return containers, images
