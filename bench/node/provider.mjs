// node-oidc-provider configured like the phases of Latchkey's benchmark that `bench/run.sh
// --versus-node` compares (examples/bench/versus_node.rs starts it):
//
// - bench-service: a confidential client (client_secret_basic) allowed only client_credentials, with
//   the scope orders:read;
// - bench-gateway: a second confidential client, the resource server that introspects (as Latchkey's
//   phase uses a client made with --introspect-any);
// - two resource servers (resource indicators, RFC 8707): JWT_API, whose access tokens are JWTs signed
//   RS256 with a 2048-bit key generated at start (as Latchkey's default key), and OPAQUE_API, whose
//   access tokens are opaque and kept in the provider's store. node-oidc-provider refuses to
//   introspect JWT access tokens (unsupported_token_type), so its introspection is measured on an
//   OPAQUE_API token;
// - no interactions, no cookies, no logging per request; the default in-memory adapter (tokens are
//   looked up in the process, with no round trip to Redis or a database).
//
// Environment: PORT (it listens on 127.0.0.1:PORT, issuer http://127.0.0.1:PORT), SERVICE_SECRET and
// GATEWAY_SECRET (the two clients' secrets, chosen by the caller). Run with NODE_ENV=production.
// One Node process: JavaScript runs on one thread; node's WebCrypto signs and verifies on libuv's
// thread pool.

import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';

import Provider, { errors } from 'oidc-provider';

/** The resource server whose client-credentials tokens are RS256 JWTs. */
const JWT_API = 'https://jwt.bench.example';
/** The resource server whose client-credentials tokens are opaque (introspectable). */
const OPAQUE_API = 'https://opaque.bench.example';
/** The one scope, as Latchkey's benchmark registers it. */
const SCOPE = 'orders:read';
/** Access-token lifetime, seconds: Latchkey's default (10 minutes). */
const ACCESS_TOKEN_TTL = 600;

function required(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`provider.mjs: ${name} is not set`);
    process.exit(2);
  }
  return value;
}

const port = Number.parseInt(required('PORT'), 10);
const issuer = `http://127.0.0.1:${port}`;

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = {
  ...privateKey.export({ format: 'jwk' }),
  kid: 'bench-rs256',
  alg: 'RS256',
  use: 'sig',
};

const resourceServers = {
  [JWT_API]: {
    scope: SCOPE,
    accessTokenTTL: ACCESS_TOKEN_TTL,
    accessTokenFormat: 'jwt',
    jwt: { sign: { alg: 'RS256' } },
  },
  [OPAQUE_API]: {
    scope: SCOPE,
    accessTokenTTL: ACCESS_TOKEN_TTL,
    accessTokenFormat: 'opaque',
  },
};

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'bench-service',
      client_secret: required('SERVICE_SECRET'),
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: SCOPE,
    },
    {
      client_id: 'bench-gateway',
      client_secret: required('GATEWAY_SECRET'),
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  jwks: { keys: [signingKey] },
  scopes: [SCOPE],
  routes: { token: '/token', introspection: '/introspect', jwks: '/jwks' },
  ttl: { ClientCredentials: ACCESS_TOKEN_TTL },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: {
      enabled: true,
      // The gateway may introspect any token (Latchkey's --introspect-any); a client its own.
      allowedPolicy: async (ctx, client, token) => client.clientId === 'bench-gateway'
        || client.clientId === token.clientId,
    },
    resourceIndicators: {
      enabled: true,
      // No resource named: no audience, an opaque token (the provider's default).
      defaultResource: async () => undefined,
      useGrantedResource: async () => false,
      getResourceServerInfo: async (ctx, resourceIndicator) => {
        const info = resourceServers[resourceIndicator];
        if (!info) {
          throw new errors.InvalidTarget();
        }
        return info;
      },
    },
  },
});

const server = createServer(provider.callback());
server.listen(port, '127.0.0.1');

function stop() {
  server.close(() => process.exit(0));
  server.closeAllConnections();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
