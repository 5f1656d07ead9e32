//! What follows a valid request: sign-in, step-up (RFC 9470), consent, and errors redirected.

use super::*;

fn pending(client: &Client, overrides: &[(&str, &str)]) -> PendingAuthorization {
    let mut params = request(overrides);
    if client.is_native_public() {
        params.insert("redirect_uri".into(), "http://127.0.0.1:5000/cb".into());
    }
    validate(client, &Catalog::default(), &params, None, NOW).unwrap()
}

fn alice(auth_time: i64) -> SignIn {
    SignIn {
        sid: None,
        user_id: UserId::from_stored("alice".into()),
        auth_time,
        authentication: crate::domain::authn::Authentication::password(),
    }
}

fn step(result: &Result<Step, AuthorizeError>) -> String {
    match result {
        Ok(step) => format!("{step:?}"),
        Err(AuthorizeError::Redirect { code, .. }) => code.as_str().into(),
        Err(other) => format!("{other:?}"),
    }
}

#[test]
#[allow(clippy::type_complexity)] // a table: one row per rule
fn next_step_rules() {
    let openid = ScopeSet::parse("openid").unwrap();
    let other = ScopeSet::parse("profile").unwrap();
    let base = pending(&web(), &[]);
    let consented_by = |user: &str| PendingAuthorization {
        consented_by: Some(user.into()),
        ..base.clone()
    };
    let max_age_0 = pending(&web(), &[("max_age", "0")]);
    let prompt_login = pending(&web(), &[("prompt", "login")]);
    let prompt_none = pending(&web(), &[("prompt", "none")]);
    let prompt_consent = pending(&web(), &[("prompt", "consent")]);
    let native_none = pending(&native(), &[("prompt", "none")]);
    let signed_in_for_this = |p: &PendingAuthorization| p.clone().signed_in_as("alice");
    // (case, pending, client, signed in, remembered consent, now, expected)
    let cases: Vec<(
        &str,
        PendingAuthorization,
        Client,
        Option<SignIn>,
        Option<&ScopeSet>,
        i64,
        &str,
    )> = vec![
        (
            "not signed in: the login page",
            base.clone(),
            web(),
            None,
            None,
            NOW,
            "Login",
        ),
        (
            "OIDC Core §3.1.2.6 prompt=none and not signed in",
            prompt_none.clone(),
            web(),
            None,
            None,
            NOW,
            "login_required",
        ),
        (
            "signed in, consent remembered: a code",
            base.clone(),
            web(),
            Some(alice(NOW - 60)),
            Some(&openid),
            NOW,
            "IssueCode",
        ),
        (
            "signed in, first-party client: a code",
            base.clone(),
            first_party(),
            Some(alice(NOW - 60)),
            None,
            NOW,
            "IssueCode",
        ),
        (
            "remembered consent does not cover the request",
            base.clone(),
            web(),
            Some(alice(NOW)),
            Some(&other),
            NOW,
            "Consent",
        ),
        (
            "OIDC Core §3.1.2.1 prompt=consent asks again",
            prompt_consent,
            web(),
            Some(alice(NOW)),
            Some(&openid),
            NOW,
            "Consent",
        ),
        (
            "OIDC Core §3.1.2.6 prompt=none and consent needed",
            prompt_none.clone(),
            web(),
            Some(alice(NOW)),
            None,
            NOW,
            "consent_required",
        ),
        (
            "prompt=none, signed in and consented: silent code",
            prompt_none,
            web(),
            Some(alice(NOW)),
            Some(&openid),
            NOW,
            "IssueCode",
        ),
        (
            "RFC 8252 §8.6 a native public client always asks",
            pending(&native(), &[]),
            native(),
            Some(alice(NOW)),
            Some(&openid),
            NOW,
            "Consent",
        ),
        (
            "RFC 8252 §8.6 and prompt=none is consent_required",
            native_none,
            native(),
            Some(alice(NOW)),
            Some(&openid),
            NOW,
            "consent_required",
        ),
        (
            "consent given on the page for this request",
            consented_by("alice"),
            web(),
            Some(alice(NOW)),
            None,
            NOW,
            "IssueCode",
        ),
        (
            "a consent given by another user does not count",
            consented_by("mallory"),
            web(),
            Some(alice(NOW)),
            None,
            NOW,
            "Consent",
        ),
        (
            "OIDC Core §3.1.2.1 max_age=0 and an older sign-in",
            max_age_0.clone(),
            web(),
            Some(alice(NOW - 1)),
            Some(&openid),
            NOW,
            "Login",
        ),
        (
            "max_age=0 satisfied by a sign-in for this request, however slow",
            signed_in_for_this(&max_age_0),
            web(),
            Some(alice(NOW - 5)),
            Some(&openid),
            NOW,
            "IssueCode",
        ),
        (
            "OIDC Core §3.1.2.1 prompt=login re-authenticates",
            prompt_login.clone(),
            web(),
            Some(alice(NOW)),
            Some(&openid),
            NOW,
            "Login",
        ),
        (
            "prompt=login satisfied by this request's sign-in",
            signed_in_for_this(&prompt_login),
            web(),
            Some(alice(NOW)),
            Some(&openid),
            NOW,
            "IssueCode",
        ),
        (
            "a sign-in for this request by someone else does not count",
            prompt_login.clone().signed_in_as("mallory"),
            web(),
            Some(alice(NOW)),
            Some(&openid),
            NOW,
            "Login",
        ),
        (
            "a pending request expires after ten minutes",
            base.clone(),
            web(),
            Some(alice(NOW)),
            Some(&openid),
            NOW + PENDING_TTL + 1,
            "NothingPending",
        ),
        (
            "a client that lost the code grant mid-flow",
            base.clone(),
            service(),
            Some(alice(NOW)),
            Some(&openid),
            NOW,
            "unauthorized_client",
        ),
    ];
    for (case, pending, client, signed_in, remembered, now, expected) in cases {
        let required = required_acr(&pending, false);
        let result = next_step(
            &pending,
            &client,
            signed_in.as_ref(),
            required,
            remembered,
            now,
        );
        assert_eq!(step(&result), expected, "{case}");
    }
}

