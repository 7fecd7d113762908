#!/bin/sh
# Lays out /rootfs, the whole file system of a distroless runtime-deps image, from the Debian packages
# named as arguments: only what .NET loads (the shared libraries; the CA bundle; ICU's libraries and the
# time zone database when they are named), the `app` user, and of each package its copyright and a
# status entry (what package scanners read); no shell, no package manager, no dpkg database.
# Runs in the installer stage (the OS base of this machine, with apt); the image is FROM scratch + /rootfs.
# DEB_ARCH is the Debian architecture of the image, MULTIARCH its triple (the folder its libraries are
# in): another architecture than the installer's is fetched as apt's foreign architecture (:arm64), so
# that nothing but the final loader check runs its code (under binfmt_misc).
set -eu
R=/rootfs
APP_UID=${APP_UID:?}
DEB_ARCH=${DEB_ARCH:?}
T=${MULTIARCH:?}   # e.g. x86_64-linux-gnu, aarch64-linux-gnu
mkdir -p /debs /x
chown _apt: /debs   # apt downloads as its own user
cd /debs
q=""
if [ "$DEB_ARCH" != "$(dpkg --print-architecture)" ]; then
    dpkg --add-architecture "$DEB_ARCH"
    q=":$DEB_ARCH"
fi
apt-get update -qq
# the libraries' packages with every package they depend on (libssl3t64 needs libzstd1, ...); of the
# data packages (ca-certificates, tzdata: Architecture all) only the data: their dependencies are tools
# to install them
libs=""; data=""
for p in "$@"; do
    case "$p" in ca-certificates|tzdata) data="$data $p" ;; *) libs="$libs $p$q" ;; esac
done
closure=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces --no-enhances $libs \
          | grep -v '^[ <]' | LC_ALL=C sort -u)
if [ -n "$q" ]; then
    # the recursion also lists the installer's own architecture's packages: of a package listed both
    # ways, the target's (name:arm64); a bare name without one (Architecture all) as it is
    closure=$(printf '%s\n' $closure | awk -v q="$q" '{ n[NR] = $0; seen[$0] = 1 }
        END { for (i = 1; i <= NR; i++) { x = n[i]
              if (substr(x, length(x) - length(q) + 1) == q) print x
              else if (index(x, ":") == 0 && !((x q) in seen)) print x } }')
fi
apt-get download -q $closure $data

mkdir -p "$R/usr/bin" "$R/usr/sbin" "$R/usr/lib/$T" "$R/usr/lib64" "$R/usr/share/doc" "$R/etc" \
         "$R/var/lib/dpkg/status.d" "$R/tmp" "$R/root" "$R/home/app"
ln -s usr/bin "$R/bin"; ln -s usr/lib "$R/lib"; ln -s usr/lib64 "$R/lib64"; ln -s usr/sbin "$R/sbin"

for deb in /debs/*.deb; do
    p=$(dpkg-deb -f "$deb" Package)
    a=$(dpkg-deb -f "$deb" Architecture)
    case "$a" in
        "$DEB_ARCH"|all) ;;
        *) echo "distroless-rootfs: $p is a package for $a, not $DEB_ARCH (a dependency apt resolved for the installer)" >&2; exit 1 ;;
    esac
    dpkg-deb -x "$deb" "/x/$p"
    dpkg-deb -f "$deb" Package Source Version Architecture Maintainer Multi-Arch Homepage > "$R/var/lib/dpkg/status.d/$p"
    if [ -f "/x/$p/usr/share/doc/$p/copyright" ]; then
        mkdir -p "$R/usr/share/doc/$p"
        cp -p "/x/$p/usr/share/doc/$p/copyright" "$R/usr/share/doc/$p/"
    fi
    # shared libraries: the files and links at the top of the multiarch folder (no plugins), without
    # debugging, profiling and legacy helpers .NET never loads
    if [ -d "/x/$p/usr/lib/$T" ]; then
        find "/x/$p/usr/lib/$T" -maxdepth 1 \( -type f -o -type l \) -name '*.so*' | LC_ALL=C sort | while read -r f; do
            case "${f##*/}" in
                libc_malloc_debug.*|libmemusage.*|libpcprofile.*|libthread_db.*|libBrokenLocale.*) ;;
                libnss_hesiod.*|libnss_compat.*|libnsl.*|libicutest.*|libicutu.*|libicuio.*) ;;
                *) cp -a "$f" "$R/usr/lib/$T/" ;;
            esac
        done
    fi
    if [ -d "/x/$p/usr/lib64" ]; then cp -a "/x/$p/usr/lib64/." "$R/usr/lib64/"; fi
    # the loader where an architecture without /usr/lib64 has it (arm64: /usr/lib/ld-linux-aarch64.so.1)
    [ ! -d "/x/$p/usr/lib" ] || find "/x/$p/usr/lib" -maxdepth 1 \( -type f -o -type l \) -name 'ld-linux*.so*' -exec cp -a {} "$R/usr/lib/" \;
