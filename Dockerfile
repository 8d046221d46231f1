# syntax=docker/dockerfile:1
# tilecast: one image for the chunker, the ledger and the workers.
#
# Viewer stage: the viewer's pinned npm packages. Build stage: the release binary, exactly as `cargo build --release --locked -p
# tilecast-workers` builds it for the tests. Runtime stage (the last one, what a plain
# `docker build .` makes): Debian slim with only the shared libraries the binary links
# (netCDF/HDF5), run as a fixed non-root user. The image writes nothing to its own file
# system: mount the output volume and an emptyDir at /scratch (TMPDIR), and run with a
# read-only root file system.
#
# Debian packages are not pinned to versions: bookworm's archive keeps only the newest
# version of each package, so a pin stops resolving at the next point release or security
# update. The base image tag fixes the release; the package names fix the ABI
# (libnetcdf19).
#
# The tests (workers/tests/container.rs) build the runtime stage around the release binary
# they have just tested instead of compiling it again, by giving a build context of the
# build stage's name (a named context replaces the stage of that name, in podman/buildah
# and in BuildKit): `podman build --build-context build=DIR .`, where DIR holds
# usr/local/bin/tilecast. The runtime stage is the same either way.

# The viewer's npm packages (MapLibre GL JS, pmtiles, Natural Earth outlines) exactly as
# viewer/package-lock.json pins them; the build embeds them (workers/build.rs).
FROM node:20-bookworm-slim AS viewer
WORKDIR /src/viewer
COPY viewer/package.json viewer/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error

FROM rust:1.89-slim-bookworm AS build
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends libnetcdf-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY workers ./workers
COPY palettes ./palettes
COPY benches ./benches
COPY assets ./assets
COPY viewer ./viewer
COPY --from=viewer /src/viewer/node_modules ./viewer/node_modules
RUN cargo build --release --locked -p tilecast-workers \
 && install -m 0755 target/release/tilecast /usr/local/bin/tilecast

FROM debian:bookworm-slim AS runtime
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends libnetcdf19 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 tilecast \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin tilecast \
 && mkdir -p /scratch /data \
 && chown 10001:10001 /scratch /data
COPY --from=build /usr/local/bin/tilecast /usr/local/bin/tilecast
COPY palettes /etc/tilecast/palettes
# The binary embeds the legend font; its licence travels with it.
COPY assets/fonts/LICENSE-DejaVu.txt assets/fonts/README.md /usr/share/doc/tilecast/fonts/
ENV TMPDIR=/scratch \
    TILECAST_LOG_FORMAT=json
USER 10001:10001
WORKDIR /scratch
EXPOSE 9464
ENTRYPOINT ["/usr/local/bin/tilecast"]
CMD ["--help"]
