"""A loopback stand-in for the official .NET CDN (and a small NuGet v3 feed), made of real bits.

The official CDN cannot be reached from the test machines, so this serves the same layout on
127.0.0.1 over real HTTP::

    /dotnet/release-metadata/releases-index.json
    /dotnet/release-metadata/<channel>/releases.json
    /dotnet/Runtime/<v>/dotnet-runtime-<v>-linux-x64.tar.gz        (+ .sha512)
    /dotnet/aspnetcore/Runtime/<v>/aspnetcore-runtime-<v>-linux-x64.tar.gz  (+ .sha512)
    /dotnet/checksums/<v>-sha.txt

The tarballs are packed like the official ones (``./dotnet``, ``./host/fxr/<v>/libhostfxr.so``,
``./shared/Microsoft.NETCore.App/<v>/...`` with its ``.version``, ``./LICENSE.txt``,
``./ThirdPartyNotices.txt``) from the real NuGet runtime packs plus the real ``dotnet`` host of
the installed SDK, or straight from an installed dotnet layout; the metadata JSON has the real
schema and the tarballs' true SHA-512. Like the real metadata, it points at
``https://builds.dotnet.microsoft.com/dotnet/...``: the client under test must move those URLs
onto the mirror base URL.

Faults are injected per path (:class:`Fault`): an HTTP status (e.g. 404, or 500 a few times
then the real answer), a body cut off after N bytes (Content-Length announces the whole), a
slow answer (client timeouts), or other bytes than the real file.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import os
import shutil
import socket
import tarfile
import threading
import time
import zipfile
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

OFFICIAL = "https://builds.dotnet.microsoft.com/dotnet"
MTIME = 1_760_000_000  # fixed, so that packing is reproducible (same bytes, same SHA-512)
HELPER_FORMAT = 3      # bump when the packing below changes (invalidates the persistent cache)


_HASHES: dict[tuple, str] = {}


def sha512_of(path_or_bytes: Path | bytes) -> str:
    if isinstance(path_or_bytes, bytes):
        return hashlib.sha512(path_or_bytes).hexdigest()
    st = os.stat(path_or_bytes)
    key = (str(path_or_bytes), st.st_size, st.st_mtime_ns)
    if key not in _HASHES:
        h = hashlib.sha512()
        with open(path_or_bytes, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        _HASHES[key] = h.hexdigest()
    return _HASHES[key]


# -- faults and the server ------------------------------------------------------------------------
@dataclass
class Fault:
    """What to do instead of serving a path normally, for the first ``times`` requests (None = always)."""

    status: int | None = None       # answer with this HTTP status
    cut_after: int | None = None    # send the full Content-Length, then only this many bytes and close
    delay: float = 0.0              # wait this long before answering (client read timeout)
    body: bytes | None = None       # serve these bytes instead of the real file
    times: int | None = None
    served: int = 0

    def active(self) -> bool:
        return self.times is None or self.served < self.times


class FakeServer:
    """A threaded HTTP server on 127.0.0.1 serving files and JSON documents by URL path."""

    def __init__(self) -> None:
        self.files: dict[str, bytes | Path] = {}
        self.faults: dict[str, Fault] = {}
        self.log: list[tuple[str, int]] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- content -----------------------------------------------------------------------------
    def put(self, path: str, content: bytes | Path | Any) -> None:
        if not isinstance(content, (bytes, Path)):
            content = json.dumps(content, indent=1).encode()
        self.files[path] = content

    def fault(self, path: str, **kw: Any) -> Fault:
        f = Fault(**kw)
        self.faults[path] = f
        return f

    def hits(self, path: str) -> list[int]:
        return [status for p, status in self.log if p == path]

    # -- lifecycle ---------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        assert self._httpd is not None
        return self._httpd.server_address[1]

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, port: int = 0) -> "FakeServer":
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, status: int, body: bytes = b"", ctype: str = "text/plain") -> None:
                with server._lock:  # logged before answering: the client cannot see the answer first
                    server.log.append((self.path.split("?")[0], status))
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:  # noqa: N802
                path = self.path.split("?")[0]
                with server._lock:
                    fault = server.faults.get(path)
                    if fault is not None and fault.active():
                        fault.served += 1
                    else:
                        fault = None
                if fault is not None and fault.delay:
                    time.sleep(fault.delay)
                if fault is not None and fault.status is not None:
                    return self._answer(fault.status, f"injected {fault.status}\n".encode())
                content = server.files.get(path)
                if content is None:
                    return self._answer(404, b"not found\n")
                if fault is not None and fault.body is not None:
                    content = fault.body
                size = len(content) if isinstance(content, bytes) else content.stat().st_size
                ctype = "application/json" if path.endswith(".json") else "application/octet-stream"
                with server._lock:  # 200 now; a cut-off answer is re-logged as -<bytes sent> before closing
                    server.log.append((path, 200))
                    entry = len(server.log) - 1
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(size))
                if fault is not None and fault.cut_after is not None:
                    self.send_header("Connection", "close")
                self.end_headers()
                limit = fault.cut_after if fault is not None and fault.cut_after is not None else size
                sent = 0
                try:
                    if isinstance(content, bytes):
                        self.wfile.write(content[:limit])
                        sent = min(limit, size)
                    else:
                        with open(content, "rb") as f:
                            while sent < limit:
                                block = f.read(min(1 << 20, limit - sent))
                                if not block:
                                    break
                                self.wfile.write(block)
                                sent += len(block)
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass
                if sent < size:
                    with server._lock:
                        server.log[entry] = (path, -sent)
                    self.close_connection = True
                    try:
                        self.connection.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a client that gave up (timeout tests) is not a server error

        self._httpd = Server(("127.0.0.1", port), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> "FakeServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def closed_port_url(path: str = "/dotnet") -> str:
    """A loopback URL on which nothing listens (connection refused)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}{path}"


