//! `GET/POST /consent`: the user allows or denies the client the requested scopes (remembered per
//! user and client; first-party clients never show it).

use askama::Template;
use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::authorize::{Outcome, PendingAuthorization, error_redirect, no_pending_request, resume};
use super::page::PageError;
use super::page::render;
use super::session::BrowserSession;
use crate::domain::scope::ScopeSet;
use crate::error::ErrorCode;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "consent.html")]
struct ConsentPage<'a> {
    client_name: &'a str,
    scopes: Vec<(String, String)>,
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
        Some(signed_in) => state.store.find_user(&signed_in.user_id).await?,
        None => None,
    };
    let (Some(user), Some(client)) = (user, state.store.find_client(&pending.client_id).await?)
    else {
        return Ok(resume(state, session, pending).await?.into_response(state));
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
    let page = ConsentPage {
        client_name: &client.client_name,
        scopes,
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
    let Some(mut pending) = session.pending::<PendingAuthorization>().await? else {
        return Ok(no_pending_request());
    };
    if form.request_id.as_deref() != Some(pending.id.as_str()) {
        return Ok(no_pending_request());
    }
    let Some(signed_in) = session.signed_in().await? else {
        return Ok(resume(state, session, pending).await?.into_response(state));
    };
    match form.decision.as_deref() {
        Some("allow") => {
            let mut granted: Vec<String> = state
                .store
                .find_consent(&signed_in.user_id, &pending.client_id)
                .await?
                .map(|s| {
                    s.split(' ')
                        .filter(|t| !t.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default();
            granted.extend(pending.scope.split(' ').map(str::to_owned));
            let granted: ScopeSet = granted.into_iter().collect();
            state
                .store
                .save_consent(
                    &signed_in.user_id,
                    &pending.client_id,
                    &granted.to_string(),
                    state.clock.now(),
                )
                .await?;
            pending.consented = true;
            Ok(resume(state, session, pending).await?.into_response(state))
        }
        Some("deny") => {
            session.clear_pending().await?;
            // RFC 6749 §4.1.2.1: the resource owner denied the request.
            let outcome: Outcome = error_redirect(
                state,
                &pending,
                ErrorCode::AccessDenied,
                "the user denied access",
            );
            Ok(outcome.into_response(state))
        }
        _ => Err(PageError::bad_request(
            "Invalid form",
            "Choose Allow or Deny.",
        )),
    }
}
