"""Tiny images for fast Docker tests, made without any registry.

A root file system with a static busybox (Debian's busybox-static: /bin/busybox) and links for
the applets the tests use, or, where that is missing, the host's own /bin/sh and tools with the
shared libraries ``ldd`` names; imported with the API's ``import_image`` under the tests' own
prefix (``dci-door-test/``) and removed by the fixture that made it.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import tarfile
import uuid
from pathlib import Path

import docker

from crossgen import dockerio

PREFIX = "dci-door-test/"
APPLETS = ("sh", "sleep", "echo", "cat", "grep", "sed", "mkdir", "cp", "dirname", "true", "id", "find", "head",
           "tail", "date", "ls", "rm", "kill", "wc", "env", "cut", "tr", "basename", "httpd")
FOLDERS = ("tmp", "work/in", "work/out", "app", "usr/share/dotnet/shared/Microsoft.NETCore.App", "etc")


def static_busybox() -> Path | None:
    found = Path("/bin/busybox")
    if not found.is_file():
        return None
    ldd = subprocess.run(["ldd", str(found)], capture_output=True, text=True)
    return found if ldd.returncode != 0 or "not a dynamic" in ldd.stdout + ldd.stderr else None


def _add_file(tf: tarfile.TarFile, name: str, data: bytes, mode: int = 0o755) -> None:
    ti = tarfile.TarInfo(name)
    ti.size = len(data)
    ti.mode = mode
    tf.addfile(ti, io.BytesIO(data))


def _add_dir(tf: tarfile.TarFile, name: str, mode: int = 0o755) -> None:
    ti = tarfile.TarInfo(name)
    ti.type = tarfile.DIRTYPE
    ti.mode = mode
    tf.addfile(ti)


def _add_link(tf: tarfile.TarFile, name: str, target: str) -> None:
    ti = tarfile.TarInfo(name)
    ti.type = tarfile.SYMTYPE
    ti.linkname = target
    tf.addfile(ti)


def _host_tools(tf: tarfile.TarFile) -> None:
    """The host's tools and the libraries they load, at the same paths."""
    libs: set[str] = set()
    for tool in APPLETS:
        exe = shutil.which(tool)
        if not exe:
            continue
        real = str(Path(exe).resolve())
        _add_file(tf, f"bin/{tool}", Path(real).read_bytes())
        out = subprocess.run(["ldd", real], capture_output=True, text=True).stdout
        libs.update(re.findall(r"(/\S+\.so[.\d]*)", out))
    for lib in sorted(libs):
        _add_file(tf, lib.lstrip("/"), Path(lib).resolve().read_bytes())


def rootfs_tar(files: dict[str, bytes | str] | None = None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for d in ("bin", "lib", "lib64", "usr", "usr/bin", *FOLDERS):
            parts = d.split("/")
            for i in range(1, len(parts) + 1):
                if "/".join(parts[:i]) not in tf.getnames():
                    _add_dir(tf, "/".join(parts[:i]), 0o1777 if d == "tmp" else 0o755)
        _add_file(tf, "etc/passwd", b"root:x:0:0:root:/root:/bin/sh\napp:x:1654:1654::/app:/bin/sh\n", 0o644)
        busybox = static_busybox()
        if busybox:
            _add_file(tf, "bin/busybox", busybox.read_bytes())
            for applet in APPLETS:
                _add_link(tf, f"bin/{applet}", "busybox")
        else:
            _host_tools(tf)
        for name, data in (files or {}).items():
            _add_file(tf, name.lstrip("/"), data.encode() if isinstance(data, str) else data)
    return buf.getvalue()


def make_image(api: docker.APIClient, name: str, *, files: dict[str, bytes | str] | None = None,
               entrypoint: list[str] | None = None, env: dict[str, str] | None = None,
               labels: dict[str, str] | None = None) -> str:
    """Import a tiny image ``dci-door-test/<name>:<random tag>``."""
    ref = f"{PREFIX}{name}:{uuid.uuid4().hex[:10]}"
    changes = [f"LABEL {k}={json.dumps(v)}" for k, v in (labels or {}).items()]
    changes.append("ENV PATH=/bin:/usr/bin")
    for k, v in (env or {}).items():
        changes.append(f"ENV {k}={json.dumps(v)}")
    if entrypoint is not None:
        changes.append(f"ENTRYPOINT {json.dumps(entrypoint)}")
    api.import_image_from_data(rootfs_tar(files), repository=ref.split(":")[0], tag=ref.split(":")[1], changes=changes)
    return ref


def remove_images(api: docker.APIClient, refs) -> None:
    for ref in refs:
        try:
            api.remove_image(ref, force=True)
        except docker.errors.APIError:
            pass


def leftover_containers(api: docker.APIClient, image: str) -> list[dict]:
    """Containers of ``image`` (running or not) that carry the project label."""
    return api.containers(all=True, filters={"ancestor": image, "label": f"{dockerio.LABEL_PROJECT}={dockerio.PROJECT}"})


# A stand-in for the Crossgen2 image: reads the response file like the real one and writes a
# composite and a component stub per input. Options of its own (in the response file, given as
# extra Crossgen2 arguments): --fake-sleep:N (sleep N s first, printing nothing), --fake-exit:N.
FAKE_CROSSGEN2 = r"""#!/bin/sh
rsp="$1"
nap=$(sed -n 's/^--fake-sleep://p' "$rsp")
if [ -n "$nap" ]; then
  trap 'exit 143' TERM
  sleep "$nap" &
  wait
fi
for f in $(grep '^/work/in/' "$rsp"); do
  echo "Compiling $f"
done
echo "Emitting R2R code for [/usr/share/dotnet/shared/Microsoft.NETCore.App] [bold]not markup[/bold]"
code=$(sed -n 's/^--fake-exit://p' "$rsp")
if [ -n "$code" ] && [ "$code" != 0 ]; then
  echo "error: failing on purpose with $code"
  exit "$code"
fi
out=$(sed -n 's/^--out://p' "$rsp")
mkdir -p "$(dirname "$out")"
for f in $(grep '^/work/in/' "$rsp"); do
  rel=${f#/work/in/}
  mkdir -p "/work/out/$(dirname "$rel")"
  cp "$f" "/work/out/$rel"
done
echo composite > "$out"
echo "DCI_PEAK_MEMORY_BYTES=12345"
"""


def stand_in_app(folder: Path) -> tuple[Path, str] | None:
    """A stand-in self-contained app in ``folder``/app: three managed assemblies of the host's
    .NET, the first named after the app; (folder, app name), or None without a host .NET."""
    from crossgen.core.settings import default_dotnet_root

    found = sorted((default_dotnet_root() or Path("/usr/share/dotnet")).glob("shared/Microsoft.NETCore.App/*/System.Runtime.dll"))
    if not found:
        return None
    src = found[-1].parent
    app = folder / "app"
    app.mkdir()
    name = f"dci{uuid.uuid4().hex[:8]}"
    shutil.copy2(src / "System.Runtime.dll", app / f"{name}.dll")
    for dll in ("System.Console.dll", "System.Collections.dll"):
        shutil.copy2(src / dll, app / dll)
    return app, name


def fake_crossgen2(api: docker.APIClient) -> str:
    return make_image(api, "fake-crossgen2", files={"opt/crossgen2-run.sh": FAKE_CROSSGEN2},
                      entrypoint=["/bin/sh", "/opt/crossgen2-run.sh"])
