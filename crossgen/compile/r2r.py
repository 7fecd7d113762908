"""Classify .NET PE files: IL-only, ReadyToRun, composite R2R image or component stub.

Only the few structures needed for that are read:

* the PE headers (via ``pefile`` with ``fast_load=True``),
* the COR20 (CLI) header, data directory 14: ``MetaData`` at offset 8,
  ``Flags`` at offset 16, ``ManagedNativeHeader`` at offset 64,
* the ReadyToRun header (``READYTORUN_HEADER``), found through
  ``ManagedNativeHeader`` or, for composite images, through the ``RTR_HEADER``
  export,
* just enough of the ECMA-335 metadata (root, stream headers, ``#~`` table
  header, row sizes) to read the Module MVID and AssemblyRef / Assembly names.

Classification rules (see ``shared/reference/crossgen2-r2r.md``):

* composite: COR flags have neither ILONLY (0x1) nor IL_LIBRARY (0x4) (or there is
  no COR header at all) and the PE exports ``RTR_HEADER``;
* component: IL_LIBRARY and an R2R header whose flags have COMPONENT (0x20); the
  owner composite's file name is section 116 (OwnerCompositeExecutable);
* r2r: IL_LIBRARY and an R2R header without COMPONENT;
* il-only: ILONLY and no R2R header;
* anything else that is a PE: not-managed.

Input that is not a PE at all (ELF, text, a file cut inside its headers) makes
:func:`classify_file` / :func:`classify_bytes` raise :class:`NotPeError`.
A PE whose section data (or Authenticode certificate table) runs past the end
of the file, i.e. a truncated copy, is ``not-managed``. Damaged data past the PE headers never raises: the affected
fields are ``None`` and the kind falls back to what could be proven.
"""

from __future__ import annotations

import enum
import os
import struct
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable, Iterable, Iterator

import pefile

__all__ = [
    "Kind",
    "PeInfo",
    "NotPeError",
    "classify_file",
    "classify_bytes",
    "is_managed",
    "iter_pe_files",
    "classify_tree",
    "composite_components",
    "read_mvid",
    "summarize",
    "decode_target",
]

# --- constants -------------------------------------------------------------

COMIMAGE_FLAGS_ILONLY = 0x1
COMIMAGE_FLAGS_IL_LIBRARY = 0x4
COMIMAGE_FLAGS_STRONGNAMESIGNED = 0x8

READYTORUN_SIGNATURE = 0x00525452  # "RTR\0"

R2R_FLAG_PLATFORM_NEUTRAL_SOURCE = 0x1
R2R_FLAG_SKIP_TYPE_VALIDATION = 0x2
R2R_FLAG_PARTIAL = 0x4
R2R_FLAG_NONSHARED_PINVOKE_STUBS = 0x8
R2R_FLAG_EMBEDDED_MSIL = 0x10
R2R_FLAG_COMPONENT = 0x20
R2R_FLAG_MULTIMODULE_VERSION_BUBBLE = 0x40
R2R_FLAG_UNRELATED_R2R_CODE = 0x80

SECTION_MANIFEST_METADATA = 112
SECTION_COMPONENT_ASSEMBLIES = 115
SECTION_OWNER_COMPOSITE_EXECUTABLE = 116
SECTION_MANIFEST_ASSEMBLY_MVIDS = 118

RTR_HEADER_EXPORT = b"RTR_HEADER"

_SECURITY_DIRECTORY_INDEX = 4
_COR_DIRECTORY_INDEX = 14
_COR_HEADER_SIZE = 72
_R2R_HEADER_SIZE = 16  # signature, major, minor, flags, section count
_R2R_SECTION_ENTRY_SIZE = 12
_MAX_R2R_SECTIONS = 1024  # real images have a few dozen; caps garbage counts
_MAX_OWNER_NAME = 4096
_MAX_COMPONENTS = 100_000

# R2R images XOR the PE Machine field with an OS-specific value.
_MACHINE_OS = {
    0x0000: "windows",
    0x7B79: "linux",
    0x4644: "osx",
    0xADC4: "freebsd",
    0x1993: "netbsd",
}
_MACHINE_ARCH = {
    0x8664: "x64",
    0xAA64: "arm64",
    0x014C: "x86",
    0x01C4: "arm",
}
_TARGETS = {
    arch ^ os_value: f"{os_name}-{arch_name}"
    for os_value, os_name in _MACHINE_OS.items()
    for arch, arch_name in _MACHINE_ARCH.items()
}

