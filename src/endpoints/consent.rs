//! `GET/POST /consent`: the user allows or denies the client the requested scopes and the claims
//! it asked for one by one (remembered per user and client, as the scopes that release them;
//! first-party clients never show it; native public clients always do).

use askama::Template;
use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::authorize::{client_of, no_pending_request, respond, signed_in};
use super::page::{PageError, render};
use super::session::BrowserSession;
use crate::domain::claims_request::{ClaimsRequest, describe, scope_of};
use crate::domain::scope::ScopeSet;
use crate::oauth::authorize::{PendingAuthorization, decide_consent, resume};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "consent.html")]
struct ConsentPage<'a> {
    client_name: &'a str,
    scopes: Vec<(String, String)>,
    claims: Vec<(String, &'static str)>,
    username: &'a str,
    csrf_token: &'a str,
    request_id: &'a str,
}

/// `GET /consent`.
pub async fn consent_page(State(state): State<AppState>, session: BrowserSession) -> Response {
    show(&state, &session)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn show(state: &AppState, session: &BrowserSession) -> Result<Response, PageError> {
    let Some(pending) = session.pending::<PendingAuthorization>().await? else {
        return Ok(no_pending_request());
    };
    let user = match session.signed_in().await? {
        Some(signed_in) => {
            let user_id = crate::domain::user::UserId::from_stored(signed_in.user_id);
            state.store.find_user(&user_id).await?
        }
        None => None,
    };
    let (Some(user), Some(client)) = (user, client_of(state, &pending).await?) else {
        let ctx = state.context(state.clock.now());
        let outcome = resume(&ctx, pending, signed_in(session).await?).await;
        return Ok(respond(state, session, outcome).await);
    };
    let known = state.store.list_scopes().await?;
    let requested = ScopeSet::parse(&pending.scope).unwrap_or_default();
    let scopes = requested
        .iter()
        .map(|name| {
            let description = known
                .iter()
                .find(|s| s.name == name)
                .map(|s| s.description.clone())
                .unwrap_or_else(|| name.to_owned());
            (name.to_owned(), description)
        })
        .collect();
    // OIDC Core §5.5: claims asked for one by one are shown too, unless a requested scope
    // already releases them, so the user sees everything that would be released.
    let claims = pending
        .claims
        .iter()
        .flat_map(ClaimsRequest::released_claims)
        .filter(|claim| scope_of(claim).is_none_or(|scope| !requested.contains(scope)))
        .map(|claim| (claim.to_owned(), describe(claim)))
        .collect();
    let page = ConsentPage {
        client_name: &client.client_name,
        scopes,
        claims,
        username: &user.username,
        csrf_token: &session.csrf_token().await?,
        request_id: &pending.id,
    };
    Ok(render(StatusCode::OK, &page))
}

/// The consent form.
#[derive(Deserialize)]
pub struct ConsentForm {
    csrf_token: Option<String>,
    request_id: Option<String>,
    decision: Option<String>,
}

/// `POST /consent`.
pub async fn consent_submit(
    State(state): State<AppState>,
    session: BrowserSession,
    Form(form): Form<ConsentForm>,
) -> Response {
    decide(&state, &session, form)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn decide(
    state: &AppState,
    session: &BrowserSession,
    form: ConsentForm,
) -> Result<Response, PageError> {
    session.check_csrf(form.csrf_token.as_deref()).await?;
    let Some(pending) = session.pending::<PendingAuthorization>().await? else {
        return Ok(no_pending_request());
    };
    if form.request_id.as_deref() != Some(pending.id.as_str()) {
        return Ok(no_pending_request());
    }
    let allow = match form.decision.as_deref() {
        Some("allow") => true,
        Some("deny") => false,
        _ => {
            return Err(PageError::bad_request(
                "Invalid form",
                "Choose Allow or Deny.",
            ));
        }
    };
    let ctx = state.context(state.clock.now());
    let outcome = match signed_in(session).await? {
        Some(user) => decide_consent(&ctx, pending, user, allow).await,
        None => resume(&ctx, pending, None).await,
    };
    Ok(respond(state, session, outcome).await)
}
