//! Mutual TLS (RFC 8705) over Latchkey's own HTTPS listener with `--mtls-ca`: clients that
//! authenticate with their certificate (§2.1 `tls_client_auth`, §2.2
//! `self_signed_tls_client_auth`), and certificate-bound access tokens (§3): a client registered for
//! them gets tokens carrying `cnf.x5t#S256`, useless at `/userinfo` without that certificate; a
//! public client's refresh token is bound to it too (§4).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use latchkey::domain::client::ClientSpec;
use serde_json::Value;

use crate::helpers::{Backend, TestApp, TestClient, failure_of, json_of, text};
use crate::tls::{Identity, Pki, as_strs, client_config, self_signed_client_certificate};

crate::backend_tests!(
    a_bound_service_token_carries_its_certificate_s_thumbprint,
    a_bound_user_token_and_refresh_token_need_the_certificate,
    tls_client_auth_needs_a_certificate_of_the_ca_naming_the_client,
    self_signed_tls_client_auth_needs_the_registered_certificate,
);

/// RFC 8705 §3.1, computed here independently: base64url SHA-256 of the certificate's DER.
fn thumbprint(identity: &Identity) -> String {
    URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        identity.chain[0].as_ref(),
    ))
}

fn claims(jwt: &str) -> Value {
    let part = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// A browser-like HTTPS client (cookies, no redirects) presenting `identity`.
fn browser(pki: &Pki, identity: Option<&Identity>) -> reqwest::Client {
    reqwest::Client::builder()
        .use_preconfigured_tls(client_config(
            &[&pki.ca_der],
            identity,
            rustls::DEFAULT_VERSIONS,
        ))
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap()
}

/// An HTTPS server asking for client certificates, whose test client presents `identity`.
async fn server(backend: &Backend, pki: &Pki, identity: &Identity) -> TestApp {
    pki.write_server_certificate("latchkey");
    let mut flags = pki.server_flags();
    flags.extend(["--mtls-ca".into(), pki.path_str("ca.pem")]);
    TestApp::spawn_https(backend, &as_strs(&flags), browser(pki, Some(identity))).await
}

async fn post(
    http: &reqwest::Client,
    app: &TestApp,
    client: &TestClient,
    form: &[(&str, &str)],
) -> (u16, Value) {
    let mut request = http.post(format!("{}/token", app.address)).form(form);
    if let Some(secret) = &client.secret {
        request = request.basic_auth(&client.client_id, Some(secret));
    }
    let response = request.send().await.unwrap();
    (
        response.status().as_u16(),
        response.json().await.unwrap_or(Value::Null),
    )
}

async fn a_bound_service_token_carries_its_certificate_s_thumbprint(backend: Backend) {
    let pki = Pki::new("Test CA");
    let identity = pki.client_certificate();
    let app = server(&backend, &pki, &identity).await;
    // RFC 8705 §3.3: advertised once certificates can reach the server.
    let discovery = app.get_discovery().await;
    assert_eq!(
        discovery["tls_client_certificate_bound_access_tokens"],
        true
    );
    let bound = app
        .register_client(ClientSpec {
            client_name: "Bound service".into(),
            grant_types: vec!["client_credentials".into()],
            auth_method: "client_secret_basic".into(),
            tls_bound_tokens: true,
            ..Default::default()
        })
        .await;
    let form = [("grant_type", "client_credentials")];
    let (status, body) = post(&app.http, &app, &bound, &form).await;
    assert_eq!(status, 200, "{body}");
    let token = text(&body, "access_token");
    assert_eq!(claims(&token)["cnf"]["x5t#S256"], thumbprint(&identity));
    assert_eq!(body["token_type"], "Bearer");
    // Introspection tells the binding (RFC 8705 §3.2).
    let resource_server = app
        .register_client(ClientSpec {
            client_name: "Resource server".into(),
            grant_types: vec!["client_credentials".into()],
            auth_method: "client_secret_basic".into(),
            introspect_any: true,
            ..Default::default()
        })
        .await;
    let introspected = app.introspect(&resource_server, &token).await;
    assert_eq!(introspected["cnf"]["x5t#S256"], thumbprint(&identity));
    // Without a certificate the bound client gets nothing.
    let (status, body) = post(&browser(&pki, None), &app, &bound, &form).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request")),
        "{body}"
    );
    // A client not registered for bound tokens gets a plain one, certificate or not.
    let (status, body) = post(&app.http, &app, &resource_server, &form).await;
    assert_eq!(status, 200, "{body}");
    assert!(claims(&text(&body, "access_token")).get("cnf").is_none());
    // Without --mtls-ca nothing is advertised.
    let plain = TestApp::spawn(&backend).await;
    assert!(plain.get_discovery().await["tls_client_certificate_bound_access_tokens"].is_null());
}