#[test]
#[allow(clippy::type_complexity)] // a table: one row per rule
fn a_sign_in_weaker_than_asked_is_stepped_up() {
    use crate::domain::authn::{ACR_MFA, ACR_PWD, Method};
    let openid = ScopeSet::parse("openid").unwrap();
    let with_otp = SignIn {
        authentication: Authentication::password().with(Method::Otp),
        ..alice(NOW)
    };
    let mfa_first = format!("{ACR_MFA} {ACR_PWD}");
    let unknown_first = format!("urn:example:gold {ACR_MFA}");
    // (case, acr_values, prompt, --require-mfa, sign-in, expected step, expected acr asked)
    let cases: [(&str, &str, &str, bool, SignIn, &str, Option<&str>); 9] = [
        (
            "no acr_values: a password will do",
            "",
            "",
            false,
            alice(NOW),
            "IssueCode",
            None,
        ),
        (
            "asked for pwd",
            ACR_PWD,
            "",
            false,
            alice(NOW),
            "IssueCode",
            Some(ACR_PWD),
        ),
        (
            "asked for mfa: the second factor",
            ACR_MFA,
            "",
            false,
            alice(NOW),
            "SecondFactor",
            Some(ACR_MFA),
        ),
        (
            "the first value counts",
            &mfa_first,
            "",
            false,
            alice(NOW),
            "SecondFactor",
            Some(ACR_MFA),
        ),
        (
            "unknown values are skipped",
            &unknown_first,
            "",
            false,
            alice(NOW),
            "SecondFactor",
            Some(ACR_MFA),
        ),
        (
            "an mfa sign-in satisfies mfa",
            ACR_MFA,
            "",
            false,
            with_otp.clone(),
            "IssueCode",
            Some(ACR_MFA),
        ),
        (
            "an mfa sign-in satisfies pwd",
            ACR_PWD,
            "",
            false,
            with_otp,
            "IssueCode",
            Some(ACR_PWD),
        ),
        (
            "--require-mfa asks everyone",
            "",
            "",
            true,
            alice(NOW),
            "SecondFactor",
            None,
        ),
        (
            "OIDC Core §3.1.2.6 prompt=none",
            ACR_MFA,
            "none",
            false,
            alice(NOW),
            "interaction_required",
            Some(ACR_MFA),
        ),
    ];
    for (case, acr_values, prompt, require_mfa, signed_in, expected, asked) in cases {
        let mut overrides = vec![];
        if !acr_values.is_empty() {
            overrides.push(("acr_values", acr_values));
        }
        if !prompt.is_empty() {
            overrides.push(("prompt", prompt));
        }
        let pending = pending(&web(), &overrides);
        assert_eq!(pending.acr.as_deref(), asked, "{case}");
        let required = required_acr(&pending, require_mfa);
        let result = next_step(
            &pending,
            &web(),
            Some(&signed_in),
            required,
            Some(&openid),
            NOW,
        );
        assert_eq!(step(&result), expected, "{case}");
    }
    let malformed = request(&[("acr_values", "a\u{1}b")]);
    let refused = validate(&web(), &Catalog::default(), &malformed, None, NOW).map(|_| ());
    assert!(
        matches!(
            refused,
            Err(AuthorizeError::Redirect {
                code: ErrorCode::InvalidRequest,
                ..
            })
        ),
        "control characters in acr_values"
    );
}

