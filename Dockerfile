# The production image: one image for every stage; the compose file picks the subcommand (`setup`, `gateway`, `api`, ...).
# Node 24 (the LTS) on Debian 13: the native uWebSockets.js builds need glibc 2.38 or newer, which Debian 12 lacks.
# The tag is pinned (one place, every stage); bump it deliberately, with the CI run on that Node.
ARG NODE_IMAGE=node:24.22.3-trixie-slim

# 1. Build: every dependency, TypeScript compiled to dist/ with what it reads at run time (build.ts).
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json build.ts ./
COPY bin ./bin
COPY schemas ./schemas
COPY platform ./platform
COPY contracts ./contracts
COPY store ./store
COPY stack ./stack
COPY ingest ./ingest
COPY processors ./processors
COPY projections ./projections
COPY gateway ./gateway
COPY api ./api
COPY cli ./cli
COPY bench ./bench
COPY dashboard ./dashboard
RUN npm run build

# 2. Production dependencies only (no tsx, esbuild, test or bench tools), and of the uWS packages' binaries (one per
# platform and Node ABI, about 200 MB together) only the one this platform and this Node load (gateway/uws-runtime.ts);
# the trufflesuite build has none for Node 24, so only its JavaScript (the opt-in emulation) stays.
FROM ${NODE_IMAGE} AS dependencies
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force \
  && binary="uws_$(node -p 'process.platform + "_" + process.arch + "_" + process.versions.modules').node" \
  && find node_modules -name 'uws_*.node' ! -name "$binary" -delete

# 3. Runtime: tini as PID 1 (forwards SIGTERM so each stage drains cleanly, reaps zombies), a non-root user,
# the compiled code and the production dependencies, read-only to that user.
FROM ${NODE_IMAGE} AS runtime
RUN apt-get update \
  && apt-get install -y --no-install-recommends tini \
  && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production
WORKDIR /app
COPY --from=dependencies /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json ./
# The base image's unprivileged user (uid 1000); it owns nothing in /app.
USER node
# API_PORT and GATEWAY_PORT defaults; the other stages serve only their ops port (compose sets each).
EXPOSE 3000 3001
# The API's liveness by default; docker-compose.yml gives every stage its own check on its own port.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:3000/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["/usr/bin/tini", "--", "node", "dist/bin/tickflow.js"]
CMD ["--help"]
