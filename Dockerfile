# The hub's image (infra/compose.yaml builds it; the context is the repository's root). The build
# stage installs every dependency and builds as `make build` does; the image keeps the repository
# with the build and the production dependencies only, and runs as the unprivileged user `node`.
# The hub reads files of the source tree at run time (contracts, adapters, migrations, the demo
# configuration), so the image holds the tree at /app, not dist/ alone.
FROM node:20-bookworm-slim AS build
WORKDIR /app
# The lock file alone first: the install layer is reused while the dependencies do not change.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
# The folders the hub is built from, named one by one: without a .dockerignore, `COPY . .` would
# bring the host's node_modules, dist and data folders over the ones made here.
COPY tsconfig.json ./
COPY bin bin
COPY cli cli
COPY core core
COPY contracts contracts
COPY adapters adapters
COPY services services
COPY infra infra
# Tests beside the modules import test/support: tsc -p tsconfig.json compiles them too.
COPY test test
# `make build`: the hub, then the console's type check and its Vite build into dist/console.
RUN node_modules/.bin/tsc -p tsconfig.json \
 && node_modules/.bin/tsc -p services/console/web/tsconfig.json \
 && node_modules/.bin/vite build --config services/console/web/vite.config.mts \
 && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
WORKDIR /app
COPY --from=build /app /app
# The default data folder (HUB_DATA_DIR=./data) is the hub's to write; the rest stays root's.
RUN mkdir -p /app/data && chown node:node /app/data
USER node
# In a container the gateway must listen beyond loopback to be reached at all.
ENV HUB_HTTP_HOST=0.0.0.0
# The heap cap and allocator settings of `make run` (README, "Memory and CPU"); --single-threaded-gc
# goes on the command line, since NODE_OPTIONS does not take it.
ENV NODE_OPTIONS=--max-old-space-size=256
ENV GLIBC_TUNABLES=glibc.malloc.arena_max=2:glibc.malloc.mmap_threshold=4194304
EXPOSE 8080
CMD ["node", "--single-threaded-gc", "bin/hub.js", "start"]
