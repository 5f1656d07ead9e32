# Latchkey container image: build with the Rust toolchain, run on a slim Debian as a non-root user.
#
#   docker build -t latchkey .
#   docker run -p 8080:8080 -v latchkey-data:/var/lib/latchkey -e LATCHKEY_ISSUER=http://127.0.0.1:8080 latchkey
#
# This project's CI has no Docker engine, so this file is not built there.

# --- build -------------------------------------------------------------------------------------
FROM rust:1-bookworm AS builder
WORKDIR /build

# Dependency cache: build every dependency against placeholder sources, so this layer is reused
# until Cargo.toml or Cargo.lock changes. (The [[test]] target's sources are not needed for
# `cargo build`.)
COPY Cargo.toml Cargo.lock ./
RUN mkdir src \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs \
    && cargo build --release --locked \
    && rm -rf src

# The real sources. sqlx's migrate! macro embeds migrations/ into the binary at compile time, and
# askama compiles templates/ in the same way, so both must be present before the real build.
COPY build.rs ./
COPY migrations ./migrations
COPY templates ./templates
COPY static ./static
COPY src ./src
# COPY keeps the files' original timestamps, which can be older than the placeholder build's
# outputs; touch them so cargo rebuilds the crate instead of reusing the placeholder binary.
RUN find src -type f -name '*.rs' -exec touch {} + \
    && cargo build --release --locked \
    && install -m 0755 target/release/latchkey /usr/local/bin/latchkey

# --- run ---------------------------------------------------------------------------------------
FROM debian:bookworm-slim

RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 latchkey \
    && useradd --system --uid 10001 --gid latchkey --no-create-home \
       --home-dir /var/lib/latchkey --shell /usr/sbin/nologin latchkey \
    && mkdir -p /var/lib/latchkey \
    && chown latchkey:latchkey /var/lib/latchkey \
    && chmod 0700 /var/lib/latchkey

# Only the binary: migrations and templates are compiled into it.
COPY --from=builder /usr/local/bin/latchkey /usr/local/bin/latchkey

# Numeric, so orchestrators that require a non-root user can check it without reading /etc/passwd.
USER 10001:10001
WORKDIR /var/lib/latchkey

# The SQLite database and its key-encryption secret file (latchkey.db.secret) live in the volume.
# For PostgreSQL, override LATCHKEY_DATABASE_URL and set LATCHKEY_KEY_ENCRYPTION_SECRET.
ENV LATCHKEY_BIND=0.0.0.0:8080 \
    LATCHKEY_DATABASE_URL=sqlite:///var/lib/latchkey/latchkey.db

EXPOSE 8080
VOLUME /var/lib/latchkey

# `serve` handles SIGTERM itself (it drains in-flight requests), so it can run as PID 1.
ENTRYPOINT ["latchkey"]
CMD ["serve"]