#[test]
fn signing_in_as_someone_else_drops_the_previous_consent() {
    let consented = PendingAuthorization {
        consented_by: Some("mallory".into()),
        ..pending(&web(), &[])
    };
    let after = consented.signed_in_as("alice");
    assert_eq!(after.consented_by, None);
    assert_eq!(after.authenticated_as.as_deref(), Some("alice"));
    let same = PendingAuthorization {
        consented_by: Some("alice".into()),
        ..pending(&web(), &[])
    }
    .signed_in_as("alice");
    assert_eq!(same.consented_by.as_deref(), Some("alice"));
}

#[test]
fn errors_are_redirected_with_state_and_iss() {
    let err = pending(&web(), &[]).fail(ErrorCode::AccessDenied, "no");
    let location = error_location(&err, "https://id.example.com").unwrap();
    assert_eq!(
        location,
        "http://127.0.0.1:9000/cb?error=access_denied&error_description=no&state=st&iss=https%3A%2F%2Fid.example.com"
    );
    assert_eq!(error_location(&AuthorizeError::NothingPending, "x"), None);
}

#[test]
#[allow(clippy::type_complexity)] // a table: one row per rule
fn the_claims_parameter_sets_the_level_and_needs_consent() {
    use crate::domain::authn::{ACR_MFA, ACR_PWD, Method};
    let with_otp = SignIn {
        authentication: Authentication::password().with(Method::Otp),
        ..alice(NOW)
    };
    let essential = |values: &str| {
        format!(r#"{{"id_token":{{"acr":{{"essential":true,"values":[{values}]}}}}}}"#)
    };
    let (mfa, pwd) = (format!("\"{ACR_MFA}\""), format!("\"{ACR_PWD}\""));
    let openid = ScopeSet::parse("openid").unwrap();
    let openid_profile = ScopeSet::parse("openid profile").unwrap();
    // (case, claims, acr_values, prompt, sign-in, remembered, expected step or error)
    let cases: Vec<(&str, String, &str, &str, SignIn, &ScopeSet, &str)> = vec![
        (
            "OIDC Core §5.5.1.1 essential acr mfa: the second factor",
            essential(&mfa),
            "",
            "",
            alice(NOW),
            &openid,
            "SecondFactor",
        ),
        (
            "§5.5.1.1 essential acr mfa, met",
            essential(&mfa),
            "",
            "",
            with_otp.clone(),
            &openid,
            "IssueCode",
        ),
        (
            "§5.5.1.1 essential acr mfa with prompt=none",
            essential(&mfa),
            "",
            "none",
            alice(NOW),
            &openid,
            "interaction_required",
        ),
        (
            "§5.5.1.1 essential acr naming only unknown levels fails",
            essential("\"urn:example:gold\""),
            "",
            "",
            with_otp.clone(),
            &openid,
            "access_denied",
        ),
        (
            "§5.5.1.1 voluntary acr naming only unknown levels is ignored",
            r#"{"id_token":{"acr":{"values":["urn:example:gold"]}}}"#.into(),
            "",
            "",
            alice(NOW),
            &openid,
            "IssueCode",
        ),
        (
            "claims and acr_values: the stronger counts",
            essential(&pwd),
            ACR_MFA,
            "",
            alice(NOW),
            &openid,
            "SecondFactor",
        ),
        (
            "claims and acr_values: the stronger counts, either way",
            essential(&mfa),
            ACR_PWD,
            "",
            alice(NOW),
            &openid,
            "SecondFactor",
        ),
        (
            "§5.5 a claim of a scope not consented to needs consent",
            r#"{"id_token":{"name":null}}"#.into(),
            "",
            "",
            alice(NOW),
            &openid,
            "Consent",
        ),
        (
            "§5.5 ... and prompt=none is consent_required",
            r#"{"userinfo":{"name":null}}"#.into(),
            "",
            "none",
            alice(NOW),
            &openid,
            "consent_required",
        ),
        (
            "§5.5 a claim whose scope was consented to needs no new consent",
            r#"{"id_token":{"name":null}}"#.into(),
            "",
            "",
            alice(NOW),
            &openid_profile,
            "IssueCode",
        ),
        (
            "§5.5 a claim of a scope the client may not have is dropped, so needs no consent",
            r#"{"id_token":{"email":{"essential":true}}}"#.into(),
            "",
            "",
            alice(NOW),
            &openid,
            "IssueCode",
        ),
        (
            "§5.5 claims not understood need nothing",
            r#"{"id_token":{"birthdate":null}}"#.into(),
            "",
            "",
            alice(NOW),
            &openid,
            "IssueCode",
        ),
    ];
    for (case, claims, acr_values, prompt, signed_in, remembered, expected) in cases {
        let mut params = request(&[("claims", &claims)]);
        for (name, value) in [("acr_values", acr_values), ("prompt", prompt)] {
            if !value.is_empty() {
                params.insert(name.into(), value.into());
            }
        }
        let result = validate(&web(), &Catalog::default(), &params, None, NOW).and_then(|p| {
            next_step(
                &p,
                &web(),
                Some(&signed_in),
                required_acr(&p, false),
                Some(remembered),
                NOW,
            )
        });
        assert_eq!(step(&result), expected, "{case}");
    }
    // OIDC Core §5.5.1: `sub` with a value allows only that user.
    let sub = |value: &str| format!(r#"{{"id_token":{{"sub":{{"value":"{value}"}}}}}}"#);
    let for_alice = pending(&web(), &[("claims", &sub("alice"))]);
    let for_bob = pending(&web(), &[("claims", &sub("bob"))]);
    let silent_for_bob = pending(&web(), &[("claims", &sub("bob")), ("prompt", "none")]);
    let bob_asked_alice_came = for_bob.clone().signed_in_as("alice");
    // (case, pending, expected)
    let subjects = [
        (
            "§5.5.1 sub names the signed-in user",
            &for_alice,
            "IssueCode",
        ),
        ("§5.5.1 sub names someone else: sign in", &for_bob, "Login"),
        (
            "§5.5.1 ... without a page, login_required",
            &silent_for_bob,
            "login_required",
        ),
        (
            "§5.5.1 ... and after signing in as someone else still, access_denied",
            &bob_asked_alice_came,
            "access_denied",
        ),
    ];
    for (case, pending, expected) in subjects {
        let result = next_step(
            pending,
            &web(),
            Some(&alice(NOW)),
            Acr::Pwd,
            Some(&openid),
            NOW,
        );
        assert_eq!(step(&result), expected, "{case}");
    }
    // The web client may be given `profile`, not `email`: only `name` is kept.
    let kept = pending(
        &web(),
        &[(
            "claims",
            r#"{"id_token":{"name":null,"email":null},"userinfo":{"x":null}}"#,
        )],
    );
    let claims = kept.claims.clone().unwrap();
    assert_eq!(claims.released_claims(), ["name"]);
    assert_eq!(kept.consent_scope().to_string(), "openid profile");
    // Nothing understood and nothing kept: no claims at all.
    assert_eq!(
        pending(&web(), &[("claims", r#"{"userinfo":{"x":null}}"#)]).claims,
        None
    );
    for malformed in [
        "nope",
        "[]",
        r#"{"id_token":1}"#,
        r#"{"id_token":{"a":{"values":1}}}"#,
    ] {
        let refused = validate(
            &web(),
            &Catalog::default(),
            &request(&[("claims", malformed)]),
            None,
            NOW,
        )
        .map(|_| ());
        assert!(
            matches!(
                refused,
                Err(AuthorizeError::Redirect {
                    code: ErrorCode::InvalidRequest,
                    ..
                })
            ),
            "OIDC Core §5.5 malformed claims {malformed}: {refused:?}"
        );
    }
}
