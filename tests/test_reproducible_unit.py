"""Reproducible layers, configs and contexts (no daemon): bytes that depend only on content."""

from __future__ import annotations

import io
import os
import tarfile
import time
import zipfile
from pathlib import Path

import pytest

from crossgen.acquire.epoch import newest_file_time, source_date_epoch
from crossgen.core.errors import DciError
from crossgen.core.settings import Settings, from_config
from crossgen.dockerio import context_tar
from crossgen.dockerio.reproducible import iso, rewrite_config, rewrite_layer

EPOCH = 1_793_304_112  # any fixed time


def _layer(path: Path, entries: list[dict], *, fmt=tarfile.GNU_FORMAT) -> Path:
    """A layer tar with ``entries`` in the given order: name, data | dir | link(hard) | sym, mtime, uname."""
    with tarfile.open(path, "w", format=fmt) as tf:
        for e in entries:
            ti = tarfile.TarInfo(e["name"])
            ti.mtime = e.get("mtime", EPOCH + 1000)
            ti.uid = ti.gid = e.get("uid", 0)
            ti.uname = ti.gname = e.get("uname", "root")
            ti.mode = e.get("mode", 0o644)
            ti.pax_headers = dict(e.get("pax", {}))
            data = None
            if "dir" in e:
                ti.type, ti.mode = tarfile.DIRTYPE, 0o755
            elif "hard" in e:
                ti.type, ti.linkname = tarfile.LNKTYPE, e["hard"]
            elif "sym" in e:
                ti.type, ti.linkname = tarfile.SYMTYPE, e["sym"]
            else:
                ti.size = len(e["data"])
                data = io.BytesIO(e["data"])
            tf.addfile(ti, data)
    return path


FILES = [
    {"name": "usr", "dir": 1},
    {"name": "usr/share", "dir": 1},
    {"name": "usr/share/dotnet", "dir": 1},
    {"name": "usr/share/dotnet/dotnet", "data": b"host", "mode": 0o755},
    {"name": "usr/share/dotnet/LICENSE.txt", "data": b"MIT"},
    {"name": "usr/bin", "dir": 1},
    {"name": "usr/bin/dotnet", "sym": "/usr/share/dotnet/dotnet"},
]


def test_same_content_in_another_order_with_other_times_and_names_is_one_layer(tmp_path):
    a = _layer(tmp_path / "a.tar", FILES)
    shuffled = [dict(e, mtime=EPOCH + 99_999, uname="builder") for e in reversed(FILES)]
    shuffled[0]["pax"] = {"atime": "1800000000.5", "ctime": "1800000000.5"}
    b = _layer(tmp_path / "b.tar", shuffled, fmt=tarfile.PAX_FORMAT)
    assert a.read_bytes() != b.read_bytes()
    assert rewrite_layer(a, tmp_path / "a2.tar", EPOCH) == rewrite_layer(b, tmp_path / "b2.tar", EPOCH)
    assert (tmp_path / "a2.tar").read_bytes() == (tmp_path / "b2.tar").read_bytes()


def test_times_are_clamped_not_reset_and_owners_are_numbers(tmp_path):
    old = EPOCH - 86_400
    src = _layer(tmp_path / "l.tar", [{"name": "old", "data": b"1", "mtime": old, "uid": 1654, "uname": "app"},
                                      {"name": "new", "data": b"2", "mtime": EPOCH + 5}])
    rewrite_layer(src, tmp_path / "out.tar", EPOCH)
    with tarfile.open(tmp_path / "out.tar") as tf:
        got = {m.name: m for m in tf}
    assert [got["new"].mtime, got["old"].mtime] == [EPOCH, old]
    assert got["old"].uid == 1654 and got["old"].uname == "" and got["new"].gname == ""
    assert not any(m.pax_headers for m in got.values())


def test_extended_attributes_stay(tmp_path):
    cap = {"SCHILY.xattr.security.capability": "\x01\x00\x00\x02"}
    src = _layer(tmp_path / "l.tar", [{"name": "bin/ping", "data": b"x", "pax": {**cap, "atime": "5"}}], fmt=tarfile.PAX_FORMAT)
    rewrite_layer(src, tmp_path / "out.tar", EPOCH)
    with tarfile.open(tmp_path / "out.tar") as tf:
        assert tf.getmember("bin/ping").pax_headers == cap


def test_a_hard_link_that_sorts_first_carries_the_data(tmp_path):
    """Sorted by name, the link ``a-perl`` comes before its file ``z-perl``: extraction still works."""
    src = _layer(tmp_path / "l.tar", [{"name": "z-perl", "data": b"#!perl"}, {"name": "a-perl", "hard": "z-perl"}])
    rewrite_layer(src, tmp_path / "out.tar", EPOCH)
    with tarfile.open(tmp_path / "out.tar") as tf:
        members = tf.getmembers()
        assert [m.name for m in members] == ["a-perl", "z-perl"]
        assert members[0].isreg() and members[1].islnk() and members[1].linkname == "a-perl"
        tf.extractall(tmp_path / "x")
    assert (tmp_path / "x/z-perl").read_bytes() == (tmp_path / "x/a-perl").read_bytes() == b"#!perl"
    assert os.stat(tmp_path / "x/z-perl").st_ino == os.stat(tmp_path / "x/a-perl").st_ino


