//! The Store contract for what one authorization produces: codes, grants, refresh-token rotation
//! (every outcome, and under concurrency), revocations and consents, on every backend.

use std::sync::Arc;

use latchkey::domain::audit::{AuditEvent, AuditFilter, EventType, InTransaction};
use latchkey::domain::client::{Client, ClientId, ClientSpec};
use latchkey::domain::grant::{
    AuthorizationCode, Grant, GrantId, NewRefreshToken, Redemption, RefreshTokenState,
    RevocationCursor, Rotation,
};
use latchkey::domain::scope::ScopeSet;
use latchkey::domain::secret::TokenHash;
use latchkey::domain::user::{User, UserId};
use latchkey::store::Store;

use serde_json::json;

use crate::helpers::{Backend, TestDb};

crate::backend_tests!(
    a_code_is_redeemed_once_and_its_grant_recorded_with_it,
    of_twenty_concurrent_redemptions_exactly_one_wins,
    refresh_rotation_has_four_outcomes,
    twenty_concurrent_rotations_leave_exactly_one_live_token,
    revocations_cover_one_token_or_a_whole_grant,
    revocations_are_read_again_from_a_cursor_with_every_later_write,
    a_revocation_committed_after_a_later_one_is_not_skipped,
    consents_are_remembered_and_replaced,
    lookups_lists_secrets_and_scopes_round_trip,
    apis_round_trip_and_one_with_scopes_is_not_deleted,
    of_twenty_concurrent_uses_of_a_pushed_request_exactly_one_gets_it,
    of_twenty_concurrent_uses_of_an_assertion_jti_exactly_one_is_first,
    a_logout_delivery_is_queued_with_the_sign_out_and_claimed_once,
    requested_claims_are_kept_with_the_code_and_the_grant_for_its_client,
);

const GRANT: &str = "gr_contract";

fn gid(raw: &str) -> GrantId {
    GrantId::from_stored(raw.to_owned())
}

struct Fixture {
    store: Arc<dyn Store>,
    client: Client,
    user: User,
    _db: TestDb,
}

async fn fixture(backend: &Backend) -> Fixture {
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    let client = Client::from_spec(
        ClientId::parse("dashboard").unwrap(),
        &ClientSpec {
            client_name: "Dashboard".into(),
            redirect_uris: vec!["https://app.example.com/cb".into()],
            grant_types: vec!["authorization_code".into(), "refresh_token".into()],
            scope: "openid email".into(),
            auth_method: "client_secret_basic".into(),
            ..ClientSpec::default()
        },
        0,
    )
    .unwrap();
    store.create_client(&client).await.unwrap();
    let user = User {
        user_id: UserId::generate(),
        username: "alice".into(),
        email: None,
        email_verified: false,
        name: None,
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA".into(),
        disabled: false,
        created_at: 0,
        updated_at: 0,
    };
    store.create_user(&user).await.unwrap();
    Fixture {
        store,
        client,
        user,
        _db: db,
    }
}

fn scope() -> ScopeSet {
    ScopeSet::parse("openid email").unwrap()
}

impl Fixture {
    fn code(&self, value: &str) -> AuthorizationCode {
        AuthorizationCode {
            dpop_jkt: None,
            sid: None,
            code_hash: TokenHash::of(value),
            grant_id: gid(GRANT),
            client_id: self.client.client_id.clone(),
            user_id: self.user.user_id.clone(),
            redirect_uri: "https://app.example.com/cb".into(),
            redirect_uri_sent: false,
            resources: Vec::new(),
            scope: scope(),
            nonce: Some("n".into()),
            code_challenge: None,
            auth_time: 5,
            authentication: latchkey::domain::authn::Authentication::password(),
            requested_claims: None,
            created_at: 10,
            expires_at: 70,
            consumed_at: None,
        }
    }

    fn grant(&self) -> Grant {
        Grant {
            cert_thumbprint: None,
            dpop_jkt: None,
            sid: None,
            grant_id: gid(GRANT),
            client_id: self.client.client_id.clone(),
            user_id: Some(self.user.user_id.clone()),
            scope: scope(),
            resources: Vec::new(),
            auth_time: Some(5),
            authentication: Some(latchkey::domain::authn::Authentication::password()),
            requested_claims: None,
            created_at: 20,
            expires_at: 10_000,
            revoked_at: None,
        }
    }

