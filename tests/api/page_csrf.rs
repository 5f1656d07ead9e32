//! The pages' CSRF protection is a signed double-submit token, so showing a form writes nothing to
//! the store, and the session id renewal at sign-in is one UPDATE (issue 15 §5: sign-ins at the
//! argon2 limit). The statements are the ones a real server runs (`crate::statements`).

use std::collections::BTreeSet;

use latchkey::clock::Clock;
use latchkey::domain::secret::TokenHash;

use crate::helpers::{
    Backend, PASSWORD, TestApp, hidden_value, location, session_cookie, set_cookie,
};
use crate::statements::{capture, on_own_thread};

crate::backend_tests!(
    the_login_page_writes_nothing_and_sets_a_csrf_cookie,
    sign_in_renews_the_session_id_in_one_update,
    a_csrf_token_holds_only_with_its_own_cookie_and_session,
);

/// The statements of `statements` that write (`INSERT`, `UPDATE`, `DELETE`).
fn writes(statements: &BTreeSet<String>) -> Vec<&String> {
    statements
        .iter()
        .filter(|sql| {
            let verb = sql.split_whitespace().next().unwrap_or_default();
            ["INSERT", "UPDATE", "DELETE"].contains(&verb.to_ascii_uppercase().as_str())
        })
        .collect()
}

/// The statements of `statements` that name the `sessions` table.
fn naming_sessions(statements: &BTreeSet<String>) -> Vec<&String> {
    statements
        .iter()
        .filter(|sql| {
            sql.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .any(|word| word == "sessions")
        })
        .collect()
}

async fn the_login_page_writes_nothing_and_sets_a_csrf_cookie(backend: Backend) {
    on_own_thread(move || async move {
        let app = TestApp::spawn(&backend).await;
        app.create_user("ada").await;
        let mut page = None;
        let statements = capture(async {
            page = Some(app.get("/login").await);
        })
        .await;
        let page = page.unwrap();
        assert_eq!(page.status(), 200);
        assert!(
            writes(&statements).is_empty(),
            "showing the login form wrote: {statements:#?}"
        );
        assert!(
            !page
                .headers()
                .get_all("set-cookie")
                .iter()
                .any(|c| c.to_str().unwrap().starts_with("latchkey_session=")),
            "no session for a visit"
        );
        let cookie = set_cookie(&page, "latchkey_csrf");
        for attribute in ["HttpOnly", "SameSite=Lax", "Path=/"] {
            assert!(cookie.contains(attribute), "{cookie}");
        }
        let html = page.text().await.unwrap();
        let csrf = hidden_value(&html, "csrf_token");
        let value = cookie.split(';').next().unwrap().split_once('=').unwrap().1;
        assert_ne!(
            csrf, value,
            "the form carries a MAC of the cookie, not the cookie"
        );

        let response = app
            .post_form(
                "/login",
                &[
                    ("csrf_token", &csrf),
                    ("username", "ada"),
                    ("password", PASSWORD),
                ],
            )
            .await;
        assert_eq!(response.status(), 200, "signed in");
        assert!(response.text().await.unwrap().contains("Signed in"));
    })
    .await;
}

async fn sign_in_renews_the_session_id_in_one_update(backend: Backend) {
    on_own_thread(move || async move {
        let app = TestApp::spawn(&backend).await;
        app.create_user("bea").await;
        let client = app.web_client().await;
        let (url, _) = app.authorize_url(&client, "openid", &[]);
        // The authorization request waits in an anonymous session while the user signs in.
        let started = app.get_url(&url).await;
        assert!(location(&started).ends_with("/login"));
        let anonymous = session_cookie(&started);
        let csrf = app.csrf_of("/login").await;

        let mut response = None;
        let statements = capture(async {
            response = Some(
                app.post_form(
                    "/login",
                    &[
                        ("csrf_token", &csrf),
                        ("username", "bea"),
                        ("password", PASSWORD),
                    ],
                )
                .await,
            );
        })
        .await;
        let response = response.unwrap();
        let on_sessions = naming_sessions(&statements);
        let session_writes: Vec<_> = writes(&statements)
            .into_iter()
            .filter(|sql| on_sessions.contains(sql))
            .collect();
        assert_eq!(
            session_writes.len(),
            1,
            "one write renews the session: {session_writes:#?}"
        );
        assert!(
            session_writes[0].starts_with("UPDATE sessions SET id_hash"),
            "{session_writes:#?}"
        );
        // The request carried on under the new id: on to consent, with the old id gone.
        assert!(location(&response).ends_with("/consent"), "{response:?}");
        let renewed = session_cookie(&response);
        assert_ne!(renewed, anonymous, "no session fixation");
        let id = |cookie: &str| TokenHash::of(cookie.split_once('=').unwrap().1);
        let now = app.clock.now();
        let store = &app.state.store;
        assert!(
            store
                .load_session(&id(&anonymous), now)
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            store
                .load_session(&id(&renewed), now)
                .await
                .unwrap()
                .is_some()
        );
        let callback = app.post_consent("allow").await;
        assert!(location(&callback).starts_with(&client.redirect_uri));

        // A browser with no session at all gets one, with one INSERT.
        let fresh = browser();
        let csrf = form_token(&fresh, &app.address).await;
        let statements = capture(async {
            let signed_in = post_login(&fresh, &app.address, &csrf, "bea")
                .send()
                .await
                .unwrap();
            assert_eq!(signed_in.status(), 200);
        })
        .await;
        let on_sessions = naming_sessions(&statements);
        let session_writes: Vec<_> = writes(&statements)
            .into_iter()
            .filter(|sql| on_sessions.contains(sql))
            .collect();
        assert_eq!(session_writes.len(), 1, "{session_writes:#?}");
        assert!(
            session_writes[0].starts_with("INSERT INTO sessions"),
            "{session_writes:#?}"
        );
    })
    .await;
}

