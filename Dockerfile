# syntax=docker/dockerfile:1
#
# Ferry's container image: a release build with the Swift runtime linked in, run on Debian slim as a non-root user.
#   docker build -t ferry:dev .
# Both stages are Debian 12 (bookworm): the binary is linked against the build image's glibc, libstdc++ and
# SQLite, so the runtime image must be the same release. Change SWIFT_IMAGE and RUNTIME_IMAGE together.
# (Swift 6.3.1 is the toolchain the project is developed with; Package.swift needs 6.1 or later.)

ARG SWIFT_IMAGE=swift:6.3.1-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${SWIFT_IMAGE} AS build
# GRDB compiles against the system SQLite (headers here, the library at run time). Debian packages are not pinned
# to versions: a stable release only takes security fixes, and a pinned version disappears when one lands.
# hadolint ignore=DL3008
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libsqlite3-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# The whole package (less .dockerignore): SwiftPM wants every target of Package.swift present, tests and
# benchmark executables included, even to build one product.
COPY . .
# The cache mount keeps dependency checkouts and build products between builds of this image. Dependencies are
# fetched from the URLs in Package.swift at the exact versions it names (.dockerignore leaves a development
# checkout's Package.resolved out: it may pin a local mirror's commits).
RUN --mount=type=cache,target=/src/.build,id=ferry-swift-build \
    swift build -c release --static-swift-stdlib --product ferry \
    && mkdir -p /out \
    && cp "$(swift build -c release --static-swift-stdlib --show-bin-path)/ferry" /out/ferry \
    && strip --strip-debug /out/ferry

FROM ${RUNTIME_IMAGE}
# Same numbers as the Deployment's securityContext (runAsUser / runAsGroup / fsGroup).
ARG FERRY_UID=10001
ARG FERRY_GID=10001
# What the binary loads at run time: `ldd` of a (debug) build lists, besides glibc and the Swift runtime (linked
# in here), libsqlite3 (GRDB), libstdc++, libgcc_s and zlib. The last three are already in the slim image
# (libstdc++6 and zlib1g are named anyway, so a base change cannot drop them). CA certificates are for TLS to
# PostgreSQL (sslmode=require) and to alert webhooks.
# hadolint ignore=DL3008
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        ca-certificates libsqlite3-0 libstdc++6 zlib1g \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid "${FERRY_GID}" ferry \
    && useradd --system --uid "${FERRY_UID}" --gid ferry --home-dir /nonexistent --no-create-home \
        --shell /usr/sbin/nologin ferry \
    && install -d -o ferry -g ferry -m 0750 /data
COPY --from=build /out/ferry /usr/local/bin/ferry
# Numeric, so Kubernetes' runAsNonRoot can verify it without a runAsUser.
USER ${FERRY_UID}:${FERRY_GID}
WORKDIR /data
EXPOSE 8080
# No HEALTHCHECK: the image has no HTTP client; Kubernetes probes /v2/health/live and /v2/health/ready.
ENTRYPOINT ["ferry"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080", "--data-dir", "/data"]
