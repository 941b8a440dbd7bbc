# syntax=docker/dockerfile:1
# Production image of the Online Feature Plane. One image, three roles chosen by the command:
#   `db migrate` (one-shot), `worker` (Temporal projector worker), `serve` (GraphQL gateway, the default).
# No embedded services here: production sets DATABASE_URL and TEMPORAL_ADDRESS (see docker-compose.yml).

ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
# Manifests first: the dependency layer is reused until package*.json change.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
# `build` runs prisma generate and graphql-codegen, then tsc -p tsconfig.build.json (src/** -> dist/src/**).
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM ${NODE_IMAGE} AS runtime
# OFP_HTTP_HOST: the gateway listens on loopback by default; in a container it must listen on all interfaces for the
# published port to reach it.
# A heap cap makes V8 collect before growing the heap: the worker stays under 400 MB resident (README).
ENV NODE_ENV=production \
    NODE_OPTIONS=--max-old-space-size=256 \
    OFP_HTTP_HOST=0.0.0.0 \
    OFP_DATA_DIR=/var/lib/ofp \
    OFP_BUS_ROOT=/var/lib/ofp/bus
WORKDIR /app
# The whole pruned tree: `db migrate` needs the Prisma CLI, prisma.config.ts, the schema and migrations next to the
# compiled code, and the gateway reads config/ and contracts/.
COPY --from=build --chown=node:node /app /app
# Created here so that a fresh named volume mounted on it inherits the owner `node`.
RUN mkdir -p /var/lib/ofp/bus && chown -R node:node /var/lib/ofp
USER node
EXPOSE 4000
ENTRYPOINT ["node", "dist/src/cli/main.js"]
CMD ["serve"]