async fn a_bound_user_token_and_refresh_token_need_the_certificate(backend: Backend) {
    let pki = Pki::new("Test CA");
    let identity = pki.client_certificate();
    let other = pki.client_certificate();
    let app = server(&backend, &pki, &identity).await;
    let client = app
        .register_client(ClientSpec {
            client_name: "Native app".into(),
            redirect_uris: vec!["http://127.0.0.1/cb".into()],
            grant_types: vec!["authorization_code".into(), "refresh_token".into()],
            scope: "openid offline_access".into(),
            auth_method: "none".into(),
            skip_consent: true,
            tls_bound_tokens: true,
            ..Default::default()
        })
        .await;
    app.create_user("alice").await;
    let tokens = app
        .tokens_for(&client, "alice", "openid offline_access")
        .await;
    let access = text(&tokens, "access_token");
    assert_eq!(claims(&access)["cnf"]["x5t#S256"], thumbprint(&identity));

    // §3: at /userinfo only with that certificate.
    let userinfo = |http: reqwest::Client| {
        let (url, access) = (format!("{}/userinfo", app.address), access.clone());
        async move {
            let response = http.get(url).bearer_auth(access).send().await.unwrap();
            (
                response.status().as_u16(),
                response
                    .headers()
                    .get("www-authenticate")
                    .map(|v| v.to_str().unwrap().to_owned())
                    .unwrap_or_default(),
            )
        }
    };
    assert_eq!(userinfo(app.http.clone()).await.0, 200);
    for stranger in [browser(&pki, None), browser(&pki, Some(&other))] {
        let (status, challenge) = userinfo(stranger).await;
        assert_eq!(status, 401);
        assert!(challenge.contains("invalid_token"), "{challenge}");
    }
    // §4: the public client's refresh token too.
    let refresh = text(&tokens, "refresh_token");
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh.as_str()),
        ("client_id", client.client_id.as_str()),
    ];
    let (status, body) = post(&browser(&pki, Some(&other)), &app, &client, &form).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    let (status, body) = post(&browser(&pki, None), &app, &client, &form).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = post(&app.http, &app, &client, &form).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        claims(&text(&body, "access_token"))["cnf"]["x5t#S256"],
        thumbprint(&identity)
    );
}

/// `POST /token` for client credentials as `client_id` alone (the certificate authenticates).
async fn token_as(http: &reqwest::Client, app: &TestApp, client_id: &str) -> (u16, Value) {
    let response = http
        .post(format!("{}/token", app.address))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
        ])
        .send()
        .await
        .unwrap();
    (
        response.status().as_u16(),
        response.json().await.unwrap_or(Value::Null),
    )
}

/// A `tls_client_auth` client made with the CLI, named by `flag` = `value`; its id.
fn tls_client(app: &TestApp, flag: &str, value: &str) -> String {
    let created = json_of(&app.db.cli(
        &[
            "client",
            "create",
            "--name",
            "Service A",
            "--grant-type",
            "client_credentials",
            "--auth-method",
            "tls_client_auth",
            flag,
            value,
            "--json",
        ],
        None,
    ));
    assert!(created["client_secret"].is_null(), "{created}");
    text(&created, "client_id")
}

