//! Reading an authorization request: each parameter once (RFC 6749 §3.1), then every rule of RFC 6749
//! §4.1.1, RFC 7636, OIDC Core §3.1.2.1 and RFC 8707 checked against the client (pure).

use std::collections::HashMap;

use super::{MAX_ECHOED_LEN, PendingAuthorization, Prompt};
use crate::catalog::Catalog;
use crate::domain::authn::Acr;
use crate::domain::claims_request::{ClaimsRequest, InvalidClaims, UnmetAcr};
use crate::domain::client::{Client, GrantType};
use crate::domain::pkce::is_valid_s256_challenge;
use crate::domain::scope::ScopeSet;
use crate::domain::secret::random_string;
use crate::error::{AuthorizeError, ErrorCode};
use crate::oauth::resource::{InvalidTarget, requested_resources, resources_for};

/// The parameters, each once (RFC 6749 §3.1: parameters MUST NOT be included more than once), and
/// the name of the first repeated one.
pub(super) fn collect(pairs: Vec<(String, String)>) -> (HashMap<String, String>, Option<String>) {
    let mut params: HashMap<String, String> = HashMap::new();
    let mut repeated = None;
    for (name, value) in pairs {
        match params.entry(name) {
            // RFC 8707 §2: `resource` may repeat; its values are kept space-separated.
            std::collections::hash_map::Entry::Occupied(mut entry) if entry.key() == "resource" => {
                entry.get_mut().push(' ');
                entry.get_mut().push_str(&value);
            }
            std::collections::hash_map::Entry::Occupied(entry) => {
                repeated.get_or_insert_with(|| entry.key().clone());
            }
            std::collections::hash_map::Entry::Vacant(entry) => {
                entry.insert(value);
            }
        }
    }
    (params, repeated)
}

/// A parameter name fit to quote in an error description: short and plain, or not quoted at all.
pub fn quoted_name(name: &str) -> String {
    if !name.is_empty()
        && name.len() <= 40
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        format!("the {name} parameter")
    } else {
        "a parameter".to_owned()
    }
}

fn has_control_characters(value: &str) -> bool {
    value.chars().any(char::is_control)
}

