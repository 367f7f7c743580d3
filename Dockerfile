# The runtime image: one bundle (activator, autoscaler, queue-proxy) on a distroless Node 22.
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
COPY --from=build /src/dist-runtime/kservice-runtime.js /app/kservice-runtime.js
ENV NODE_ENV=production
EXPOSE 8012 8013 8022 9090
ENTRYPOINT ["/nodejs/bin/node", "/app/kservice-runtime.js"]
