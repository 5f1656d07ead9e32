//! ES256 and EdDSA: selectable for access tokens (server setting) and ID tokens (per client).

use crate::helpers::{Backend, TestApp, TestDb, text};

crate::backend_tests!(
    access_tokens_can_be_signed_with_es256_or_eddsa,
    a_client_can_have_its_id_tokens_signed_with_eddsa,
);

fn verify_with_jwks(
    token: &str,
    jwks: serde_json::Value,
    issuer: &str,
) -> (jsonwebtoken::Header, serde_json::Value) {
    let header = jsonwebtoken::decode_header(token).unwrap();
    let jwks: jsonwebtoken::jwk::JwkSet = serde_json::from_value(jwks).unwrap();
    let key =
        jsonwebtoken::DecodingKey::from_jwk(jwks.find(header.kid.as_deref().unwrap()).unwrap())
            .unwrap();
    let mut validation = jsonwebtoken::Validation::new(header.alg);
    validation.set_issuer(&[issuer]);
    validation.validate_aud = false;
    let claims = jsonwebtoken::decode::<serde_json::Value>(token, &key, &validation)
        .unwrap()
        .claims;
    (header, claims)
}

async fn access_tokens_can_be_signed_with_es256_or_eddsa(backend: Backend) {
    for (alg, expected) in [
        ("ES256", jsonwebtoken::Algorithm::ES256),
        ("EdDSA", jsonwebtoken::Algorithm::EdDSA),
    ] {
        let app =
            TestApp::spawn_on(TestDb::new(&backend).await, &["--access-token-alg", alg]).await;
        let service = app
            .service_client(&["orders:read"], "client_secret_basic")
            .await;
        let token = app.service_token(&service).await;
        let (header, claims) = verify_with_jwks(&token, app.get_jwks().await, &app.address);
        assert_eq!(header.alg, expected);
        assert_eq!(claims["sub"], service.client_id.as_str());
        assert_eq!(
            app.introspect(&service, &token).await["active"],
            true,
            "{alg}"
        );
        let discovery = app.get_discovery().await;
        assert_eq!(
            discovery["id_token_signing_alg_values_supported"],
            serde_json::json!(["RS256", "ES256", "EdDSA"])
        );
    }
}

async fn a_client_can_have_its_id_tokens_signed_with_eddsa(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let client = app
        .register_client(latchkey::domain::client::ClientSpec {
            client_name: "Modern App".into(),
            redirect_uris: vec!["http://127.0.0.1:9/callback".into()],
            scope: "openid".into(),
            auth_method: "client_secret_basic".into(),
            skip_consent: true,
            id_token_alg: Some("EdDSA".into()),
            ..Default::default()
        })
        .await;
    app.create_user("alice").await;
    let tokens = app.tokens_for(&client, "alice", "openid").await;
    let (header, claims) = verify_with_jwks(
        &text(&tokens, "id_token"),
        app.get_jwks().await,
        &app.address,
    );
    assert_eq!(header.alg, jsonwebtoken::Algorithm::EdDSA);
    assert_eq!(claims["aud"], client.client_id.as_str());
    // OIDC Core §3.1.3.6 with Ed25519: the left half of SHA-512 → 32 bytes → 43 base64url characters.
    assert_eq!(claims["at_hash"].as_str().unwrap().len(), 43);
    let (access_header, _) = verify_with_jwks(
        &text(&tokens, "access_token"),
        app.get_jwks().await,
        &app.address,
    );
    assert_eq!(
        access_header.alg,
        jsonwebtoken::Algorithm::RS256,
        "access tokens keep the server's algorithm"
    );
}
