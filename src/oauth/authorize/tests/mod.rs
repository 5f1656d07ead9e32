//! Table-driven tests of the authorization endpoint's rules, with a fixed `now` and no socket:
//! [`request`] (what a request may ask) and [`next_step`] (sign-in, step-up, consent, errors).

mod next_step;
mod request;

use std::collections::HashMap;

use super::*;
use crate::catalog::Catalog;
use crate::domain::client::ClientSpec;

pub(super) const NOW: i64 = 1_700_000_000;
pub(super) const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

pub(super) fn client_with(spec: ClientSpec) -> Client {
    Client::from_spec(ClientId::parse("app").unwrap(), &spec, 0).unwrap()
}

pub(super) fn web() -> Client {
    client_with(ClientSpec {
        client_name: "Web".into(),
        redirect_uris: vec!["http://127.0.0.1:9000/cb".into()],
        scope: "openid profile".into(),
        auth_method: "client_secret_basic".into(),
        ..ClientSpec::default()
    })
}

pub(super) fn native() -> Client {
    client_with(ClientSpec {
        client_name: "Desktop".into(),
        redirect_uris: vec!["http://127.0.0.1/cb".into(), "com.example.app:/cb".into()],
        scope: "openid profile".into(),
        auth_method: "none".into(),
        application_type: Some("native".into()),
        ..ClientSpec::default()
    })
}

pub(super) fn first_party() -> Client {
    Client {
        skip_consent: true,
        ..web()
    }
}

pub(super) fn service() -> Client {
    Client {
        grant_types: vec![GrantType::ClientCredentials],
        ..web()
    }
}

pub(super) fn request(overrides: &[(&str, &str)]) -> HashMap<String, String> {
    let mut params: HashMap<String, String> = [
        ("response_type", "code"),
        ("client_id", "app"),
        ("redirect_uri", "http://127.0.0.1:9000/cb"),
        ("scope", "openid"),
        ("state", "st"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    for (name, value) in overrides {
        if value.is_empty() {
            params.remove(*name);
        } else {
            params.insert((*name).to_owned(), (*value).to_owned());
        }
    }
    params
}

/// What `validate` answered, as a short string: "ok", "page", or the redirected error code.
pub(super) fn outcome(result: &Result<PendingAuthorization, AuthorizeError>) -> String {
    match result {
        Ok(_) => "ok".into(),
        Err(AuthorizeError::BadClient(_)) => "page".into(),
        Err(AuthorizeError::Redirect { code, .. }) => code.as_str().into(),
        Err(other) => format!("{other:?}"),
    }
}
