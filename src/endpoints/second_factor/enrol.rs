//! Enrolment of the authenticator app: `GET/POST /otp-setup` (a QR code and the secret as text,
//! confirmed by a first code; RFC 6238), the recovery codes shown once, and `POST /otp-continue`
//! to carry on with the sign-in.

use super::*;
use crate::domain::audit::InTransaction;
use crate::domain::mfa::{
    new_recovery_codes, new_totp_secret, otpauth_uri, qr_svg, totp_secret_grouped, totp_step,
};

#[derive(Template)]
#[template(path = "otp_setup.html")]
struct OtpSetupPage<'a> {
    error: Option<&'a str>,
    csrf_token: &'a str,
    /// The QR code, an `<svg>` element made here from the `otpauth://` URI.
    qr_svg: &'a str,
    secret: &'a str,
    account: &'a str,
    /// Started from the account page, not a sign-in.
    from_account: bool,
    /// Passkeys can be used here (the issuer's host is a domain): offer one instead.
    passkeys_available: bool,
}

#[derive(Template)]
#[template(path = "recovery_codes.html")]
struct RecoveryCodesPage<'a> {
    codes: &'a [String],
    csrf_token: &'a str,
}

/// The CSRF-only form of "Continue".
#[derive(Deserialize)]
pub struct ContinueForm {
    csrf_token: Option<String>,
}

/// How long an enrolment's secret is shown again on a reload before a new one is made.
const ENROLMENT_TTL: i64 = 10 * 60;

/// `GET /otp-setup`: a new secret for a signed-in user without a confirmed factor.
pub async fn setup_page(State(state): State<AppState>, session: BrowserSession) -> Response {
    show_setup(&state, &session)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn show_setup(state: &AppState, session: &BrowserSession) -> Result<Response, PageError> {
    let (signed_in, user) = match signed_in_user(state, session).await? {
        Ok(found) => found,
        Err(to_login) => return Ok(to_login),
    };
    // A user with a factor proves it before adding another.
    if !may_enrol(state, &signed_in, &user.user_id).await? {
        return Ok(Redirect::to(&state.settings.issuer.endpoint(OTP_PATH)).into_response());
    }
    let now = state.clock.now();
    // A reload shows the secret being enrolled (the user may have scanned it already), for a while.
    let enrolling = state
        .store
        .find_totp(&user.user_id)
        .await?
        .filter(|f| f.confirmed_at.is_none() && now - f.created_at < ENROLMENT_TTL);
    if let Some(factor) = enrolling {
        let secret = open_secret(state, &factor)?;
        return setup_form(state, session, &user, secret.expose_secret(), None).await;
    }
    let secret = new_totp_secret();
    let sealed = state
        .keys
        .kek()
        .seal_totp_secret(&user.user_id, &secret)
        .map_err(|err| {
            tracing::error!(error = %err, "cannot seal a TOTP secret");
            PageError::internal()
        })?;
    // A confirmed factor is never replaced here: the user goes to the code form instead.
    if !state.store.begin_totp(&user.user_id, &sealed, now).await? {
        return Ok(Redirect::to(&state.settings.issuer.endpoint(OTP_PATH)).into_response());
    }
    setup_form(state, session, &user, &secret, None).await
}

/// The enrolment page for `secret`: its QR code (the `otpauth://` URI, labelled with the issuer's
/// host and the username) and its text, and the form for the first code.
async fn setup_form(
    state: &AppState,
    session: &BrowserSession,
    user: &User,
    secret: &[u8],
    error: Option<&str>,
) -> Result<Response, PageError> {
    let label = url::Url::parse(state.settings.issuer.as_str())
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| "Latchkey".to_owned());
    let uri = otpauth_uri(&label, &user.username, secret);
    let qr = qr_svg(&uri).ok_or_else(PageError::internal)?;
    let page = OtpSetupPage {
        error,
        csrf_token: &session.csrf_token().await?,
        qr_svg: &qr,
        secret: &totp_secret_grouped(secret),
        account: &user.username,
        from_account: session.pending_account().await?,
        passkeys_available: RelyingParty::of(state.settings.issuer.as_str()).is_some(),
    };
    Ok(render(StatusCode::OK, &page))
}

/// `POST /otp-setup`: the first code confirms the factor; the recovery codes are shown once.
pub async fn setup_submit(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    session: BrowserSession,
    Form(form): Form<CodeForm>,
) -> Response {
    confirm(&state, &session, peer, form)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn confirm(
    state: &AppState,
    session: &BrowserSession,
    peer: SocketAddr,
    form: CodeForm,
) -> Result<Response, PageError> {
    let CodeAttempt {
        signed_in,
        user,
        factor,
        attempt,
        now,
    } = match code_attempt(state, session, peer, &form, Stage::Enrolling).await? {
        Ok(ready) => ready,
        Err(elsewhere) => return Ok(elsewhere),
    };
    let Some(factor) = factor else {
        return Ok(Redirect::to(&state.settings.issuer.endpoint(OTP_PATH)).into_response());
    };
    let secret = open_secret(state, &factor)?;
    let (codes, hashes) = new_recovery_codes();
    // The enrolment and its audit event commit together.
    let event = AuditEvent::new(
        EventType::SecondFactorEnrolled,
        now,
        format!("user:{}", user.user_id),
    )
    .user(user.user_id.to_string())
    .detail(json!({ "factor": "totp", "address": peer.ip().to_string() }));
    let confirmed = match totp_step(secret.expose_secret(), &form.code, now) {
        Some(step) => {
            state
                .store
                .confirm_totp(
                    &user.user_id,
                    step,
                    &hashes,
                    now,
                    InTransaction::done(&event),
                )
                .await?
        }
        None => false,
    };
    if !confirmed {
        // The same secret stays: the page shows it again rather than a new one.
        return setup_form(state, session, &user, secret.expose_secret(), Some(WRONG)).await;
    }
    if let Err(err) = attempt.succeeded(state.store.as_ref()).await {
        tracing::warn!(error = %err, "could not give back a successful sign-in attempt");
    }
    audit::log(&event);
    // The user just proved the factor: the session is now a two-factor one.
    with_factor(state, session, signed_in, Method::Otp).await?;
    recovery_codes_page(session, &codes).await
}

/// The new recovery codes, shown once, and "Continue".
pub(in crate::endpoints) async fn recovery_codes_page(
    session: &BrowserSession,
    codes: &[String],
) -> Result<Response, PageError> {
    let page = RecoveryCodesPage {
        codes,
        csrf_token: &session.csrf_token().await?,
    };
    Ok(render(StatusCode::OK, &page))
}

/// `POST /otp-continue`: after the recovery codes, carry on with the sign-in.
pub async fn continue_submit(
    State(state): State<AppState>,
    session: BrowserSession,
    Form(form): Form<ContinueForm>,
) -> Response {
    continue_sign_in(&state, &session, form)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn continue_sign_in(
    state: &AppState,
    session: &BrowserSession,
    form: ContinueForm,
) -> Result<Response, PageError> {
    session.check_csrf(form.csrf_token.as_deref()).await?;
    let Some(signed_in) = crate::endpoints::authorize::signed_in(session).await? else {
        return Ok(Redirect::to(&state.settings.issuer.endpoint(LOGIN_PATH)).into_response());
    };
    carry_on(state, session, signed_in).await
}
