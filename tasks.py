"""Invoke tasks: each parses its flags and calls one function of ``crossgen.cli``. `invoke --list`
shows them all, `invoke <task> --help` their flags."""

from __future__ import annotations

from dataclasses import replace

from invoke import task

from crossgen import cli, inputs
from crossgen.cli import friendly
from crossgen.core.errors import DciError

CHANNEL_HELP = (".NET channel (8.0, 9.0, 10.0, 11.0 are built and verified; 10 means 10.0), latest, lts, sts, or an exact version (10.0.15); "
                "default from invoke.yaml")
OS_HELP = ("OS base of runtime-deps and every image on it: slim (Debian slim, shell and apt) | distroless (only what .NET needs "
           "from Debian's packages, no shell, no package manager, globalization-invariant) | distroless-extra (with ICU and tzdata); "
           "no SDK images without a shell; default from invoke.yaml (dci.os)")
RID_HELP = ("target RID: linux-x64 or linux-arm64 (Crossgen2 runs here and targets it; arm64 images get an arm64 Debian base, "
            "tags ending -arm64v8, and are built and run under emulation: scripts/bootstrap.sh sets it up); default from invoke.yaml (dci.rid)")
LOCKED_HELP = "use exactly what the lock file says (dci.lock_file); fail on any difference"
BUILD_IMAGES_HELP = ("comma-separated image keys or patterns (e.g. 'runtime-*,sample-web-*'): of the variants' images, just those "
                     "and what they stand on (default: all of them); the build record names only what was built")
DRY_RUN_HELP = "say what would be published, compiled and built, and why; build nothing"
APP_HELP = "your app: its project folder (published here) or the folder `dotnet publish` wrote (framework-dependent)"
PROBE_HELP = ("how your app is timed: exit (a console app: it runs and exits; the default) or, for a web app, the HTTP path "
              "it answers with 200 (default /)")
SOURCE_HELPS = {
    "source": "auto | official | nuget | local, or an order such as nuget,local (default from invoke.yaml: dci.source)",
    "base_url": "official release metadata base URL or mirror (default https://builds.dotnet.microsoft.com/dotnet)",
    "local_path": "source local: a dotnet layout (e.g. /usr/share/dotnet) or a folder of official tarballs",
}


@task(help={"force": "rebuild runtime-deps even when up to date", "os": OS_HELP, "rid": RID_HELP})
@friendly
def base_image(c, force=False, os=None, rid=None):
    """Make the OS base image (mmdebstrap when it cannot be pulled) and the runtime-deps image (on --os, for --rid)."""
    cli.base_image(cli.settings(c, {"os": cli.os_flag(os), "rid": cli.rid_flag(rid)}), force=force)


@task(help={"channel": CHANNEL_HELP, **SOURCE_HELPS, "locked": "use exactly what the lock file says (dci.lock_file)", "rid": RID_HELP})
@friendly
def download(c, channel=None, source=None, base_url=None, local_path=None, locked=False, rid=None):
    """Download (cached, SHA-512 verified) the runtime, ASP.NET Core and Crossgen2 and lay out a dotnet root."""
    flags = cli.source_overrides(channel, source, base_url, local_path, locked) | {"rid": cli.rid_flag(rid)}
    cli.download(cli.settings(c, flags))


@task(help={"channel": CHANNEL_HELP, **SOURCE_HELPS,
            "path": "where to write the lock file (default dci.lock_file; another architecture's goes beside it as "
                    "<name>-<arch>.<ext>, e.g. dotnet-composite-arm64.lock.json, where --locked builds of that --rid read it)",
            "os": OS_HELP + " (its runtime-deps packages are added to those of other bases the lock already records)",
            "rid": RID_HELP + "; each RID has a lock file of its own"})
@friendly
def lock(c, channel=None, source=None, base_url=None, local_path=None, path=None, os=None, rid=None):
    """Resolve and download, build the base images, then write the lock file (.NET components: version, source, URL,
    SHA-512; the Debian package versions of the OS base and runtime-deps) for --locked builds."""
    flags = dict(cli.source_overrides(channel, source, base_url, local_path), os=cli.os_flag(os), rid=cli.rid_flag(rid))
    if path is not None:
        flags["lock_file"] = inputs.file_to_write("--path", path)
    cli.lock(cli.settings(c, flags))