    /// A code redeemed at 20 with refresh token `rt0`.
    async fn redeemed(&self) {
        self.store
            .create_authorization_code(&self.code("code"))
            .await
            .unwrap();
        let redeemed = self
            .store
            .redeem_authorization_code(
                &TokenHash::of("code"),
                &self.grant(),
                Some(&refresh("rt0", 20)),
                20,
                Default::default(),
            )
            .await
            .unwrap();
        assert_eq!(redeemed, Redemption::Redeemed);
    }

    async fn token(&self, value: &str) -> RefreshTokenState {
        self.store
            .find_refresh_token(&TokenHash::of(value))
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no refresh token {value}"))
    }

    /// Rotate `presented` into `next`, with audit events naming `next` to commit with the outcome.
    async fn rotate(&self, presented: &str, next: &str, now: i64, grace: i64) -> Rotation {
        let event =
            |event_type| AuditEvent::new(event_type, now, "test").detail(json!({ "next": next }));
        let (done, misuse) = (
            event(EventType::RefreshTokenRotated),
            event(EventType::RefreshTokenReused),
        );
        self.store
            .rotate_refresh_token(
                &TokenHash::of(presented),
                &refresh(next, now),
                now,
                now - grace,
                now + 10_000,
                InTransaction {
                    done: Some(&done),
                    misuse: Some(&misuse),
                },
            )
            .await
            .unwrap()
    }

    /// The audit events stored, oldest first: their type and detail.
    async fn audited(&self) -> Vec<(&'static str, serde_json::Value)> {
        let mut events = self
            .store
            .list_audit_events(&AuditFilter {
                limit: 100,
                ..AuditFilter::default()
            })
            .await
            .unwrap();
        events.reverse();
        events
            .into_iter()
            .map(|e| (e.event_type.as_str(), e.detail))
            .collect()
    }
}

fn refresh(value: &str, now: i64) -> NewRefreshToken {
    NewRefreshToken {
        token_hash: TokenHash::of(value),
        grant_id: gid(GRANT),
        scope: scope(),
        created_at: now,
        expires_at: now + 1_000,
    }
}

