# ho11y-operator image: ho11y-operator (the entrypoint), ho11y and ho11yctl in /usr/local/bin,
# the example Topologies in /usr/share/ho11y/examples. The runtime image holds only the three
# programs, the shared libraries they load, CA certificates and the user nonroot (65532): no shell,
# no package manager.
#   buildah bud -t ho11y-operator .      (or docker build; scripts/image.sh does it with buildah)
#   run the generator:  command: ["/usr/local/bin/ho11y"]
#   validate:           ho11yctl validate /usr/share/ho11y/examples/xray-sample.yaml

# Build stage: compilers and the -dev packages; also assembles the runtime file tree in /rootfs.
# Few steps, and the ones that change least first: with layer caching every step is a layer, and
# on storage without copy-on-write (buildah's vfs) each layer is a full copy of the tree, so the
# source arrives in one COPY and compiling and assembling are one RUN.
FROM debian:bookworm-slim AS build
WORKDIR /src
ARG VERSION=0.1.0
ARG JOBS=2
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        gcc libc6-dev make cmake pkg-config ca-certificates \
        libcurl4-openssl-dev libssl-dev libyaml-dev libcjson-dev libmicrohttpd-dev \
    && rm -rf /var/lib/apt/lists/*

COPY . .
# Compile, then the runtime tree: each program's shared libraries with the symlinks that lead
# to them (ldd), libgcc_s (glibc loads it for thread cancellation), the CA bundle where libcurl
# looks for it, passwd/group/nsswitch with nonroot, and, for image scanners, the dpkg status and
# copyright of every package a file came from. Checked: every library resolves inside the tree.
RUN set -eu; \
    grep -q "^project(.* VERSION ${VERSION}[ )]" CMakeLists.txt \
        || { echo "VERSION=${VERSION} is not the version in CMakeLists.txt" >&2; exit 1; }; \
    cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release >/dev/null; \
    cmake --build /build -j"${JOBS}" --target ho11y-operator ho11y ho11yctl; \
    r=/rootfs; bins="ho11y-operator ho11y ho11yctl"; \
    mkdir -p $r/usr/local/bin $r/etc/ssl/certs $r/var/lib/dpkg/status.d $r/usr/share/ho11y \
        $r/tmp /home-nonroot; \
    chmod 1777 $r/tmp; \
    for d in bin sbin lib lib32 lib64 libx32; do \
        if [ -L /$d ]; then ln -s "$(readlink /$d)" $r/$d; fi; \
    done; \
    put() { \
        p=$1; \
        while :; do \
            d=$(readlink -f "$(dirname "$p")"); q=$d/$(basename "$p"); \
            mkdir -p "$r$d"; \
            [ -e "$r$q" ] || [ -L "$r$q" ] || cp -P "$q" "$r$q"; \
            echo "$q" >>/tmp/files; \
            [ -L "$q" ] || break; \
            t=$(readlink "$q"); case $t in /*) p=$t ;; *) p=$d/$t ;; esac; \
        done; \
    }; \
    : >/tmp/files; \
    for b in $bins; do \
        install -m 0755 -s /build/bin/$b $r/usr/local/bin/$b; \
        for l in $(ldd /build/bin/$b | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do \
            put "$l"; \
        done; \
    done; \
    put "$(gcc -print-file-name=libgcc_s.so.1)"; \
    put "$(curl-config --ca)"; \
    cp -R examples $r/usr/share/ho11y/examples; \
    printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >$r/etc/passwd; \
    printf 'root:x:0:\nnonroot:x:65532:\n' >$r/etc/group; \
    printf 'passwd: files\ngroup: files\nhosts: files dns\n' >$r/etc/nsswitch.conf; \
    for p in ca-certificates $( (cat /tmp/files; sed -n 's#^/usr/lib/#/lib/#p' /tmp/files) \
            | xargs dpkg -S 2>/dev/null | grep ': /' | sed 's#: /.*##' | tr ',' '\n' \
            | sed 's/^ *//; s/:.*//' | sort -u); do \
        dpkg-query -s "$p" >$r/var/lib/dpkg/status.d/$p; \
        if [ -f /usr/share/doc/$p/copyright ]; then \
            mkdir -p $r/usr/share/doc/$p; cp /usr/share/doc/$p/copyright $r/usr/share/doc/$p/; \
        fi; \
    done; \
    interp=$(ldd /build/bin/ho11y-operator | awk '$1 ~ /^\// { print $1 }'); \
    for b in $bins; do \
        if chroot $r "$interp" --list /usr/local/bin/$b | grep 'not found'; then exit 1; fi; \
    done; \
    chroot $r /usr/local/bin/ho11y-operator --version

# Runtime stage: nothing but the tree assembled above.
FROM scratch
COPY --from=build /rootfs/ /
COPY --from=build --chown=65532:65532 /home-nonroot/ /home/nonroot/
ARG VERSION=0.1.0
ARG SOURCE=""
ARG REVISION=""
LABEL org.opencontainers.image.title="ho11y-operator" \
      org.opencontainers.image.description="Kubernetes operator for synthetic trace topologies, with the ho11y generator and ho11yctl" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.base.name="docker.io/library/debian:bookworm-slim"
ENV PATH=/usr/local/bin SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
USER 65532:65532
WORKDIR /home/nonroot
ENTRYPOINT ["/usr/local/bin/ho11y-operator"]