# -- packing official-style tarballs -------------------------------------------------------------------
class TarWriter:
    """A deterministic ``.tar.gz`` with ``./``-prefixed entries, like the official tarballs."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.tmp = out.with_name(f"{out.name}.{os.getpid()}.{threading.get_ident()}.part")
        out.parent.mkdir(parents=True, exist_ok=True)
        self._raw = open(self.tmp, "wb")
        self._gz = gzip.GzipFile(filename="", mode="wb", fileobj=self._raw, compresslevel=6, mtime=0)
        self.tar = tarfile.open(fileobj=self._gz, mode="w", format=tarfile.GNU_FORMAT)
        self._dirs: set[str] = set()

    def _info(self, name: str, *, mode: int, size: int = 0, kind: bytes = tarfile.REGTYPE) -> tarfile.TarInfo:
        ti = tarfile.TarInfo(name)
        ti.mode, ti.size, ti.type, ti.mtime = mode, size, kind, MTIME
        ti.uid = ti.gid = 0
        ti.uname = ti.gname = "root"
        return ti

    def dir(self, rel: str) -> None:
        parts = [p for p in rel.strip("/").split("/") if p]
        for i in range(len(parts) + 1):
            d = "./" + "/".join(parts[:i]) + ("/" if i else "")
            if d not in self._dirs:
                self._dirs.add(d)
                self.tar.addfile(self._info(d, mode=0o755, kind=tarfile.DIRTYPE))

    def file(self, rel: str, data: bytes, mode: int) -> None:
        self.dir(os.path.dirname(rel))
        self.tar.addfile(self._info("./" + rel, mode=mode, size=len(data)), io.BytesIO(data))

    def raw(self, name: str, data: bytes = b"x", *, kind: bytes = tarfile.REGTYPE, linkname: str = "") -> None:
        """An entry with exactly this name (for unsafe-archive tests)."""
        ti = self._info(name, mode=0o644, size=len(data) if kind == tarfile.REGTYPE else 0, kind=kind)
        ti.linkname = linkname
        self.tar.addfile(ti, io.BytesIO(data) if kind == tarfile.REGTYPE else None)

    def close(self) -> Path:
        self.tar.close()
        self._gz.close()
        self._raw.close()
        os.replace(self.tmp, self.out)
        return self.out


def _mode(name: str) -> int:
    base = os.path.basename(name)
    return 0o755 if base.endswith(".so") or "." not in base else 0o644


def pack_files(rid: str, version: str, runtime_nupkg: Path) -> list[tuple[str, bytes, int]]:
    """(path in the layout, bytes, mode) of the runtime part of an official layout, from the runtime pack."""
    out = []
    with zipfile.ZipFile(runtime_nupkg) as zf:
        names = zf.namelist()
        lib = [n for n in names if n.startswith(f"runtimes/{rid}/lib/") and n.count("/") == 4]
        native = [n for n in names if n.startswith(f"runtimes/{rid}/native/") and n.count("/") == 3]
        for n in sorted(lib + native):
            base = n.rsplit("/", 1)[1]
            dest = f"host/fxr/{version}/{base}" if base == "libhostfxr.so" else f"shared/Microsoft.NETCore.App/{version}/{base}"
            out.append((dest, zf.read(n), _mode(base)))
        out.append((f"shared/Microsoft.NETCore.App/{version}/.version", zf.read("Microsoft.NETCore.App.versions.txt"), 0o644))
        lic = next(n for n in names if n.lower() == "license.txt")
        tpn = next(n for n in names if n.lower() == "third-party-notices.txt")
        out.append(("LICENSE.txt", zf.read(lic), 0o644))
        out.append(("ThirdPartyNotices.txt", zf.read(tpn), 0o644))
    return out


def aspnet_files(rid: str, version: str, aspnet_nupkg: Path) -> list[tuple[str, bytes, int]]:
    out = []
    with zipfile.ZipFile(aspnet_nupkg) as zf:
        names = zf.namelist()
        for n in sorted(n for n in names if n.startswith(f"runtimes/{rid}/lib/") and n.count("/") == 4):
            base = n.rsplit("/", 1)[1]
            out.append((f"shared/Microsoft.AspNetCore.App/{version}/{base}", zf.read(n), _mode(base)))
        out.append((f"shared/Microsoft.AspNetCore.App/{version}/.version", zf.read("Microsoft.AspNetCore.App.versions.txt"), 0o644))
    return out


def layout_files(root: Path, rel_dirs: list[str]) -> list[tuple[str, bytes, int]]:
    """Files of an installed dotnet layout (``dotnet``, LICENSE... and the given folders)."""
    out = []
    for top in ("dotnet", "LICENSE.txt", "ThirdPartyNotices.txt"):
        p = root / top
        out.append((top, p.read_bytes(), 0o755 if os.stat(p).st_mode & 0o111 else 0o644))
    for rel in rel_dirs:
        for p in sorted((root / rel).rglob("*")):
            if p.is_file():
                out.append((p.relative_to(root).as_posix(), p.read_bytes(), 0o755 if os.stat(p).st_mode & 0o111 else 0o644))
    return out


def write_tarball(out: Path, files: list[tuple[str, bytes, int]]) -> Path:
    w = TarWriter(out)
    order = {"dotnet": 0, "LICENSE.txt": 1, "ThirdPartyNotices.txt": 2}
    for rel, data, mode in sorted(files, key=lambda f: (order.get(f[0], 3), f[0])):
        w.file(rel, data, mode)
    return w.close()


@dataclass(frozen=True)
class Tarballs:
    version: str
    rid: str
    runtime: Path
    aspnetcore: Path


def tarballs_from_packs(out_dir: Path, *, version: str, rid: str, runtime_nupkg: Path, aspnet_nupkg: Path, host: Path) -> Tarballs:
    """dotnet-runtime and aspnetcore-runtime tarballs (the latter holds the runtime too, as the official one does)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rt = pack_files(rid, version, runtime_nupkg)
    host_file = ("dotnet", Path(host).read_bytes(), 0o755)
    rt_tar = out_dir / f"dotnet-runtime-{version}-{rid}.tar.gz"
    asp_tar = out_dir / f"aspnetcore-runtime-{version}-{rid}.tar.gz"
    if not rt_tar.is_file():
        write_tarball(rt_tar, [host_file, *rt])
    if not asp_tar.is_file():
        write_tarball(asp_tar, [host_file, *rt, *aspnet_files(rid, version, aspnet_nupkg)])
    return Tarballs(version, rid, rt_tar, asp_tar)


