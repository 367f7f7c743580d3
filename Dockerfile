# The runtime image: the runtime bundles (dist-runtime/: a dispatcher and one file per role:
# activator, autoscaler, queue-proxy) on a distroless Node 22.
#   docker build -t ghcr.io/cdk8s-kservice/runtime:0.1.0 .
#   containers run it as: kservice-runtime <activator|autoscaler|queue-proxy>
# Kept deliberately plain: it has not been built in this repository's CI (no container engine
# there); the bundle it copies is what the runtime tests run.

FROM node:22-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY lib ./lib
COPY scripts/build-runtime.mjs ./scripts/
RUN npm run build:runtime

# distroless: no shell, no package manager. The :nonroot tag runs as numeric uid 65532, which
# kubelet can check against the runAsNonRoot securityContext the compiler emits (a named user
# such as node:22-slim's "node" cannot be checked without runAsUser). Node lives at
# /nodejs/bin/node there; `node` is not on a PATH.
FROM gcr.io/distroless/nodejs22-debian12:nonroot
WORKDIR /app
COPY --from=build /src/dist-runtime/ /app/
ENV NODE_ENV=production
EXPOSE 8012 8013 8022 9090
# --max-semi-space-size=2 (MiB): V8's young generation grows to 32 MiB under load by default; at 2
# the queue-proxy's peak RSS under load was ~60 MiB instead of ~80 MiB at the same throughput
# (within noise) — it runs in every pod (docs/runtime-performance.md). It is a start-up flag only
# (v8.setFlagsFromString at run time does not resize the heap), hence here.
ENTRYPOINT ["/nodejs/bin/node", "--max-semi-space-size=2", "/app/kservice-runtime.js"]
