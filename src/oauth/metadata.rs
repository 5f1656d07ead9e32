//! The provider metadata (OIDC Discovery 1.0 §3, RFC 8414 §2): built from the settings and the
//! catalog of scopes, once per catalog ([`MetadataCache`]).

use std::sync::{Arc, PoisonError, RwLock};

use serde_json::{Value, json};

use crate::catalog::Catalog;
use crate::config::Settings;
use crate::domain::alg::SigningAlg;
use crate::paths::{
    AUTHORIZE_PATH, DEVICE_AUTHORIZATION_PATH, END_SESSION_PATH, INTROSPECT_PATH, JWKS_PATH,
    PAR_PATH, REGISTER_PATH, REVOKE_PATH, TOKEN_PATH, USERINFO_PATH,
};

/// The serialised [`document`] of the catalog it was built from: discovery is read by every
/// gateway and client library, and building it (about a hundred JSON values) cost more than the
/// rest of the request. The settings never change while serving; a new catalog (the catalog cache
/// reads the store again every `--client-cache-ttl`) builds it again.
#[derive(Debug, Default)]
pub struct MetadataCache {
    current: RwLock<Option<(Arc<Catalog>, Arc<str>)>>,
}

impl MetadataCache {
    /// The document for `settings` and `catalog`, from the cache when it was built from this very
    /// catalog.
    pub fn document(&self, settings: &Settings, catalog: Arc<Catalog>) -> Arc<str> {
        if let Some((built_from, json)) = self
            .current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            && Arc::ptr_eq(built_from, &catalog)
        {
            return Arc::clone(json);
        }
        let json: Arc<str> = document(settings, &catalog).into();
        *self.current.write().unwrap_or_else(PoisonError::into_inner) =
            Some((catalog, Arc::clone(&json)));
        json
    }
}

