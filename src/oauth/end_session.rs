//! RP-Initiated Logout (OIDC RP-Initiated Logout 1.0 §2–§3, §6): sign the user out and return to a
//! registered `post_logout_redirect_uri`. A user is signed out without being asked only on a current
//! `id_token_hint` of that very user; anything else (no hint, a stale or unverifiable one, another
//! user's) asks for confirmation, so a third-party page cannot sign anyone out silently.

use super::{Context, Params};
use crate::domain::client::ClientId;
use crate::store::StoreError;
use crate::tokens::{IdTokenHint, check_id_token_hint};

/// What the logout request asks for, once checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Logout {
    /// Sign the user out now, then go to `redirect` (already carrying `state`) or show the
    /// signed-out page.
    SignOut {
        /// Where to send the browser afterwards.
        redirect: Option<String>,
    },
    /// Ask the user first (the form posts back with its CSRF token).
    Confirm {
        /// The client, if named.
        client_id: Option<String>,
        /// The checked post-logout redirect URI.
        post_logout_redirect_uri: Option<String>,
        /// The client's state.
        state: Option<String>,
    },
    /// Nobody is signed in and there is nowhere to return to.
    NothingToDo,
}

/// Why a logout request was refused (shown as a page, never redirected).
#[derive(Debug)]
pub enum LogoutError {
    /// The request is inconsistent; the message is safe to show.
    BadRequest(&'static str),
    /// The store failed.
    Store(StoreError),
}

impl From<StoreError> for LogoutError {
    fn from(err: StoreError) -> Self {
        Self::Store(err)
    }
}

fn with_state(uri: &str, state: Option<&str>) -> String {
    match (url::Url::parse(uri), state) {
        (Ok(mut url), Some(state)) => {
            url.query_pairs_mut().append_pair("state", state);
            url.to_string()
        }
        _ => uri.to_owned(),
    }
}

/// §6: a user is signed out without being asked only on a current hint of that very user (or when
/// nobody is signed in, so there is nothing to lose).
fn proves_the_session(hint: &IdTokenHint, signed_in: Option<&str>) -> bool {
    match (hint, signed_in) {
        (IdTokenHint::Current(claims), Some(user)) => claims.sub == user,
        (IdTokenHint::Current(_), None) => true,
        _ => false,
    }
}

/// Decide a logout request. `signed_in` is the browser session's user; `confirmed` is set when the
/// user submitted the confirmation form (its CSRF token already checked).
pub async fn end_session(
    ctx: &Context<'_>,
    params: &Params,
    signed_in: Option<&str>,
    confirmed: bool,
) -> Result<Logout, LogoutError> {
    let get = |name: &str| {
        params
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    };
    let hint = match get("id_token_hint") {
        Some(token) => check_id_token_hint(ctx.keys, ctx.settings, token, ctx.now),
        None => IdTokenHint::Unverifiable,
    };
    let hint_claims = match &hint {
        IdTokenHint::Current(claims) | IdTokenHint::Stale(claims) => Some(claims),
        IdTokenHint::Unverifiable => None,
    };
    // §2: client_id, when sent with a hint, must be the hint's audience.
    let client_id = match (get("client_id"), hint_claims) {
        (Some(id), Some(claims)) if id != claims.aud => {
            return Err(LogoutError::BadRequest(
                "client_id does not match the id_token_hint.",
            ));
        }
        (Some(id), _) => Some(id.to_owned()),
        (None, Some(claims)) => Some(claims.aud.clone()),
        (None, None) => None,
    };
    // §3: only a post_logout_redirect_uri registered for the client is ever redirected to.
    let redirect = match (get("post_logout_redirect_uri"), &client_id) {
        (Some(uri), Some(client_id)) => {
            let client = match ClientId::parse(client_id) {
                Ok(id) => ctx.clients.find(ctx.store, &id, ctx.now).await?,
                Err(_) => None,
            };
            let registered = client.is_some_and(|c| {
                c.post_logout_redirect_uris
                    .iter()
                    .any(|r| r.as_str() == uri)
            });
            if !registered {
                return Err(LogoutError::BadRequest(
                    "The post_logout_redirect_uri is not registered for this application.",
                ));
            }
            Some(uri.to_owned())
        }
        (Some(_), None) => {
            return Err(LogoutError::BadRequest(
                "post_logout_redirect_uri needs an id_token_hint or client_id.",
            ));
        }
        (None, _) => None,
    };
    if confirmed || proves_the_session(&hint, signed_in) {
        return Ok(Logout::SignOut {
            redirect: redirect.map(|uri| with_state(&uri, get("state"))),
        });
    }
    if signed_in.is_none() && redirect.is_none() {
        return Ok(Logout::NothingToDo);
    }
    Ok(Logout::Confirm {
        client_id,
        post_logout_redirect_uri: redirect,
        state: get("state").map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::claims::{IdTokenClaims, StandardClaims};

    fn claims(sub: &str) -> IdTokenClaims {
        IdTokenClaims {
            sid: None,
            iss: "https://id.example.com".into(),
            sub: sub.into(),
            aud: "app".into(),
            exp: 0,
            iat: 0,
            auth_time: 0,
            acr: None,
            amr: None,
            nonce: None,
            at_hash: None,
            azp: "app".into(),
            standard: StandardClaims::default(),
            authorization: Default::default(),
        }
    }

    #[test]
    fn only_a_current_hint_of_the_signed_in_user_signs_out_silently() {
        let current = |sub: &str| IdTokenHint::Current(claims(sub));
        let cases = [
            (
                "RP-Initiated Logout §2 the signed-in user's current hint",
                current("alice"),
                Some("alice"),
                true,
            ),
            (
                "§2 another user's hint",
                current("bob"),
                Some("alice"),
                false,
            ),
            (
                "§6 an expired or retired-key hint",
                IdTokenHint::Stale(claims("alice")),
                Some("alice"),
                false,
            ),
            (
                "§6 an unverifiable hint",
                IdTokenHint::Unverifiable,
                Some("alice"),
                false,
            ),
            (
                "nobody signed in: nothing to lose",
                current("alice"),
                None,
                true,
            ),
        ];
        for (case, hint, signed_in, expected) in cases {
            assert_eq!(proves_the_session(&hint, signed_in), expected, "{case}");
        }
    }
}
