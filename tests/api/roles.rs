//! Roles and groups in tokens (RFC 9068 §2.2.3.1), introspection (RFC 7662 §2.2), ID tokens and
//! UserInfo (OIDC Core §5.3), end to end over HTTP.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreGenderClaim, CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm, CoreProviderMetadata,
};
use openidconnect::{
    AdditionalClaims, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IdToken, IssuerUrl,
    Nonce, OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
    UserInfoClaims,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use latchkey::admin::{group, role};
use latchkey::domain::client::ClientSpec;

use crate::helpers::{Backend, TestApp, TestClient, query_param, text};

crate::backend_tests!(
    roles_held_directly_and_through_a_group_reach_every_token_and_userinfo,
    a_role_removed_shows_in_the_next_token_after_a_refresh_not_in_one_issued,
    a_service_client_s_roles_are_in_its_client_credentials_token,
    without_the_groups_scope_there_is_no_groups_claim,
);

/// RFC 9068 §2.2.3.1 claims, read by the relying-party library as additional claims.
#[derive(Debug, Deserialize, Serialize)]
struct RoleClaims {
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    groups: Vec<String>,
}
impl AdditionalClaims for RoleClaims {}

type RoleIdToken = IdToken<
    RoleClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

/// The claims of a JWT (the signature is checked by the tests that are about signatures).
fn payload(jwt: &str) -> Value {
    let part = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// alice: `admin` herself, `orders:read` through the group `ops`; through the admin rules.
async fn alice_with_roles(app: &TestApp) {
    let store = app.state.store.as_ref();
    app.create_user("alice").await;
    for name in ["admin", "orders:read"] {
        role::create(
            store,
            role::parse_name(name).unwrap(),
            role::NewRole::default(),
            0,
        )
        .await
        .unwrap();
    }
    let ops = group::parse_name("ops").unwrap();
    group::create(store, ops.clone(), 0).await.unwrap();
    role::user_role(
        store,
        "alice",
        &role::parse_name("admin").unwrap(),
        latchkey::admin::Change::Add,
    )
    .await
    .unwrap();
    group::member(store, &ops, "alice", latchkey::admin::Change::Add)
        .await
        .unwrap();
    group::group_role(
        store,
        &ops,
        &role::parse_name("orders:read").unwrap(),
        latchkey::admin::Change::Add,
    )
    .await
    .unwrap();
}

/// A first-party web client that may ask for `scope`.
async fn client_for(app: &TestApp, scope: &str) -> TestClient {
    app.register_client(ClientSpec {
        client_name: "Dashboard".into(),
        redirect_uris: vec!["http://127.0.0.1:9/callback".into()],
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        scope: scope.into(),
        auth_method: "client_secret_basic".into(),
        skip_consent: true,
        ..Default::default()
    })
    .await
}

async fn roles_held_directly_and_through_a_group_reach_every_token_and_userinfo(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    alice_with_roles(&app).await;
    let registered = client_for(&app, "openid profile roles groups").await;
    let http = openidconnect::reqwest::Client::builder()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(app.address.clone()).unwrap(), &http)
            .await
            .unwrap();
    let scopes = metadata.scopes_supported().unwrap();
    assert!(
        scopes.contains(&Scope::new("roles".into()))
            && scopes.contains(&Scope::new("groups".into()))
    );
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(registered.client_id.clone()),
        registered.secret.clone().map(ClientSecret::new),
    )
    .set_redirect_uri(RedirectUrl::new(registered.redirect_uri.clone()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (auth_url, _csrf, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("roles".into()))
        .add_scope(Scope::new("groups".into()))
        .set_pkce_challenge(challenge)
        .url();
    let location = app.sign_in_through(auth_url.as_str(), "alice").await;
    let code = query_param(&location, "code").unwrap();
    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .unwrap();

    // The ID token, verified and read by the relying-party library.
    let id_token: RoleIdToken = tokens.id_token().unwrap().to_string().parse().unwrap();
    let claims = id_token
        .claims(&client.id_token_verifier(), &nonce)
        .unwrap();
    assert_eq!(claims.additional_claims().roles, ["admin", "orders:read"]);
    assert_eq!(claims.additional_claims().groups, ["ops"]);

    // RFC 9068 §2.2.3.1 in the access token.
    let at = payload(tokens.access_token().secret());
    assert_eq!(at["roles"], json!(["admin", "orders:read"]));
    assert_eq!(at["groups"], json!(["ops"]));

    // RFC 7662 §2.2: introspection says the same.
    let answer = app
        .introspect(&registered, tokens.access_token().secret())
        .await;
    assert_eq!(answer["active"], true);
    assert_eq!(answer["roles"], json!(["admin", "orders:read"]));
    assert_eq!(answer["groups"], json!(["ops"]));

    // OIDC Core §5.3 UserInfo, read by the library.
    let userinfo: UserInfoClaims<RoleClaims, CoreGenderClaim> = client
        .user_info(tokens.access_token().clone(), None)
        .unwrap()
        .request_async(&http)
        .await
        .unwrap();
    assert_eq!(userinfo.additional_claims().roles, ["admin", "orders:read"]);
    assert_eq!(userinfo.additional_claims().groups, ["ops"]);
}

async fn a_role_removed_shows_in_the_next_token_after_a_refresh_not_in_one_issued(
    backend: Backend,
) {
    let app = TestApp::spawn(&backend).await;
    alice_with_roles(&app).await;
    let client = client_for(&app, "openid offline_access roles groups").await;
    let tokens = app
        .tokens_for(&client, "alice", "openid offline_access roles")
        .await;
    let first = text(&tokens, "access_token");
    assert_eq!(payload(&first)["roles"], json!(["admin", "orders:read"]));
    assert_eq!(
        payload(&text(&tokens, "id_token"))["roles"],
        json!(["admin", "orders:read"])
    );

    let store = app.state.store.as_ref();
    role::user_role(
        store,
        "alice",
        &role::parse_name("admin").unwrap(),
        latchkey::admin::Change::Remove,
    )
    .await
    .unwrap();
    let response = app
        .refresh(&client, &text(&tokens, "refresh_token"), None)
        .await;
    assert_eq!(response.status(), 200);
    let refreshed: Value = response.json().await.unwrap();
    let second = text(&refreshed, "access_token");
    assert_eq!(payload(&second)["roles"], json!(["orders:read"]));
    assert_eq!(
        payload(&text(&refreshed, "id_token"))["roles"],
        json!(["orders:read"])
    );
    assert_eq!(
        app.introspect(&client, &second).await["roles"],
        json!(["orders:read"])
    );
    // The token issued before keeps what it was issued with, until it expires.
    assert_eq!(
        app.introspect(&client, &first).await["roles"],
        json!(["admin", "orders:read"])
    );

    // Leaving the group takes its roles away too; with no role left, no `roles` claim.
    group::member(
        store,
        &group::parse_name("ops").unwrap(),
        "alice",
        latchkey::admin::Change::Remove,
    )
    .await
    .unwrap();
    let response = app
        .refresh(&client, &text(&refreshed, "refresh_token"), None)
        .await;
    let third: Value = response.json().await.unwrap();
    assert!(
        payload(&text(&third, "access_token"))
            .get("roles")
            .is_none()
    );
}

async fn a_service_client_s_roles_are_in_its_client_credentials_token(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let service = app
        .service_client(&["orders:read"], "client_secret_basic")
        .await;
    let store = app.state.store.as_ref();
    let billing = role::parse_name("billing").unwrap();
    role::create(
        store,
        billing.clone(),
        role::NewRole {
            description: Some("Bills"),
            ..Default::default()
        },
        0,
    )
    .await
    .unwrap();
    // Before it holds the role: no `roles` claim.
    let before = app.service_token(&service).await;
    assert!(payload(&before).get("roles").is_none());

    role::client_role(
        store,
        &service.client_id,
        &billing,
        latchkey::admin::Change::Add,
    )
    .await
    .unwrap();
    // A client's roles are read with its registration, through the client cache: the role shows
    // in its tokens within --client-cache-ttl.
    app.clock.advance(10);
    let token = app.service_token(&service).await;
    let claims = payload(&token);
    assert_eq!(claims["roles"], json!(["billing"]));
    assert!(claims.get("groups").is_none());
    assert_eq!(claims["scope"], "orders:read");
    let answer = app.introspect(&service, &token).await;
    assert_eq!(answer["roles"], json!(["billing"]));
}

async fn without_the_groups_scope_there_is_no_groups_claim(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    alice_with_roles(&app).await;
    let client = client_for(&app, "openid roles groups").await;
    let tokens = app.tokens_for(&client, "alice", "openid").await;
    let access_token = text(&tokens, "access_token");
    let at = payload(&access_token);
    // Roles always (RFC 9068 §2.2.3.1); groups only with their scope.
    assert_eq!(at["roles"], json!(["admin", "orders:read"]));
    assert!(at.get("groups").is_none(), "{at}");
    let id = payload(&text(&tokens, "id_token"));
    assert!(
        id.get("groups").is_none() && id.get("roles").is_none(),
        "{id}"
    );
    let answer = app.introspect(&client, &access_token).await;
    assert!(answer.get("groups").is_none(), "{answer}");
    let userinfo: Value = app
        .http
        .get(format!("{}/userinfo", app.address))
        .bearer_auth(&access_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(userinfo["sub"].as_str().is_some());
    assert!(userinfo.get("groups").is_none() && userinfo.get("roles").is_none());
}
