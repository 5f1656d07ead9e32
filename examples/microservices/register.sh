#!/bin/sh
# Register the demo's scopes, clients and user with Latchkey's admin CLI, and write the client secrets
# to demo.env (mode 0600) for `cargo run --example microservices`.
#
# Run it from the directory Latchkey runs in (the admin CLI works on the database directly), with the same
# LATCHKEY_* settings as the server. Safe to run again: existing scopes and users are kept, and the demo's
# clients are deleted and registered afresh (with new secrets).
#
#   LATCHKEY=./target/release/latchkey examples/microservices/register.sh [demo.env]
#
# Settings (environment):
#   LATCHKEY          the latchkey binary                        (default: latchkey on PATH)
#   DEMO_GATEWAY_URL  the gateway's public URL, as the demo uses  (default: http://127.0.0.1:8000)
#   DEMO_ISSUER       Latchkey's issuer, copied into demo.env     (default: http://127.0.0.1:8080)
#   DEMO_PASSWORD     the password of the user alice             (default: correct horse battery staple)
#   DEMO_SERVICE_D_AUDIENCE  Service D's API                     (default: https://inventory.demo.example)
set -eu

LATCHKEY="${LATCHKEY:-latchkey}"
GATEWAY_URL="${DEMO_GATEWAY_URL:-http://127.0.0.1:8000}"
ISSUER="${DEMO_ISSUER:-http://127.0.0.1:8080}"
PASSWORD="${DEMO_PASSWORD:-correct horse battery staple}"
SERVICE_D_API="${DEMO_SERVICE_D_AUDIENCE:-https://inventory.demo.example}"
OUT="${1:-demo.env}"

lk() { "$LATCHKEY" "$@"; }

# The client_secret of a `--json` answer. No jq needed: the secret is base64url, so sed suffices.
secret_of() { sed -n 's/.*"client_secret": *"\([^"]*\)".*/\1/p'; }

ensure_scope() { # NAME DESCRIPTION
  if lk --json scope list | grep -q "\"name\": *\"$1\""; then
    echo "scope $1: exists"
  else
    lk scope create "$1" --description "$2" >/dev/null
    echo "scope $1: created"
  fi
}

# Register the client afresh (deleting an earlier registration); prints its secret.
ensure_client() { # CLIENT_ID FLAGS…
  id="$1"
  shift
  if lk client show "$id" >/dev/null 2>&1; then
    lk client delete "$id" >/dev/null
  fi
  lk --json client create --client-id "$id" "$@" | secret_of
}

ensure_scope orders:read "Read your orders"
ensure_scope reports:read "Read reports"
ensure_scope inventory:read "Read the inventory (services only)"

# Service D is its own API: the tokens it accepts have its audience as `aud` (RFC 8707, RFC 9068 §4).
if lk api show "$SERVICE_D_API" >/dev/null 2>&1; then
  echo "api $SERVICE_D_API: exists"
else
  lk api create --audience "$SERVICE_D_API" --name "Demo service D" >/dev/null
  echo "api $SERVICE_D_API: created"
fi

# The role Service B requires for writes (POST /service2): access tokens carry it in `roles`
# (RFC 9068 §2.2.3.1). Nobody holds it yet: README step 5 gives it to demo-cli.
if lk --json role list | grep -q '"name": *"orders-admin"'; then
  echo "role orders-admin: exists"
else
  lk role create orders-admin --description "Write orders (Service B)" >/dev/null
  echo "role orders-admin: created"
fi

# The gateway's BFF: a confidential web client (client_secret_basic, PKCE S256), first-party (no consent
# page), with refresh tokens. A web client's redirect URIs are matched exactly, port included (only
# native clients get the RFC 8252 any-port loopback rule); the post-logout URI too.
BFF_SECRET=$(ensure_client demo-gateway --name "Demo gateway (BFF)" \
  --redirect-uri "$GATEWAY_URL/callback" \
  --post-logout-redirect-uri "$GATEWAY_URL/logged-out" \
  --grant-type authorization_code --grant-type refresh_token \
  --scope "openid profile email orders:read" \
  --auth-method client_secret_basic --skip-consent)
echo "client demo-gateway: ready"

# Service A's own identity, for calling Service D: client credentials with the machine scope, for D's
# API; and token exchange (RFC 8693) of a user's token for D's API, to call D on the user's behalf.
A_SECRET=$(ensure_client demo-service-a --name "Demo service A" \
  --grant-type client_credentials --grant-type token_exchange --scope "inventory:read" \
  --resource "$SERVICE_D_API" --may-exchange-for "$SERVICE_D_API" --auth-method client_secret_basic)
echo "client demo-service-a: ready"

# Service C: a resource server that may introspect any token.
C_SECRET=$(ensure_client demo-service-c --name "Demo service C" \
  --grant-type client_credentials --auth-method client_secret_basic --introspect-any)
echo "client demo-service-c: ready"

# A command-line caller for curl: client credentials with orders:read and reports:read.
CLI_SECRET=$(ensure_client demo-cli --name "Demo command line" \
  --grant-type client_credentials --scope "orders:read reports:read" --auth-method client_secret_basic)
echo "client demo-cli: ready"

if lk user show alice >/dev/null 2>&1; then
  echo "user alice: exists"
else
  printf '%s' "$PASSWORD" | lk user create --username alice --email alice@example.com \
    --name "Alice Example" --password-stdin >/dev/null
  echo "user alice: created (password: $PASSWORD)"
fi

for secret in "$BFF_SECRET" "$A_SECRET" "$C_SECRET" "$CLI_SECRET"; do
  if [ -z "$secret" ]; then
    echo "error: a client secret is missing from the CLI's answer" >&2
    exit 1
  fi
done

umask 077
cat >"$OUT" <<EOF
export DEMO_ISSUER='$ISSUER'
export DEMO_GATEWAY_URL='$GATEWAY_URL'
export DEMO_BFF_CLIENT_ID='demo-gateway'
export DEMO_BFF_CLIENT_SECRET='$BFF_SECRET'
export DEMO_SERVICE_A_CLIENT_ID='demo-service-a'
export DEMO_SERVICE_A_CLIENT_SECRET='$A_SECRET'
export DEMO_SERVICE_D_AUDIENCE='$SERVICE_D_API'
export DEMO_SERVICE_C_CLIENT_ID='demo-service-c'
export DEMO_SERVICE_C_CLIENT_SECRET='$C_SECRET'
export DEMO_CLI_CLIENT_ID='demo-cli'
export DEMO_CLI_CLIENT_SECRET='$CLI_SECRET'
EOF
echo "wrote $OUT (the client secrets; keep it private)"
