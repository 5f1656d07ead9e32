//! `GET/POST /end_session` (OIDC RP-Initiated Logout 1.0 §2–§3): end the Latchkey session and return
//! to a registered `post_logout_redirect_uri`. Without a valid `id_token_hint` the user confirms first,
//! so a third-party page cannot sign them out silently.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Form, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use super::page::PageError;
use super::page::{MessagePage, render};
use super::session::BrowserSession;
use crate::state::AppState;
use crate::tokens::verify_id_token_hint;

#[derive(Template)]
#[template(path = "logout.html")]
struct ConfirmPage<'a> {
    csrf_token: &'a str,
    client_id: Option<&'a str>,
    post_logout_redirect_uri: Option<&'a str>,
    state: Option<&'a str>,
}

/// `GET /end_session`.
pub async fn end_session_get(
    State(state): State<AppState>,
    session: BrowserSession,
    RawQuery(query): RawQuery,
) -> Response {
    let params: HashMap<String, String> =
        url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    end_session(&state, &session, params, false)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

/// `POST /end_session`: RP-initiated (form-serialised parameters) or the user's confirmation.
pub async fn end_session_post(
    State(state): State<AppState>,
    session: BrowserSession,
    Form(params): Form<HashMap<String, String>>,
) -> Response {
    let confirmed = match params.get("csrf_token") {
        Some(token) => match session.check_csrf(Some(token)).await {
            Ok(()) => true,
            Err(err) => return err.into_response(),
        },
        None => false,
    };
    end_session(&state, &session, params, confirmed)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn end_session(
    state: &AppState,
    session: &BrowserSession,
    params: HashMap<String, String>,
    confirmed: bool,
) -> Result<Response, PageError> {
    let get = |name: &str| {
        params
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    };
    let hint = match get("id_token_hint") {
        Some(token) => Some(
            verify_id_token_hint(&state.keys, &state.settings, token).map_err(|_| {
                PageError::bad_request(
                    "Sign-out failed",
                    "The id_token_hint is not a valid ID token from this server.",
                )
            })?,
        ),
        None => None,
    };
    // §2: client_id, when sent with a hint, must be the hint's audience.
    let client_id = match (get("client_id"), &hint) {
        (Some(id), Some(claims)) if id != claims.aud => {
            return Err(PageError::bad_request(
                "Sign-out failed",
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
            let client = match crate::domain::client::ClientId::parse(client_id) {
                Ok(id) => state.store.find_client(&id).await?,
                Err(_) => None,
            };
            let registered = client.is_some_and(|c| {
                c.post_logout_redirect_uris
                    .iter()
                    .any(|r| r.as_str() == uri)
            });
            if !registered {
                return Err(PageError::bad_request(
                    "Sign-out failed",
                    "The post_logout_redirect_uri is not registered for this application.",
                ));
            }
            Some(uri.to_owned())
        }
        (Some(_), None) => {
            return Err(PageError::bad_request(
                "Sign-out failed",
                "post_logout_redirect_uri needs an id_token_hint or client_id.",
            ));
        }
        (None, _) => None,
    };

    // Logout CSRF: without a hint proving which session the client holds, ask the user.
    if hint.is_none() && !confirmed {
        if session.signed_in().await?.is_none() && redirect.is_none() {
            return Ok(signed_out());
        }
        let page = ConfirmPage {
            csrf_token: &session.csrf_token().await?,
            client_id: client_id.as_deref(),
            post_logout_redirect_uri: redirect.as_deref(),
            state: get("state"),
        };
        return Ok(render(StatusCode::OK, &page));
    }
    if let Some(signed_in) = session.signed_in().await? {
        tracing::info!(user_id = %signed_in.user_id, "user signed out");
    }
    session.sign_out().await?;
    match redirect {
        Some(uri) => Ok(Redirect::to(&with_state(&uri, get("state"))).into_response()),
        None => Ok(signed_out()),
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

fn signed_out() -> Response {
    render(
        StatusCode::OK,
        &MessagePage {
            title: "Signed out",
            message: "You have been signed out. You can close this page.",
        },
    )
}