@task(
    help={
        "bubble": "version bubble to compile: runtime | aspnet | aspnet-composed | app (one per sample)",
        "channel": CHANNEL_HELP,
        "inputbubble": "on|off: compile the bubble with --inputbubble (default from invoke.yaml: on)",
        "extra": "extra Crossgen2 argument, e.g. --extra=--instruction-set:x86-64-v3 (repeatable)",
        "parallelism": "Crossgen2 --parallelism: a whole number >= 0 (0 = its default)",
        "force": "compile even when an identical result is cached",
        "mode": f"compile mode: {cli.MODE_NAMES} (default from invoke.yaml: dci.crossgen.mode)",
        "app": APP_HELP + "; with --bubble app: compile it into a self-contained composite and build its app images",
        "probe": PROBE_HELP,
        "os": OS_HELP + " (the app images of --app; Crossgen2 itself always runs on slim)",
        "rid": RID_HELP,
    },
    iterable=["extra"],
)
@friendly
def crossgen(c, bubble="runtime", channel=None, inputbubble=None, extra=None, parallelism=None, force=False, mode=None,
             app=None, probe=None, os=None, rid=None):
    """Compile a version bubble with Crossgen2 inside a container (cached by content)."""
    from crossgen.compile.bubbles import get_bubble

    bubble = inputs.choice("--bubble", bubble, get_bubble).name
    probe = inputs.app_probe("--probe", probe, app)
    inputbubble_on = None if inputbubble is None else cli.on_off("--inputbubble", inputbubble)
    extra_args = inputs.crossgen_arguments("--extra", extra or ())
    threads = None if parallelism is None else inputs.count("--parallelism", parallelism, minimum=0,
                                                             example="--parallelism=4 (0 = Crossgen2's default)")
    s = cli.settings(c, {"channel": cli.channel_flag(channel), "os": cli.os_flag(os), "rid": cli.rid_flag(rid)})
    s = replace(s, crossgen=replace(
        s.crossgen,
        inputbubble=s.crossgen.inputbubble if inputbubble_on is None else inputbubble_on,
        parallelism=s.crossgen.parallelism if threads is None else threads,
        extra_args=s.crossgen.extra_args + extra_args,
    ))
    if app is not None:
        folder = inputs.existing_folder("--app", app, "give the app's project folder, or the folder `dotnet publish` wrote")
        if bubble != "app":
            raise DciError(f"--app {app}", f"goes with --bubble app, not --bubble {bubble}", f"invoke crossgen --bubble app --app {app}")
        cli.crossgen_app(cli.with_mode(s, mode, (bubble,)), folder, probe, force=force)
        return
    cli.crossgen(cli.with_mode(s, mode, (bubble,)), bubble, force=force)


@task(help={"variant": "variant number or name (e.g. 2 or runtime-composite), or several, comma-separated (1,2)", "channel": CHANNEL_HELP,
            "force": "rebuild even when up to date", "locked": LOCKED_HELP, "dry_run": DRY_RUN_HELP, "mode": cli.MODE_HELP, "os": OS_HELP,
            "rid": RID_HELP, "images": BUILD_IMAGES_HELP})
@friendly
def build(c, variant, channel=None, force=False, locked=False, dry_run=False, mode=None, os=None, rid=None, images=""):
    """Build the images of one variant, or of several (and what they stand on); one build record for them all."""
    from crossgen.images.catalog import CATALOG

    chosen = [inputs.choice("--variant", part, CATALOG.variant) for part in inputs.comma_list("--variant", variant, example="1,2")]
    s = cli.settings(c, {"channel": cli.channel_flag(channel), "locked": True if locked else None, "os": cli.os_flag(os),
                         "rid": cli.rid_flag(rid)})
    unique = [v for i, v in enumerate(chosen) if v.number not in {u.number for u in chosen[:i]}]
    cli.build(cli.with_mode(s, mode), unique, force=force, dry_run=dry_run, images=inputs.image_key_patterns("--images", images))