done
[ -e "$R/usr/lib/$T/libc.so.6" ] || { echo "distroless-rootfs: libc6 ($DEB_ARCH) was not among the packages" >&2; exit 1; }
# every library finds the libraries it needs inside the new file system (its own loader, chrooted; the
# loader of another architecture runs under binfmt_misc)
L=$(cd "$R" && ls usr/lib64/ld-linux*.so* usr/lib/ld-linux*.so* 2>/dev/null | head -n 1)
[ -n "$L" ] || { echo "distroless-rootfs: no loader (ld-linux*) in /usr/lib64 or /usr/lib" >&2; exit 1; }
for f in "$R/usr/lib/$T"/*.so*; do
    case "${f##*/}" in ld-linux*) continue ;; esac
    [ -L "$f" ] && continue
    # a loader that does not run (another architecture without binfmt_misc) fails here, not silently
    out=$(chroot "$R" "/$L" --list "/usr/lib/$T/${f##*/}" 2>&1) || {
        echo "distroless-rootfs: the loader /$L could not list ${f##*/}: $out" >&2; exit 1; }
    if printf '%s\n' "$out" | grep 'not found'; then
        echo "distroless-rootfs: ${f##*/} needs a library no package named brings" >&2; exit 1
    fi
done

# the CA bundle as update-ca-certificates writes it (every certificate the package ships, in name
# order), where OpenSSL looks for it (Debian's openssl package links /usr/lib/ssl to /etc/ssl)
if [ -d /x/ca-certificates ]; then
    mkdir -p "$R/etc/ssl/certs" "$R/usr/lib/ssl"
    find /x/ca-certificates/usr/share/ca-certificates -type f -name '*.crt' | LC_ALL=C sort | while read -r c; do
        cat "$c"
        [ -z "$(tail -c 1 "$c")" ] || echo
    done > "$R/etc/ssl/certs/ca-certificates.crt"
    [ -s "$R/etc/ssl/certs/ca-certificates.crt" ] || { echo "distroless-rootfs: no certificates in ca-certificates" >&2; exit 1; }
    ln -s /etc/ssl/certs/ca-certificates.crt "$R/usr/lib/ssl/cert.pem"
    ln -s /etc/ssl/certs "$R/usr/lib/ssl/certs"
fi
if [ -d /x/tzdata ]; then
    mkdir -p "$R/usr/share"
    cp -a /x/tzdata/usr/share/zoneinfo "$R/usr/share/"
fi

# which Debian this is (base-files of the installer: the same suite)
cp -p /usr/lib/os-release "$R/usr/lib/os-release"
ln -s ../usr/lib/os-release "$R/etc/os-release"

# users: root and the non-root `app` (no login shell: there is none)
printf 'root:x:0:0:root:/root:/usr/sbin/nologin\napp:x:%s:%s::/home/app:/usr/sbin/nologin\n' "$APP_UID" "$APP_UID" > "$R/etc/passwd"
printf 'root:x:0:\napp:x:%s:\n' "$APP_UID" > "$R/etc/group"
printf 'passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n' > "$R/etc/nsswitch.conf"
chown "$APP_UID:$APP_UID" "$R/home/app"
chmod 0700 "$R/home/app" "$R/root"
chmod 1777 "$R/tmp"
