//! The rules of an authorization request itself (RFC 6749 §4.1.1, RFC 7636, OIDC Core §3.1.2.1).

use super::*;

#[test]
#[allow(clippy::type_complexity)] // a table: one row per rule
fn authorization_request_rules() {
    let nul = "n\u{0}once";
    let long = "s".repeat(MAX_ECHOED_LEN + 1);
    // (case, client, parameter overrides ("" removes one), expected)
    let cases: Vec<(&str, Client, Vec<(&str, &str)>, &str)> = vec![
        ("RFC 6749 §4.1.1 a complete request", web(), vec![], "ok"),
        (
            "RFC 6749 §3.1.2.3 an unregistered redirect_uri is a page",
            web(),
            vec![("redirect_uri", "https://evil.example/cb")],
            "page",
        ),
        (
            "RFC 8252 §7.3 any loopback port is for native clients only",
            web(),
            vec![("redirect_uri", "http://127.0.0.1:9001/cb")],
            "page",
        ),
        (
            "RFC 8252 §7.3 a native client's loopback redirect on any port",
            native(),
            vec![("redirect_uri", "http://127.0.0.1:51234/cb")],
            "ok",
        ),
        (
            "RFC 8252 §7.1 a native client's private-use scheme",
            native(),
            vec![("redirect_uri", "com.example.app:/cb")],
            "ok",
        ),
        (
            "OIDC Core §3.1.2.1 redirect_uri is required with openid",
            web(),
            vec![("redirect_uri", "")],
            "page",
        ),
        (
            "RFC 6749 §3.1.2.3 omitted with one registered URI and no openid",
            web(),
            vec![("redirect_uri", ""), ("scope", "profile")],
            "ok",
        ),
        (
            "OIDC Core §6 request objects are not supported",
            web(),
            vec![("request", "eyJ")],
            "request_not_supported",
        ),
        (
            "OIDC Core §6 request_uri is not supported",
            web(),
            vec![("request_uri", "urn:x")],
            "request_uri_not_supported",
        ),
        (
            "RFC 6749 §4.1.2.1 response_type is required",
            web(),
            vec![("response_type", "")],
            "invalid_request",
        ),
        (
            "RFC 6749 §4.1.2.1 only code is supported",
            web(),
            vec![("response_type", "token")],
            "unsupported_response_type",
        ),
        (
            "RFC 6749 §4.1.2.1 a client not registered for the code grant",
            service(),
            vec![],
            "unauthorized_client",
        ),
        (
            "RFC 6749 §3.3 scope is required",
            web(),
            vec![("scope", "")],
            "invalid_scope",
        ),
        (
            "RFC 6749 §3.3 a malformed scope",
            web(),
            vec![("scope", "open\"id")],
            "invalid_scope",
        ),
        (
            "RFC 6749 §3.3 a scope beyond the client's",
            web(),
            vec![("scope", "openid email")],
            "invalid_scope",
        ),
        (
            "RFC 7636 §4.4.1 PKCE is required",
            web(),
            vec![("code_challenge", ""), ("code_challenge_method", "")],
            "invalid_request",
        ),
        (
            "RFC 9700 §2.1.1 plain is refused",
            web(),
            vec![("code_challenge_method", "plain")],
            "invalid_request",
        ),
        (
            "RFC 7636 §4.2 a malformed challenge",
            web(),
            vec![("code_challenge", "short")],
            "invalid_request",
        ),
        (
            "OIDC Core §3.1.2.1 prompt=none stands alone",
            web(),
            vec![("prompt", "none login")],
            "invalid_request",
        ),
        (
            "OIDC Core §3.1.2.1 an unknown prompt",
            web(),
            vec![("prompt", "maybe")],
            "invalid_request",
        ),
        (
            "OIDC Core §3.1.2.1 max_age is a non-negative integer",
            web(),
            vec![("max_age", "-1")],
            "invalid_request",
        ),
        (
            "control characters never reach the store",
            web(),
            vec![("nonce", nul)],
            "invalid_request",
        ),
        (
            "an over-long state",
            web(),
            vec![("state", &long)],
            "invalid_request",
        ),
        (
            "only response_mode=query",
            web(),
            vec![("response_mode", "fragment")],
            "invalid_request",
        ),
    ];
    for (case, client, overrides, expected) in cases {
        let result = validate(
            &client,
            &Catalog::default(),
            &request(&overrides),
            None,
            NOW,
        );
        assert_eq!(outcome(&result), expected, "{case}: {result:?}");
    }
}

#[test]
fn a_repeated_parameter_is_invalid_request_and_the_state_is_echoed() {
    let result = validate(
        &web(),
        &Catalog::default(),
        &request(&[]),
        Some("scope".into()),
        NOW,
    );
    match result {
        Err(AuthorizeError::Redirect { code, state, .. }) => {
            assert_eq!(code, ErrorCode::InvalidRequest);
            assert_eq!(state.as_deref(), Some("st"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn redirect_uri_sent_is_recorded_for_the_token_endpoint() {
    let sent = validate(&web(), &Catalog::default(), &request(&[]), None, NOW).unwrap();
    assert!(sent.redirect_uri_sent);
    let omitted = validate(
        &web(),
        &Catalog::default(),
        &request(&[("redirect_uri", ""), ("scope", "profile")]),
        None,
        NOW,
    )
    .unwrap();
    assert!(!omitted.redirect_uri_sent);
    assert_eq!(omitted.redirect_uri, "http://127.0.0.1:9000/cb");
}