@task(help={"channel": CHANNEL_HELP, "force": "rebuild every image even when up to date", "locked": LOCKED_HELP,
            "dry_run": DRY_RUN_HELP, "mode": cli.MODE_HELP, "os": OS_HELP, "rid": RID_HELP, "images": BUILD_IMAGES_HELP})
@friendly
def build_all(c, channel=None, force=False, locked=False, dry_run=False, mode=None, os=None, rid=None, images=""):
    """Build every image of every variant in dependency order (but the app approaches left out of build-all,
    variants 6-8: `build --variant 6,7,8`); print sizes and build times."""
    s = cli.settings(c, {"channel": cli.channel_flag(channel), "locked": True if locked else None, "os": cli.os_flag(os),
                         "rid": cli.rid_flag(rid)})
    cli.build(cli.with_mode(s, mode), None, force=force, dry_run=dry_run, images=inputs.image_key_patterns("--images", images))


@task(
    help={
        "image": "image to verify (repeatable); default: every image from the last build-all",
        "app": "a published app folder: report which of its assemblies collide with the composite of --image",
        "rid": RID_HELP + "; verify takes the last build for it (build/build-all-arm64.json)",
    },
    iterable=["image"],
)
@friendly
def verify(c, image=None, app=None, rid=None):
    """Prove each image works and is what it claims: structure, runs, R2R used, conventions; or --app compatibility."""
    images = [inputs.image_reference("--image", ref) for ref in (image or [])]
    app_dir = None
    if app is not None:
        app_dir = inputs.existing_folder("--app", app, "give the folder that `dotnet publish` wrote")
        if len(images) != 1:
            raise DciError(f"--app {app}", "needs exactly one --image to compare with",
                           f"e.g. invoke verify --app bin/publish --image {inputs.EXAMPLE_IMAGE}")
    cli.verify(cli.settings(c, {"rid": cli.rid_flag(rid)}, check=False), images, app_dir)


@task(help={
    "registry": "where to push: HOST[:PORT][/PREFIX], e.g. registry.example.com:5000/dotnet; the local image "
                "<image prefix><repo>:<tag> is pushed as HOST[:PORT]/PREFIX/<repo>:<tag> (the image prefix, dci.image_prefix, "
                "is replaced by the registry target)",
    "images": "comma-separated image keys, key patterns or local references of the last build-all, e.g. 'runtime-*,aspnet-composite' "
              "(default: every image of build-all but os, runtime-deps and crossgen2)",
    "force": "push images that failed verify or have no verify result too (the table says which and why)",
    "dry_run": "say what would be pushed where and what would be refused, and why; push nothing",
    "multi_arch": "publish x64 and arm64 under one tag, as the official images are: every image verified on both "
                  "(build-all and verify, and with --rid linux-arm64) is pushed as <tag>-amd64 and <tag>-arm64v8, then an "
                  "OCI image index of the two under <tag>; an image verified on one architecture only is refused (nothing of it pushed)",
})
@friendly
def push(c, registry, images="", force=False, dry_run=False, multi_arch=False):
    """Push the verified images of the last build-all to a registry and check the digests it serves (login: docker login HOST)."""
    target = inputs.registry_target("--registry", registry)
    wanted = inputs.image_selection("--images", images)
    cli.push(cli.settings(c, check=False), target, wanted, force=force, dry_run=dry_run, multi_arch=multi_arch)


@task(help={"target": "an image reference or a folder (e.g. a dotnet root)", "json_out": "print JSON instead of a table"})
@friendly
def inspect(c, target, json_out=False):
    """Classify every PE file of an image's /usr/share/dotnet or of a folder: IL-only, R2R, component of X, composite."""
    target, folder = inputs.inspect_target("target", target)
    cli.inspect(target, folder, json_out=json_out)


@task(help={"cache": "also delete the download cache", "build_dir": "also delete the build/ folder"})
@friendly
def clean(c, cache=False, build_dir=False):
    """Remove every container and image this project created (found by label); optionally the caches."""
    cli.clean(cli.settings(c, check=False), cache=cache, build_dir=build_dir)