async fn tls_client_auth_needs_a_certificate_of_the_ca_naming_the_client(backend: Backend) {
    let pki = Pki::new("Test CA");
    // CN=service-a, SAN DNS client.example, signed by the CA.
    let identity = pki.client_certificate();
    let app = server(&backend, &pki, &identity).await;
    let discovery = app.get_discovery().await;
    for field in [
        "token_endpoint_auth_methods_supported",
        "introspection_endpoint_auth_methods_supported",
        "revocation_endpoint_auth_methods_supported",
    ] {
        let methods = discovery[field].as_array().unwrap();
        assert!(methods.contains(&"tls_client_auth".into()), "{field}");
        assert!(
            methods.contains(&"self_signed_tls_client_auth".into()),
            "{field}"
        );
    }
    // §2.1.2: a SAN or the subject DN (RFC 4514, compared ignoring case and spaces).
    for (flag, value) in [
        ("--tls-client-auth-san-dns", "client.example"),
        ("--tls-client-auth-subject-dn", "cn=Service-A"),
    ] {
        let id = tls_client(&app, flag, value);
        let (status, body) = token_as(&app.http, &app, &id).await;
        assert_eq!(status, 200, "{flag}: {body}");
    }
    // Another name, no certificate, a certificate of no trusted CA: invalid_client.
    let other_name = tls_client(&app, "--tls-client-auth-subject-dn", "CN=service-b");
    let (status, body) = token_as(&app.http, &app, &other_name).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "{body}"
    );
    let named = tls_client(&app, "--tls-client-auth-san-dns", "client.example");
    let (status, _) = token_as(&browser(&pki, None), &app, &named).await;
    assert_eq!(status, 401);
    let stranger = tls_client(&app, "--tls-client-auth-san-dns", "self-signed.example");
    let self_signed = self_signed_client_certificate();
    let (status, body) = token_as(&browser(&pki, Some(&self_signed)), &app, &stranger).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "{body}"
    );
    // The registration rules.
    for (args, why) in [
        (
            vec!["--auth-method", "tls_client_auth"],
            "tls_client_auth needs one of",
        ),
        (
            vec![
                "--auth-method",
                "tls_client_auth",
                "--tls-client-auth-san-dns",
                "a.example",
                "--tls-client-auth-subject-dn",
                "CN=a",
            ],
            "exactly one",
        ),
        (
            vec!["--tls-client-auth-san-dns", "a.example"],
            "are for clients that authenticate with tls_client_auth",
        ),
        (
            vec![
                "--auth-method",
                "tls_client_auth",
                "--tls-client-auth-san-ip",
                "not-an-ip",
            ],
            "IPv4 or IPv6",
        ),
    ] {
        let mut command = vec![
            "client",
            "create",
            "--name",
            "X",
            "--grant-type",
            "client_credentials",
        ];
        command.extend(args);
        let out = app.db.cli(&command, None);
        assert!(!out.status.success());
        assert!(failure_of(&out).contains(why), "{}", failure_of(&out));
    }
}

/// The public JWK of `identity`'s (EC P-256) key, with its certificate as `x5c` (RFC 7517 §4.7).
fn jwk_with_x5c(identity: &Identity) -> Value {
    let der = identity.chain[0].as_ref();
    let (_, certificate) = x509_parser::parse_x509_certificate(der).unwrap();
    let point = certificate.public_key().subject_public_key.data.to_vec();
    assert_eq!(
        (point.len(), point[0]),
        (65, 4),
        "an uncompressed P-256 point"
    );
    serde_json::json!({
        "kty": "EC",
        "crv": "P-256",
        "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
        "y": URL_SAFE_NO_PAD.encode(&point[33..]),
        "x5c": [base64::engine::general_purpose::STANDARD.encode(der)],
    })
}

async fn self_signed_tls_client_auth_needs_the_registered_certificate(backend: Backend) {
    let pki = Pki::new("Test CA");
    let identity = self_signed_client_certificate();
    let app = server(&backend, &pki, &identity).await;
    let client = app
        .register_client(ClientSpec {
            client_name: "Self-signed service".into(),
            grant_types: vec!["client_credentials".into()],
            auth_method: "self_signed_tls_client_auth".into(),
            jwks: Some(serde_json::json!({ "keys": [jwk_with_x5c(&identity)] }).to_string()),
            // §3 as well: its tokens are bound to the same certificate.
            tls_bound_tokens: true,
            ..Default::default()
        })
        .await;
    assert!(client.secret.is_none());
    let (status, body) = token_as(&app.http, &app, &client.client_id).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        claims(&text(&body, "access_token"))["cnf"]["x5t#S256"],
        thumbprint(&identity)
    );
    for stranger in [
        browser(&pki, Some(&self_signed_client_certificate())),
        browser(&pki, Some(&pki.client_certificate())),
        browser(&pki, None),
    ] {
        let (status, body) = token_as(&stranger, &app, &client.client_id).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("invalid_client")),
            "{body}"
        );
    }
    // A JWK set without the certificate is refused at registration.
    let out = app.db.cli(
        &[
            "client",
            "create",
            "--name",
            "X",
            "--grant-type",
            "client_credentials",
            "--auth-method",
            "self_signed_tls_client_auth",
        ],
        None,
    );
    assert!(
        failure_of(&out).contains("needs the client's public keys"),
        "{}",
        failure_of(&out)
    );
}
