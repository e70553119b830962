# tracegate: gateway + collector in one image. Build: docker build -t tracegate .
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY cli cli
COPY common common
COPY gateway gateway
COPY collector collector
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
CMD ["start", "--host", "0.0.0.0"]