@task(help={
    "runs": "startup runs per image and mode: a whole number >= 1 (default 10; after one warm-up round)",
    "registry": "push to a local registry for compressed sizes (--no-registry skips it: no compressed/pull figures)",
    "startup": "measure startup (--no-startup skips it)",
    "warm_build": "run and time a warm build of every variant first, the app approaches build-all leaves out (6-8) too "
                  "(--no-warm-build uses the images as they are)",
    "images": "comma-separated image keys or patterns, e.g. 'runtime-*,aspnet-*,sample-*' (default: every image of build-all)",
    "fresh_registry": "empty the registry storage first (every layer is compressed and uploaded again)",
    "readme": "write the headline tables into README.md (--no-readme leaves it alone)",
    "charts": "draw the PNG charts (needs matplotlib; --no-charts skips them)",
    "cold_build": "also time a cold build-all (scratch image prefix and build folder, removed afterwards; minutes of Crossgen2 on 2 cores)",
    "pulls": "also build the pull scenarios' images as the classic builder makes them, push both sets to fresh local "
             "registries and pull each scenario onto a private containerd: registry storage and bytes transferred, "
             "classic against reproducible (minutes)",
    "rebuild_check": "build every image again from the same inputs without any cache and compare image IDs: the "
                     "'reproducible' column (--no-rebuild-check skips it; a few minutes)",
    "modes": f"compile modes of the size/startup frontier (startup runs: not with --no-startup), comma-separated ({cli.MODE_NAMES}; default all; "
             "'none' skips the frontier); the warm build builds each",
    "frontier_runs": "frontier: startup runs per point, interleaved (default 20)",
    "extra_runs": "frontier: runs per point without AVX2 and with the page cache dropped (default 5; 0 skips them)",
    "app": APP_HELP + ": put it on every variant and mode and print its own frontier and a recommendation "
           "(with --app only --modes, --frontier-runs, --extra-runs and --charts apply)",
    "probe": PROBE_HELP,
    "bases": "OS bases to measure beside the configured one (dci.os), comma-separated (slim, distroless, distroless-extra; "
                "default every other one; 'none' skips them): every variant is built on each and its images' sizes and startup "
                "go into the table 'the smallest image per approach' (not with --no-startup: sizes only)",
    "channels": "compare .NET channels, comma-separated (e.g. 10.0,11.0): build every variant of each (SDK images only "
                "with an SDK of that channel) and measure each sample's image size, startup (--runs) and JIT count against "
                "that channel's baseline (default: none; not with --no-startup)",
})
@friendly
def report(c, runs=None, registry=True, startup=True, warm_build=True, images="", fresh_registry=False, readme=True, charts=True,
           cold_build=False, modes=None, frontier_runs=None, extra_runs=None, app=None, probe=None, channels=None,
           rebuild_check=True, pulls=False, bases=None):
    """Measure sizes (uncompressed, compressed), layer sharing, startup and build cost; write build/report/."""
    n_runs = 10 if runs is None else inputs.count("--runs", runs, minimum=1, example="--runs=10 (startup runs per image and mode)")
    patterns = inputs.image_key_patterns("--images", images or "")
    from crossgen.report.run import ReportOptions, require_charts

    if charts:
        require_charts()

    probe = inputs.app_probe("--probe", probe, app)
    n_frontier = 20 if frontier_runs is None else inputs.count("--frontier-runs", frontier_runs, minimum=1, example="--frontier-runs=20")
    n_extra = 5 if extra_runs is None else inputs.count("--extra-runs", extra_runs, minimum=0, example="--extra-runs=5")
    opts = ReportOptions(runs=n_runs, registry=registry, startup=startup, warm_build=warm_build, images=patterns,
                         fresh_registry=fresh_registry, readme=readme, charts=charts, cold_build=cold_build,
                         modes=cli.mode_list("--modes", modes), frontier_runs=n_frontier, extra_runs=n_extra,
                         channels=cli.channel_list("--channels", channels), rebuild_check=rebuild_check, pulls=pulls)
    if app is not None:
        folder = inputs.existing_folder("--app", app, "give the app's project folder, or the folder `dotnet publish` wrote")
        cli.app_report(cli.settings(c), folder, probe, opts)
        return
    s = cli.settings(c, check=False)
    cli.report(s, replace(opts, os_bases=cli.os_list("--bases", bases, s.os)))
