//! `GET/POST /end_session` (OIDC RP-Initiated Logout 1.0 §2–§3): the decision is `oauth::end_session`;
//! this file reads the session, renders the confirmation page, and signs out.
//!
//! An RP-initiated POST (no CSRF token) is answered with a redirect to the same request as a GET: a
//! cross-site POST arrives without the `SameSite=Lax` session cookie, and answering it directly would
//! set a fresh anonymous session cookie over the signed-in user's.

use askama::Template;
use axum::extract::{Form, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use super::page::{MessagePage, PageError, render};
use super::session::BrowserSession;
use crate::oauth::Params;
use crate::oauth::backchannel_logout::session_ended;
use crate::oauth::end_session::{Logout, LogoutError, end_session};
use crate::paths::END_SESSION_PATH;
use crate::state::AppState;

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
    let params: Params = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect();
    answer(&state, &session, params, false)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

/// `POST /end_session`: the user's confirmation (with its CSRF token), or an RP-initiated request
/// with form-serialised parameters (re-issued as a GET, see the module comment).
pub async fn end_session_post(
    State(state): State<AppState>,
    session: BrowserSession,
    Form(params): Form<Params>,
) -> Response {
    let Some(token) = params.get("csrf_token") else {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params.iter())
            .finish();
        let location = state.settings.issuer.endpoint(END_SESSION_PATH);
        return Redirect::to(&format!("{location}?{query}")).into_response();
    };
    if let Err(err) = session.check_csrf(Some(token)).await {
        return err.into_response();
    }
    answer(&state, &session, params, true)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn answer(
    state: &AppState,
    session: &BrowserSession,
    params: Params,
    confirmed: bool,
) -> Result<Response, PageError> {
    let signed_in = session.signed_in().await?;
    let ctx = state.context(state.clock.now());
    let user = signed_in.as_ref().map(|s| s.user_id.as_str());
    match end_session(&ctx, &params, user, confirmed).await {
        Ok(Logout::SignOut { redirect }) => {
            if let Some(user_id) = user {
                tracing::info!(%user_id, "user signed out");
            }
            // OIDC Back-Channel Logout §2.7: the clients this session signed in to are told, by the
            // deliverer (never while this request waits).
            let sid = signed_in.as_ref().and_then(|s| s.sid.as_deref());
            let queued = session_ended(&ctx, sid).await?;
            session.sign_out().await?;
            if queued > 0 {
                state.logouts.wake();
            }
            Ok(match redirect {
                Some(uri) => Redirect::to(&uri).into_response(),
                None => signed_out(),
            })
        }
        Ok(Logout::NothingToDo) => Ok(signed_out()),
        Ok(Logout::Confirm {
            client_id,
            post_logout_redirect_uri,
            state: client_state,
        }) => {
            let page = ConfirmPage {
                csrf_token: &session.csrf_token().await?,
                client_id: client_id.as_deref(),
                post_logout_redirect_uri: post_logout_redirect_uri.as_deref(),
                state: client_state.as_deref(),
            };
            Ok(render(StatusCode::OK, &page))
        }
        Err(LogoutError::BadRequest(message)) => {
            Err(PageError::bad_request("Sign-out failed", message))
        }
        Err(LogoutError::Store(err)) => Err(err.into()),
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
