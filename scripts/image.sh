#!/usr/bin/env bash
# Builds the ho11y-operator container image from the Dockerfile with buildah (no Docker engine).
#   scripts/image.sh              base image if missing, then ho11y-operator:<version> and :latest
#   scripts/image.sh --base-only  only make sure the base image is in local storage
# The Dockerfile starts FROM debian:<suite>-slim. When that image is not in local storage it is
# made here with debootstrap (minbase) from the Debian mirror that apt is configured with, slimmed
# the way the official image is, and stored under the official name, so the Dockerfile stays the
# one every other builder uses. BASE=pull pulls the official image instead.
# Dangling images (superseded build layers) are removed after each build to bound disk use.
# Environment: IMAGE (default ho11y-operator), JOBS (default 2), BASE (debootstrap|pull),
#   STORAGE_DRIVER (default vfs), ISOLATION (default chroot), SOURCE (image source URL label;
#   default the git remote "origin" without credentials), REVISION (revision label; default HEAD).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

base_only=0
for arg in "$@"; do
    case "$arg" in
    --base-only) base_only=1 ;;
    -h | --help)
        sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "image.sh: unknown argument '$arg'" >&2
        exit 2
        ;;
    esac
done

image=${IMAGE:-ho11y-operator}
jobs=${JOBS:-2}
isolation=${ISOLATION:-chroot}
bah=(buildah --storage-driver "${STORAGE_DRIVER:-vfs}")
t0=$(date +%s)
log() { printf 'image: %s (%ss)\n' "$*" "$(($(date +%s) - t0))"; }
die() {
    echo "image.sh: $*" >&2
    exit 1
}

version=$(sed -n 's/^project([A-Za-z0-9_]* VERSION \([0-9][0-9.]*\).*/\1/p' CMakeLists.txt)
[ -n "$version" ] || die "no project(... VERSION x.y.z) in CMakeLists.txt"

# The base image is the Dockerfile's first FROM, written as debian:<suite>-slim.
base_ref=$(awk 'toupper($1) == "FROM" { print $2; exit }' Dockerfile)
case "$base_ref" in
debian:*-slim | docker.io/library/debian:*-slim) ;;
*) die "the Dockerfile's first FROM is '$base_ref', expected debian:<suite>-slim" ;;
esac
base_name=docker.io/library/${base_ref#docker.io/library/}
suite=${base_name##*:}
suite=${suite%-slim}

# Prints "<uri> <suite> <component>..." for every enabled binary Debian source apt knows,
# reading both the one-line (.list) and the deb822 (.sources) formats.
apt_sources() {
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        awk '$1 == "deb" {
            i = 2
            if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
            line = $i; for (j = i + 1; j <= NF; j++) line = line " " $j
            print line
        }' "$f"
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk 'function flush(   u, s, n, m, a, b) {
                if (types ~ /(^| )deb( |$)/ && tolower(enabled) != "no") {
                    n = split(uris, a, " "); m = split(suites, b, " ")
                    for (u = 1; u <= n; u++) for (s = 1; s <= m; s++) print a[u], b[s], comps
                }
                types = uris = suites = comps = ""; enabled = "yes"
            }
            BEGIN { enabled = "yes" }
            /^[ \t]*#/ { next }
            /^[ \t]*$/ { flush(); next }
            {
                key = tolower($1); sub(/:$/, "", key); $1 = ""; sub(/^ +/, "")
                if (key == "types") types = $0
                else if (key == "uris") uris = $0
                else if (key == "suites") suites = $0
                else if (key == "components") comps = $0
                else if (key == "enabled") enabled = $0
            }
            END { flush() }' "$f"
    done
}

have_image() { "${bah[@]}" inspect --type image "$1" >/dev/null 2>&1; }