def test_config_keeps_content_and_drops_the_build_container():
    config = {
        "architecture": "amd64", "os": "linux", "created": "2026-11-30T05:56:25.731532103Z",
        "container": "5505678b0c1b", "container_config": {"Hostname": "5505678b0c1b"},
        "config": {"Env": ["A=1"], "Labels": {"k": "v"}, "Image": "sha256:intermediate"},
        "history": [{"created": "2026-11-30T05:56:25Z", "created_by": "COPY dir:abc in /x"}],
        "rootfs": {"type": "layers", "diff_ids": ["sha256:old"]},
    }
    out = rewrite_config(config, ["sha256:new"], EPOCH)
    assert "container" not in out and "container_config" not in out
    assert out["created"] == iso(EPOCH) == out["history"][0]["created"] == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(EPOCH))
    assert out["history"][0]["created_by"] == "COPY dir:abc in /x"
    assert out["rootfs"] == {"type": "layers", "diff_ids": ["sha256:new"]}
    assert out["config"] == {"Env": ["A=1"], "Labels": {"k": "v"}, "Image": ""}
    based = rewrite_config(dict(config, history=[{"created": "2026-11-28T14:09:31Z"}, *config["history"]]), ["sha256:new"], EPOCH, keep=1)
    assert [h["created"] for h in based["history"]] == ["2026-11-28T14:09:31Z", iso(EPOCH)]  # the base's entry as it was


def _tree(root: Path, stamp: float) -> Path:
    (root / "dotnet/shared").mkdir(parents=True)
    (root / "Dockerfile").write_text("FROM x\n")
    (root / "dotnet/dotnet").write_bytes(b"host")
    (root / "dotnet/shared/a.dll").write_bytes(b"MZ")
    for p in [root, *root.rglob("*")]:
        os.utime(p, (stamp, stamp))
    return root


def test_context_tar_depends_only_on_the_files(tmp_path):
    context_tar(_tree(tmp_path / "one", 1_700_000_000), EPOCH, tmp_path / "one.tar")
    context_tar(_tree(tmp_path / "two", 1_800_000_000), EPOCH, tmp_path / "two.tar")
    assert (tmp_path / "one.tar").read_bytes() == (tmp_path / "two.tar").read_bytes()
    with tarfile.open(tmp_path / "one.tar") as tf:
        assert tf.getnames() == ["Dockerfile", "dotnet", "dotnet/dotnet", "dotnet/shared", "dotnet/shared/a.dll"]
        assert {m.mtime for m in tf} == {EPOCH} and {m.uid for m in tf} == {0}


def test_epoch_comes_from_the_newest_file_in_the_runtime_package(tmp_path):
    pkg = tmp_path / "runtime.nupkg"
    with zipfile.ZipFile(pkg, "w") as zf:
        zf.writestr(zipfile.ZipInfo("runtimes/linux-x64/lib/net10.0/System.Runtime.dll", (2026, 10, 29, 20, 1, 52)), b"MZ")
        zf.writestr(zipfile.ZipInfo("runtimes/linux-x64/native/libcoreclr.so", (2026, 10, 29, 19, 0, 0)), b"ELF")
        zf.writestr(zipfile.ZipInfo("[Content_Types].xml", (2026, 11, 30, 9, 0, 0)), b"<x/>")  # rewritten by feeds
    assert newest_file_time(pkg) == 1_793_304_112  # 2026-10-29T20:01:52Z
    comp = type("C", (), {"path": str(pkg)})()
    acquired = type("A", (), {"components": {"runtime": comp}})()
    root = Path(__file__).resolve().parents[1]
    assert source_date_epoch(Settings(project_root=root), acquired) == 1_793_304_112
    assert source_date_epoch(Settings(project_root=root, source_date_epoch=7), acquired) == 7
    assert source_date_epoch(Settings(project_root=root, reproducible=False), acquired) is None


def test_epoch_setting_and_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    assert from_config({"dci": {}}, tmp_path).source_date_epoch is None
    assert from_config({"dci": {"source_date_epoch": "1700000000"}}, tmp_path).source_date_epoch == 1_700_000_000
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1600000000")
    assert from_config({"dci": {}}, tmp_path).source_date_epoch == 1_600_000_000
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    with pytest.raises(DciError) as err:
        from_config({"dci": {}}, tmp_path)
    assert "$SOURCE_DATE_EPOCH" in str(err.value) and err.value.fix
