//! HTML pages: askama templates from `templates/`, rendered through one wrapper with the page CSP, and
//! `PageError`, the error shown to a person as a page.

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};

use axum::response::{Html, IntoResponse, Response};

use crate::store::StoreError;

/// Pages load only our stylesheet and our one script (`static/passkey.js`, for the WebAuthn API),
/// which may fetch only from us; no inline script or style. No `form-action`: Chromium applies it to
/// the redirect chain after a form post, which ends at the client's redirect URI.
const PAGE_CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; script-src 'self'; \
     connect-src 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The stylesheet, compiled in.
pub const STYLESHEET: &str = include_str!("../../static/style.css");

/// Render `page` with `status`; a template failure is logged and answered with a plain 500.
pub fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => {
            let mut response = (status, Html(html)).into_response();
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(PAGE_CSP),
            );
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(err) => {
            tracing::error!(error = %err, "template failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal server error").into_response()
        }
    }
}

/// The passkey script, compiled in.
pub const PASSKEY_SCRIPT: &str = include_str!("../../static/passkey.js");

/// `GET /static/passkey.js`.
pub async fn passkey_script() -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/javascript; charset=utf-8"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            ),
        ],
        PASSKEY_SCRIPT,
    )
        .into_response()
}

/// `GET /static/style.css`.
pub async fn stylesheet() -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/css; charset=utf-8"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            ),
        ],
        STYLESHEET,
    )
        .into_response()
}

/// The error page (`templates/error.html`).
#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage<'a> {
    /// Heading.
    pub title: &'a str,
    /// What happened and what to do.
    pub message: &'a str,
}

/// A short message page (`templates/message.html`): signed in, signed out.
#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage<'a> {
    /// Heading.
    pub title: &'a str,
    /// Body text.
    pub message: &'a str,
}

/// An error shown to a person as an HTML page (never a redirect): a bad client or redirect URI at
/// `/authorize`, a failed CSRF check, an unavailable store.
#[derive(Debug, Clone)]
pub struct PageError {
    /// HTTP status.
    pub status: StatusCode,
    /// Heading.
    pub title: &'static str,
    /// What happened and what to do, safe to show.
    pub message: String,
    /// Seconds to wait before retrying (429/503).
    pub retry_after: Option<u64>,
}

impl PageError {
    /// 400 with a message.
    pub fn bad_request(title: &'static str, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            title,
            message: message.into(),
            retry_after: None,
        }
    }

    /// 403: a failed CSRF check.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::FORBIDDEN,
            title: "Request refused",
            message: message.into(),
            retry_after: None,
        }
    }

    /// 429 with `Retry-After` for a sign-in, a second factor or a password check refused by the
    /// sign-in throttle (`wait` seconds).
    pub fn too_many_sign_ins(wait: i64) -> Self {
        let minutes = (wait + 59) / 60;
        Self::too_many(
            format!("Too many sign-in attempts. Try again in {minutes} minute(s)."),
            u64::try_from(wait).unwrap_or(60),
        )
    }

    /// 429: too many attempts.
    pub fn too_many(message: impl Into<String>, retry_after: u64) -> Self {
        Self {
            status: StatusCode::TOO_MANY_REQUESTS,
            title: "Too many attempts",
            message: message.into(),
            retry_after: Some(retry_after),
        }
    }

    /// 503: the store is unreachable; log the cause first.
    pub fn unavailable() -> Self {
        Self {
            status: StatusCode::SERVICE_UNAVAILABLE,
            title: "Temporarily unavailable",
            message:
                "The sign-in service is temporarily unavailable. Please try again in a moment."
                    .into(),
            retry_after: Some(1),
        }
    }

    /// 500; log the cause first.
    pub fn internal() -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            title: "Something went wrong",
            message: "An internal error occurred. Please try again.".into(),
            retry_after: None,
        }
    }
}

impl From<StoreError> for PageError {
    fn from(err: StoreError) -> Self {
        crate::error::log_store_error(&err);
        match err {
            StoreError::Unavailable { .. } => Self::unavailable(),
            StoreError::Rejected { .. } => Self::bad_request(
                "Request refused",
                "A value in the request cannot be stored.",
            ),
            _ => Self::internal(),
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let page = ErrorPage {
            title: self.title,
            message: &self.message,
        };
        let mut response = render(self.status, &page);
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}