def tarballs_from_layout(out_dir: Path, *, root: Path, version: str, rid: str = "linux-x64") -> Tarballs:
    """dotnet-runtime / aspnetcore-runtime tarballs repacked from an installed (official) dotnet layout."""
    out_dir.mkdir(parents=True, exist_ok=True)
    fxr = f"host/fxr/{version}" if (root / "host" / "fxr" / version).is_dir() else \
        f"host/fxr/{sorted(p.name for p in (root / 'host' / 'fxr').iterdir())[-1]}"
    rt_dirs = [fxr, f"shared/Microsoft.NETCore.App/{version}"]
    rt_tar = out_dir / f"dotnet-runtime-{version}-{rid}.tar.gz"
    asp_tar = out_dir / f"aspnetcore-runtime-{version}-{rid}.tar.gz"
    if not rt_tar.is_file():
        write_tarball(rt_tar, layout_files(root, rt_dirs))
    if not asp_tar.is_file():
        write_tarball(asp_tar, layout_files(root, [*rt_dirs, f"shared/Microsoft.AspNetCore.App/{version}"]))
    return Tarballs(version, rid, rt_tar, asp_tar)


def extract_layout(tarball: Path, dest: Path) -> Path:
    """Unpack an (own, trusted) official-style tarball, e.g. to make a local dotnet layout."""
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tarball) as tf:
        tf.extractall(dest)
    return dest


