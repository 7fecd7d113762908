"""The variant catalog: every variant, image, base, role, bubble, tag, sample, deployment scenario and
chart row, declared once (as dotnet-docker's manifest.json declares its images). Staging, building,
verify, report and the tests read it; adding a variant or an image is one entry here.

Vocabulary:

* an **image** is one Dockerfile context: its key (``runtime-composite``), its repository and tag
  suffix (``<prefix><repo>:<channel>-<os_tag>-<suffix>``), its role (runtime | aspnet | sdk | app),
  the image it is built FROM (``base``: another entry's key, or ``runtime-deps``), and the version
  bubbles whose composites it holds (its own layer's and its base's);
* an **app image** is declared once for every sample (``AppImage``): ``sample-<name>-<suffix>``
  (``app-<name>-<suffix>`` for a user's app, see :func:`for_app`);
* a **variant** is a numbered way of building the framework images: which images it builds, which
  image plays each role when its sizes are compared with the baseline's, and which image runs each
  kind of sample (console or web) when startup is measured;
* a **sample** is an app under ``samples/``; its kind says how it is run and probed;
* a **scenario** is a set of roles deployed together on one machine (sizes, sharing); a scenario
  ``beside_baseline`` is also a pull onto a node that already runs the baseline's images of those
  roles (``pulls``: measured with real pulls by ``report --pulls``, see :meth:`Catalog.pull_scenarios`).

* an **OS base** is what ``runtime-deps`` is made of (``OsBase``): Debian slim with a shell and apt
  (the default), or distroless: only the files .NET needs from Debian's packages, no shell, no package
  manager (``-extra``: with ICU and time zones). Every variant builds on any of them (``--os``); its
  tags say which (``<channel>-<suite>-<os>``), and a base without a shell gets no SDK images.

* an **architecture** is what the images run on (``Arch``, from ``dci.rid`` / ``--rid``): its Docker
  platform, its Debian architecture (the OS base is made from that architecture's packages), its multiarch
  triple (where a distroless rootfs takes the libraries from) and the
  suffix every tag of its images ends with, as dotnet-docker names its arch-specific tags
  (``runtime:10.0-trixie-slim-composite-arm64v8``); x64, the first, has none. Images of an architecture
  other than the machine's are built and run under emulation (qemu-user through binfmt_misc), but a
  distroless runtime-deps: this machine's OS base lays it out from the target's packages.

Axes still to come (app approach) are fields of these records with today's single value as the
default, so that a new value is one more entry.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field

from crossgen.compile.samples import FRAMEWORK_DEPENDENT, SELF_CONTAINED, Publish
from crossgen.core.errors import DciError

RUNTIME_DEPS = "runtime-deps"  # the image every variant stands on (built by images.baseimage)


@dataclass(frozen=True)
class OsBase:
    """What runtime-deps is made of. ``template`` is the docker/<template>.Dockerfile.j2 that builds it;
    ``shell``: the image has /bin/sh and a package manager (RUN steps, SDK images, scripts in checks);
    ``icu``/``tzdata``: it holds ICU (else globalization-invariant) and the time zone database."""

    name: str                 # --os / dci.os
    template: str
    shell: bool
    icu: bool
    tzdata: bool
    title: str = ""

    @property
    def gives_up(self) -> str:
        """What an app on this base does without (the report's approaches table), from what it holds."""
        lost = ([] if self.shell else ["no shell or package manager in the image"]) \
            + ([] if self.icu else ["no ICU: globalization-invariant, cultures such as de-DE refused"]) \
            + ([] if self.tzdata else ["no time zone database"])
        return "; ".join(lost)

    def tag(self, suite: str, configured: str = "") -> str:
        """The tag part after the channel: ``<suite>-<name>`` (``dci.os_tag`` for the default base when set)."""
        return configured if configured and self.name == DEFAULT_OS else f"{suite}-{self.name}"

    def packages(self, suite_packages: tuple[str, ...]) -> tuple[str, ...]:
        """The suite's runtime-deps packages this base takes (ICU and tzdata only where it has them)."""
        return tuple(p for p in suite_packages
                     if (self.icu or not p.startswith("libicu")) and (self.tzdata or p != "tzdata"))


DEFAULT_OS = "slim"
OS_BASES: tuple[OsBase, ...] = (
    OsBase("slim", "runtime-deps", shell=True, icu=True, tzdata=True, title="Debian slim: shell, apt, ICU, tzdata"),
    OsBase("distroless", "runtime-deps-distroless", shell=False, icu=False, tzdata=False,
           title="distroless: .NET's native dependencies only, no shell or package manager, globalization-invariant"),
    OsBase("distroless-extra", "runtime-deps-distroless", shell=False, icu=True, tzdata=True,
           title="distroless with ICU and tzdata"),
)


def os_base(name: str) -> OsBase:
    for b in OS_BASES:
        if b.name == name:
            return b
    raise DciError(f"os {name!r}", "no such OS base", "choose one of: " + ", ".join(b.name for b in OS_BASES))


@dataclass(frozen=True)
class Arch:
    """A target architecture: ``name`` is the RID's last part (linux-<name>)."""

    name: str                 # x64 | arm64
    platform: str             # Docker platform (the image config's os/architecture)
    debian: str               # Debian architecture of the OS base's packages (mmdebstrap --architectures, apt's :<arch>)
    multiarch: str            # its multiarch triple: the folder under /usr/lib its libraries go to
    tag_suffix: str           # appended to every tag of its images ("" = none)
    qemu: str                 # the binfmt_misc entry that runs its executables on another machine

    @property
    def architecture(self) -> str:
        """Docker's name for it: the image config's ``architecture`` (amd64, arm64)."""
        return self.platform.split("/")[1]

    def rid(self, like: str) -> str:
        """The RID of this architecture on the platform part of the RID ``like`` (linux-x64 -> linux-arm64)."""
        return f"{like.rsplit('-', 1)[0]}-{self.name}"

    def tag(self, tag: str) -> str:
        """``tag`` for this architecture: ``<tag>-<suffix>`` (unchanged without a suffix)."""
        return f"{tag}-{self.tag_suffix}" if self.tag_suffix else tag

    def ref(self, ref: str) -> str:
        """An image reference (``repo:tag``, or ``repo`` = ``repo:latest``) for this architecture (this
        machine's: as it is)."""
        if not self.tag_suffix:
            return ref
        if "@" in ref:
            raise DciError(f"image {ref}", f"a reference by digest names one image, not its {self.name} build",
                           f"give dci.base_image as repository:tag (its {self.name} image is tagged <tag>-{self.tag_suffix})")
        repo, sep, tag = ref.rpartition(":")
        if not sep or "/" in tag:  # no tag (a registry port is not one)
            repo, tag = ref, "latest"
        return f"{repo}:{self.tag(tag)}"


ARCHES: tuple[Arch, ...] = (
    Arch("x64", "linux/amd64", "amd64", "x86_64-linux-gnu", "", "qemu-x86_64"),
    Arch("arm64", "linux/arm64", "arm64", "aarch64-linux-gnu", "arm64v8", "qemu-aarch64"),
)


def arch_of(rid: str) -> Arch:
    """The architecture of a RID (``linux-arm64`` -> arm64); a Linux RID of an undeclared one is refused."""
    name = rid.rsplit("-", 1)[-1]
    for a in ARCHES:
        if a.name == name:
            return a
    raise DciError(f"RID {rid!r}", f"no images for the architecture {name!r}",
                   "use a RID of one of: " + ", ".join(f"linux-{a.name}" for a in ARCHES))


@dataclass(frozen=True)
class Sample:
    name: str                 # folder under samples/ (or the project/assembly name of a user's app)
    kind: str                 # console (prints and exits) | web (answers HTTP)
    source: str | None = None  # a user's app: its project folder or published folder (None: samples/<name>)
    probe: str = ""           # a user's app: "exit" (console) or the HTTP path that answers (web); "" = the samples' protocol
    minimal: bool = False     # one of the seed experiment's minimal programs (not service-shaped)

    @property
    def repo(self) -> str:
        """Repository of its app images: ``sample-<name>``, ``app-<name>`` for a user's app (never the same tags;
        lower case, as Docker wants repository names, whatever the app's assembly name)."""
        if self.source is None:
            return f"sample-{self.name}"
        return "app-" + (re.sub(r"[^a-z0-9._-]+", "-", self.name.lower()).strip("-._") or "app")


@dataclass(frozen=True)
class Image:
    key: str
    repo: str                 # runtime | aspnet | sdk | sample-<app>
    suffix: str               # tag suffix after <channel>-<os_tag>-
    role: str                 # runtime | aspnet | sdk | app
    base: str                 # key of the image it is built FROM (RUNTIME_DEPS or another image)
    bubbles: tuple[str, ...] = ()   # bubbles whose composites the image holds (inherited ones too)
    app: str | None = None          # app images: the sample
    publish: str = "fd"             # app images: how the sample is published (a PUBLISH_KINDS name)

    @property
    def approach(self) -> Publish:
        return publish_kind(self.publish)

    @property
    def self_contained(self) -> bool:
        """Published self-contained (no framework below): the app carries its runtime."""
        return self.approach.self_contained


@dataclass(frozen=True)
class AppImage:
    """One app image per sample: ``sample-<name>-<suffix>``. ``base`` names the image each sample
    kind stands on ({"console": key, "web": key}); ``publish`` how the sample is published (a
    ``PUBLISH_KINDS`` name); ``bubble`` is ``app`` for an app composite compiled by our Crossgen2 over
    that publish (its result: :func:`app_bubble`)."""

    suffix: str
    base: dict[str, str]
    publish: str = "fd"
    bubble: str | None = None
    minimal: bool = True      # also for the minimal samples (False: the service-shaped ones and users' apps only)

    def covers(self, sample: Sample) -> bool:
        return self.minimal or not sample.minimal

    def expand(self, sample: Sample) -> Image:
        return Image(
            key=f"{sample.repo}-{self.suffix}", repo=sample.repo, suffix=self.suffix, role="app",
            base=self.base[sample.kind], bubbles=(app_bubble(self.bubble, self.publish, sample.name),) if self.bubble else (),
            app=sample.name, publish=self.publish,
        )


def app_bubble(bubble: str, publish: str, sample: str) -> str:
    """The compiled bubble of one (sample, publish kind): ``app-<sample>`` over the self-contained publish
    (the name variant 5 always had), ``app-<kind>-<sample>`` over another one (``app-trimmed-web``)."""
    return f"{bubble}-{sample}" if publish == SELF_CONTAINED.name else f"{bubble}-{publish}-{sample}"


@dataclass(frozen=True)
class Variant:
    number: int
    name: str
    title: str
    short: str                                  # chart legend
    color: str                                  # chart colour
    builds: tuple[str, ...] = ()                # framework image keys this variant builds (dependency order)
    apps: tuple[AppImage, ...] = ()             # app images it builds, one per sample
    roles: dict[str, str] = field(default_factory=dict)   # role -> image key compared with the baseline's
    runs: dict[str, str] = field(default_factory=dict)    # sample kind -> image that runs it ("app": its own app image)
    built_with: tuple[int, ...] = ()            # variants built along with it: what its images are compared with
    gives_up: str = ""                          # what an app shipped this way gives up (the report's approaches table)
    in_build_all: bool = True                   # built by `build-all` (and CI's one build); else only by name (build --variant N)

    @property
    def baseline(self) -> bool:
        return self.number == 1


@dataclass(frozen=True)
class Scenario:
    """Images deployed together: the variant's images of ``roles`` (``apps`` = its app images)."""

    id: str
    title: str
    roles: tuple[str, ...]
    compare: bool = True           # ratios to the baseline make sense
    beside_baseline: bool = False  # the variant's images next to the baseline's (a node that runs both)
    pulls: bool = False            # measured by real pulls onto a node (report --pulls): what the node has, what it pulls


@dataclass(frozen=True)
class PullScenario:
    """One pull onto a node: the images it already has (``have``, pulled first and not counted) and the
    images it then pulls (``want``), as image keys."""

    id: str
    title: str
    variant: int
    have: tuple[str, ...]
    want: tuple[str, ...]


SAMPLES: tuple[Sample, ...] = (
    Sample("hello", "console", minimal=True),
    Sample("web", "web", minimal=True),
    Sample("broad", "console"),     # many framework areas; never used for training
    Sample("service", "web"),       # a service-shaped web API; never used for training
)

# How an app is published, one entry per approach: the output folder, the digest, the Dockerfile's entry
# point, verify's checks and the build record follow the entry (crossgen.compile.samples.Publish).
PUBLISH_KINDS: tuple[Publish, ...] = (
    FRAMEWORK_DEPENDENT,
    SELF_CONTAINED,
    Publish("trimmed", "self-contained, trimmed (ILLink)", self_contained=True, properties=(("PublishTrimmed", "true"),),
            may_break=True),
    # Native AOT links with gcc (the machine's C toolchain; clang is the SDK's default) and keeps the
    # SDK's own ILCompiler and runtime packs (the NativeAOT runtime pack must match the ILCompiler pack;
    # the versions it took are in the publish record); the .dbg symbol file stays out of the image.
    Publish("aot", "Native AOT", self_contained=True, native=True, pin_runtime=False, may_break=True,
            properties=(("PublishAot", "true"), ("CppCompilerAndLinker", "gcc"), ("CopyOutputSymbolsToPublishDirectory", "false"))),
    # the SDK's own composite, with our Crossgen2's version: what `dotnet publish` makes of the same app
    Publish("sdk-composite", "self-contained, the SDK's ReadyToRun composite", self_contained=True, pin_crossgen2=True,
            sdk_composite=True, properties=(("PublishReadyToRun", "true"), ("PublishReadyToRunComposite", "true"))),
)


def publish_kind(name: str) -> Publish:
    for p in PUBLISH_KINDS:
        if p.name == name:
            return p
    raise DciError(f"publish kind {name!r}", "not declared", "choose one of: " + ", ".join(p.name for p in PUBLISH_KINDS))


IMAGES: tuple[Image, ...] = (
    Image("runtime-no-composite", "runtime", "no-composite", "runtime", RUNTIME_DEPS),
    Image("aspnet-no-composite", "aspnet", "no-composite", "aspnet", "runtime-no-composite"),
    Image("sdk-no-composite", "sdk", "no-composite", "sdk", "aspnet-no-composite"),
    Image("runtime-composite", "runtime", "composite", "runtime", RUNTIME_DEPS, ("runtime",)),
    Image("aspnet-runtime-composite", "aspnet", "runtime-composite", "aspnet", "runtime-composite", ("runtime",)),
    Image("sdk-runtime-composite", "sdk", "runtime-composite", "sdk", "aspnet-runtime-composite", ("runtime",)),
    Image("aspnet-composite", "aspnet", "composite", "aspnet", RUNTIME_DEPS, ("aspnet",)),
    Image("sdk-aspnet-composite", "sdk", "aspnet-composite", "sdk", "aspnet-composite", ("aspnet",)),
    Image("aspnet-composed-composite", "aspnet", "composed-composite", "aspnet", "runtime-composite", ("runtime", "aspnet-composed")),
    Image("sdk-aspnet-composed-composite", "sdk", "aspnet-composed-composite", "sdk", "aspnet-composed-composite",
          ("runtime", "aspnet-composed")),
)

def _apps_alone(number: int, name: str, title: str, color: str, publish: str, suffix: str, *, bubble: str | None = None,
                in_build_all: bool = True, gives_up: str = "", minimal: bool = True) -> Variant:
    """A variant whose app images stand on runtime-deps alone (the app carries its runtime): every sample
    (``minimal`` False: but the minimal ones) runs in its own app image, published the ``publish`` way,
    compared with the baseline's apps."""
    return Variant(
        number, name, title, f"{number} {name}", color,
        apps=(AppImage(suffix, {"console": RUNTIME_DEPS, "web": RUNTIME_DEPS}, publish=publish, bubble=bubble, minimal=minimal),),
        runs={"console": "app", "web": "app"}, built_with=(1,), in_build_all=in_build_all, gives_up=gives_up,
    )


VARIANTS: tuple[Variant, ...] = (
    Variant(
        1, "no-composite", "baseline: no composite", "1 baseline", "#7f7f7f",
        builds=("runtime-no-composite", "aspnet-no-composite", "sdk-no-composite"),
        # the framework-dependent samples on the baseline: what variant 5's apps are compared with
        apps=(AppImage("no-composite", {"console": "runtime-no-composite", "web": "aspnet-no-composite"}),),
        roles={"runtime": "runtime-no-composite", "aspnet": "aspnet-no-composite", "sdk": "sdk-no-composite"},
        runs={"console": "runtime-no-composite", "web": "aspnet-no-composite"},
        gives_up="nothing: the framework as shipped, each assembly with its own ReadyToRun code",
    ),
    Variant(
        2, "runtime-composite", "composite .NET runtime", "2 runtime-composite", "#1f77b4",
        builds=("runtime-composite", "aspnet-runtime-composite", "sdk-runtime-composite"),
        roles={"runtime": "runtime-composite", "aspnet": "aspnet-runtime-composite", "sdk": "sdk-runtime-composite"},
        runs={"console": "runtime-composite", "web": "aspnet-runtime-composite"},
        gives_up="a framework assembly the app ships itself must be the composite's own build (`verify --app` checks)",
    ),
    Variant(
        3, "aspnet-composite", "composite .NET runtime + ASP.NET Core in one composite", "3 aspnet-composite", "#9467bd",
        builds=("aspnet-composite", "sdk-aspnet-composite"),
        # its "runtime" is variant 2's composite runtime image, as in the 2020 experiment
        roles={"runtime": "runtime-composite", "aspnet": "aspnet-composite", "sdk": "sdk-aspnet-composite"},
        # console apps run on its "runtime" image: on the one runtime+ASP.NET composite a console app
        # can crash (the broad sample: shared System.Text.Json code in that composite needs
        # Microsoft.AspNetCore.Http.Abstractions, which a console app's host does not load)
        runs={"console": "runtime-composite", "web": "aspnet-composite"},
        gives_up="as variant 2; console apps run on variant 2's runtime image (this composite needs ASP.NET Core loaded)",
    ),
    Variant(
        4, "aspnet-composed-composite", "composite .NET runtime + composed ASP.NET Core composite", "4 composed", "#ff7f0e",
        builds=("runtime-composite", "aspnet-composed-composite", "sdk-aspnet-composed-composite"),
        roles={"runtime": "runtime-composite", "aspnet": "aspnet-composed-composite", "sdk": "sdk-aspnet-composed-composite"},
        runs={"console": "runtime-composite", "web": "aspnet-composed-composite"},
        gives_up="as variant 2",
    ),
    # Apps that carry their own runtime, on runtime-deps, each compared with the same apps,
    # framework-dependent, on the baseline. 6-8 are left out of build-all: each publishes every sample
    # again (the SDK composite compiles the whole framework once per sample); `build --variant 6,7,8`.
    # Not on the minimal samples: an app composite compiles the whole framework once per app, and hello and
    # web would only repeat, at that cost, what the service-shaped samples show.
    _apps_alone(5, "app-composite", "self-contained composite apps", "#d62728", "sc", "composite", bubble="app",
                minimal=False,
                gives_up="self-contained: every app carries its own framework (no framework layer shared between apps)"),
    _apps_alone(6, "trimmed-composite", "trimmed self-contained composite apps", "#8c564b", "trimmed", "trimmed-composite",
                bubble="app", in_build_all=False,
                gives_up="as variant 5; trimming removes what only reflection reaches (IL2xxx warnings say where): "
                         "JSON serialized by reflection is off"),
    _apps_alone(7, "aot", "Native AOT apps", "#e377c2", "aot", "aot", in_build_all=False,
                gives_up="no JIT: no code generated at run time, reflection only over what the compiler saw (IL2xxx/IL3xxx "
                         "warnings), JSON by reflection off; the SDK's own runtime version; one build per RID"),
    _apps_alone(8, "sdk-composite", "self-contained apps with the SDK's own composite", "#bcbd22", "sdk-composite", "sdk-composite",
                in_build_all=False,
                gives_up="as variant 5; compiled by `dotnet publish` on the build machine, with the SDK's composite options"),
)

SCENARIOS: tuple[Scenario, ...] = (
    Scenario("aspnet", "aspnet alone", ("aspnet",)),
    Scenario("runtime+aspnet", "runtime + aspnet", ("runtime", "aspnet")),
    Scenario("runtime+aspnet+sdk", "runtime + aspnet + sdk", ("runtime", "aspnet", "sdk")),
    Scenario("apps", "the sample apps (those every variant with app images has)", ("apps",)),
    Scenario("with-baseline", "this variant's runtime + aspnet + sdk next to the baseline's", ("runtime", "aspnet", "sdk"),
             compare=False, beside_baseline=True, pulls=True),
    Scenario("aspnet-with-baseline", "this variant's aspnet next to the baseline's", ("aspnet",),
             compare=False, beside_baseline=True, pulls=True),
)


# --- reading the catalog -------------------------------------------------------------------------


class Catalog:
    """The declarations above, resolved: app images expanded per sample, lookups by key and number.

    Tests build a Catalog with an extra variant or sample to see it flow through every stage."""

    def __init__(self, variants=VARIANTS, images=IMAGES, samples=SAMPLES, scenarios=SCENARIOS) -> None:
        self.variants: tuple[Variant, ...] = tuple(variants)
        self.samples: tuple[Sample, ...] = tuple(samples)
        self.scenarios: tuple[Scenario, ...] = tuple(scenarios)
        expanded = list(images) + [a.expand(s) for v in self.variants for a in v.apps for s in self.samples if a.covers(s)]
        self.images: dict[str, Image] = {}
        for img in expanded:
            if img.key in self.images and self.images[img.key] != img:
                raise DciError(f"catalog image {img.key!r}", "declared twice with different contents", "give each image one entry")
            self.images[img.key] = img
        self._check()

    def _check(self) -> None:
        """Every key named anywhere is declared; bases come before the images that stand on them."""
        for img in self.images.values():
            if img.base != RUNTIME_DEPS and img.base not in self.images:
                raise DciError(f"catalog image {img.key!r}", f"its base {img.base!r} is not declared", "declare the base image")
        for v in self.variants:
            for key in [*v.builds, *v.roles.values(), *(k for k in v.runs.values() if k != "app")]:
                if key not in self.images:
                    raise DciError(f"catalog variant {v.number}", f"names the undeclared image {key!r}", "declare it in IMAGES")
            if "app" in v.runs.values() and not v.apps:
                raise DciError(f"catalog variant {v.number}", "runs samples on its app images but builds none", "add an AppImage")
            for a in v.apps:
                publish_kind(a.publish)
                if a.bubble and not publish_kind(a.publish).self_contained:
                    raise DciError(f"catalog variant {v.number}", f"compiles an app composite over a {a.publish} publish",
                                   "an app composite is made from a self-contained publish: give the AppImage a self-contained kind")
        numbers = [v.number for v in self.variants]
        if len(set(numbers)) != len(numbers) or numbers[0] != 1:
            raise DciError("catalog variants", "numbers must be unique and the baseline must be variant 1", "fix VARIANTS")

    # -- variants ---------------------------------------------------------------------------------
    def variant(self, text: str | int) -> Variant:
        for v in self.variants:
            if str(text) in (str(v.number), v.name):
                return v
        raise DciError(f"variant {text!r}", "no such variant",
                       "choose one of: " + ", ".join(f"{v.number} ({v.name})" for v in self.variants))

    @property
    def baseline(self) -> Variant:
        return self.variants[0]

    def selection(self, selected: list[Variant] | None) -> list[Variant]:
        """The variants to build for a selection (when None: build-all's, those ``in_build_all``): each with
        those it is built with."""
        chosen = list(selected or [v for v in self.variants if v.in_build_all])
        extra = [self.variant(n) for v in chosen for n in v.built_with]
        return [v for v in self.variants if v in chosen or v in extra]

    def app_images(self, variant: Variant) -> list[Image]:
        return [a.expand(s) for a in variant.apps for s in self.samples if a.covers(s)]

    def images_of(self, variant: Variant) -> list[Image]:
        """What building ``variant`` builds, bases first (a base of another variant comes along)."""
        wanted = [*variant.builds, *(i.key for i in self.app_images(variant))]
        out: list[str] = []

        def add(key: str) -> None:
            if key == RUNTIME_DEPS or key in out:
                return
            add(self.images[key].base)
            out.append(key)

        for key in wanted:
            add(key)
        return [self.images[k] for k in out]

    def with_bases(self, keys: set[str]) -> set[str]:
        """``keys`` and every image they stand on (runtime-deps and keys not in the catalog as given)."""
        out = set(keys)
        for key in keys:
            while key in self.images:
                key = self.images[key].base
                out.add(key)
        return out

    def build_order(self, variants: list[Variant]) -> list[Image]:
        """Every image building ``variants`` builds, each once, bases first."""
        return list({i.key: i for v in variants for i in self.images_of(v)}.values())

    def publish_kinds(self, images: list[Image]) -> dict[str, tuple[str, ...]]:
        """Sample -> the publish kinds the app images among ``images`` need (framework-dependent always:
        verify and the report run it on the framework images)."""
        out: dict[str, tuple[str, ...]] = {}
        for s in self.samples:
            kinds = [FRAMEWORK_DEPENDENT.name, *(i.publish for i in images if i.role == "app" and i.app == s.name)]
            out[s.name] = tuple(k.name for k in PUBLISH_KINDS if k.name in kinds)
        return out

    def to_build(self, variants: list[Variant], only: set[str] | None = None) -> list[Image]:
        """:meth:`build_order` of ``variants``; ``only``: of those, just these keys and the images they stand on."""
        images = self.build_order(variants)
        if only is None:
            return images
        needed = self.with_bases(only)
        return [i for i in images if i.key in needed]

    def keys_matching(self, variants: list[Variant], patterns: tuple[str, ...], flag: str = "--images") -> set[str]:
        """The keys of the images building ``variants`` builds that match a pattern (fnmatch); every
        pattern must match one of them."""
        keys = [i.key for i in self.build_order(variants)]
        for p in patterns:
            if not any(fnmatch.fnmatchcase(k, p) for k in keys):
                raise DciError(f"{flag} {p}", f"no image of variant {', '.join(str(v.number) for v in variants)} matches it",
                               f"give one or more of: {', '.join(keys)} (or patterns such as 'runtime-*')")
        return {k for k in keys if any(fnmatch.fnmatchcase(k, p) for p in patterns)}

    def bubbles_of(self, variants: list[Variant], only: set[str] | None = None) -> tuple[str, ...]:
        """Bubble names to compile for the images :meth:`to_build` gives (``app`` once for all samples)."""
        names = [b if not b.startswith("app-") else "app" for i in self.to_build(variants, only) for b in i.bubbles]
        return tuple(dict.fromkeys(names))

    def variants_of_image(self, key: str) -> tuple[int, ...]:
        """Which variants an image belongs to: built by it, or playing one of its roles or runs."""
        if key == RUNTIME_DEPS:
            return tuple(v.number for v in self.variants)
        found = []
        for v in self.variants:
            mine = {*v.builds, *v.roles.values(), *v.runs.values(), *(i.key for i in self.app_images(v))}
            if key in mine:
                found.append(v.number)
        return tuple(found)

    def owner(self, key: str) -> Variant | None:
        """The variant that builds an image (the first one, for an image two variants build)."""
        return next((v for v in self.variants if key in v.builds or key in {i.key for i in self.app_images(v)}), None)

    # -- samples ----------------------------------------------------------------------------------
    def sample(self, name: str) -> Sample:
        for s in self.samples:
            if s.name == name:
                return s
        raise DciError(f"sample {name!r}", "not in the catalog", "choose one of: " + ", ".join(s.name for s in self.samples))

    def runner(self, variant: Variant, sample: Sample) -> str | None:
        """The image that runs ``sample`` for ``variant`` (None: the variant does not run that kind)."""
        key = variant.runs.get(sample.kind)
        if key == "app":
            return next((i.key for i in self.app_images(variant) if i.app == sample.name), None)
        return key

    def runners(self) -> set[str]:
        """Every image some variant runs a sample on (what a frontier of this catalog measures)."""
        return {key for v in self.variants for s in self.samples if (key := self.runner(v, s)) is not None}

    def kinds_run_on(self, key: str | None) -> set[str]:
        """The sample kinds some variant runs on image ``key`` (empty for an image no variant runs on)."""
        return {kind for v in self.variants for kind, runner in v.runs.items() if runner == key}

    def kinds_to_run(self, key: str | None) -> set[str]:
        """What verify runs on image ``key``: the kinds some variant runs on it, else those of the
        nearest image below it that runs some (an SDK image: what its ASP.NET base runs)."""
        while key is not None and key in self.images:
            kinds = self.kinds_run_on(key)
            if kinds:
                return kinds
            key = self.images[key].base
        return set()

    # -- sizes ------------------------------------------------------------------------------------
    def role_images(self, variant: Variant, role: str) -> tuple[str, ...]:
        if role == "apps":  # of the samples every variant with app images has: like compared with like
            common = self.samples_every_app_variant_has()
            return tuple(i.key for i in self.app_images(variant) if i.app in common)
        return (variant.roles[role],) if role in variant.roles else ()

    def samples_every_app_variant_has(self) -> set[str]:
        per = [{i.app for i in self.app_images(v)} for v in self.variants if v.apps]
        return set.intersection(*per) if per else set()

    def compared_roles(self, variant: Variant) -> dict[str, str]:
        """Role -> image key compared with the baseline's image of the same role (``<sample> app`` for apps)."""
        return {**variant.roles, **{f"{i.app} app": i.key for i in self.app_images(variant)}}

    def scenario_images(self, scenario: Scenario) -> dict[int, tuple[str, ...]]:
        """Variant number -> image keys, for the variants that have every role of the scenario."""
        out: dict[int, tuple[str, ...]] = {}
        for v in self.variants:
            parts = [self.role_images(v, r) for r in scenario.roles]
            if not all(parts):
                continue
            keys = tuple(k for p in parts for k in p)
            if scenario.beside_baseline:
                keys = tuple(dict.fromkeys([k for r in scenario.roles for k in self.role_images(self.baseline, r)] + list(keys)))
            out[v.number] = keys
        return out

    def pull_scenarios(self) -> list[PullScenario]:
        """Every scenario marked ``pulls``, per variant that has its roles: a node with the baseline's
        images of the roles (``beside_baseline``; else an empty node) pulls the variant's. A variant
        whose images the node already has all of (the baseline itself) is left out."""
        out = []
        for sc in self.scenarios:
            if not sc.pulls:
                continue
            have = tuple(k for r in sc.roles for k in self.role_images(self.baseline, r)) if sc.beside_baseline else ()
            for v in self.variants:
                parts = [self.role_images(v, r) for r in sc.roles]
                if not all(parts):
                    continue
                want = tuple(dict.fromkeys(k for p in parts for k in p))
                if set(want) <= set(have):
                    continue
                out.append(PullScenario(f"{sc.id}/{v.number}", f"variant {v.number}: {sc.title}", v.number, have, want))
        return out

    def framework_images(self, role: str | None = None) -> tuple[str, ...]:
        """Every runtime/aspnet/sdk image (or those of one role), in declaration order."""
        return tuple(k for k, i in self.images.items() if i.role != "app" and (role is None or i.role == role))

    def mode_framework_images(self) -> tuple[str, ...]:
        """The runtime and ASP.NET images of the variants that compile a bubble (what a compile mode
        changes), in declaration order."""
        changed = {i.key for v in self.variants if not v.baseline and self.bubbles_of([v])
                   for i in self.images_of(v) if i.role in ("runtime", "aspnet")}
        return tuple(k for k in self.framework_images() if k in changed)

    def all_app_images(self) -> tuple[str, ...]:
        return tuple(k for k, i in self.images.items() if i.role == "app")


CATALOG = Catalog()


USER_APP_KINDS = (FRAMEWORK_DEPENDENT.name, SELF_CONTAINED.name)  # how a user's app is published (samples.publish_source)


def for_app(app: Sample, *, self_contained: bool = True) -> Catalog:
    """The catalog with a user's app as its only sample, on every variant whose app images publish it
    framework-dependent or self-contained (trimming and Native AOT change what a program does: they
    are for the samples); without a self-contained publish (``self_contained`` False) the variants
    whose app images are self-contained are left out."""
    variants = [v for v in VARIANTS if all(a.publish in USER_APP_KINDS for a in v.apps)
                and (self_contained or not any(publish_kind(a.publish).self_contained for a in v.apps))]
    return Catalog(variants=variants, samples=(app,))
