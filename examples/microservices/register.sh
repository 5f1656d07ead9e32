#!/bin/sh
# Register the demo's APIs, scopes, role, clients and user with Latchkey's admin CLI, and write the
# client secrets to demo.env (mode 0600) for `cargo run --example microservices`.
#
# Run it from the directory Latchkey runs in (the admin CLI works on the database directly), with the same
# LATCHKEY_* settings as the server. Safe to run again: existing APIs, scopes, roles and users are kept,
# and the demo's clients are deleted and registered afresh (with new secrets).
#
#   LATCHKEY=./target/release/latchkey examples/microservices/register.sh [demo.env]
#
# Settings (environment):
#   LATCHKEY          the latchkey binary                        (default: latchkey on PATH)
#   DEMO_GATEWAY_URL  the gateway's public URL, as the demo uses  (default: http://127.0.0.1:8000)
#   DEMO_ISSUER       Latchkey's issuer, copied into demo.env     (default: https://127.0.0.1:8443)
#   DEMO_PASSWORD     the password of the user alice             (default: correct horse battery staple)
#   DEMO_SERVICE_A_AUDIENCE  Service A's API                     (default: https://shop.demo.example)
#   DEMO_SERVICE_B_AUDIENCE  Service B's API                     (default: https://orders.demo.example)
#   DEMO_SERVICE_C_AUDIENCE  Service C's API (reference tokens)  (default: https://reports.demo.example)
#   DEMO_SERVICE_D_AUDIENCE  Service D's API                     (default: https://inventory.demo.example)
set -eu

LATCHKEY="${LATCHKEY:-latchkey}"
GATEWAY_URL="${DEMO_GATEWAY_URL:-http://127.0.0.1:8000}"
ISSUER="${DEMO_ISSUER:-https://127.0.0.1:8443}"
# The URI SAN of Service A's client certificate (made by `microservices --write-pki`).
SERVICE_A_URI="spiffe://demo.example/service-a"
PASSWORD="${DEMO_PASSWORD:-correct horse battery staple}"
SERVICE_A_API="${DEMO_SERVICE_A_AUDIENCE:-https://shop.demo.example}"
SERVICE_B_API="${DEMO_SERVICE_B_AUDIENCE:-https://orders.demo.example}"
SERVICE_C_API="${DEMO_SERVICE_C_AUDIENCE:-https://reports.demo.example}"
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

# Register the client afresh (deleting an earlier registration); prints the CLI's --json answer.
fresh_client() { # CLIENT_ID FLAGS…
  id="$1"
  shift
  if lk client show "$id" >/dev/null 2>&1; then
    lk client delete "$id" >/dev/null
  fi
  lk --json client create --client-id "$id" "$@"
}

# The same for a client with a secret; prints the secret.
ensure_client() { # CLIENT_ID FLAGS…
  fresh_client "$@" | secret_of
}

# Each service is its own API (RFC 8707): an access token is for one of them, and its `aud` says which
# (RFC 9068 §4). Each API's scope belongs to it, so asking for the scope is enough to name the API.
ensure_api() { # AUDIENCE NAME SCOPE [FLAGS…]
  audience="$1" name="$2" scope="$3"
  shift 3
  if lk api show "$audience" >/dev/null 2>&1; then
    echo "api $audience: exists"
  else
    lk api create --audience "$audience" --name "$name" --scope "$scope" "$@" >/dev/null
    echo "api $audience: created, with the scope $scope"
  fi
}

ensure_scope shop:read "Browse the shop"
ensure_scope orders:read "Read your orders"
ensure_scope reports:read "Read reports"
ensure_scope inventory:read "Read the inventory (services only)"
ensure_api "$SERVICE_A_API" "Demo service A (shop)" shop:read
ensure_api "$SERVICE_B_API" "Demo service B (orders)" orders:read
# C's API issues reference tokens (lk_at_…): only introspection can read them, and a revocation
# takes effect at once.
ensure_api "$SERVICE_C_API" "Demo service C (reports)" reports:read --token-format opaque
ensure_api "$SERVICE_D_API" "Demo service D (inventory)" inventory:read