def unsafe_tarball(out: Path, *, version: str, kind: str = "dotdot") -> Path:
    """A tarball that starts like a runtime tarball but has an entry escaping the target folder."""
    w = TarWriter(out)
    w.file("dotnet", b"#!/bin/sh\n", 0o755)
    w.file(f"shared/Microsoft.NETCore.App/{version}/System.Private.CoreLib.dll", b"MZ" + b"\0" * 64, 0o644)
    if kind == "dotdot":
        w.raw("./../escaped-by-tar.txt", b"outside\n")
    elif kind == "absolute":
        w.raw("/tmp/escaped-by-tar.txt", b"outside\n")
    elif kind == "symlink":
        w.raw("./shared/evil-link", kind=tarfile.SYMTYPE, linkname="../../../../etc")
    return w.close()


# -- release metadata (real schema) -----------------------------------------------------------------------
@dataclass
class ReleaseSpec:
    version: str                 # release-version = runtime version = aspnetcore version
    files: dict[str, Path]       # "runtime" / "aspnetcore" / "sdk" -> tarball
    sdk_version: str | None = None
    date: str = "2026-11-10"


PRODUCT = {
    "runtime": ("runtime", "dotnet-runtime", "Runtime"),
    "aspnetcore": ("aspnetcore-runtime", "aspnetcore-runtime", "aspnetcore/Runtime"),
    "sdk": ("sdk", "dotnet-sdk", "Sdk"),
}


def release_json(rel: ReleaseSpec, rid: str, *, url_base: str = OFFICIAL, hashes: bool = True) -> dict:
    r: dict[str, Any] = {
        "release-date": rel.date,
        "release-version": rel.version,
        "security": False,
        "cve-list": [],
        "release-notes": f"https://github.com/dotnet/core/blob/main/release-notes/{rel.version.rsplit('.', 1)[0]}/{rel.version}/{rel.version}.md",
    }
    for comp, (key, stem, folder) in PRODUCT.items():
        version = rel.sdk_version if comp == "sdk" else rel.version
        if comp not in rel.files or not version:
            continue
        path = rel.files[comp]
        entry = {"name": f"{stem}-{rid}.tar.gz", "rid": rid, "url": f"{url_base}/{folder}/{version}/{stem}-{version}-{rid}.tar.gz"}
        if hashes:
            entry["hash"] = sha512_of(path)
        obj: dict[str, Any] = {"version": version, "version-display": version, "vs-version": "", "files": [entry]}
        if comp == "runtime":
            obj["vs-mac-version"] = ""
        if comp == "aspnetcore":
            obj["version-aspnetcoremodule"] = []
        if comp == "sdk":
            obj.update({"runtime-version": rel.version, "csharp-version": "14.0"})
        r[key] = obj
        if comp == "sdk":
            r["sdks"] = [obj]
    return r


