//! The revocation cache (README "How revocation propagates"): every instance answers "revoked?"
//! from memory, and learns of revocations made elsewhere within a second — by the PostgreSQL
//! notice, or by the catch-up query when no notice comes — and of older ones when it starts.

use crate::helpers::{Backend, REVOCATION_PROPAGATION, TestApp, text};

crate::backend_tests!(
    an_access_token_revoked_at_one_instance_is_inactive_at_another_within_a_second,
    a_grant_revoked_at_one_instance_stops_its_access_tokens_at_another_within_a_second,
    a_reused_refresh_token_stops_the_grants_access_tokens_at_another_instance,
    an_instance_started_after_revocations_knows_them_from_the_start,
    a_revocation_whose_notice_never_comes_is_caught_up_within_a_second,
    an_instance_whose_notice_connection_is_cut_still_learns_within_a_second,
    the_cache_size_and_age_are_in_the_metrics,
);

/// The `jti` and `exp` of a JWT access token (read, not verified: the test issued it).
fn jti_and_exp(token: &str) -> (String, i64) {
    let claims: serde_json::Value = jsonwebtoken::dangerous::insecure_decode(token)
        .unwrap()
        .claims;
    (text(&claims, "jti"), claims["exp"].as_i64().unwrap())
}

async fn an_access_token_revoked_at_one_instance_is_inactive_at_another_within_a_second(
    backend: Backend,
) {
    let first = TestApp::spawn(&backend).await;
    let second = first.spawn_sibling().await;
    let service = first
        .service_client(&["orders:read"], "client_secret_basic")
        .await;
    let token = first.service_token(&service).await;
    let other = first.service_token(&service).await;
    assert_eq!(second.introspect(&service, &token).await["active"], true);

    assert_eq!(first.revoke(&service, &token).await.status(), 200);
    // At once where it was revoked; within a second at the other instance.
    assert_eq!(first.introspect(&service, &token).await["active"], false);
    assert_eq!(
        second.introspect_until_inactive(&service, &token).await,
        serde_json::json!({ "active": false }),
        "the other instance learns it within {REVOCATION_PROPAGATION:?}"
    );
    assert_eq!(
        second.introspect(&service, &other).await["active"],
        true,
        "another token of the same client is untouched"
    );
}

async fn a_grant_revoked_at_one_instance_stops_its_access_tokens_at_another_within_a_second(
    backend: Backend,
) {
    let first = TestApp::spawn(&backend).await;
    let second = first.spawn_sibling().await;
    let client = first.refreshing_client().await;
    first.create_user("alice").await;
    let tokens = first.tokens_for(&client, "alice", "openid").await;
    let access = text(&tokens, "access_token");
    assert_eq!(second.introspect(&client, &access).await["active"], true);
    assert_eq!(second.userinfo_status(&access).await, 200);

    // RFC 7009 §2.1: revoking the refresh token revokes the grant, its access tokens with it.
    let refresh = text(&tokens, "refresh_token");
    assert_eq!(first.revoke(&client, &refresh).await.status(), 200);
    assert_eq!(first.introspect(&client, &access).await["active"], false);
    assert_eq!(
        second.introspect_until_inactive(&client, &access).await,
        serde_json::json!({ "active": false })
    );
    assert_eq!(second.userinfo_status(&access).await, 401);
}

async fn a_reused_refresh_token_stops_the_grants_access_tokens_at_another_instance(
    backend: Backend,
) {
    let first = TestApp::spawn(&backend).await;
    let second = first.spawn_sibling().await;
    let client = first.refreshing_client().await;
    first.create_user("alice").await;
    let tokens = first.tokens_for(&client, "alice", "openid").await;
    let spent = text(&tokens, "refresh_token");
    let rotated: serde_json::Value = first
        .refresh(&client, &spent, None)
        .await
        .json()
        .await
        .unwrap();
    let access = text(&rotated, "access_token");
    assert_eq!(second.introspect(&client, &access).await["active"], true);

    // RFC 9700 §4.14.2: the spent token again, past the grace window, revokes the whole grant.
    first.clock.advance(120);
    second.clock.advance(120);
    let reused = first.refresh(&client, &spent, None).await;
    assert_eq!(reused.status(), 400);
    assert_eq!(first.introspect(&client, &access).await["active"], false);
    assert_eq!(
        second.introspect_until_inactive(&client, &access).await,
        serde_json::json!({ "active": false })
    );
    assert_eq!(second.userinfo_status(&access).await, 401);
}

