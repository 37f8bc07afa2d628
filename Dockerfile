# One image for every Node process of the stack: the five services, the order worker, the review
# projector and the one-shot jobs (keys, topics). Node 24 runs the TypeScript sources directly (type
# stripping), so there is no build step: the image is the workspace's runtime dependencies + sources.
# Pick the process with the command, e.g. `node services/order/src/worker.ts` (docker-compose.yml).
# The Node version matches infra/versions.env NODE_VERSION; change both together.
FROM node:24.21.0-bookworm-slim AS manifests
WORKDIR /src
COPY . .
# Only the manifests, so the dependency layer below is rebuilt when a package.json or the lock changes,
# not on every source edit. Workspaces are found, not listed: a new one needs no Dockerfile change.
RUN mkdir -p /out \
 && cp package.json package-lock.json /out/ \
 && find . -mindepth 2 -maxdepth 3 -name package.json -not -path './node_modules/*' -exec cp --parents {} /out/ \;

FROM node:24.21.0-bookworm-slim
ENV NODE_ENV=production \
    # kafkajs 2.2.4 schedules negative timeouts on Node >= 22: a harmless warning on every start.
    NODE_OPTIONS=--disable-warning=TimeoutNegativeWarning \
    # Services default to 127.0.0.1 (safe on a laptop); in a container they must listen on every interface.
    HOST=0.0.0.0
WORKDIR /app
COPY --from=manifests /out/ ./
# Runtime dependencies only. --ignore-scripts: the only install scripts in the lock belong to
# testcontainers' Docker client (ssh2, cpu-features, protobufjs), which no process in the image loads;
# testcontainers is there at all because packages/testkit is a workspace (about 15 MB).
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
# Sources last (.dockerignore keeps tests, docs, k6, bench and node_modules out).
COPY . .
USER node
# No default process: docker-compose.yml names one per service.
CMD ["node", "--version"]
