//! Whole sign-in flows driven by an independent relying-party library (the `openidconnect` crate).

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims,
};
use openidconnect::{
    AccessTokenHash, AuthType, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl,
    Nonce, OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};

use crate::helpers::{Backend, TestApp, query_param, session_cookie};

crate::backend_tests!(
    a_confidential_client_signs_a_user_in_with_openidconnect,
    a_public_client_signs_a_user_in_with_pkce_and_no_secret,
    a_sign_in_started_on_one_instance_completes_on_another,
);

fn rp_http() -> openidconnect::reqwest::Client {
    openidconnect::reqwest::Client::builder()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn a_confidential_client_signs_a_user_in_with_openidconnect(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let registered = app.web_client().await;
    let alice = app.create_user("alice").await;
    let http = rp_http();

    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(app.address.clone()).unwrap(), &http)
            .await
            .unwrap();
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(registered.client_id.clone()),
        registered.secret.clone().map(ClientSecret::new),
    )
    .set_redirect_uri(RedirectUrl::new(registered.redirect_uri.clone()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (auth_url, csrf, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge)
        .url();

    let location = app.sign_in_through(auth_url.as_str(), "alice").await;
    assert!(location.as_str().starts_with(&registered.redirect_uri));
    assert_eq!(
        query_param(&location, "state").as_deref(),
        Some(csrf.secret().as_str())
    );
    assert_eq!(
        query_param(&location, "iss").as_deref(),
        Some(app.address.as_str()),
        "RFC 9207"
    );
    let code = query_param(&location, "code").unwrap();
    assert!(code.starts_with("lk_ac_"));

    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .unwrap();
    let id_token = tokens.id_token().unwrap();
    let claims = id_token
        .claims(&client.id_token_verifier(), &nonce)
        .unwrap();
    assert_eq!(claims.subject().as_str(), alice.user_id.as_str());
    assert!(claims.auth_time().is_some());
    let expected_hash = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&client.id_token_verifier()).unwrap(),
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&expected_hash));

    let userinfo: CoreUserInfoClaims = client
        .user_info(tokens.access_token().clone(), None)
        .unwrap()
        .request_async(&http)
        .await
        .unwrap();
    assert_eq!(userinfo.subject().as_str(), alice.user_id.as_str());
    assert_eq!(
        userinfo.email().map(|e| e.as_str()),
        Some("alice@example.com")
    );
    assert_eq!(
        userinfo.preferred_username().map(|u| u.as_str()),
        Some("alice")
    );

    // The access token is an RFC 9068 JWT that verifies against the JWKS with another library.
    let raw = tokens.access_token().secret();
    let header = jsonwebtoken::decode_header(raw).unwrap();
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    let jwks: jsonwebtoken::jwk::JwkSet = serde_json::from_value(app.get_jwks().await).unwrap();
    let key =
        jsonwebtoken::DecodingKey::from_jwk(jwks.find(header.kid.as_deref().unwrap()).unwrap())
            .unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&[app.address.as_str()]);
    validation.set_issuer(&[app.address.as_str()]);
    let at = jsonwebtoken::decode::<serde_json::Value>(raw, &key, &validation)
        .unwrap()
        .claims;
    assert_eq!(at["client_id"], registered.client_id);
    assert_eq!(at["sub"], alice.user_id.as_str());
    assert!(at["jti"].as_str().is_some_and(|j| !j.is_empty()));
    assert_eq!(at["scope"], "email openid profile");
}

async fn a_public_client_signs_a_user_in_with_pkce_and_no_secret(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let registered = app
        .register_client(latchkey::domain::client::ClientSpec {
            client_name: "Native App".into(),
            redirect_uris: vec!["http://127.0.0.1/callback".into()],
            scope: "openid".into(),
            auth_method: "none".into(),
            application_type: Some("native".into()),
            ..Default::default()
        })
        .await;
    app.create_user("bob").await;
    let http = rp_http();
    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(app.address.clone()).unwrap(), &http)
            .await
            .unwrap();
    // RFC 8252 §7.3: the native app listens on an ephemeral loopback port.
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(registered.client_id.clone()),
        None,
    )
    .set_auth_type(AuthType::RequestBody)
    .set_redirect_uri(RedirectUrl::new("http://127.0.0.1:53682/callback".into()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (auth_url, _, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(challenge)
        .url();
    let location = app.sign_in_through(auth_url.as_str(), "bob").await;
    assert_eq!(location.port(), Some(53682));
    let tokens = client
        .exchange_code(AuthorizationCode::new(
            query_param(&location, "code").unwrap(),
        ))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .unwrap();
    tokens
        .id_token()
        .unwrap()
        .claims(&client.id_token_verifier(), &nonce)
        .unwrap();
}

async fn a_sign_in_started_on_one_instance_completes_on_another(backend: Backend) {
    let first = TestApp::spawn(&backend).await;
    let client = first.web_client().await;
    first.create_user("carol").await;
    let second = first.spawn_sibling().await;

    // Authorize on the first instance; sign in and consent on the second, with the same cookie.
    let (url, verifier) = first.authorize_url(&client, "openid", &[]);
    let response = first.get_url(&url).await;
    assert_eq!(response.status(), 303);
    let cookie = session_cookie(&response);
    let login_page = second
        .http
        .get(format!("{}/login", second.address))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    // The pages' CSRF cookie, which this browser keeps beside its session cookie.
    let csrf_cookie = crate::helpers::set_cookie(&login_page, "latchkey_csrf")
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let cookie = format!("{cookie}; {csrf_cookie}");
    let csrf_page = login_page.text().await.unwrap();
    assert!(
        csrf_page.contains("Web App"),
        "the second instance sees the pending request"
    );
    let csrf = crate::helpers::hidden_value(&csrf_page, "csrf_token");
    let response = second
        .http
        .post(format!("{}/login", second.address))
        .header("cookie", &cookie)
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("username", "carol"),
            ("password", crate::helpers::PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let new_cookie = session_cookie(&response);
    assert!(
        !cookie.contains(&new_cookie),
        "the session id is renewed at sign-in"
    );
    let new_cookie = format!("{new_cookie}; {csrf_cookie}");
    let consent = second
        .http
        .get(format!("{}/consent", second.address))
        .header("cookie", &new_cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let response = first
        .http
        .post(format!("{}/consent", first.address))
        .header("cookie", &new_cookie)
        .form(&[
            (
                "csrf_token",
                crate::helpers::hidden_value(&consent, "csrf_token").as_str(),
            ),
            (
                "request_id",
                crate::helpers::hidden_value(&consent, "request_id").as_str(),
            ),
            ("decision", "allow"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let location = url::Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
    let code = query_param(&location, "code").unwrap();
    let tokens = second.redeem_code(&client, &code, &verifier).await;
    assert_eq!(tokens.status(), 200);
}