class FakeCdn(FakeServer):
    """The official layout under ``/dotnet`` for the given releases (and channels without files)."""

    def __init__(self, releases: dict[str, list[ReleaseSpec]], *, rid: str = "linux-x64", hashes: bool = True,
                 extra_channels: list[dict] | None = None, absolute_urls: bool = False) -> None:
        super().__init__()
        self.rid = rid
        self.releases = releases
        self.hashes = hashes
        self.extra_channels = extra_channels or []
        self.absolute_urls = absolute_urls

    @property
    def base_url(self) -> str:
        return f"{self.origin}/dotnet"

    def path_of(self, comp: str, version: str) -> str:
        key, stem, folder = PRODUCT[comp]
        return f"/dotnet/{folder}/{version}/{stem}-{version}-{self.rid}.tar.gz"

    def start(self, port: int = 0) -> "FakeCdn":
        super().start(port)
        url_base = self.base_url if self.absolute_urls else OFFICIAL
        index = []
        for channel, rels in self.releases.items():
            rels = sorted(rels, key=lambda r: tuple(int(x) for x in r.version.split(".")), reverse=True)
            latest = rels[0]
            doc = {
                "channel-version": channel,
                "latest-release": latest.version,
                "latest-release-date": latest.date,
                "latest-runtime": latest.version,
                "latest-sdk": latest.sdk_version or "",
                "support-phase": "active",
                "release-type": "lts" if int(channel.split(".")[0]) % 2 == 0 else "sts",
                "lifecycle-policy": "https://aka.ms/dotnetcoresupport",
                "releases": [release_json(r, self.rid, url_base=url_base, hashes=self.hashes) for r in rels],
            }
            self.put(f"/dotnet/release-metadata/{channel}/releases.json", doc)
            index.append({k: doc[k] for k in ("channel-version", "latest-release", "latest-release-date", "latest-runtime",
                                               "latest-sdk", "support-phase", "release-type")}
                         | {"security": False, "product": ".NET", "eol-date": "2028-11-14",
                            "releases.json": f"{url_base}/release-metadata/{channel}/releases.json",
                            "supported-os.json": f"{url_base}/release-metadata/{channel}/supported-os.json"})
            for r in rels:
                sums = []
                for comp, path in r.files.items():
                    version = r.sdk_version if comp == "sdk" else r.version
                    url_path = self.path_of(comp, version)
                    self.put(url_path, path)
                    digest = sha512_of(path)
                    self.put(url_path + ".sha512", f"{digest}\n".encode())
                    sums.append(f"{digest}  {url_path.rsplit('/', 1)[1]}")
                self.put(f"/dotnet/checksums/{r.version}-sha.txt", ("Hash: SHA512\n\n" + "\n".join(sums) + "\n").encode())
        index.extend(self.extra_channels)
        index.sort(key=lambda e: tuple(int(x) for x in e["channel-version"].split(".")), reverse=True)
        self.put("/dotnet/release-metadata/releases-index.json", {"releases-index": index})
        return self