# Exceptions that malformed input can provoke inside pefile or our own parsing.
_PARSE_ERRORS = (
    pefile.PEFormatError,
    struct.error,
    IndexError,
    KeyError,
    ValueError,
    TypeError,
    AttributeError,
    OverflowError,
)


# --- public types ----------------------------------------------------------


class Kind(str, enum.Enum):
    """What a PE file is, from the point of view of ReadyToRun."""

    IL_ONLY = "il-only"
    R2R = "r2r"
    COMPONENT = "component"
    COMPOSITE = "composite"
    NOT_MANAGED = "not-managed"


@dataclass(frozen=True)
class PeInfo:
    """Classification result for one file.

    ``target`` is decoded from ``machine`` for every kind except ``il-only``
    (the Machine field of an IL-only image says nothing about where its code
    runs, so it is ``None`` there). ``r2r_*`` come from the R2R header when one
    was found (for composites: the one the ``RTR_HEADER`` export points to).
    ``mvid`` is the Module MVID of the metadata the COR header points to; for a
    composite image that is its manifest metadata.
    """

    path: str
    kind: Kind
    machine: int | None = None
    target: str | None = None
    cor_flags: int | None = None
    r2r_major: int | None = None
    r2r_minor: int | None = None
    r2r_flags: int | None = None
    owner_composite: str | None = None
    mvid: str | None = None

    def to_dict(self) -> dict:
        """Plain JSON-serialisable dict; ``kind`` as its string value."""
        d = asdict(self)
        d["kind"] = self.kind.value
        return d


class NotPeError(ValueError):
    """The input is not a PE file at all (or is cut inside its PE headers)."""


def decode_target(machine: int | None) -> str | None:
    """Decode an (OS-XORed) PE Machine value into ``<os>-<arch>``; ``None`` if unknown."""
    if machine is None:
        return None
    return _TARGETS.get(machine)


# --- internal: R2R header, COR header, PE access ---------------------------


@dataclass(frozen=True)
class _R2RHeader:
    rva: int
    major: int
    minor: int
    flags: int
    sections: dict[int, tuple[int, int]]  # type -> (rva, size)


@dataclass(frozen=True)
class _CorHeader:
    flags: int
    metadata_rva: int
    metadata_size: int
    native_header_rva: int
    native_header_size: int


class _BadData(Exception):
    """Internal: a structure could not be read (out of range, bad signature...)."""


