# botver serve, as a container. Build: docker build -t botver .
# Run: docker run -p 8080:8080 -e BOTVER_REMOTE=https://github.com/you/awesome-bot.git \
#        -e BOTVER_GIT_TOKEN=… -e BOTVER_ADMIN_TOKEN=… -e BOTVER_WEBHOOK_SECRET=… botver
# (or mount a repository and pass --repo /bot). deploy/ has a compose file and Kubernetes manifests.

FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# No install script of any dependency runs; the build below is ours.
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY scripts ./scripts
COPY schemas ./schemas
COPY src ./src
COPY docs ./docs
RUN npm run build && npm prune --omit=dev --ignore-scripts

FROM node:20-bookworm-slim
# git: --remote fetches with native git. tini: signals reach the server, zombies are reaped.
RUN apt-get update \
  && apt-get install -y --no-install-recommends git ca-certificates tini \
  && rm -rf /var/lib/apt/lists/* \
  && mkdir -p /var/cache/botver && chown node:node /var/cache/botver
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/bin ./bin
COPY --from=build /src/dist ./dist
COPY --from=build /src/schemas ./schemas
COPY --from=build /src/docs ./docs
USER node
ENV NODE_ENV=production \
  PORT=8080 \
  BOTVER_CACHE_DIR=/var/cache/botver
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + process.env.PORT + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["/usr/bin/tini", "--", "node", "/app/bin/botver.js", "serve", "--host", "0.0.0.0"]
