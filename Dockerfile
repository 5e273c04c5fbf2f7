# Scribe Ledger node image: the single scribe-node executable (bun build --compile) on Debian slim.
# Used by docker-compose.yml; not exercised by CI here.
FROM oven/bun:1.4.4 AS build
WORKDIR /src
COPY package.json bun.lock ./
RUN bun install --frozen-lockfile
COPY . .
RUN bun run build

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl && rm -rf /var/lib/apt/lists/* \
  && useradd --system --home-dir /var/lib/scribe --create-home scribe
COPY --from=build /src/dist/scribe-node /src/dist/scribe /usr/local/bin/
USER scribe
WORKDIR /var/lib/scribe
ENV SCRIBE_NODE_DATA_DIR=/var/lib/scribe/data SCRIBE_LOGGING_FORMAT=json
EXPOSE 8001 9001
ENTRYPOINT ["/usr/local/bin/scribe-node"]