class _Image:
    """Thin, bounds-checked accessor over a ``pefile.PE`` loaded with fast_load."""

    def __init__(self, pe: pefile.PE):
        self.pe = pe
        self.machine: int = pe.FILE_HEADER.Machine
        file_size = len(pe.__data__)
        self.truncated = any(
            sec.SizeOfRawData and sec.PointerToRawData + sec.SizeOfRawData > file_size
            for sec in pe.sections
        )
        dirs = getattr(getattr(pe, "OPTIONAL_HEADER", None), "DATA_DIRECTORY", None) or []
        if len(dirs) > _SECURITY_DIRECTORY_INDEX:
            cert = dirs[_SECURITY_DIRECTORY_INDEX]  # a file offset, not an RVA
            if cert.VirtualAddress and cert.VirtualAddress + cert.Size > file_size:
                self.truncated = True
        self.cor = self._read_cor_header()

    # raw access
    def read(self, rva: int, length: int) -> bytes:
        """Exactly ``length`` bytes at ``rva``, or raise :class:`_BadData`."""
        if length <= 0:
            return b""
        if rva <= 0:
            raise _BadData(f"null RVA {rva:#x}")
        try:
            data = self.pe.get_data(rva, length)
        except _PARSE_ERRORS as exc:
            raise _BadData(f"RVA {rva:#x}+{length:#x}: {exc}") from exc
        if len(data) != length:
            raise _BadData(f"RVA {rva:#x}+{length:#x} is out of the file")
        return bytes(data)

    def try_read(self, rva: int, length: int) -> bytes | None:
        try:
            return self.read(rva, length)
        except _BadData:
            return None

    # COR header
    def _read_cor_header(self) -> _CorHeader | None:
        opt = getattr(self.pe, "OPTIONAL_HEADER", None)
        dirs = getattr(opt, "DATA_DIRECTORY", None) or []
        if len(dirs) <= _COR_DIRECTORY_INDEX:
            return None
        entry = dirs[_COR_DIRECTORY_INDEX]
        if not entry.VirtualAddress or not entry.Size:
            return None
        raw = self.try_read(entry.VirtualAddress, _COR_HEADER_SIZE)
        if raw is None:
            return None
        md_rva, md_size, flags = struct.unpack_from("<III", raw, 8)
        nh_rva, nh_size = struct.unpack_from("<II", raw, 64)
        return _CorHeader(flags, md_rva, md_size, nh_rva, nh_size)

    # R2R header
    def r2r_header_at(self, rva: int) -> _R2RHeader | None:
        """Parse a READYTORUN_HEADER at ``rva``; ``None`` if absent or bad signature."""
        raw = self.try_read(rva, _R2R_HEADER_SIZE)
        if raw is None:
            return None
        sig, major, minor, flags, count = struct.unpack("<IHHII", raw)
        if sig != READYTORUN_SIGNATURE:
            return None
        sections: dict[int, tuple[int, int]] = {}
        count = min(count, _MAX_R2R_SECTIONS)
        table = self.try_read(rva + _R2R_HEADER_SIZE, count * _R2R_SECTION_ENTRY_SIZE)
        if table is None:  # truncated: keep what is there
            table = b""
            for i in range(count):
                entry = self.try_read(
                    rva + _R2R_HEADER_SIZE + i * _R2R_SECTION_ENTRY_SIZE,
                    _R2R_SECTION_ENTRY_SIZE,
                )
                if entry is None:
                    break
                table += entry
        for off in range(0, len(table), _R2R_SECTION_ENTRY_SIZE):
            stype, srva, ssize = struct.unpack_from("<III", table, off)
            sections.setdefault(stype, (srva, ssize))
        return _R2RHeader(rva, major, minor, flags, sections)

    def managed_native_header(self) -> _R2RHeader | None:
        """The R2R header pointed to by the COR header's ManagedNativeHeader."""
        if self.cor is None or not self.cor.native_header_rva:
            return None
        return self.r2r_header_at(self.cor.native_header_rva)

    # exports
    def export_rva(self, name: bytes) -> int | None:
        """RVA of the named export, or ``None`` (also for unparsable export tables)."""
        try:
            self.pe.parse_data_directories(
                directories=[pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_EXPORT"]]
            )
            exports = getattr(self.pe, "DIRECTORY_ENTRY_EXPORT", None)
            if exports is None:
                return None
            for sym in exports.symbols:
                if sym.name == name and sym.address:
                    return int(sym.address)
        except _PARSE_ERRORS:
            return None
        return None

    # metadata
    def metadata_at(self, rva: int, size: int) -> "_Metadata":
        if not rva or size <= 0:
            raise _BadData("no metadata")
        return _Metadata(lambda off, n: self.read(rva + off, n), size)

    def module_metadata(self) -> "_Metadata":
        if self.cor is None:
            raise _BadData("no COR header")
        return self.metadata_at(self.cor.metadata_rva, self.cor.metadata_size)

    def section_string(self, r2r: _R2RHeader, section: int) -> str | None:
        """A NUL-terminated UTF-8 string stored in an R2R section."""
        loc = r2r.sections.get(section)
        if loc is None:
            return None
        rva, size = loc
        raw = self.try_read(rva, min(size, _MAX_OWNER_NAME))
        if not raw:
            return None
        return raw.split(b"\0", 1)[0].decode("utf-8", errors="replace") or None


# --- internal: minimal ECMA-335 metadata reader ----------------------------

# Coded index kinds: list of table ids (None = unused tag value).
_CODED = {
    "TypeDefOrRef": [0x02, 0x01, 0x1B],
    "HasConstant": [0x04, 0x08, 0x17],
    "HasCustomAttribute": [
        0x06, 0x04, 0x01, 0x02, 0x08, 0x09, 0x0A, 0x00, 0x0E, 0x17, 0x14,
        0x11, 0x1A, 0x1B, 0x20, 0x23, 0x26, 0x27, 0x28, 0x2A, 0x2C, 0x2B,
    ],
    "HasFieldMarshal": [0x04, 0x08],
    "HasDeclSecurity": [0x02, 0x06, 0x20],
    "MemberRefParent": [0x02, 0x01, 0x1A, 0x06, 0x1B],
    "HasSemantics": [0x14, 0x17],
    "MethodDefOrRef": [0x06, 0x0A],
    "MemberForwarded": [0x04, 0x06],
    "Implementation": [0x26, 0x23, 0x27],
    "CustomAttributeType": [None, None, 0x06, 0x0A, None],
    "ResolutionScope": [0x00, 0x1A, 0x23, 0x01],
    "TypeOrMethodDef": [0x02, 0x06],
}

# Column kinds: 2 / 4 = fixed-size integer, "S" string heap, "G" GUID heap,
# "B" blob heap, ("T", table) simple index, ("C", name) coded index.
_T = lambda t: ("T", t)  # noqa: E731
_C = lambda n: ("C", n)  # noqa: E731
_SCHEMA: dict[int, list] = {
    0x00: [2, "S", "G", "G", "G"],  # Module
    0x01: [_C("ResolutionScope"), "S", "S"],  # TypeRef
    0x02: [4, "S", "S", _C("TypeDefOrRef"), _T(0x04), _T(0x06)],  # TypeDef
    0x03: [_T(0x04)],  # FieldPtr
    0x04: [2, "S", "B"],  # Field
    0x05: [_T(0x06)],  # MethodPtr
    0x06: [4, 2, 2, "S", "B", _T(0x08)],  # MethodDef
    0x07: [_T(0x08)],  # ParamPtr
    0x08: [2, 2, "S"],  # Param
    0x09: [_T(0x02), _C("TypeDefOrRef")],  # InterfaceImpl
    0x0A: [_C("MemberRefParent"), "S", "B"],  # MemberRef
    0x0B: [2, _C("HasConstant"), "B"],  # Constant (type byte + padding byte)
    0x0C: [_C("HasCustomAttribute"), _C("CustomAttributeType"), "B"],  # CustomAttribute
    0x0D: [_C("HasFieldMarshal"), "B"],  # FieldMarshal
    0x0E: [2, _C("HasDeclSecurity"), "B"],  # DeclSecurity
    0x0F: [2, 4, _T(0x02)],  # ClassLayout
    0x10: [4, _T(0x04)],  # FieldLayout
    0x11: ["B"],  # StandAloneSig
    0x12: [_T(0x02), _T(0x14)],  # EventMap
    0x13: [_T(0x14)],  # EventPtr
    0x14: [2, "S", _C("TypeDefOrRef")],  # Event
    0x15: [_T(0x02), _T(0x17)],  # PropertyMap
    0x16: [_T(0x17)],  # PropertyPtr
    0x17: [2, "S", "B"],  # Property
    0x18: [2, _T(0x06), _C("HasSemantics")],  # MethodSemantics
    0x19: [_T(0x02), _C("MethodDefOrRef"), _C("MethodDefOrRef")],  # MethodImpl
    0x1A: ["S"],  # ModuleRef
    0x1B: ["B"],  # TypeSpec
    0x1C: [2, _C("MemberForwarded"), "S", _T(0x1A)],  # ImplMap
    0x1D: [4, _T(0x04)],  # FieldRVA
    0x1E: [4, 4],  # EncLog
    0x1F: [4],  # EncMap
    0x20: [4, 2, 2, 2, 2, 4, "B", "S", "S"],  # Assembly
    0x21: [4],  # AssemblyProcessor
    0x22: [4, 4, 4],  # AssemblyOS
    0x23: [2, 2, 2, 2, 4, "B", "S", "S", "B"],  # AssemblyRef
    0x24: [4, _T(0x23)],  # AssemblyRefProcessor
    0x25: [4, 4, 4, _T(0x23)],  # AssemblyRefOS
    0x26: [4, "S", "B"],  # File
    0x27: [4, 4, "S", "S", _C("Implementation")],  # ExportedType
    0x28: [4, 4, "S", _C("Implementation")],  # ManifestResource
    0x29: [_T(0x02), _T(0x02)],  # NestedClass
    0x2A: [2, 2, _C("TypeOrMethodDef"), "S"],  # GenericParam
    0x2B: [_C("MethodDefOrRef"), "B"],  # MethodSpec
    0x2C: [_T(0x2A), _C("TypeDefOrRef")],  # GenericParamConstraint
}
_TABLE_MODULE = 0x00
_TABLE_ASSEMBLY = 0x20
_TABLE_ASSEMBLY_REF = 0x23
_METADATA_SIGNATURE = 0x424A5342  # "BSJB"
_NIL_GUID = "00000000-0000-0000-0000-000000000000"


class _Metadata:
    """Lazy reader of an ECMA-335 metadata blob (only what this module needs).

    ``read(offset, length)`` returns exactly ``length`` bytes from the blob or
    raises :class:`_BadData`; every offset is checked against ``size`` and
    against the bounds of the stream it belongs to.
    """

    def __init__(self, read: Callable[[int, int], bytes], size: int):
        self._raw_read = read
        self._size = size
        self.streams = self._read_stream_headers()
        tables = self.streams.get("#~") or self.streams.get("#-")
        if tables is None:
            raise _BadData("metadata has no table stream")
        self._tables_stream = tables
        self._parse_table_header()

    def _read(self, off: int, length: int) -> bytes:
        if off < 0 or length < 0 or off + length > self._size:
            raise _BadData(f"metadata read {off:#x}+{length:#x} beyond {self._size:#x}")
        return self._raw_read(off, length)

    def _read_stream(self, name: str, off: int, length: int) -> bytes:
        start, size = self.streams[name]
        if off < 0 or off + length > size:
            raise _BadData(f"{name} read {off:#x}+{length:#x} beyond {size:#x}")
        return self._read(start + off, length)

    def _read_stream_headers(self) -> dict[str, tuple[int, int]]:
        sig, _major, _minor, _reserved, vlen = struct.unpack("<IHHII", self._read(0, 16))
        if sig != _METADATA_SIGNATURE:
            raise _BadData("bad metadata signature")
        if vlen > 255:
            raise _BadData("bad metadata version length")
        pos = 16 + vlen
        _flags, nstreams = struct.unpack("<HH", self._read(pos, 4))
        pos += 4
        streams: dict[str, tuple[int, int]] = {}
        for _ in range(min(nstreams, 16)):
            offset, size = struct.unpack("<II", self._read(pos, 8))
            pos += 8
            chunk = self._read(pos, min(32, self._size - pos))
            nul = chunk.find(b"\0")
            if nul < 0:
                raise _BadData("unterminated stream name")
            name = chunk[:nul].decode("ascii", errors="replace")
            pos += (nul + 4) & ~3  # name + NUL, padded to 4
            if offset + size > self._size:
                raise _BadData(f"stream {name} out of metadata")
            streams.setdefault(name, (offset, size))
        return streams

    def _parse_table_header(self) -> None:
        head = self._read_stream("#~" if "#~" in self.streams else "#-", 0, 24)
        heap_sizes = head[6]
        valid, _sorted = struct.unpack_from("<QQ", head, 8)
        present = [t for t in range(64) if valid >> t & 1]
        counts_raw = self._read_table_stream(24, 4 * len(present))
        self.rows = [0] * 64
        for i, t in enumerate(present):
            self.rows[t] = struct.unpack_from("<I", counts_raw, 4 * i)[0]
        pos = 24 + 4 * len(present)
        if heap_sizes & 0x40:  # extra 4 bytes of data after the row counts
            pos += 4
        self._str_size = 4 if heap_sizes & 0x01 else 2
        self._guid_size = 4 if heap_sizes & 0x02 else 2
        self._blob_size = 4 if heap_sizes & 0x04 else 2
        # Row layouts and table offsets for every table we know, in id order.
        self._layout: dict[int, list[int]] = {}
        self._offset: dict[int, int] = {}
        for t in present:
            if t not in _SCHEMA:
                break  # unknown (e.g. portable PDB) tables: nothing after is needed
            widths = [self._width(col) for col in _SCHEMA[t]]
            self._layout[t] = widths
            self._offset[t] = pos
            pos += sum(widths) * self.rows[t]

    def _read_table_stream(self, off: int, length: int) -> bytes:
        return self._read_stream("#~" if "#~" in self.streams else "#-", off, length)

    def _width(self, col) -> int:
        if isinstance(col, int):
            return col
        if col == "S":
            return self._str_size
        if col == "G":
            return self._guid_size
        if col == "B":
            return self._blob_size
        kind, arg = col
        if kind == "T":
            return 2 if self.rows[arg] < 0x10000 else 4
        tables = _CODED[arg]
        bits = (len(tables) - 1).bit_length()
        limit = 1 << (16 - bits)
        biggest = max(self.rows[t] for t in tables if t is not None)
        return 2 if biggest < limit else 4

    def row(self, table: int, rid: int) -> list[int]:
        """Column values (raw integers/indexes) of row ``rid`` (1-based)."""
        if table not in self._layout or not 1 <= rid <= self.rows[table]:
            raise _BadData(f"no row {rid} in table {table:#x}")
        widths = self._layout[table]
        size = sum(widths)
        raw = self._read_table_stream(self._offset[table] + (rid - 1) * size, size)
        values, pos = [], 0
        for w in widths:
            values.append(int.from_bytes(raw[pos : pos + w], "little"))
            pos += w
        return values

    def string(self, index: int) -> str:
        """NUL-terminated UTF-8 string from the #Strings heap."""
        if "#Strings" not in self.streams:
            raise _BadData("no #Strings heap")
        heap_size = self.streams["#Strings"][1]
        out = b""
        pos = index
        while pos < heap_size:
            chunk = self._read_stream("#Strings", pos, min(256, heap_size - pos))
            nul = chunk.find(b"\0")
            if nul >= 0:
                return (out + chunk[:nul]).decode("utf-8", errors="replace")
            out += chunk
            pos += len(chunk)
            if len(out) > 65536:
                break
        raise _BadData("unterminated string")

    def guid(self, index: int) -> str | None:
        """GUID (lowercase canonical form) from the #GUID heap; index is 1-based."""
        if index == 0:
            return None
        if "#GUID" not in self.streams:
            raise _BadData("no #GUID heap")
        raw = self._read_stream("#GUID", (index - 1) * 16, 16)
        return str(uuid.UUID(bytes_le=raw))

    def module_mvid(self) -> str | None:
        """Module row 1's Mvid; ``None`` for the nil GUID (e.g. a composite's manifest)."""
        mvid = self.guid(self.row(_TABLE_MODULE, 1)[2])
        return None if mvid == _NIL_GUID else mvid

    def assembly_name(self) -> str | None:
        if self.rows[_TABLE_ASSEMBLY] < 1:
            return None
        return self.string(self.row(_TABLE_ASSEMBLY, 1)[7])

    def assembly_ref_names(self) -> list[str]:
        return [
            self.string(self.row(_TABLE_ASSEMBLY_REF, rid)[6])
            for rid in range(1, self.rows[_TABLE_ASSEMBLY_REF] + 1)
        ]


# --- internal: opening and classifying -------------------------------------


def _open_pe(*, path: str | os.PathLike | None = None, data: bytes | None = None,
             name: str) -> pefile.PE:
    try:
        if path is not None:
            return pefile.PE(name=os.fspath(path), fast_load=True)
        return pefile.PE(data=data, fast_load=True)
    except _PARSE_ERRORS as exc:  # I/O errors (OSError) propagate unchanged
        raise NotPeError(f"{name}: not a PE file ({exc})") from exc


def _analyze(pe: pefile.PE, name: str) -> tuple[PeInfo, _Image | None, _R2RHeader | None]:
    """Classify an opened PE. Returns the info plus the image and the main R2R header."""
    try:
        img = _Image(pe)
    except _PARSE_ERRORS as exc:
        raise NotPeError(f"{name}: not a PE file ({exc})") from exc
    if img.truncated:
        # Section data runs past the end of the file: nothing the runtime could
        # load, whatever the (intact) headers claim.
        info = PeInfo(path=name, kind=Kind.NOT_MANAGED, machine=img.machine,
                      target=decode_target(img.machine))
        return info, img, None
    cor = img.cor
    cor_flags = cor.flags if cor is not None else None
    r2r: _R2RHeader | None = None
    owner: str | None = None

    if cor is not None and cor.flags & COMIMAGE_FLAGS_IL_LIBRARY:
        r2r = img.managed_native_header()
        if r2r is None:
            kind = Kind.NOT_MANAGED
        elif r2r.flags & R2R_FLAG_COMPONENT:
            kind = Kind.COMPONENT
            owner = img.section_string(r2r, SECTION_OWNER_COMPOSITE_EXECUTABLE)
        else:
            kind = Kind.R2R
    elif cor is not None and cor.flags & COMIMAGE_FLAGS_ILONLY:
        r2r = img.managed_native_header()
        kind = Kind.IL_ONLY if r2r is None else Kind.NOT_MANAGED
    else:
        rtr = img.export_rva(RTR_HEADER_EXPORT)
        if rtr is not None:
            kind = Kind.COMPOSITE
            r2r = img.r2r_header_at(rtr)
        else:
            kind = Kind.NOT_MANAGED

    mvid = None
    if cor is not None:
        try:
            mvid = img.module_metadata().module_mvid()
        except (_BadData, *_PARSE_ERRORS):
            mvid = None

    info = PeInfo(
        path=name,
        kind=kind,
        machine=img.machine,
        target=None if kind is Kind.IL_ONLY else decode_target(img.machine),
        cor_flags=cor_flags,
        r2r_major=r2r.major if r2r else None,
        r2r_minor=r2r.minor if r2r else None,
        r2r_flags=r2r.flags if r2r else None,
        owner_composite=owner,
        mvid=mvid,
    )
    return info, img, r2r


# --- public functions ------------------------------------------------------


def classify_file(path: str | os.PathLike) -> PeInfo:
    """Classify one file. ``PeInfo.path`` is ``str(path)`` as given.

    Raises :class:`NotPeError` if the file is not a PE (ELF, text, cut inside
    the PE headers, empty); ``OSError`` for I/O problems (missing file...).
    """
    name = os.fspath(path)
    name = name if isinstance(name, str) else os.fsdecode(name)
    pe = _open_pe(path=path, name=name)
    try:
        return _analyze(pe, name)[0]
    finally:
        pe.close()


def classify_bytes(data: bytes, name: str) -> PeInfo:
    """Classify an in-memory image; ``name`` becomes ``PeInfo.path``."""
    pe = _open_pe(data=bytes(data), name=name)
    try:
        return _analyze(pe, name)[0]
    finally:
        pe.close()


def is_managed(path: str | os.PathLike) -> bool:
    """True for IL-only, R2R and component images (files with a usable COR header).

    False for composite images (even though they may carry a COR header, it is
    not an assembly), native PE/ELF files and anything that is not a PE.
    """
    try:
        return classify_file(path).kind in (Kind.IL_ONLY, Kind.R2R, Kind.COMPONENT)
    except NotPeError:
        return False


def iter_pe_files(root: str | os.PathLike) -> Iterator[Path]:
    """Regular files under ``root`` starting with ``b"MZ"``, sorted; symlinks skipped.

    Symlinked directories are not descended into. A ``root`` that is itself a
    file is yielded if it starts with MZ.
    """
    root_path = Path(root)
    if root_path.is_file():
        candidates: Iterable[Path] = [root_path]
    else:
        found: list[Path] = []
        for dirpath, _dirnames, filenames in os.walk(root_path, followlinks=False):
            for fn in filenames:
                p = Path(dirpath, fn)
                if not p.is_symlink():
                    found.append(p)
        candidates = found
    for p in sorted(candidates):
        try:
            with open(p, "rb") as fh:
                if fh.read(2) == b"MZ":
                    yield p
        except OSError:
            continue


def classify_tree(root: str | os.PathLike) -> list[PeInfo]:
    """Classify every MZ file under ``root`` (see :func:`iter_pe_files`).

    ``PeInfo.path`` is the POSIX path relative to ``root``. Files that start
    with MZ but are not valid PEs are reported as ``not-managed`` with all
    other fields ``None``.
    """
    root_path = Path(root)
    base = root_path if root_path.is_dir() else root_path.parent
    out: list[PeInfo] = []
    for p in iter_pe_files(root_path):
        rel = p.relative_to(base).as_posix()
        try:
            info = replace(classify_file(p), path=rel)
        except NotPeError:
            info = PeInfo(path=rel, kind=Kind.NOT_MANAGED)
        out.append(info)
    return out


def composite_components(path: str | os.PathLike) -> list[tuple[str, str]]:
    """``(assembly simple name, mvid)`` for each component of a composite image.

    The component list is the ComponentAssemblies section (115): one 16-byte
    entry per component, indexed in parallel with (1-based) the AssemblyRef
    table of the ManifestMetadata section (112), whose first N rows therefore
    name the N components in order (this is also how the runtime maps a
    component's simple name to its index). MVIDs are the 16-byte records of
    ManifestAssemblyMvids (118), same index. If a component's COR header is
    embedded in the composite (EMBEDDED_MSIL), its own Assembly name and Module
    MVID are used instead when the manifest does not provide them.

    Returns ``[]`` for a PE that is not a composite image; raises
    :class:`NotPeError` for a non-PE. A missing MVID is returned as ``None``.
    """
    name = os.fspath(path)
    pe = _open_pe(path=path, name=str(name))
    try:
        info, img, r2r = _analyze(pe, str(name))
        if info.kind is not Kind.COMPOSITE or img is None or r2r is None:
            return []
        return _components(img, r2r)
    finally:
        pe.close()


def _components(img: _Image, r2r: _R2RHeader) -> list[tuple[str, str]]:
    comp_loc = r2r.sections.get(SECTION_COMPONENT_ASSEMBLIES)
    if comp_loc is None:
        return []
    comp_rva, comp_size = comp_loc
    count = min(comp_size // 16, _MAX_COMPONENTS)
    entries = img.try_read(comp_rva, count * 16) or b""
    count = len(entries) // 16

    ref_names: list[str] = []
    md_loc = r2r.sections.get(SECTION_MANIFEST_METADATA)
    if md_loc is not None:
        try:
            ref_names = img.metadata_at(*md_loc).assembly_ref_names()
        except (_BadData, *_PARSE_ERRORS):
            ref_names = []

    mvids: list[str] = []
    mvid_loc = r2r.sections.get(SECTION_MANIFEST_ASSEMBLY_MVIDS)
    if mvid_loc is not None:
        raw = img.try_read(mvid_loc[0], min(mvid_loc[1] // 16, _MAX_COMPONENTS) * 16) or b""
        mvids = [str(uuid.UUID(bytes_le=raw[i : i + 16])) for i in range(0, len(raw), 16)]

    result = []
    for i in range(count):
        cor_rva, cor_size = struct.unpack_from("<II", entries, 16 * i)
        comp_name = ref_names[i] if i < len(ref_names) else None
        comp_mvid = mvids[i] if i < len(mvids) else None
        if (comp_name is None or comp_mvid is None) and cor_rva and cor_size:
            embedded = _embedded_identity(img, cor_rva)
            comp_name = comp_name or embedded[0]
            comp_mvid = comp_mvid or embedded[1]
        result.append((comp_name, comp_mvid))
    return result


def _embedded_identity(img: _Image, cor_rva: int) -> tuple[str | None, str | None]:
    """(Assembly name, Module MVID) of a component whose COR header is embedded."""
    try:
        raw = img.read(cor_rva, _COR_HEADER_SIZE)
        md_rva, md_size = struct.unpack_from("<II", raw, 8)
        md = img.metadata_at(md_rva, md_size)
        return md.assembly_name(), md.module_mvid()
    except (_BadData, *_PARSE_ERRORS):
        return None, None


def read_mvid(path: str | os.PathLike) -> str | None:
    """Module MVID (Module table row 1, Mvid column) as a lowercase GUID string.

    ``None`` if the file is a PE without readable ECMA-335 metadata; raises
    :class:`NotPeError` for a non-PE.
    """
    name = os.fspath(path)
    pe = _open_pe(path=path, name=str(name))
    try:
        try:
            return _Image(pe).module_metadata().module_mvid()
        except (_BadData, *_PARSE_ERRORS):
            return None
    finally:
        pe.close()


def summarize(infos: Iterable[PeInfo]) -> dict:
    """Counts per kind (only kinds that occur) plus component counts per owner.

    Example: ``{"il-only": 3, "component": 170, "composite": 1,
    "owners": {"framework-r2r.dll": 170}}``. Components without a readable
    owner name are counted under their kind but not in ``owners``.
    """
    kinds: Counter[Kind] = Counter()
    owners: Counter[str] = Counter()
    for info in infos:
        kinds[info.kind] += 1
        if info.kind is Kind.COMPONENT and info.owner_composite:
            owners[info.owner_composite] += 1
    out: dict = {k.value: kinds[k] for k in Kind if kinds[k]}
    out["owners"] = dict(sorted(owners.items()))
    return out