/// The provider metadata (OIDC Discovery §3, RFC 8414 §2): only what this server really does.
pub fn document(settings: &Settings, catalog: &Catalog) -> String {
    let issuer = &settings.issuer;
    // Every scope not created `--hidden`: the OIDC scopes and every API's.
    let scopes = catalog.supported_scopes();
    // OIDC Discovery §3: RS256 MUST be included; every algorithm has keys, and a client may pick any.
    let algs: Vec<&str> = SigningAlg::ALL.iter().map(|alg| alg.as_str()).collect();
    // private_key_jwt's signature algorithms, then client_secret_jwt's MAC (RFC 7523 §2.2).
    let assertion_algs: Vec<Value> = crate::oauth::client_auth::ASSERTION_ALGS
        .iter()
        .chain([&crate::oauth::client_auth::SECRET_ASSERTION_ALG])
        .filter_map(|alg| serde_json::to_value(alg).ok())
        .collect();
    // RFC 8705 §2.1, §2.2: the mutual-TLS methods, only when a client certificate can reach the
    // server; `tls_client_auth` needs the CAs its certificates chain to (`--mtls-ca`) as well.
    let transport = &settings.transport;
    let with_mtls = |methods: &[&'static str]| {
        let mut methods = methods.to_vec();
        if transport.client_certificates() && transport.mtls_ca.is_some() {
            methods.push("tls_client_auth");
        }
        if transport.client_certificates() {
            methods.push("self_signed_tls_client_auth");
        }
        methods
    };
    let mut metadata: Value = json!({
        "issuer": issuer.as_str(),
        "authorization_endpoint": issuer.endpoint(AUTHORIZE_PATH),
        "token_endpoint": issuer.endpoint(TOKEN_PATH),
        "userinfo_endpoint": issuer.endpoint(USERINFO_PATH),
        "end_session_endpoint": issuer.endpoint(END_SESSION_PATH),
        "jwks_uri": issuer.endpoint(JWKS_PATH),
        "introspection_endpoint": issuer.endpoint(INTROSPECT_PATH),
        "introspection_endpoint_auth_methods_supported": with_mtls(&["client_secret_basic", "client_secret_post", "private_key_jwt", "client_secret_jwt"]),
        "introspection_endpoint_auth_signing_alg_values_supported": assertion_algs,
        "revocation_endpoint": issuer.endpoint(REVOKE_PATH),
        "revocation_endpoint_auth_methods_supported": with_mtls(&["client_secret_basic", "client_secret_post", "private_key_jwt", "client_secret_jwt", "none"]),
        "revocation_endpoint_auth_signing_alg_values_supported": assertion_algs,
        // RFC 9126 §5: pushed authorization requests, required for every request with --require-par.
        "pushed_authorization_request_endpoint": issuer.endpoint(PAR_PATH),
        "require_pushed_authorization_requests": settings.require_par,
        // RFC 8628 §4: the device authorization endpoint.
        "device_authorization_endpoint": issuer.endpoint(DEVICE_AUTHORIZATION_PATH),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": [
            "authorization_code",
            "client_credentials",
            "refresh_token",
            crate::domain::client::TOKEN_EXCHANGE_GRANT,
            crate::domain::device::DEVICE_CODE_GRANT,
        ],
        "token_endpoint_auth_methods_supported": with_mtls(&["client_secret_basic", "client_secret_post", "private_key_jwt", "client_secret_jwt", "none"]),
        // RFC 7523 §2.2 / OIDC Core §9 private_key_jwt and client_secret_jwt: the assertion algorithms
        // accepted.
        "token_endpoint_auth_signing_alg_values_supported": assertion_algs,
        "code_challenge_methods_supported": ["S256"],
        // RFC 9449 §5.1: the algorithms of DPoP proofs.
        "dpop_signing_alg_values_supported": crate::domain::alg::DPOP_ALGS,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": algs,
        "scopes_supported": scopes,
        "claims_supported": [
            "sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "azp", "sid", "acr", "amr",
            "name", "preferred_username", "updated_at", "email", "email_verified", "roles", "groups"
        ],
        // OIDC Discovery §3: the levels ID and access tokens carry as `acr` (OIDC Core §2), which
        // `acr_values` may ask for: a password, and a password with a second factor.
        "acr_values_supported": crate::domain::authn::Acr::ALL.map(crate::domain::authn::Acr::as_str),
        "prompt_values_supported": ["none", "login", "consent"],
        "authorization_response_iss_parameter_supported": true,
        "request_parameter_supported": false,
        // OIDC Core §6.2 request_uri by reference (a URL the server fetches) is not supported; the
        // request_uri of a pushed request (RFC 9126 §4) is.
        "request_uri_parameter_supported": false,
        // OIDC Core §5.5: the `claims` request parameter, at /authorize and /par.
        "claims_parameter_supported": true,
        // OIDC Back-Channel Logout §2.1: logout tokens carry `sid` (and `sub`), and ID tokens `sid`.
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
    });
    // RFC 8705 §3.3: certificate-bound access tokens, only when a client certificate can reach the
    // server (its own TLS listener asks for one, or a trusted proxy passes it on).
    if settings.transport.client_certificates()
        && let Some(fields) = metadata.as_object_mut()
    {
        fields.insert(
            "tls_client_certificate_bound_access_tokens".into(),
            true.into(),
        );
    }
    // RFC 8414 §2 / OIDC Discovery §3 registration_endpoint: only when registration is served.
    if settings.registration.is_enabled()
        && let Some(fields) = metadata.as_object_mut()
    {
        fields.insert(
            "registration_endpoint".into(),
            issuer.endpoint(REGISTER_PATH).into(),
        );
    }
    metadata.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::testing::Harness;

    #[tokio::test]
    async fn the_document_is_built_once_per_catalog() {
        let h = Harness::new(&[]).await;
        let cache = MetadataCache::default();
        let catalog = Arc::new(Catalog::default());
        let first = cache.document(&h.settings, Arc::clone(&catalog));
        assert_eq!(*first, *document(&h.settings, &catalog));
        let again = cache.document(&h.settings, Arc::clone(&catalog));
        assert!(Arc::ptr_eq(&first, &again), "served from the cache");
        // A catalog read again (the catalog cache's TTL passed) builds it again, with its scopes.
        let mut changed = Catalog::default();
        changed.scopes.push(crate::domain::scope::Scope {
            name: "orders:read".into(),
            description: String::new(),
            builtin: false,
            api: None,
            hidden: false,
            created_at: 0,
        });
        let rebuilt = cache.document(&h.settings, Arc::new(changed));
        assert!(!Arc::ptr_eq(&first, &rebuilt));
        assert!(rebuilt.contains("orders:read"), "{rebuilt}");
        assert!(!first.contains("orders:read"));
    }
}