/// Check the parameters of a request from `client` (pure). `repeated` names a parameter sent twice.
pub fn validate(
    client: &Client,
    catalog: &Catalog,
    params: &HashMap<String, String>,
    repeated: Option<String>,
    now: i64,
) -> Result<PendingAuthorization, AuthorizeError> {
    let get = |name: &str| {
        params
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    };
    let (redirect_uri, redirect_uri_sent) = match get("redirect_uri") {
        Some(presented) => match client.redirect_uri(presented) {
            Some(_) => (presented.to_owned(), true),
            None => {
                return Err(AuthorizeError::BadClient(
                    "The redirect_uri is not registered for this application.",
                ));
            }
        },
        // RFC 6749 §3.1.2.3: may be omitted only when exactly one is registered; OIDC Core
        // §3.1.2.1 always requires it.
        None if client.redirect_uris.len() == 1
            && !get("scope")
                .unwrap_or_default()
                .split(' ')
                .any(|s| s == "openid") =>
        {
            (client.redirect_uris[0].as_str().to_owned(), false)
        }
        None => {
            return Err(AuthorizeError::BadClient(
                "The request has no redirect_uri.",
            ));
        }
    };

    let mut pending = PendingAuthorization {
        id: random_string(16),
        client_id: client.client_id.to_string(),
        redirect_uri,
        redirect_uri_sent,
        scope: String::new(),
        resources: Vec::new(),
        state: get("state").map(str::to_owned),
        nonce: get("nonce").map(str::to_owned),
        code_challenge: None,
        dpop_jkt: None,
        prompt: Prompt::default(),
        max_age: None,
        acr: None,
        claims: None,
        login_hint: get("login_hint").map(str::to_owned),
        created_at: now,
        authenticated_as: None,
        consented_by: None,
    };
    let fail = |pending: &PendingAuthorization, code, why: &str| Err(pending.fail(code, why));

    if let Some(name) = repeated {
        return fail(
            &pending,
            ErrorCode::InvalidRequest,
            &format!("{} is repeated", quoted_name(&name)),
        );
    }
    // OIDC Core §6: request objects are not supported.
    if params.contains_key("request") {
        return fail(
            &pending,
            ErrorCode::RequestNotSupported,
            "request objects are not supported",
        );
    }
    if params.contains_key("request_uri") {
        return fail(
            &pending,
            ErrorCode::RequestUriNotSupported,
            "request objects are not supported",
        );
    }
    match get("response_type") {
        Some("code") => {}
        None => {
            return fail(
                &pending,
                ErrorCode::InvalidRequest,
                "response_type is required",
            );
        }
        Some(_) => {
            return fail(
                &pending,
                ErrorCode::UnsupportedResponseType,
                "only response_type=code is supported",
            );
        }
    }
    // RFC 6749 §4.1.2.1 unauthorized_client: not registered for the authorization code grant.
    if !client.allows_grant(GrantType::AuthorizationCode) {
        return fail(
            &pending,
            ErrorCode::UnauthorizedClient,
            "this client is not registered for authorization_code",
        );
    }
    if get("response_mode").is_some_and(|mode| mode != "query") {
        return fail(
            &pending,
            ErrorCode::InvalidRequest,
            "only response_mode=query is supported",
        );
    }
    let Ok(scope) = ScopeSet::parse(get("scope").unwrap_or_default()) else {
        return fail(&pending, ErrorCode::InvalidScope, "the scope is malformed");
    };
    if scope.is_empty() {
        return fail(&pending, ErrorCode::InvalidScope, "scope is required");
    }
    if let Err(extra) = scope.ensure_within(&client.scopes) {
        return fail(
            &pending,
            ErrorCode::InvalidScope,
            &format!("the client may not request: {}", extra.0),
        );
    }
    // RFC 8707 §2: the APIs the authorization covers.
    match resources_for(
        catalog,
        client,
        &requested_resources(get("resource")),
        &scope,
    ) {
        Ok(resources) => {
            pending.resources = resources.iter().map(|r| r.as_str().to_owned()).collect();
        }
        Err(InvalidTarget(why)) => return fail(&pending, ErrorCode::InvalidTarget, &why),
    }
    pending.scope = scope.to_string();

    // RFC 7636 §4.3, RFC 9700 §2.1.1: S256 only, required for public clients and by default for all.
    match (get("code_challenge"), get("code_challenge_method")) {
        (Some(challenge), Some("S256")) if is_valid_s256_challenge(challenge) => {
            pending.code_challenge = Some(challenge.to_owned());
        }
        (Some(_), Some("S256")) => {
            return fail(
                &pending,
                ErrorCode::InvalidRequest,
                "code_challenge is malformed",
            );
        }
        (Some(_), _) => {
            return fail(
                &pending,
                ErrorCode::InvalidRequest,
                "code_challenge_method must be S256 (plain is not allowed)",
            );
        }
        (None, Some(_)) => {
            return fail(
                &pending,
                ErrorCode::InvalidRequest,
                "code_challenge is required with code_challenge_method",
            );
        }
        (None, None) if client.require_pkce => {
            return fail(
                &pending,
                ErrorCode::InvalidRequest,
                "PKCE is required: send code_challenge with code_challenge_method=S256",
            );
        }
        (None, None) => {}
    }

    // OIDC Core §3.1.2.1 prompt: space-delimited; `none` must stand alone.
    for value in get("prompt")
        .unwrap_or_default()
        .split(' ')
        .filter(|v| !v.is_empty())
    {
        match value {
            "none" => pending.prompt.none = true,
            "login" => pending.prompt.login = true,
            "consent" => pending.prompt.consent = true,
            "select_account" => {}
            _ => {
                return fail(
                    &pending,
                    ErrorCode::InvalidRequest,
                    "prompt has an unknown value",
                );
            }
        }
    }
    if pending.prompt.none && (pending.prompt.login || pending.prompt.consent) {
        return fail(
            &pending,
            ErrorCode::InvalidRequest,
            "prompt=none cannot be combined with other values",
        );
    }
    if let Some(raw) = get("max_age") {
        match raw.parse::<i64>() {
            Ok(seconds) if seconds >= 0 => pending.max_age = Some(seconds),
            _ => {
                return fail(
                    &pending,
                    ErrorCode::InvalidRequest,
                    "max_age must be a non-negative integer",
                );
            }
        }
    }
    // OIDC Core §3.1.2.1 `acr_values`: the levels wanted, in order of preference. Latchkey aims at
    // the first one it defines (a stronger sign-in satisfies it too); values it does not define
    // are ignored, as the parameter is voluntary.
    if let Some(values) = get("acr_values") {
        if values.len() > MAX_ECHOED_LEN || has_control_characters(values) {
            return fail(
                &pending,
                ErrorCode::InvalidRequest,
                "acr_values is malformed",
            );
        }
        pending.acr = values
            .split(' ')
            .find_map(Acr::parse)
            .map(|acr| acr.as_str().to_owned());
    }
    // OIDC Core §5.5 `claims`: individual claims for the ID token and UserInfo, and §5.5.1.1 `acr`
    // as a requirement. With `acr_values` too, the stronger level counts (both are asked of the
    // same sign-in).
    if let Some(raw) = get("claims") {
        let mut claims = match ClaimsRequest::parse(raw) {
            Ok(claims) => claims,
            Err(InvalidClaims(why)) => return fail(&pending, ErrorCode::InvalidRequest, &why),
        };
        match claims.required_acr() {
            Ok(level) => {
                let asked = pending.acr.as_deref().and_then(Acr::parse);
                pending.acr = asked.max(level).map(|acr| acr.as_str().to_owned());
            }
            // §5.5.1.1: an essential acr that cannot be met is a failed authentication attempt.
            Err(UnmetAcr) => {
                return fail(
                    &pending,
                    ErrorCode::AccessDenied,
                    "the essential acr claim asks only for levels this server does not define (see acr_values_supported)",
                );
            }
        }
        // Never more than the client could be given by asking for the scopes themselves.
        claims.retain_allowed(|scope| client.scopes.contains(scope));
        pending.claims = (!claims.is_empty()).then_some(claims);
    }
    // RFC 9449 §10: `dpop_jkt` binds the code to that DPoP key; it is a SHA-256 JWK thumbprint.
    if let Some(jkt) = get("dpop_jkt") {
        if !crate::oauth::dpop::is_thumbprint(jkt) {
            return fail(
                &pending,
                ErrorCode::InvalidRequest,
                "dpop_jkt must be a base64url SHA-256 JWK thumbprint (RFC 9449 §10)",
            );
        }
        pending.dpop_jkt = Some(jkt.to_owned());
    }
    let echoed = [&pending.state, &pending.nonce, &pending.login_hint];
    if echoed
        .iter()
        .any(|v| v.as_ref().is_some_and(|v| v.len() > MAX_ECHOED_LEN))
    {
        return fail(
            &pending,
            ErrorCode::InvalidRequest,
            "state, nonce or login_hint is too long",
        );
    }
    // Bad input never reaches the store: the nonce is kept with the code, and PostgreSQL text
    // cannot even hold a NUL.
    if echoed
        .iter()
        .any(|v| v.as_deref().is_some_and(has_control_characters))
    {
        return fail(
            &pending,
            ErrorCode::InvalidRequest,
            "state, nonce or login_hint contains control characters",
        );
    }
    Ok(pending)
}
