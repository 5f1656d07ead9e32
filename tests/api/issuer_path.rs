//! An issuer with a path (`http://127.0.0.1:PORT/tenant`): every route is served under it, without a
//! path-stripping proxy.

use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, RedirectUrl, Scope,
};

use crate::helpers::{Backend, TestApp, query_param};

crate::backend_tests!(
    an_issuer_with_a_path_serves_discovery_sign_in_tokens_and_userinfo_under_it,
    an_issuer_with_a_path_serves_rfc8414_metadata_path_inserted_and_nothing_at_the_root,
);

async fn an_issuer_with_a_path_serves_discovery_sign_in_tokens_and_userinfo_under_it(
    backend: Backend,
) {
    let app = TestApp::spawn_with_issuer_path(&backend, "/tenant").await;
    assert!(app.address.ends_with("/tenant"), "{}", app.address);
    let registered = app.web_client().await;
    let alice = app.create_user("alice").await;
    let http = openidconnect::reqwest::Client::builder()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    // OIDC Discovery §4: <issuer>/.well-known/openid-configuration, checked by the library against
    // the issuer it started from.
    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(app.address.clone()).unwrap(), &http)
            .await
            .unwrap();
    assert_eq!(
        metadata.token_endpoint().unwrap().as_str(),
        format!("{}/token", app.address)
    );
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(registered.client_id.clone()),
        registered.secret.clone().map(ClientSecret::new),
    )
    .set_redirect_uri(RedirectUrl::new(registered.redirect_uri.clone()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (auth_url, _csrf, _nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge)
        .url();
    assert!(auth_url.path().starts_with("/tenant/authorize"));

    // The session cookie is scoped to the issuer's path.
    let login = app.get("/login").await;
    let cookie = login.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("Path=/tenant"), "{cookie}");

    let location = app.sign_in_through(auth_url.as_str(), "alice").await;
    assert!(location.as_str().starts_with(&registered.redirect_uri));
    assert_eq!(
        query_param(&location, "iss").as_deref(),
        Some(app.address.as_str()),
        "RFC 9207"
    );
    let code = query_param(&location, "code").unwrap();
    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .unwrap();
    let userinfo: openidconnect::core::CoreUserInfoClaims = client
        .user_info(tokens.access_token().clone(), None)
        .unwrap()
        .request_async(&http)
        .await
        .unwrap();
    assert_eq!(userinfo.subject().as_str(), alice.user_id.as_str());
    assert_eq!(
        app.userinfo_status(tokens.access_token().secret()).await,
        200
    );
}

async fn an_issuer_with_a_path_serves_rfc8414_metadata_path_inserted_and_nothing_at_the_root(
    backend: Backend,
) {
    let app = TestApp::spawn_with_issuer_path(&backend, "/tenant").await;
    let root = app.address.trim_end_matches("/tenant").to_owned();
    let oidc = app.get_discovery().await;
    assert_eq!(oidc["issuer"], app.address);
    let inserted = app
        .get_url(&format!(
            "{root}/.well-known/oauth-authorization-server/tenant"
        ))
        .await;
    assert_eq!(inserted.status(), 200);
    assert_eq!(inserted.json::<serde_json::Value>().await.unwrap(), oidc);
    for path in ["/jwks", "/.well-known/openid-configuration", "/login"] {
        let response = app.get_url(&format!("{root}{path}")).await;
        assert_eq!(
            response.status(),
            404,
            "{path} is not served outside the issuer"
        );
    }
    assert_eq!(app.get("/jwks").await.status(), 200);
}