/// A client with its own cookie jar and no redirects.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap()
}

/// `POST {base}/login` from `http` as `username` with the form token `csrf`.
fn post_login(
    http: &reqwest::Client,
    base: &str,
    csrf: &str,
    username: &str,
) -> reqwest::RequestBuilder {
    http.post(format!("{base}/login")).form(&[
        ("csrf_token", csrf),
        ("username", username),
        ("password", PASSWORD),
    ])
}

/// The form token of `{base}/login` as `http` is shown it.
async fn form_token(http: &reqwest::Client, base: &str) -> String {
    let page = http.get(format!("{base}/login")).send().await.unwrap();
    hidden_value(&page.text().await.unwrap(), "csrf_token")
}

async fn a_csrf_token_holds_only_with_its_own_cookie_and_session(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    app.create_user("cy").await;
    let base = app.address.as_str();
    let login = |http: reqwest::Client, csrf: String| async move {
        post_login(&http, base, &csrf, "cy")
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    let form_of = |http: reqwest::Client| async move { form_token(&http, base).await };
    let (alice, mallory) = (browser(), browser());
    let first = alice
        .get(format!("{}/login", app.address))
        .send()
        .await
        .unwrap();
    let alice_value = set_cookie(&first, "latchkey_csrf")
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_owned();
    let alice_token = hidden_value(&first.text().await.unwrap(), "csrf_token");
    assert_eq!(
        form_of(alice.clone()).await,
        alice_token,
        "one token per browser"
    );
    let mallory_token = form_of(mallory.clone()).await;

    // Another browser's token, with this browser's own cookie: refused.
    assert_eq!(login(alice.clone(), mallory_token.clone()).await, 403);
    assert_eq!(login(mallory.clone(), alice_token.clone()).await, 403);
    // No cookie at all: refused.
    assert_eq!(
        login(reqwest::Client::new(), alice_token.clone()).await,
        403
    );
    // A cookie planted by an attacker, with the cookie's value as the token (plain double-submit):
    // refused, and so is a token made for another browser's value.
    let planted = "p".repeat(43);
    for token in [planted.clone(), alice_token.clone()] {
        let status = post_login(&reqwest::Client::new(), base, &token, "cy")
            .header("cookie", format!("latchkey_csrf={planted}"))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 403);
    }
    // Alice's own: accepted by another instance of the same issuer (cookies ignore the port).
    let sibling = app.spawn_sibling().await;
    let status = post_login(&alice, &sibling.address, &alice_token, "cy")
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200, "another instance accepts the form");
    // Signed in, the tokens are bound to the sign-in: the one from before is refused, the page's
    // new one works, and it too is refused after the next sign-in.
    assert_eq!(login(alice.clone(), alice_token.clone()).await, 403);
    let token_now = form_of(alice.clone()).await;
    assert_ne!(token_now, alice_token);
    assert_eq!(login(alice.clone(), token_now.clone()).await, 200);
    assert_eq!(login(alice.clone(), token_now).await, 403);
    let unchanged = alice
        .get(format!("{}/login", app.address))
        .send()
        .await
        .unwrap();
    assert!(
        !unchanged
            .headers()
            .get_all("set-cookie")
            .iter()
            .any(|c| c.to_str().unwrap().starts_with("latchkey_csrf=")),
        "the cookie ({alice_value}) is kept"
    );
}