# The role Service B requires for writes (POST /service2), a role of B's API: access tokens for B carry
# it in `roles` (RFC 9068 §2.2.3.1), tokens for other APIs do not. Nobody holds it yet: README step 5
# gives it to demo-cli.
if lk --json role list | grep -q '"name": *"orders-admin"'; then
  echo "role orders-admin: exists"
else
  lk role create orders-admin --api "$SERVICE_B_API" --description "Write orders (Service B)" >/dev/null
  echo "role orders-admin: created"
fi

# The gateway's BFF: a confidential web client (client_secret_basic, PKCE S256), first-party (no consent
# page), with refresh tokens, for the APIs of A, B and C: its one refresh token mints an access token per
# API. A web client's redirect URIs are matched exactly, port included (only native clients get the
# RFC 8252 any-port loopback rule); the post-logout URI too. Latchkey POSTs logout tokens to the
# back-channel logout URI when a user's session ends (OIDC Back-Channel Logout), and the BFF ends its
# own sessions of it.
BFF_SECRET=$(ensure_client demo-gateway --name "Demo gateway (BFF)" \
  --redirect-uri "$GATEWAY_URL/callback" \
  --post-logout-redirect-uri "$GATEWAY_URL/logged-out" \
  --backchannel-logout-uri "$GATEWAY_URL/backchannel-logout" --backchannel-logout-session-required \
  --grant-type authorization_code --grant-type refresh_token \
  --scope "openid profile email shop:read orders:read reports:read" \
  --resource "$SERVICE_A_API" --resource "$SERVICE_B_API" --resource "$SERVICE_C_API" \
  --auth-method client_secret_basic --skip-consent)
echo "client demo-gateway: ready"

# Service A's own identity, for calling Service D: client credentials with the machine scope, for D's
# API; and token exchange (RFC 8693) of a user's token for D's API, to call D on the user's behalf.
# No secret: A's client certificate authenticates it (RFC 8705 §2.1 tls_client_auth; Latchkey runs
# with --mtls-ca), and its access tokens are bound to that certificate (§3), which Service D checks.
fresh_client demo-service-a --name "Demo service A" \
  --grant-type client_credentials --grant-type token_exchange --scope "inventory:read" \
  --resource "$SERVICE_D_API" --may-exchange-for "$SERVICE_D_API" \
  --auth-method tls_client_auth --tls-client-auth-san-uri "$SERVICE_A_URI" \
  --tls-client-certificate-bound-access-tokens >/dev/null
echo "client demo-service-a: ready (tls_client_auth, $SERVICE_A_URI)"

# Service C: its API's own resource-server client, which may introspect the tokens of C's API (and
# learns only `active: false` about any other).
C_SECRET=$(ensure_client demo-service-c --name "Demo service C" \
  --grant-type client_credentials --auth-method client_secret_basic --api "$SERVICE_C_API")
echo "client demo-service-c: ready"

# A command-line caller for curl: client credentials for the APIs of A, B and C, one token each.
CLI_SECRET=$(ensure_client demo-cli --name "Demo command line" \
  --grant-type client_credentials --scope "shop:read orders:read reports:read" \
  --resource "$SERVICE_A_API" --resource "$SERVICE_B_API" --resource "$SERVICE_C_API" \
  --auth-method client_secret_basic)
echo "client demo-cli: ready"

if lk user show alice >/dev/null 2>&1; then
  echo "user alice: exists"
else
  printf '%s' "$PASSWORD" | lk user create --username alice --email alice@example.com \
    --name "Alice Example" --password-stdin >/dev/null
  echo "user alice: created (password: $PASSWORD)"
fi

for secret in "$BFF_SECRET" "$C_SECRET" "$CLI_SECRET"; do
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
export DEMO_SERVICE_A_AUDIENCE='$SERVICE_A_API'
export DEMO_SERVICE_B_AUDIENCE='$SERVICE_B_API'
export DEMO_SERVICE_C_AUDIENCE='$SERVICE_C_API'
export DEMO_SERVICE_D_AUDIENCE='$SERVICE_D_API'
export DEMO_SERVICE_C_CLIENT_ID='demo-service-c'
export DEMO_SERVICE_C_CLIENT_SECRET='$C_SECRET'
export DEMO_CLI_CLIENT_ID='demo-cli'
export DEMO_CLI_CLIENT_SECRET='$CLI_SECRET'
EOF
echo "wrote $OUT (the client secrets; keep it private)"
