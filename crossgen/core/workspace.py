"""The build folder (``dci.build_dir``, ``build/`` by default): every path the stages write under it,
named in one place. Nothing under it is an input; deleting it only costs time.

::

    layout/<version>-<rid>-<key>/dotnet   laid-out dotnet roots (acquire)
    layout/sdk-<version>-<sha>/dotnet     an acquired SDK tarball, laid out for the SDK images
    acquire.json                          what the last acquisition resolved
    profile/<version>[-<arch>]/           the runtime pack's MIBC profile (compile)
    profile/hot-assemblies-<digest>.json  what the training programs load (compile, mode hot)
    crossgen/<bubble>/<key>/              Crossgen2 results with their record.json (compile)
    samples/                              published sample apps, and their source copies (compile)
    contexts/<image key>/                 Dockerfile contexts while an image builds (images)
    tmp/                                  scratch space (the OS base's root file system)
    build-all.json                        what the last build-all built or found up to date
    build-all-<mode>.json                 the same for the last build-all --mode <mode>
    build-all[-<mode>]-<arch>.json        the same for another architecture than x64 (--rid linux-arm64)
    trials.json                           the trial runs of trimmed / AOT app images, by input digest
    verify/                               verify.json, app-compat.json, samples built by SDK images
    verify-<arch>/                        the same for another architecture than x64
    publish/push.json                     what the last push sent where (digests), and what it refused
    report/                               report.json, report.md, charts, build history
    report/app-<name>/                    a user's app: its build records and frontier (report --app)
    report/channels/build-<channel>.json  the build of each channel report --channels compares
    registry/                             the local registry's storage (report)
    logs/                                 Crossgen2, mmdebstrap, registry and dockerd logs
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Workspace:
    root: Path
    mode_tag: str = ""     # builds with --mode X keep their own record (build-all-X.json)
    arch: str = ""         # another architecture than x64 keeps its own records (build-all-arm64.json, verify-arm64/)

    @property
    def layouts(self) -> Path:
        return self.root / "layout"

    @property
    def acquire_record(self) -> Path:
        return self.root / "acquire.json"

    def profile(self, version: str) -> Path:
        # each architecture's runtime pack has its own profile (9.0.23 is served for x64 and arm64)
        return self.root / "profile" / (f"{version}-{self.arch}" if self.arch else version)

    def hot_assemblies(self, digest: str) -> Path:
        return self.root / "profile" / f"hot-assemblies-{digest}.json"

    def crossgen(self, bubble: str) -> Path:
        return self.root / "crossgen" / bubble

    @property
    def samples(self) -> Path:
        return self.root / "samples"

    @property
    def contexts(self) -> Path:
        return self.root / "contexts"

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"

    @property
    def build_record(self) -> Path:
        parts = ["build-all", *([self.mode_tag] if self.mode_tag else []), *([self.arch] if self.arch else [])]
        return self.root / ("-".join(parts) + ".json")

    @property
    def trials(self) -> Path:
        return self.root / "trials.json"

    @property
    def verify(self) -> Path:
        return self.root / (f"verify-{self.arch}" if self.arch else "verify")

    @property
    def publish(self) -> Path:
        return self.root / "publish"

    @property
    def report(self) -> Path:
        return self.root / "report"

    @property
    def registry(self) -> Path:
        return self.root / "registry"

    @property
    def logs(self) -> Path:
        return self.root / "logs"