async fn an_instance_started_after_revocations_knows_them_from_the_start(backend: Backend) {
    let first = TestApp::spawn(&backend).await;
    let service = first
        .service_client(&["orders:read"], "client_secret_basic")
        .await;
    let token = first.service_token(&service).await;
    let client = first.refreshing_client().await;
    first.create_user("alice").await;
    let tokens = first.tokens_for(&client, "alice", "openid").await;
    let access = text(&tokens, "access_token");
    assert_eq!(first.revoke(&service, &token).await.status(), 200);
    assert_eq!(
        first
            .revoke(&client, &text(&tokens, "refresh_token"))
            .await
            .status(),
        200
    );

    // A new instance (a restart, or one more behind the load balancer) serves at once and reads
    // the records in the background; until it has them, the store answers. Either way both
    // revocations hold from its very first answers.
    let restarted = first.spawn_sibling().await;
    assert_eq!(
        restarted.introspect(&service, &token).await,
        serde_json::json!({ "active": false })
    );
    assert_eq!(
        restarted.introspect(&client, &access).await,
        serde_json::json!({ "active": false })
    );
    assert_eq!(restarted.userinfo_status(&access).await, 401);

    // Then its memory holds them (the token's jti and the grant), and answers come from there.
    let cache = &restarted.state.revocations;
    let deadline = std::time::Instant::now() + REVOCATION_PROPAGATION;
    while cache.len() < 2 || cache.age().is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "filled within {REVOCATION_PROPAGATION:?}: {} held",
            cache.len()
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(cache.len(), 2, "the token's jti and the grant");
    let fallbacks = cache.fallbacks();
    assert_eq!(
        restarted.introspect(&client, &access).await,
        serde_json::json!({ "active": false })
    );
    assert_eq!(cache.fallbacks(), fallbacks, "answered from memory");
}

async fn a_revocation_whose_notice_never_comes_is_caught_up_within_a_second(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let service = app
        .service_client(&["orders:read"], "client_secret_basic")
        .await;
    let token = app.service_token(&service).await;
    assert_eq!(app.introspect(&service, &token).await["active"], true);
    if let Backend::Postgres(_) = backend {
        // No notice will be sent: only the catch-up query can tell the instance.
        use sqlx::Connection;
        let mut sql = sqlx::PgConnection::connect(&app.db.url).await.unwrap();
        sqlx::query("ALTER TABLE revocations DISABLE TRIGGER revocations_notify")
            .execute(&mut sql)
            .await
            .unwrap();
    }
    let held = app.state.revocations.len();

    // Written behind the instance's back, straight into the store (as a CLI or another instance
    // whose notice was lost would).
    let (jti, exp) = jti_and_exp(&token);
    let store = app.db.store().await;
    store.revoke_access_token(&jti, exp).await.unwrap();

    assert_eq!(
        app.introspect_until_inactive(&service, &token).await,
        serde_json::json!({ "active": false }),
        "the catch-up finds it within {REVOCATION_PROPAGATION:?}"
    );
    assert_eq!(
        app.state.revocations.len(),
        held + 1,
        "it is in the instance's memory"
    );
}

async fn an_instance_whose_notice_connection_is_cut_still_learns_within_a_second(backend: Backend) {
    let first = TestApp::spawn(&backend).await;
    let second = first.spawn_sibling().await;
    let service = first
        .service_client(&["orders:read"], "client_secret_basic")
        .await;
    let token = first.service_token(&service).await;
    assert_eq!(second.introspect(&service, &token).await["active"], true);
    if let Backend::Postgres(_) = backend {
        // Cut every instance's LISTEN connection (as a database restart or a proxy would), once
        // both are listening.
        use sqlx::Connection;
        let mut sql = sqlx::PgConnection::connect(&first.db.url).await.unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let mut cut_so_far = 0;
        loop {
            let (cut,): (i64,) = sqlx::query_as(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
                 WHERE datname = current_database() AND query LIKE 'LISTEN%'",
            )
            .fetch_one(&mut sql)
            .await
            .unwrap();
            cut_so_far += cut;
            if cut_so_far >= 2 {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "listeners never connected"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    assert_eq!(first.revoke(&service, &token).await.status(), 200);
    assert_eq!(
        second.introspect_until_inactive(&service, &token).await,
        serde_json::json!({ "active": false }),
        "learnt within {REVOCATION_PROPAGATION:?} without the notice"
    );
}

async fn the_cache_size_and_age_are_in_the_metrics(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let service = app
        .service_client(&["orders:read"], "client_secret_basic")
        .await;
    let token = app.service_token(&service).await;
    assert_eq!(app.revoke(&service, &token).await.status(), 200);
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("\nlatchkey_revocation_cache_entries 1\n"),
        "{metrics}"
    );
    let age: f64 = metrics
        .lines()
        .find_map(|line| line.strip_prefix("latchkey_revocation_cache_age_seconds "))
        .unwrap()
        .parse()
        .unwrap();
    assert!((0.0..60.0).contains(&age), "{age}");
    assert!(metrics.contains("\nlatchkey_revocation_cache_fallbacks_total "));
}
