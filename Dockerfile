# tracegate: gateway + collector in one image. Build: docker build -t tracegate .
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY cli cli
COPY common common
COPY gateway gateway
COPY collector collector
COPY sqlapi sqlapi
COPY schemas schemas
COPY dashboards dashboards
RUN npm ci --no-audit --no-fund && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production TRACEGATE_DATA=/data
COPY --from=build /app /app
VOLUME ["/data"]
# gateway, OTLP gRPC, OTLP HTTP (+ feedback, usage, health, metrics), read-only ClickHouse HTTP
EXPOSE 8080 4317 4318 8123
ENTRYPOINT ["node", "dist/cli/tracegate.js"]
# Listening on 0.0.0.0, tracegate starts only with its three secrets, given at run time and never
# baked in: TRACEGATE_MASTER_KEY, TRACEGATE_COLLECTOR_TOKEN and TRACEGATE_SQL_PASSWORD
# (docker run --env-file deploy/secrets.env, filled from deploy/secrets.example.env), or mounted
# files named with --master-key-file, --collector-token-file and --sql-password-file
# (deploy/compose.yaml). Without them it exits with code 2 saying what is missing.
CMD ["start", "--host", "0.0.0.0"]
