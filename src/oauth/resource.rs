//! Resource indicators (RFC 8707): which API (resource server) an authorization covers and which one
//! each access token is for. A token has ONE audience (RFC 8707 §2.2): the API's audience URI, or —
//! when no API is involved — the server's default audience (`--access-token-audience`, the issuer).

use crate::catalog::Catalog;
use crate::config::Settings;
use crate::domain::alg::SigningAlg;
use crate::domain::api::{Audience, TokenFormat};
use crate::domain::client::Client;
use crate::domain::role::RoleName;
use crate::domain::scope::ScopeSet;

/// RFC 8707 §2 `invalid_target`: the requested resource is invalid, unknown, or not allowed; the
/// message is safe to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidTarget(pub String);

/// `resource` values as the edge collected them: the parameter may repeat (RFC 8707 §2), and its
/// values are kept space-separated (an audience never contains a space).
pub fn requested_resources(raw: Option<&str>) -> Vec<&str> {
    raw.map(|value| value.split(' ').filter(|v| !v.is_empty()).collect())
        .unwrap_or_default()
}

/// The APIs an authorization request (or a client-credentials request) covers.
///
/// Each requested `resource` must be a registered API the client may ask for. Every requested scope
/// that belongs to an API must belong to one of them. Without `resource`, the API follows from the
/// requested scopes when they belong to exactly one API, else it is the client's default resource,
/// else none (tokens for the server's default audience).
pub fn resources_for(
    catalog: &Catalog,
    client: &Client,
    requested: &[&str],
    scope: &ScopeSet,
) -> Result<Vec<Audience>, InvalidTarget> {
    let mut resources: Vec<Audience> = Vec::with_capacity(requested.len());
    for raw in requested {
        let api = Audience::parse(raw)
            .ok()
            .and_then(|audience| catalog.api(audience.as_str()))
            .ok_or_else(|| InvalidTarget(format!("unknown resource {}", shown(raw))))?;
        if !client.resources.contains(&api.audience) {
            return Err(InvalidTarget(format!(
                "this client may not ask for the resource {}",
                api.audience
            )));
        }
        if !resources.contains(&api.audience) {
            resources.push(api.audience.clone());
        }
    }
    let mut scope_apis: Vec<&Audience> = Vec::new();
    for name in scope.iter() {
        if let Some(api) = catalog.api_of_scope(name)
            && !scope_apis.contains(&api)
        {
            scope_apis.push(api);
        }
    }
    if resources.is_empty() {
        resources = match (scope_apis.as_slice(), &client.default_resource) {
            ([only], _) => vec![(*only).clone()],
            ([], Some(default)) => vec![default.clone()],
            ([], None) => Vec::new(),
            (_, _) => {
                return Err(InvalidTarget(
                    "the scopes belong to several APIs: name the one wanted with resource".into(),
                ));
            }
        };
    }
    if let Some(other) = scope_apis.iter().find(|api| !resources.contains(api)) {
        return Err(InvalidTarget(format!(
            "a requested scope belongs to another API ({other})"
        )));
    }
    Ok(resources)
}

/// What one access token is issued for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Its `aud`.
    pub audience: String,
    /// The API, when the audience is one.
    pub api: Option<Audience>,
    /// Its lifetime in seconds.
    pub lifetime: i64,
    /// How it is signed.
    pub alg: SigningAlg,
    /// A JWT, or a reference token.
    pub format: TokenFormat,
}

/// RFC 8707 §2.2: the one API an access token is for, among those its grant covers. `requested` (the
/// token request's `resource`, at most one) must be one of them; without it, the first.
pub fn target(
    catalog: &Catalog,
    settings: &Settings,
    covered: &[Audience],
    requested: &[&str],
) -> Result<Target, InvalidTarget> {
    let chosen = match requested {
        [] => covered.first(),
        [one] => Some(
            covered
                .iter()
                .find(|audience| audience.as_str() == *one)
                .ok_or_else(|| {
                    InvalidTarget(format!(
                        "the resource {} is not one this grant covers",
                        shown(one)
                    ))
                })?,
        ),
        _ => {
            return Err(InvalidTarget(
                "an access token is for one resource: send resource once".into(),
            ));
        }
    };
    let default = Target {
        audience: settings.access_token_audience.clone(),
        api: None,
        lifetime: settings.lifetimes.access_token,
        alg: settings.access_token_alg,
        format: TokenFormat::Jwt,
    };
    Ok(
        match chosen.and_then(|audience| catalog.api(audience.as_str())) {
            Some(api) => Target {
                audience: api.audience.to_string(),
                api: Some(api.audience.clone()),
                lifetime: api.access_token_ttl.unwrap_or(default.lifetime),
                alg: api.access_token_alg.unwrap_or(default.alg),
                format: api.token_format,
            },
            None => default,
        },
    )
}

/// The part of a granted scope an access token for `target` carries: the scopes of its API and
/// those of no API (the OIDC scopes); never another API's.
pub fn scope_for(catalog: &Catalog, target: &Target, granted: &ScopeSet) -> ScopeSet {
    granted
        .iter()
        .filter(|name| match catalog.api_of_scope(name) {
            None => true,
            Some(api) => target.api.as_ref() == Some(api),
        })
        .map(str::to_owned)
        .collect()
}

/// Role-based scopes: the part of `scope` the caller is entitled to. A scope of an API created
/// `--rbac` stays only if one of the caller's effective `roles` grants it (a global role, or one of
/// that API); every other scope stays (RFC 6749 §3.3: the token response says what was granted).
/// `Err` (for `invalid_scope`) names an `--rbac` API whose scopes were all dropped.
pub fn entitled_scope(
    catalog: &Catalog,
    scope: &ScopeSet,
    roles: &[RoleName],
) -> Result<ScopeSet, String> {
    let granted_by_roles = |name: &str, api: &Audience| {
        catalog.roles.iter().any(|role| {
            roles.contains(&role.name)
                && role.api.as_ref().is_none_or(|own| own == api)
                && role.scopes.iter().any(|s| s == name)
        })
    };
    let mut kept = Vec::new();
    let mut emptied: Vec<&Audience> = Vec::new();
    let mut served: Vec<&Audience> = Vec::new();
    for name in scope.iter() {
        match catalog
            .api_of_scope(name)
            .and_then(|aud| catalog.api(aud.as_str()))
        {
            Some(api) if api.rbac => {
                if granted_by_roles(name, &api.audience) {
                    kept.push(name.to_owned());
                    served.push(&api.audience);
                } else if !emptied.contains(&&api.audience) {
                    emptied.push(&api.audience);
                }
            }
            _ => kept.push(name.to_owned()),
        }
    }
    if let Some(api) = emptied.iter().find(|api| !served.contains(api)) {
        return Err(format!(
            "no role grants any requested scope of the API {api}"
        ));
    }
    Ok(kept.into_iter().collect())
}

/// Whether `scope` holds a scope of an API created `--rbac` (then the caller's roles decide).
pub fn has_rbac_scope(catalog: &Catalog, scope: &ScopeSet) -> bool {
    scope.iter().any(|name| {
        catalog
            .api_of_scope(name)
            .and_then(|aud| catalog.api(aud.as_str()))
            .is_some_and(|api| api.rbac)
    })
}

/// A requested value quoted for an error description, bounded and printable.
fn shown(raw: &str) -> String {
    let value: String = raw.chars().take(200).collect();
    format!("'{}'", value.escape_default())
}

#[cfg(test)]
#[path = "resource_tests.rs"]
mod tests;