async fn a_code_is_redeemed_once_and_its_grant_recorded_with_it(backend: Backend) {
    let f = fixture(&backend).await;
    f.store
        .create_authorization_code(&f.code("code"))
        .await
        .unwrap();
    let stored = f
        .store
        .find_authorization_code(&TokenHash::of("code"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored, f.code("code"), "every field round-trips");
    let grant = f.grant();
    let created = AuditEvent::new(EventType::GrantCreated, 20, "test").with("try", 1);
    let first = f
        .store
        .redeem_authorization_code(
            &TokenHash::of("code"),
            &grant,
            Some(&refresh("rt0", 20)),
            20,
            InTransaction::done(&created),
        )
        .await
        .unwrap();
    assert_eq!(first, Redemption::Redeemed);
    let again_event = AuditEvent::new(EventType::GrantCreated, 21, "test").with("try", 2);
    let again = f
        .store
        .redeem_authorization_code(
            &TokenHash::of("code"),
            &grant,
            None,
            21,
            InTransaction::done(&again_event),
        )
        .await
        .unwrap();
    assert_eq!(again, Redemption::AlreadyUsed);
    assert_eq!(
        f.audited().await,
        [("grant.created", json!({ "try": 1 }))],
        "the grant's event committed with it; the refused redemption wrote none"
    );
    let consumed = f
        .store
        .find_authorization_code(&TokenHash::of("code"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(consumed.consumed_at, Some(20));
    let token = f.token("rt0").await;
    assert_eq!(token.grant_id, gid(GRANT));
    assert_eq!(token.client_id.as_str(), "dashboard");
    assert_eq!(token.grant_created_at, 20);
    assert_eq!(token.auth_time, Some(5));
    assert!(!token.grant_revoked && token.rotated_at.is_none());
    assert!(
        f.store
            .find_authorization_code(&TokenHash::of("unknown"))
            .await
            .unwrap()
            .is_none()
    );
}

async fn of_twenty_concurrent_redemptions_exactly_one_wins(backend: Backend) {
    let f = fixture(&backend).await;
    f.store
        .create_authorization_code(&f.code("code"))
        .await
        .unwrap();
    let mut attempts = Vec::new();
    for n in 0..20 {
        let (store, grant) = (Arc::clone(&f.store), f.grant());
        attempts.push(tokio::spawn(async move {
            let token = refresh(&format!("rt-{n}"), 20);
            store
                .redeem_authorization_code(
                    &TokenHash::of("code"),
                    &grant,
                    Some(&token),
                    20,
                    Default::default(),
                )
                .await
        }));
    }
    let mut redeemed = 0;
    for attempt in attempts {
        if attempt.await.unwrap().unwrap() == Redemption::Redeemed {
            redeemed += 1;
        }
    }
    assert_eq!(redeemed, 1);
}

async fn refresh_rotation_has_four_outcomes(backend: Backend) {
    let f = fixture(&backend).await;
    f.redeemed().await;
    // Rotated: a live token is spent and its successor stored.
    assert_eq!(f.rotate("rt0", "rt1", 100, 5).await, Rotation::Rotated);
    assert_eq!(f.token("rt0").await.rotated_at, Some(100));
    // Reissued: the spent token again, within the grace window, its successor unused: the
    // successor is retired and a new token takes its place.
    assert_eq!(f.rotate("rt0", "rt2", 102, 5).await, Rotation::Reissued);
    assert!(f.token("rt1").await.rotated_at.is_some(), "rt1 retired");
    assert!(f.token("rt2").await.rotated_at.is_none(), "rt2 live");
    // Refused: within the window, but the current successor has been used since; nothing revoked.
    assert_eq!(f.rotate("rt2", "rt3", 103, 5).await, Rotation::Rotated);
    assert_eq!(f.rotate("rt0", "rt4", 104, 5).await, Rotation::Refused);
    assert!(!f.token("rt3").await.grant_revoked);
    assert!(
        f.store
            .find_refresh_token(&TokenHash::of("rt4"))
            .await
            .unwrap()
            .is_none(),
        "a refused rotation stores nothing"
    );
    // Reused: a spent token after the window revokes the whole grant.
    assert_eq!(f.rotate("rt0", "rt5", 500, 5).await, Rotation::Reused);
    assert!(f.token("rt3").await.grant_revoked);
    assert!(f.store.is_revoked("-", &gid(GRANT)).await.unwrap());
    // An unknown or expired token is refused.
    assert_eq!(f.rotate("nope", "rt6", 501, 5).await, Rotation::Refused);
    // Each outcome's audit event committed with it; the refusals wrote none.
    let audited = f.audited().await;
    let expected = [
        ("refresh_token.rotated", "rt1"),
        ("refresh_token.rotated", "rt2"),
        ("refresh_token.rotated", "rt3"),
        ("refresh_token.reused", "rt5"),
    ];
    assert_eq!(
        audited,
        expected
            .iter()
            .map(|(t, next)| (*t, json!({ "next": next })))
            .collect::<Vec<_>>()
    );
}

async fn twenty_concurrent_rotations_leave_exactly_one_live_token(backend: Backend) {
    let f = fixture(&backend).await;
    f.redeemed().await;
    let mut attempts = Vec::new();
    for n in 0..20 {
        let store = Arc::clone(&f.store);
        attempts.push(tokio::spawn(async move {
            store
                .rotate_refresh_token(
                    &TokenHash::of("rt0"),
                    &refresh(&format!("next-{n}"), 100),
                    100,
                    95,
                    10_000,
                    Default::default(),
                )
                .await
        }));
    }
    let mut outcomes = Vec::new();
    for attempt in attempts {
        outcomes.push(attempt.await.unwrap().unwrap());
    }
    assert_eq!(
        outcomes.iter().filter(|o| **o == Rotation::Rotated).count(),
        1,
        "{outcomes:?}"
    );
    assert!(!outcomes.contains(&Rotation::Reused), "{outcomes:?}");
    let mut live = 0;
    for n in 0..20 {
        if let Some(token) = f
            .store
            .find_refresh_token(&TokenHash::of(&format!("next-{n}")))
            .await
            .unwrap()
            && token.rotated_at.is_none()
        {
            live += 1;
        }
    }
    assert_eq!(live, 1, "exactly one live refresh token");
}

async fn revocations_cover_one_token_or_a_whole_grant(backend: Backend) {
    let f = fixture(&backend).await;
    f.redeemed().await;
    assert!(!f.store.is_revoked("at_1", &gid(GRANT)).await.unwrap());
    f.store.revoke_access_token("at_1", 600).await.unwrap();
    f.store.revoke_access_token("at_1", 600).await.unwrap();
    assert!(f.store.is_revoked("at_1", &gid("gr_other")).await.unwrap());
    assert!(!f.store.is_revoked("at_2", &gid(GRANT)).await.unwrap());
    f.store
        .revoke_grant(&gid(GRANT), 30, 10_000, Default::default())
        .await
        .unwrap();
    assert!(f.store.is_revoked("at_2", &gid(GRANT)).await.unwrap());
    assert!(f.token("rt0").await.grant_revoked);
}

/// The records read from `since` at `now`, by id, and where the next read starts.
async fn records(
    store: &dyn latchkey::store::Store,
    since: RevocationCursor,
    now: i64,
) -> (std::collections::BTreeMap<String, i64>, RevocationCursor) {
    let mut read = std::collections::BTreeMap::new();
    let next = store
        .revocations_since(since, now, &mut |id, expires_at| {
            read.insert(id.to_owned(), expires_at);
        })
        .await
        .unwrap();
    (read, next)
}

async fn revocations_are_read_again_from_a_cursor_with_every_later_write(backend: Backend) {
    let db = TestDb::new(&backend).await;
    let store = db.store().await;
    store.revoke_access_token("at_1", 600).await.unwrap();
    store.revoke_access_token("at_gone", 100).await.unwrap();
    // From the start: everything unexpired at `now`.
    let (fill, next) = records(store.as_ref(), RevocationCursor::START, 200).await;
    assert_eq!(fill, [("at_1".to_owned(), 600)].into());
    assert!(next > RevocationCursor::START);

    // From the cursor: what was written since (a record may come again, never go missing).
    store
        .revoke_grant(&gid("gr_x"), 200, 10_000, Default::default())
        .await
        .unwrap();
    let (later, after_later) = records(store.as_ref(), next, 200).await;
    assert_eq!(later.get("gr_x"), Some(&10_000));
    assert!(after_later >= next);

    // A longer record of the same grant (a user signed out everywhere) comes again, extended.
    store
        .revoke_grant(&gid("gr_x"), 300, 20_000, Default::default())
        .await
        .unwrap();
    let (extended, after_extended) = records(store.as_ref(), after_later, 300).await;
    assert_eq!(extended.get("gr_x"), Some(&20_000));

    // Housekeeping deletes expired records; the cursor goes on regardless.
    store.housekeep(700, 0).await.unwrap();
    store.revoke_access_token("at_2", 900).await.unwrap();
    let (after_gc, _) = records(store.as_ref(), after_extended, 700).await;
    assert_eq!(after_gc.get("at_2"), Some(&900));
    assert!(!after_gc.contains_key("at_1"));
}

async fn a_revocation_committed_after_a_later_one_is_not_skipped(backend: Backend) {
    // SQLite has one writer at a time: a later write cannot commit first.
    let Backend::Postgres(_) = backend else {
        return;
    };
    use sqlx::Connection;
    let db = TestDb::new(&backend).await;
    let store = db.store().await;
    let (_, start) = records(store.as_ref(), RevocationCursor::START, 0).await;
    // A slow writer stamps its record first and commits last.
    let mut slow = sqlx::PgConnection::connect(&db.url).await.unwrap();
    let mut tx = slow.begin().await.unwrap();
    sqlx::query("INSERT INTO revocations (id, expires_at) VALUES ('slow', 1000)")
        .execute(&mut *tx)
        .await
        .unwrap();
    store.revoke_access_token("fast", 1000).await.unwrap();
    let (first, next) = records(store.as_ref(), start, 0).await;
    assert!(first.contains_key("fast"));
    assert!(!first.contains_key("slow"), "not committed yet");
    tx.commit().await.unwrap();
    let (second, _) = records(store.as_ref(), next, 0).await;
    assert!(
        second.contains_key("slow"),
        "committed after a later write was read: still found from the cursor"
    );
}

async fn consents_are_remembered_and_replaced(backend: Backend) {
    let f = fixture(&backend).await;
    let user = &f.user.user_id;
    let dashboard = &f.client.client_id;
    assert_eq!(f.store.find_consent(user, dashboard).await.unwrap(), None);
    f.store
        .save_consent(user, dashboard, "openid", 1)
        .await
        .unwrap();
    f.store
        .save_consent(user, dashboard, "email openid", 2)
        .await
        .unwrap();
    assert_eq!(
        f.store
            .find_consent(user, dashboard)
            .await
            .unwrap()
            .as_deref(),
        Some("email openid")
    );
}

async fn lookups_lists_secrets_and_scopes_round_trip(backend: Backend) {
    let f = fixture(&backend).await;
    let by_name = f.store.find_user_by_username("alice").await.unwrap();
    assert_eq!(by_name.as_ref().map(|u| &u.user_id), Some(&f.user.user_id));
    assert!(
        f.store
            .find_user_by_username("bob")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(f.store.list_users().await.unwrap().len(), 1);
    assert_eq!(
        f.store.list_clients().await.unwrap(),
        vec![f.client.clone()]
    );
    let secret = TokenHash::of("lk_cs_new");
    assert!(
        f.store
            .set_client_secret(&f.client.client_id, &secret, None, 9)
            .await
            .unwrap()
    );
    let stored = f
        .store
        .find_client(&f.client.client_id)
        .await
        .unwrap()
        .unwrap();
    assert!(stored.secret_matches("lk_cs_new"));
    assert!(
        !f.store
            .set_client_secret(&ClientId::parse("nobody").unwrap(), &secret, None, 9)
            .await
            .unwrap()
    );
    // Built-in scopes cannot be deleted; custom ones can, once.
    assert!(!f.store.delete_scope("openid").await.unwrap());
    f.store
        .create_scope(&latchkey::domain::scope::Scope {
            name: "orders:read".into(),
            description: "Read orders".into(),
            builtin: false,
            api: None,
            hidden: false,
            created_at: 0,
        })
        .await
        .unwrap();
    assert!(f.store.delete_scope("orders:read").await.unwrap());
    assert!(!f.store.delete_scope("orders:read").await.unwrap());
    assert!(f.store.ping().await.is_ok());
}

async fn apis_round_trip_and_one_with_scopes_is_not_deleted(backend: Backend) {
    use latchkey::domain::alg::SigningAlg;
    use latchkey::domain::api::{Api, Audience};
    let f = fixture(&backend).await;
    let orders = Audience::parse("https://orders.example.com").unwrap();
    let api = Api {
        audience: orders.clone(),
        name: "Orders".into(),
        access_token_ttl: Some(300),
        access_token_alg: Some(SigningAlg::ES256),
        token_format: latchkey::domain::api::TokenFormat::Opaque,
        rbac: true,
        created_at: 1,
        updated_at: 1,
    };
    f.store.create_api(&api).await.unwrap();
    assert!(matches!(
        f.store.create_api(&api).await,
        Err(latchkey::store::StoreError::Conflict(_))
    ));
    assert_eq!(f.store.list_apis().await.unwrap(), vec![api.clone()]);
    let renamed = Api {
        name: "Orders API".into(),
        access_token_ttl: None,
        access_token_alg: None,
        updated_at: 2,
        ..api.clone()
    };
    assert!(f.store.update_api(&renamed).await.unwrap());
    assert_eq!(f.store.list_apis().await.unwrap(), vec![renamed]);
    f.store
        .create_scope(&latchkey::domain::scope::Scope {
            name: "orders:read".into(),
            description: "Read orders".into(),
            builtin: false,
            api: Some(orders.clone()),
            hidden: true,
            created_at: 0,
        })
        .await
        .unwrap();
    let stored = f.store.list_scopes().await.unwrap();
    let scope = stored.iter().find(|s| s.name == "orders:read").unwrap();
    assert_eq!((scope.api.as_ref(), scope.hidden), (Some(&orders), true));
    // An API that scopes belong to is not deleted; detached, it is.
    assert!(!f.store.delete_api(&orders).await.unwrap());
    assert!(f.store.set_scope_api("orders:read", None).await.unwrap());
    assert!(
        !f.store
            .set_scope_api("openid", Some(&orders))
            .await
            .unwrap(),
        "never an OIDC scope"
    );
    assert!(f.store.delete_api(&orders).await.unwrap());
    assert!(f.store.list_apis().await.unwrap().is_empty());
    // A client's resources, and a code's and its grant's, round-trip.
    let mut client = f.client.clone();
    client.resources = vec![Audience::parse("https://billing.example.com").unwrap()];
    client.default_resource = client.resources.first().cloned();
    assert!(f.store.update_client(&client).await.unwrap());
    assert_eq!(
        f.store.find_client(&client.client_id).await.unwrap(),
        Some(client.clone())
    );
    let mut code = f.code("code-r");
    code.resources = client.resources.clone();
    f.store.create_authorization_code(&code).await.unwrap();
    let stored = f
        .store
        .find_authorization_code(&TokenHash::of("code-r"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.resources, client.resources);
    let grant = Grant {
        resources: client.resources.clone(),
        ..f.grant()
    };
    f.store
        .redeem_authorization_code(
            &TokenHash::of("code-r"),
            &grant,
            Some(&refresh("rt-r", 20)),
            20,
            Default::default(),
        )
        .await
        .unwrap();
    assert_eq!(f.token("rt-r").await.resources, client.resources);
}

async fn of_twenty_concurrent_uses_of_a_pushed_request_exactly_one_gets_it(backend: Backend) {
    let f = fixture(&backend).await;
    let uri = TokenHash::of("urn:ietf:params:oauth:request_uri:x");
    f.store
        .create_pushed_request(&uri, &f.client.client_id, r#"{"scope":"openid"}"#, 60)
        .await
        .unwrap();
    // Another client's use, or a use after expiry, finds nothing and leaves it in place.
    let other = ClientId::parse("other").unwrap();
    assert_eq!(
        f.store
            .consume_pushed_request(&uri, &other, 10)
            .await
            .unwrap(),
        None
    );
    let mut attempts = Vec::new();
    for _ in 0..20 {
        let (store, client_id, uri) = (
            Arc::clone(&f.store),
            f.client.client_id.clone(),
            uri.clone(),
        );
        attempts.push(tokio::spawn(async move {
            store.consume_pushed_request(&uri, &client_id, 10).await
        }));
    }
    let mut taken = Vec::new();
    for attempt in attempts {
        if let Some(params) = attempt.await.unwrap().unwrap() {
            taken.push(params);
        }
    }
    assert_eq!(taken, [r#"{"scope":"openid"}"#]);
    // An expired request is taken out too, but answers nothing.
    let late = TokenHash::of("urn:ietf:params:oauth:request_uri:late");
    f.store
        .create_pushed_request(&late, &f.client.client_id, "{}", 60)
        .await
        .unwrap();
    assert_eq!(
        f.store
            .consume_pushed_request(&late, &f.client.client_id, 60)
            .await
            .unwrap(),
        None
    );
}

async fn of_twenty_concurrent_uses_of_an_assertion_jti_exactly_one_is_first(backend: Backend) {
    let f = fixture(&backend).await;
    let jti = TokenHash::of("jti-1");
    let mut attempts = Vec::new();
    for _ in 0..20 {
        let (store, client_id, jti) = (
            Arc::clone(&f.store),
            f.client.client_id.clone(),
            jti.clone(),
        );
        attempts.push(tokio::spawn(async move {
            store.record_client_assertion(&client_id, &jti, 300).await
        }));
    }
    let mut first = 0;
    for attempt in attempts {
        if attempt.await.unwrap().unwrap() {
            first += 1;
        }
    }
    assert_eq!(first, 1);
    // The same jti of another client is that client's own.
    let other = Client {
        client_id: ClientId::parse("other-service").unwrap(),
        ..f.client.clone()
    };
    f.store.create_client(&other).await.unwrap();
    assert!(
        f.store
            .record_client_assertion(&other.client_id, &jti, 300)
            .await
            .unwrap()
    );
}

/// OIDC Back-Channel Logout: a redeemed code of session `sid` records the sign-in; signing the user
/// out queues one delivery in the same transaction; of twenty concurrent claims one gets it; a
/// retry is hidden until due; finishing deletes it.
async fn a_logout_delivery_is_queued_with_the_sign_out_and_claimed_once(backend: Backend) {
    let f = fixture(&backend).await;
    // Without a logout URI nothing is queued.
    let code = AuthorizationCode {
        sid: Some("sid-1".into()),
        ..f.code("code")
    };
    f.store.create_authorization_code(&code).await.unwrap();
    let grant = Grant {
        sid: Some("sid-1".into()),
        ..f.grant()
    };
    f.store
        .redeem_authorization_code(&TokenHash::of("code"), &grant, None, 20, Default::default())
        .await
        .unwrap();
    assert_eq!(
        f.store.end_session_sign_ins("other-sid", 30).await.unwrap(),
        0
    );
    let with_uri = Client {
        backchannel_logout_uri: Some("https://app.example.com/bc".into()),
        ..f.client.clone()
    };
    assert!(f.store.update_client(&with_uri).await.unwrap());

    let signed_out = f
        .store
        .revoke_user_sessions(&f.user.user_id, 40, 1_000, InTransaction::default())
        .await
        .unwrap();
    assert!(signed_out.is_some());
    // The sign-in is forgotten: a second sign-out queues nothing more.
    assert_eq!(f.store.end_session_sign_ins("sid-1", 41).await.unwrap(), 0);

    let mut claims = Vec::new();
    for _ in 0..20 {
        let store = Arc::clone(&f.store);
        claims.push(tokio::spawn(async move {
            store.claim_logout_deliveries(50, 110, 32).await
        }));
    }
    let mut claimed = Vec::new();
    for claim in claims {
        claimed.extend(claim.await.unwrap().unwrap());
    }
    assert_eq!(claimed.len(), 1, "{claimed:?}");
    let delivery = &claimed[0];
    assert_eq!(delivery.client_id, f.client.client_id);
    assert_eq!(delivery.sub, f.user.user_id);
    assert_eq!(delivery.sid, "sid-1");
    assert_eq!(delivery.attempts, 1);
    // Leased until 110, then retried at 200: hidden until then.
    assert!(
        f.store
            .claim_logout_deliveries(100, 160, 32)
            .await
            .unwrap()
            .is_empty()
    );
    f.store
        .finish_logout_delivery(&delivery.jti, Some(200))
        .await
        .unwrap();
    assert!(
        f.store
            .claim_logout_deliveries(199, 260, 32)
            .await
            .unwrap()
            .is_empty()
    );
    let again = f.store.claim_logout_deliveries(200, 260, 32).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(
        (again[0].jti.as_str(), again[0].attempts),
        (delivery.jti.as_str(), 2)
    );
    f.store
        .finish_logout_delivery(&delivery.jti, None)
        .await
        .unwrap();
    assert!(
        f.store
            .claim_logout_deliveries(10_000, 10_060, 32)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn requested_claims_are_kept_with_the_code_and_the_grant_for_its_client(backend: Backend) {
    use latchkey::domain::claims_request::ClaimsRequest;
    let f = fixture(&backend).await;
    let requested = ClaimsRequest::parse(
        r#"{"id_token":{"email":{"essential":true}},"userinfo":{"email_verified":null}}"#,
    )
    .unwrap();
    let code = AuthorizationCode {
        requested_claims: Some(requested.clone()),
        ..f.code("claims-code")
    };
    f.store.create_authorization_code(&code).await.unwrap();
    let found = f
        .store
        .find_authorization_code(&TokenHash::of("claims-code"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.requested_claims.as_ref(), Some(&requested));
    let grant = Grant {
        requested_claims: Some(requested.clone()),
        ..f.grant()
    };
    f.store
        .redeem_authorization_code(
            &TokenHash::of("claims-code"),
            &grant,
            Some(&refresh("claims-rt", 20)),
            20,
            Default::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        f.token("claims-rt").await.requested_claims.as_ref(),
        Some(&requested),
        "kept for refreshed ID tokens"
    );
    assert_eq!(
        f.store
            .find_requested_claims(&gid(GRANT), &f.client.client_id)
            .await
            .unwrap(),
        Some(requested),
        "kept for UserInfo"
    );
    // Another client's token (after a token exchange) never sees them; nor does an unknown grant.
    let other = ClientId::parse("other").unwrap();
    assert_eq!(
        f.store
            .find_requested_claims(&gid(GRANT), &other)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        f.store
            .find_requested_claims(&gid("gr_unknown"), &f.client.client_id)
            .await
            .unwrap(),
        None
    );
    // A code and a grant without any.
    f.store
        .create_authorization_code(&f.code("plain-code"))
        .await
        .unwrap();
    let plain = f
        .store
        .find_authorization_code(&TokenHash::of("plain-code"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(plain.requested_claims, None);
}
