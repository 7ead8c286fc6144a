# The nixmount plugin image. Bases are build arguments so the same file builds with the
# official images (the defaults) and, where nothing can be pulled, with locally made ones
# (`npm run image` passes localhost/nixmount-base/*; see scripts/image-bases.sh).
ARG NODE_IMAGE=docker.io/library/node:20-bookworm
ARG RUNTIME_IMAGE=docker.io/library/debian:bookworm-slim

FROM ${NODE_IMAGE} AS build
# Where a network intercepts TLS, the build's npm needs that CA (scripts/image.sh passes the
# host's bundle, mounted for the build only); empty elsewhere. The build stage is discarded.
ARG npm_config_cafile
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY tsconfig.json ./
COPY proto proto
COPY scripts/gen-proto.sh scripts/
COPY src src
# tsconfig.json also compiles tests, benchmarks and the demo; the image needs only src/.
COPY tsconfig.build.json ./
RUN npm run --silent gen && npx tsc -p tsconfig.build.json
RUN npm prune --omit=dev --no-audit --no-fund --loglevel=error \
 && cp "$(command -v node)" /node

FROM ${RUNTIME_IMAGE}
ARG VERSION=0.0.0
# Everything the plugin runs lives outside /nix: the node's /nix is mounted over the image's.
# nix-bin (Nix's CLI, for the node store), util-linux and mount (mount, umount, setpriv, flock),
# ca-certificates (https binary caches).
# nix-bin depends on Perl only for scripts nixmount never runs (it runs nix and nix-store, C++);
# dropping Perl saves about 50 MB. `nix-store --version` below checks Nix still starts.
# perl-base (Essential) stays: it runs nixmount's mount helper (docs/operations.md#the-mount-helper).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nix-bin util-linux mount ca-certificates \
 && dpkg --purge --force-depends libwww-curl-perl libdbd-sqlite3-perl libdbi-perl perl libperl5.36 perl-modules-5.36 \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/debconf/*-old /var/log/apt /var/log/dpkg.log \
 && rm -rf /nix \
 && nix-store --version
# Single-user Nix run by root in the plugin's container: no build users, no sandbox. The node's
# own substituters are set on the plugin (--substituters / NIXMOUNT_SUBSTITUTERS).
RUN mkdir -p /etc/nix && printf '%s\n' 'build-users-group =' 'sandbox = false' > /etc/nix/nix.conf
COPY --from=build /node /usr/local/bin/node
COPY --from=build /src/package.json /opt/nixmount/package.json
COPY --from=build /src/node_modules /opt/nixmount/node_modules
COPY --from=build /src/proto /opt/nixmount/proto
COPY --from=build /src/dist/src /opt/nixmount/dist/src
RUN chmod 0755 /opt/nixmount/dist/src/cli.js \
 && ln -s /opt/nixmount/dist/src/cli.js /usr/local/bin/nixmount \
 && nixmount --help >/dev/null
LABEL org.opencontainers.image.title="nixmount" \
      org.opencontainers.image.description="A CSI plugin that mounts Nix closures into Kubernetes pods and Nomad allocations" \
      org.opencontainers.image.source="https://github.com/nixmount/nixmount" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.version="${VERSION}"
# Mounts need root (the DaemonSet and the Nomad job run it privileged).
USER 0:0
ENTRYPOINT ["nixmount"]
CMD ["--help"]