make_base() {
    local sources mirror work ctr mnt
    sources=$(apt_sources | awk -v s="$suite" '$2 == s || index($2, s "-") == 1' | sort -u)
    mirror=$(awk -v s="$suite" '$2 == s { print $1; exit }' <<<"$sources")
    [ -n "$mirror" ] || die "apt has no source for Debian '$suite' to debootstrap $base_name from"
    command -v debootstrap >/dev/null || die "debootstrap is missing (scripts/setup.sh --test)"
    work=$(mktemp -d "${TMPDIR:-/var/tmp}/ho11y-base.XXXXXX")
    # shellcheck disable=SC2064
    trap "rm -rf '$work'" EXIT
    log "making $base_name with debootstrap from $mirror"
    debootstrap --variant=minbase "$suite" "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 ||
        {
            tail -n 20 "$work/debootstrap.log" >&2
            die "debootstrap failed"
        }
    local r=$work/rootfs
    # apt sources: the same Debian suites (updates, security) and mirrors as this machine.
    : >"$r/etc/apt/sources.list"
    awk '{ c = $3; for (i = 4; i <= NF; i++) c = c " " $i
           printf "Types: deb\nURIs: %s\nSuites: %s\nComponents: %s\n", $1, $2, c
           printf "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n" }' \
        <<<"$sources" >"$r/etc/apt/sources.list.d/debian.sources"
    # Slim like the official -slim image: no documentation, manuals or translations, now or
    # in later installs (copyright files stay), and apt keeps no caches in the image.
    cat >"$r/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
    cat >"$r/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
    echo 'Acquire::Languages "none";' >"$r/etc/apt/apt.conf.d/docker-no-languages"
    find "$r/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
    find "$r/usr/share/doc" -mindepth 1 -type d -empty -delete
    find "$r/usr/share/locale" -mindepth 1 -not -name locale.alias -not -type d -delete
    find "$r/usr/share/locale" -mindepth 1 -type d -empty -delete
    rm -rf "$r"/usr/share/{man,groff,info,lintian,linda}/* "$r"/var/lib/apt/lists/* \
        "$r"/var/cache/apt/*.bin "$r"/var/cache/apt/archives/*.deb "$r"/var/log/*.log \
        "$r"/var/cache/debconf/*-old "$r"/var/lib/dpkg/*-old "$r"/dev/* "$r"/run/* "$r"/tmp/*
    # Files that describe this machine, not the image (the runtime provides them).
    rm -f "$r/etc/hostname" "$r/etc/resolv.conf" "$r/etc/hosts"

    ctr=$("${bah[@]}" from --quiet scratch)
    mnt=$("${bah[@]}" mount "$ctr")
    tar -C "$r" --numeric-owner -cf - . | tar -C "$mnt" --numeric-owner -xpf -
    "${bah[@]}" umount "$ctr" >/dev/null
    "${bah[@]}" config --cmd bash \
        --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$ctr"
    "${bah[@]}" commit --quiet --rm "$ctr" "$base_name" >/dev/null
    rm -rf "$work"
    trap - EXIT
    log "made $base_name"
}

if have_image "$base_name"; then
    log "base image $base_name present"
elif [ "${BASE:-debootstrap}" = pull ]; then
    log "pulling $base_name"
    "${bah[@]}" pull --quiet "$base_name" >/dev/null
else
    make_base
fi
[ "$base_only" = 1 ] && exit 0

source_url=${SOURCE-$(git config --get remote.origin.url 2>/dev/null || true)}
source_url=$(sed -E 's#^([a-z+]+://)[^/@]*@#\1#' <<<"$source_url") # never credentials
revision=${REVISION-$(git rev-parse HEAD 2>/dev/null || true)}

log "building $image:$version"
# The labels that name the commit are also given on the command line: a build whose every step
# is cached would otherwise keep the previous build's values (the build arguments alone do not
# invalidate the cached LABEL step in buildah).
build_log=$(mktemp "${TMPDIR:-/tmp}/ho11y-image-build.XXXXXX")
if ! "${bah[@]}" bud --isolation "$isolation" --layers --pull=never \
    --build-arg VERSION="$version" --build-arg JOBS="$jobs" \
    --build-arg SOURCE="$source_url" --build-arg REVISION="$revision" \
    --label org.opencontainers.image.source="$source_url" \
    --label org.opencontainers.image.revision="$revision" \
    --tag "$image:$version" --tag "$image:latest" -f Dockerfile . >"$build_log" 2>&1; then
    tail -n 40 "$build_log" >&2
    rm -f "$build_log"
    die "the image build failed"
fi
# Dangling images are earlier builds' layers. This build's own layers (each step's "--> ID",
# cached or new) stay: they are the cache that makes the next build of an unchanged step quick.
keep=$(sed -n 's/^--> \(Using cache \)\{0,1\}\([0-9a-f]\{11,\}\).*/\2/p' "$build_log" | cut -c1-11 |
    sort -u)
rm -f "$build_log"
stale=()
for id in $("${bah[@]}" images --filter dangling=true --noheading --format '{{.ID}}' 2>/dev/null |
    cut -c1-11 | sort -u); do
    grep -qx "$id" <<<"$keep" || stale+=("$id")
done
if [ "${#stale[@]}" -gt 0 ]; then
    "${bah[@]}" rmi "${stale[@]}" >/dev/null 2>&1 || true
fi

# Bytes of the image as stored (uncompressed layers); podman prints it exactly.
size=$(podman --storage-driver "${STORAGE_DRIVER:-vfs}" image inspect --format '{{.Size}}' \
    "$image:$version" 2>/dev/null || true)
if [[ "$size" =~ ^[0-9]+$ ]]; then
    log "built $image:$version and $image:latest: $size bytes ($((size / 1024 / 1024)) MiB)"
else
    log "built $image:$version and $image:latest"
fi