# -- a NuGet v3 feed ------------------------------------------------------------------------------------------
class FakeFeed(FakeServer):
    """Service index + flat container (+ registration leaves with packageHash when ``publish_hash``)."""

    def __init__(self, packages: dict[tuple[str, str], Path | bytes], *, publish_hash: dict[tuple[str, str], str] | None = None) -> None:
        super().__init__()
        self.packages = packages
        self.publish_hash = publish_hash or {}

    @property
    def index_url(self) -> str:
        return f"{self.origin}/v3/index.json"

    def nupkg_path(self, pid: str, version: str) -> str:
        return f"/v3-flatcontainer/{pid.lower()}/{version}/{pid.lower()}.{version}.nupkg"

    def start(self, port: int = 0) -> "FakeFeed":
        super().start(port)
        self.put("/v3/index.json", {"version": "3.0.0", "resources": [
            {"@id": f"{self.origin}/v3-flatcontainer/", "@type": "PackageBaseAddress/3.0.0"},
            {"@id": f"{self.origin}/v3/registration/", "@type": "RegistrationsBaseUrl/3.6.0"},
        ]})
        versions: dict[str, list[str]] = {}
        for (pid, version), content in self.packages.items():
            versions.setdefault(pid.lower(), []).append(version)
            self.put(self.nupkg_path(pid, version), content)
            sha = self.publish_hash.get((pid, version))
            if sha:
                self.put(f"/v3/registration/{pid.lower()}/{version}.json", {
                    "@id": f"{self.origin}/v3/registration/{pid.lower()}/{version}.json",
                    "catalogEntry": {"id": pid, "version": version, "packageHash": base64.b64encode(bytes.fromhex(sha)).decode(),
                                     "packageHashAlgorithm": "SHA512"},
                    "packageContent": f"{self.origin}{self.nupkg_path(pid, version)}",
                })
        for pid, vs in versions.items():
            self.put(f"/v3-flatcontainer/{pid}/index.json", {"versions": vs})
        return self

    def nuget_config(self, folder: Path) -> Path:
        cfg = folder / "NuGet.Config"
        cfg.write_text(
            '<?xml version="1.0" encoding="utf-8"?>\n<configuration>\n  <packageSources>\n    <clear />\n'
            f'    <add key="fake" value="{self.index_url}" protocolVersion="3" />\n  </packageSources>\n</configuration>\n'
        )
        return cfg


def unsafe_nupkg(*, escape: str = "../../escaped-by-zip.txt") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("Microsoft.NETCore.App.Runtime.linux-x64.nuspec", "<package/>")
        zf.writestr("runtimes/linux-x64/lib/net10.0/System.Private.CoreLib.dll", b"MZ")
        zf.writestr(escape, b"outside\n")
    return buf.getvalue()


def copy_into_cache(cache_root: Path, src: Path, sha512: str, url: str) -> None:
    """Seed a (test) cache with a copy of a real file, as if it had been downloaded from ``url``."""
    from crossgen.acquire.cache import Cache

    cache = Cache(cache_root)
    tmp = cache.tmp_dir() / f"seed-{sha512[:16]}"
    try:
        os.link(src, tmp)  # nothing writes into a cached file (a corrupted one is replaced, not rewritten)
    except OSError:
        shutil.copyfile(src, tmp)
    cache.add(tmp, sha512, url)


def main(argv: list[str] | None = None) -> None:
    """Serve a folder of official-style tarballs as the official CDN layout on 127.0.0.1 (manual runs).

    ``python -m tests.fakecdn FOLDER [--port N]``; prints the base URL for ``--base-url``.
    """
    import argparse
    import re

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("folder", type=Path)
    ap.add_argument("--port", type=int, default=0, help="0 = any free port")
    args = ap.parse_args(argv)
    found: dict[tuple[str, str], dict[str, Path]] = {}
    pat = re.compile(r"^(dotnet-runtime|aspnetcore-runtime)-(\d+\.\d+\.\d+)-([a-z0-9-]+)\.tar\.gz$")
    for p in sorted(args.folder.rglob("*.tar.gz")):
        m = pat.match(p.name)
        if m:
            comp = "runtime" if m[1] == "dotnet-runtime" else "aspnetcore"
            found.setdefault((m[2], m[3]), {})[comp] = p
    if not found:
        raise SystemExit(f"no dotnet-runtime-<v>-<rid>.tar.gz under {args.folder}")
    rids = {rid for _, rid in found}
    if len(rids) != 1:
        raise SystemExit(f"one RID at a time please (found {', '.join(sorted(rids))})")
    channels: dict[str, list[ReleaseSpec]] = {}
    for (version, _), files in found.items():
        channels.setdefault(version.rsplit(".", 1)[0], []).append(ReleaseSpec(version, files))
    cdn = FakeCdn(channels, rid=rids.pop())
    cdn.start(args.port)
    print(cdn.base_url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        cdn.stop()


if __name__ == "__main__":
    main()
