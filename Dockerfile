# syntax=docker/dockerfile:1
# Fjord — single binary (`fjord serve | control-plane | gateway ...`).
#   DOCKER_BUILDKIT=1 docker build -t fjord .

# ---- build ------------------------------------------------------------------------------------
FROM rust:1-bookworm AS builder
WORKDIR /src
# sqlx `query!` macros must not try to reach a database at build time (uses .sqlx/ if present).
ENV SQLX_OFFLINE=true \
    CARGO_TERM_COLOR=never
COPY . .
# target/ lives in a cache mount (gone after the RUN), so copy the binary out within the same step.
RUN --mount=type=cache,id=fjord-cargo-registry,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,id=fjord-cargo-git,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,id=fjord-target,target=/src/target,sharing=locked \
    cargo build --release -p fjord --locked \
 && install -D -m 0755 target/release/fjord /usr/local/bin/fjord
# The console's wasm (web-ui/build.sh: wasm32 target, wasm-bindgen-cli, binaryen), into /site.
# (Not exercised here: this machine has no Docker engine; build.sh itself runs in .ci/run.)
# hadolint ignore=DL3008
RUN --mount=type=cache,id=fjord-cargo-registry,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,id=fjord-cargo-git,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,id=fjord-target,target=/src/target,sharing=locked \
    apt-get update && apt-get install -y --no-install-recommends binaryen \
 && CARGO_TARGET_DIR=/src/target FJORD_CONSOLE_SITE=/site bash web-ui/build.sh

# ---- runtime ----------------------------------------------------------------------------------
FROM debian:bookworm-slim
# ca-certificates tracks the distro; pinning it would only break rebuilds
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 fjord \
 && useradd --system --uid 10001 --gid fjord --home-dir /app --no-create-home --shell /usr/sbin/nologin fjord
WORKDIR /app
COPY --from=builder /usr/local/bin/fjord /usr/local/bin/fjord
COPY migrations/ /app/migrations/
COPY --from=builder /site /app/site
ENV FJORD__CONSOLE__SITE=/app/site
# numeric so Kubernetes runAsNonRoot can verify it
USER 10001:10001
ENV RUST_LOG=info
# 4566: Kinesis-compatible gateway, 4567: control plane and web console
EXPOSE 4566 4567
ENTRYPOINT ["fjord"]
CMD ["serve"]
