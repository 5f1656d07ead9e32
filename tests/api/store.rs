//! The Store contract: the same suite against every backend.

use latchkey::clock::{Clock, FixedClock};
use latchkey::domain::alg::SigningAlg;
use latchkey::domain::attempt::{AttemptCounter, Reservation};
use latchkey::domain::client::{Client, ClientId, ClientSecret, ClientSpec};
use latchkey::domain::grant::{
    AuthorizationCode, Grant, NewRefreshToken, Redemption, Rotation, SignOut,
};
use latchkey::domain::scope::Scope;
use latchkey::domain::scope::ScopeSet;
use latchkey::domain::secret::TokenHash;
use latchkey::domain::user::{User, UserId};
use latchkey::keys::{KeyEncryptionKey, KeyRing};
use latchkey::store::{KeyState, StoreError};
use secrecy::SecretString;

use crate::helpers::{Backend, TEST_SECRET, TestDb};

fn gid(raw: &str) -> latchkey::domain::grant::GrantId {
    latchkey::domain::grant::GrantId::from_stored(raw.to_owned())
}

crate::backend_tests!(
    a_client_round_trips_and_its_id_is_unique,
    a_client_can_be_updated_and_deleted,
    a_duplicate_username_is_rejected,
    users_can_be_disabled_re_passworded_and_deleted,
    the_oidc_scopes_exist_and_custom_scopes_round_trip,
    signing_keys_are_stored_encrypted_and_round_trip,
    rotation_promotes_next_retires_active_and_publishes_a_new_next,
    retired_keys_leave_the_jwks_after_their_tokens_expire,
    migrations_can_run_twice,
    housekeeping_deletes_only_what_can_no_longer_matter,
    signing_a_user_out_ends_their_sessions_codes_and_grants_and_nobody_elses,
    a_session_is_found_by_its_hash_and_a_saved_session_is_never_brought_back,
    attempt_counters_reserve_all_or_nothing_refund_clear_and_expire,
    concurrent_reservations_of_a_counter_succeed_exactly_up_to_its_limit,
    a_sealed_client_secret_is_kept_only_for_client_secret_jwt_and_rewrapped_only_as_read,
);

pub(crate) fn web_client(now: i64) -> Client {
    let spec = ClientSpec {
        client_name: "Web app".into(),
        redirect_uris: vec![
            "https://app.example.com/cb".into(),
            "http://127.0.0.1/cb".into(),
        ],
        post_logout_redirect_uris: vec!["https://app.example.com/bye".into()],
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        scope: "openid email".into(),
        auth_method: "client_secret_post".into(),
        skip_consent: true,
        ..ClientSpec::default()
    };
    let mut client = Client::from_spec(ClientId::generate(), &spec, now).unwrap();
    client.secret_hash = Some(ClientSecret::generate().hash());
    client
}

pub(crate) fn user(username: &str, now: i64) -> User {
    User {
        user_id: UserId::generate(),
        username: username.into(),
        email: Some(format!("{username}@example.com")),
        email_verified: true,
        name: Some("Test User".into()),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA".into(),
        disabled: false,
        created_at: now,
        updated_at: now,
    }
}

async fn a_client_round_trips_and_its_id_is_unique(backend: Backend) {
    let db = TestDb::new(&backend).await;
    let store = db.store().await;
    let client = web_client(1_000);
    store.create_client(&client).await.unwrap();
    let found = store.find_client(&client.client_id).await.unwrap().unwrap();
    assert_eq!(found, client);
    assert!(
        store
            .find_client(&ClientId::parse("nobody").unwrap())
            .await
            .unwrap()
            .is_none()
    );
    let err = store.create_client(&client).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(store.list_clients().await.unwrap(), vec![client]);
}

async fn a_client_can_be_updated_and_deleted(backend: Backend) {
    let db = TestDb::new(&backend).await;
    let store = db.store().await;
    let mut client = web_client(1_000);
    store.create_client(&client).await.unwrap();
    client.client_name = "Renamed".into();
    client.skip_consent = false;
    client.updated_at = 2_000;
    assert!(store.update_client(&client).await.unwrap());
    assert_eq!(
        store.find_client(&client.client_id).await.unwrap().unwrap(),
        client
    );

    let secret = ClientSecret::generate();
    assert!(
        store
            .set_client_secret(&client.client_id, &secret.hash(), None, 3_000)
            .await
            .unwrap()
    );
    let found = store.find_client(&client.client_id).await.unwrap().unwrap();
    assert!(found.secret_matches(secret.expose()));

    assert!(store.delete_client(&client.client_id).await.unwrap());
    assert!(!store.delete_client(&client.client_id).await.unwrap());
    assert!(
        store
            .find_client(&client.client_id)
            .await
            .unwrap()
            .is_none()
    );
    let ghost = web_client(1_000);
    assert!(!store.update_client(&ghost).await.unwrap());
}

async fn a_duplicate_username_is_rejected(backend: Backend) {
    let db = TestDb::new(&backend).await;
    let store = db.store().await;
    let alice = user("alice", 1_000);
    store.create_user(&alice).await.unwrap();
    let err = store.create_user(&user("alice", 1_001)).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict(ref m) if m.contains("alice")),
        "{err:?}"
    );
    assert_eq!(store.list_users().await.unwrap(), vec![alice.clone()]);
    assert_eq!(
        store.find_user_by_username("alice").await.unwrap(),
        Some(alice.clone())
    );
    assert_eq!(store.find_user(&alice.user_id).await.unwrap(), Some(alice));
}

async fn users_can_be_disabled_re_passworded_and_deleted(backend: Backend) {
    let db = TestDb::new(&backend).await;
    let store = db.store().await;
    let bob = user("bob", 1_000);
    store.create_user(&bob).await.unwrap();
    assert!(
        store
            .disable_user(&bob.user_id, 2_000, 3_000, Default::default())
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .set_user_password(
                &bob.user_id,
                "$argon2id$new",
                2_001,
                3_000,
                Default::default()
            )
            .await
            .unwrap()
            .is_some()
    );
    let found = store.find_user_by_username("bob").await.unwrap().unwrap();
    assert!(found.disabled);
    assert_eq!(found.password_hash, "$argon2id$new");
    assert_eq!(found.updated_at, 2_001);
    assert!(store.enable_user(&bob.user_id, 2_002).await.unwrap());
    assert!(
        !store
            .find_user(&bob.user_id)
            .await
            .unwrap()
            .unwrap()
            .disabled
    );
    assert!(store.delete_user(&bob.user_id, 0).await.unwrap());
    assert!(!store.delete_user(&bob.user_id, 0).await.unwrap());
    assert!(!store.enable_user(&bob.user_id, 3_000).await.unwrap());
    assert!(
        store
            .disable_user(&bob.user_id, 3_000, 4_000, Default::default())
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .set_user_password(
                &bob.user_id,
                "$argon2id$x",
                3_000,
                4_000,
                Default::default()
            )
            .await
            .unwrap()
            .is_none()
    );
}

async fn the_oidc_scopes_exist_and_custom_scopes_round_trip(backend: Backend) {
    let db = TestDb::new(&backend).await;
    let store = db.store().await;
    let names = |scopes: Vec<Scope>| scopes.into_iter().map(|s| s.name).collect::<Vec<_>>();
    assert_eq!(
        names(store.list_scopes().await.unwrap()),
        vec![
            "email",
            "groups",
            "offline_access",
            "openid",
            "profile",
            "roles"
        ]
    );
    assert!(store.list_scopes().await.unwrap().iter().all(|s| s.builtin));
    let orders = Scope {
        name: "orders:read".into(),
        description: "Read your orders".into(),
        builtin: false,
        api: None,
        hidden: false,
        created_at: 1_000,
    };
    store.create_scope(&orders).await.unwrap();
    assert!(matches!(
        store.create_scope(&orders).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(store.list_scopes().await.unwrap().contains(&orders));
    assert!(
        !store.delete_scope("openid").await.unwrap(),
        "builtin scopes stay"
    );
    assert!(store.delete_scope("orders:read").await.unwrap());
    assert!(!store.delete_scope("orders:read").await.unwrap());
}

/// Retired keys stay published 600 s (570 s of token life plus a 30 s refresh interval); no
/// automatic rotation.
const POLICY: latchkey::config::KeyPolicy = latchkey::config::KeyPolicy {
    token_lifetime: 570,
    refresh_interval: 30,
    rotation_interval: 0,
    publish_ahead: 330,
};

fn key_ring() -> KeyRing {
    KeyRing::new(
        KeyEncryptionKey::derive(&SecretString::from(TEST_SECRET.to_owned())).unwrap(),
        POLICY,
    )
}

async fn signing_keys_are_stored_encrypted_and_round_trip(backend: Backend) {
    let db = TestDb::new(&backend).await;
    let store = db.store().await;
    let ring = key_ring();
    let created = ring
        .ensure(store.as_ref(), SigningAlg::RS256, 1_000)
        .await
        .unwrap();
    assert_eq!(created.len(), 2, "an active and a next key");
    assert!(
        ring.ensure(store.as_ref(), SigningAlg::RS256, 1_001)
            .await
            .unwrap()
            .is_empty()
    );

    let records = store.list_signing_keys().await.unwrap();
    let active = records
        .iter()
        .find(|r| r.state == KeyState::Active)
        .unwrap();
    // PKCS#8 DER starts with a SEQUENCE tag (0x30); the stored bytes are sealed instead.
    assert!(active.private_key.len() > 1_000);
    assert!(!active.public_jwk.contains("\"d\""));
    let kek = KeyEncryptionKey::derive(&SecretString::from(TEST_SECRET.to_owned())).unwrap();
    let pkcs8 = kek.decrypt(&active.kid, &active.private_key).unwrap();
    assert_eq!(pkcs8[0], 0x30);
    assert_ne!(
        active.private_key[..pkcs8.len().min(64)],
        pkcs8[..pkcs8.len().min(64)]
    );

    ring.refresh(store.as_ref(), 1_000).await.unwrap();
    assert_eq!(ring.signing_key(SigningAlg::RS256).unwrap().kid, active.kid);

    let stranger = KeyRing::new(
        KeyEncryptionKey::derive(&SecretString::from(
            "another secret, also long enough!!".to_owned(),
        ))
        .unwrap(),
        POLICY,
    );
    let err = stranger.refresh(store.as_ref(), 1_000).await.unwrap_err();
    assert!(err.to_string().contains("cannot decrypt"), "{err}");
}

async fn rotation_promotes_next_retires_active_and_publishes_a_new_next(backend: Backend) {
    let db = TestDb::new(&backend).await;
    let store = db.store().await;
    let ring = key_ring();
    ring.ensure(store.as_ref(), SigningAlg::RS256, 1_000)
        .await
        .unwrap();
    let before = store.list_signing_keys().await.unwrap();
    let old_active = before
        .iter()
        .find(|r| r.state == KeyState::Active)
        .unwrap()
        .kid
        .clone();
    let old_next = before
        .iter()
        .find(|r| r.state == KeyState::Next)
        .unwrap()
        .kid
        .clone();

    let promoted = ring
        .rotate(store.as_ref(), SigningAlg::RS256, 2_000)
        .await
        .unwrap();
    assert_eq!(promoted, old_next, "the pre-published key starts signing");

    let after = store.list_signing_keys().await.unwrap();
    assert_eq!(after.len(), 3);
    let state_of = |kid: &str| after.iter().find(|r| r.kid == kid).unwrap().state;
    assert_eq!(state_of(&old_active), KeyState::Retired);
    assert_eq!(state_of(&old_next), KeyState::Active);
    assert_eq!(
        after.iter().filter(|r| r.state == KeyState::Next).count(),
        1
    );

    ring.refresh(store.as_ref(), 2_000).await.unwrap();
    assert_eq!(ring.signing_key(SigningAlg::RS256).unwrap().kid, old_next);
    assert!(
        ring.verification_key(&old_active).is_some(),
        "the retired key still verifies"
    );
    let jwks: serde_json::Value = serde_json::from_str(&ring.jwks()).unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 3);
}

async fn retired_keys_leave_the_jwks_after_their_tokens_expire(backend: Backend) {
    let db = TestDb::new(&backend).await;
    let store = db.store().await;
    let ring = key_ring();
    let clock = FixedClock::new(10_000);
    ring.ensure(store.as_ref(), SigningAlg::RS256, clock.now())
        .await
        .unwrap();
    let retired = ring
        .rotate(store.as_ref(), SigningAlg::RS256, clock.now())
        .await
        .unwrap();
    let retired = store
        .list_signing_keys()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.state == KeyState::Retired)
        .map(|r| r.kid)
        .unwrap_or(retired);
    clock.advance(599);
    ring.refresh(store.as_ref(), clock.now()).await.unwrap();
    assert!(ring.verification_key(&retired).is_some());
    clock.advance(1);
    ring.refresh(store.as_ref(), clock.now()).await.unwrap();
    assert!(
        ring.verification_key(&retired).is_none(),
        "retention (600 s) is over"
    );
    assert!(!ring.jwks().contains(&retired));
}

async fn migrations_can_run_twice(backend: Backend) {
    let db = TestDb::new(&backend).await;
    let store = db.store().await;
    store.migrate().await.unwrap();
    store.ping().await.unwrap();
}

async fn housekeeping_deletes_only_what_can_no_longer_matter(backend: Backend) {
    let db = TestDb::new(&backend).await;
    let store = db.store().await;
    let client = web_client(0);
    store.create_client(&client).await.unwrap();
    let alice = user("alice", 0);
    store.create_user(&alice).await.unwrap();
    let scope = ScopeSet::parse("openid").unwrap();
    let code = |hash: &str, expires_at: i64| AuthorizationCode {
        dpop_jkt: None,
        sid: None,
        code_hash: TokenHash::of(hash),
        grant_id: gid(&format!("grant-{hash}")),
        client_id: client.client_id.clone(),
        user_id: alice.user_id.clone(),
        redirect_uri: "https://app.example.com/cb".into(),
        redirect_uri_sent: true,
        resources: Vec::new(),
        scope: scope.clone(),
        nonce: None,
        code_challenge: None,
        auth_time: 0,
        authentication: latchkey::domain::authn::Authentication::password(),
        requested_claims: None,
        created_at: 0,
        expires_at,
        consumed_at: None,
    };
    store
        .create_authorization_code(&code("old", 100))
        .await
        .unwrap();
    store
        .create_authorization_code(&code("fresh", 500))
        .await
        .unwrap();

    let refresh = |token: &str, expires_at: i64| NewRefreshToken {
        token_hash: TokenHash::of(token),
        grant_id: gid("grant-fresh"),
        scope: scope.clone(),
        created_at: 0,
        expires_at,
    };
    let grant = Grant {
        cert_thumbprint: None,
        dpop_jkt: None,
        sid: None,
        grant_id: gid("grant-fresh"),
        client_id: client.client_id.clone(),
        user_id: Some(alice.user_id.clone()),
        scope: scope.clone(),
        resources: Vec::new(),
        auth_time: Some(0),
        authentication: Some(latchkey::domain::authn::Authentication::password()),
        requested_claims: None,
        created_at: 0,
        expires_at: 1_000,
        revoked_at: None,
    };
    let redeemed = store
        .redeem_authorization_code(
            &TokenHash::of("fresh"),
            &grant,
            Some(&refresh("rt1", 1_000)),
            10,
            Default::default(),
        )
        .await
        .unwrap();
    assert_eq!(redeemed, Redemption::Redeemed);
    let rotated = store
        .rotate_refresh_token(
            &TokenHash::of("rt1"),
            &refresh("rt2", 1_000),
            150,
            i64::MAX,
            2_000,
            Default::default(),
        )
        .await
        .unwrap();
    assert_eq!(rotated, Rotation::Rotated);
    store.revoke_access_token("at_old", 150).await.unwrap();
    store.revoke_access_token("at_live", 900).await.unwrap();
    store
        .create_session(&latchkey::domain::account::SessionRecord {
            id_hash: &TokenHash::of("s-old"),
            user_id: None,
            sid: None,
            device: &Default::default(),
            data: b"{}",
            expires_at: 150,
        })
        .await
        .unwrap();
    store
        .create_session(&latchkey::domain::account::SessionRecord {
            id_hash: &TokenHash::of("s-live"),
            user_id: None,
            sid: None,
            device: &Default::default(),
            data: b"{}",
            expires_at: 900,
        })
        .await
        .unwrap();

    let done = store.housekeep(200, 160).await.unwrap();
    assert_eq!(done.authorization_codes, 1, "only the expired code");
    assert_eq!(
        done.refresh_tokens, 1,
        "only the spent token past the reuse horizon"
    );
    assert_eq!(done.revocations, 1);
    assert_eq!(done.sessions, 1);
    assert_eq!(done.grants, 0, "a grant with a live refresh token stays");
    assert!(
        store
            .find_refresh_token(&TokenHash::of("rt2"))
            .await
            .unwrap()
            .is_some()
    );
    assert!(store.is_revoked("at_live", &gid("-")).await.unwrap());
    assert!(
        store
            .load_session(&TokenHash::of("s-live"), 200)
            .await
            .unwrap()
            .is_some()
    );

    let later = store.housekeep(1_000, 990).await.unwrap();
    assert_eq!(
        (later.refresh_tokens, later.grants),
        (1, 1),
        "expired token, then its grant"
    );
}

async fn signing_a_user_out_ends_their_sessions_codes_and_grants_and_nobody_elses(
    backend: Backend,
) {
    let db = TestDb::new(&backend).await;
    let store = db.store().await;
    let client = web_client(0);
    store.create_client(&client).await.unwrap();
    let (alice, bob) = (user("alice", 0), user("bob", 0));
    store.create_user(&alice).await.unwrap();
    store.create_user(&bob).await.unwrap();
    let scope = ScopeSet::parse("openid").unwrap();
    let code = |name: &str, owner: &User| AuthorizationCode {
        dpop_jkt: None,
        sid: None,
        code_hash: TokenHash::of(name),
        grant_id: gid(&format!("grant-{name}")),
        client_id: client.client_id.clone(),
        user_id: owner.user_id.clone(),
        redirect_uri: "https://app.example.com/cb".into(),
        redirect_uri_sent: true,
        resources: Vec::new(),
        scope: scope.clone(),
        nonce: None,
        code_challenge: None,
        auth_time: 0,
        authentication: latchkey::domain::authn::Authentication::password(),
        requested_claims: None,
        created_at: 0,
        expires_at: 500,
        consumed_at: None,
    };
    let grant = |name: &str, owner: &User| Grant {
        cert_thumbprint: None,
        dpop_jkt: None,
        sid: None,
        grant_id: gid(&format!("grant-{name}")),
        client_id: client.client_id.clone(),
        user_id: Some(owner.user_id.clone()),
        scope: scope.clone(),
        resources: Vec::new(),
        auth_time: Some(0),
        authentication: Some(latchkey::domain::authn::Authentication::password()),
        requested_claims: None,
        created_at: 0,
        expires_at: 1_000,
        revoked_at: None,
    };
    let refresh = |name: &str| NewRefreshToken {
        token_hash: TokenHash::of(&format!("rt-{name}")),
        grant_id: gid(&format!("grant-{name}")),
        scope: scope.clone(),
        created_at: 0,
        expires_at: 1_000,
    };
    for (name, owner) in [("a1", &alice), ("a2", &alice), ("b1", &bob)] {
        store
            .create_authorization_code(&code(name, owner))
            .await
            .unwrap();
        store
            .redeem_authorization_code(
                &TokenHash::of(name),
                &grant(name, owner),
                Some(&refresh(name)),
                10,
                Default::default(),
            )
            .await
            .unwrap();
    }
    // Revoked earlier, its record kept only briefly: signing out extends it.
    store
        .revoke_grant(&gid("grant-a2"), 20, 30, Default::default())
        .await
        .unwrap();
    store
        .create_authorization_code(&code("a-unredeemed", &alice))
        .await
        .unwrap();
    store
        .create_authorization_code(&code("b-unredeemed", &bob))
        .await
        .unwrap();
    let session = |name: &str| TokenHash::of(&format!("session-{name}"));
    for (name, owner) in [
        ("alice", Some(&alice.user_id)),
        ("bob", Some(&bob.user_id)),
        ("anonymous", None),
    ] {
        assert!(
            store
                .create_session(&latchkey::domain::account::SessionRecord {
                    id_hash: &session(name),
                    user_id: owner,
                    sid: None,
                    device: &Default::default(),
                    data: b"{}",
                    expires_at: 900
                })
                .await
                .unwrap()
        );
    }

    let done = store
        .revoke_user_sessions(&alice.user_id, 100, 2_000, Default::default())
        .await
        .unwrap();
    assert_eq!(
        done,
        Some(SignOut {
            sessions: 1,
            grants: 1,
            authorization_codes: 1
        })
    );
    for name in ["a1", "a2"] {
        let token = store
            .find_refresh_token(&TokenHash::of(&format!("rt-{name}")))
            .await
            .unwrap()
            .unwrap();
        assert!(token.grant_revoked, "{name}");
        assert!(
            store
                .is_revoked("-", &gid(&format!("grant-{name}")))
                .await
                .unwrap()
        );
    }
    assert!(
        store
            .find_authorization_code(&TokenHash::of("a-unredeemed"))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .load_session(&session("alice"), 100)
            .await
            .unwrap()
            .is_none()
    );

    // Bob and the anonymous session are untouched.
    let bobs = store
        .find_refresh_token(&TokenHash::of("rt-b1"))
        .await
        .unwrap()
        .unwrap();
    assert!(!bobs.grant_revoked);
    assert!(!store.is_revoked("-", &gid("grant-b1")).await.unwrap());
    assert!(
        store
            .find_authorization_code(&TokenHash::of("b-unredeemed"))
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .load_session(&session("bob"), 100)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .load_session(&session("anonymous"), 100)
            .await
            .unwrap()
            .is_some()
    );

    // The revocations last until `keep_until`, the earlier short one included.
    let gc = store.housekeep(1_999, 0).await.unwrap();
    assert_eq!(gc.revocations, 0);
    assert!(store.is_revoked("-", &gid("grant-a2")).await.unwrap());

    assert_eq!(
        store
            .revoke_user_sessions(&UserId::generate(), 100, 2_000, Default::default())
            .await
            .unwrap(),
        None
    );
}

async fn a_session_is_found_by_its_hash_and_a_saved_session_is_never_brought_back(
    backend: Backend,
) {
    let db = TestDb::new(&backend).await;
    let store = db.store().await;
    let alice = user("alice", 0);
    store.create_user(&alice).await.unwrap();
    let id = TokenHash::of("s1");
    assert!(
        store
            .create_session(&latchkey::domain::account::SessionRecord {
                id_hash: &id,
                user_id: None,
                sid: None,
                device: &Default::default(),
                data: b"{}",
                expires_at: 100
            })
            .await
            .unwrap()
    );
    assert!(
        !store
            .create_session(&latchkey::domain::account::SessionRecord {
                id_hash: &id,
                user_id: None,
                sid: None,
                device: &Default::default(),
                data: b"{}",
                expires_at: 100
            })
            .await
            .unwrap(),
        "taken"
    );
    assert!(
        store
            .save_session(&latchkey::domain::account::SessionRecord {
                id_hash: &id,
                user_id: Some(&alice.user_id),
                sid: None,
                device: &Default::default(),
                data: b"{\"a\":1}",
                expires_at: 900
            })
            .await
            .unwrap()
    );
    assert_eq!(
        store.load_session(&id, 800).await.unwrap().as_deref(),
        Some(&b"{\"a\":1}"[..])
    );
    assert!(
        store.load_session(&id, 900).await.unwrap().is_none(),
        "expired"
    );
    store.delete_session(&id).await.unwrap();
    assert!(
        !store
            .save_session(&latchkey::domain::account::SessionRecord {
                id_hash: &id,
                user_id: Some(&alice.user_id),
                sid: None,
                device: &Default::default(),
                data: b"{}",
                expires_at: 900
            })
            .await
            .unwrap(),
        "a deleted session stays deleted"
    );
    assert!(store.load_session(&id, 0).await.unwrap().is_none());
    // Deleting a user deletes their sessions.
    let other = TokenHash::of("s2");
    store
        .create_session(&latchkey::domain::account::SessionRecord {
            id_hash: &other,
            user_id: Some(&alice.user_id),
            sid: None,
            device: &Default::default(),
            data: b"{}",
            expires_at: 900,
        })
        .await
        .unwrap();
    assert!(store.delete_user(&alice.user_id, 0).await.unwrap());
    assert!(store.load_session(&other, 0).await.unwrap().is_none());
}

fn counter(name: &str, limit: u32) -> AttemptCounter {
    AttemptCounter {
        key: TokenHash::of(name),
        limit,
        window: 900,
    }
}

async fn attempt_counters_reserve_all_or_nothing_refund_clear_and_expire(backend: Backend) {
    let db = TestDb::new(&backend).await;
    let store = db.store().await;
    let (small, large) = (counter("small", 2), counter("large", 3));
    let both = [small.clone(), large.clone()];
    for _ in 0..2 {
        assert_eq!(
            store.reserve_attempts(&both, 1_000).await.unwrap(),
            Reservation::Reserved
        );
    }
    assert_eq!(
        store.reserve_attempts(&both, 1_100).await.unwrap(),
        Reservation::Refused { retry_after: 800 },
        "the window ends 900 s after its first attempt"
    );
    // The refused attempt was counted by neither: `large` still has one attempt left.
    let only_large = [large.clone()];
    assert_eq!(
        store.reserve_attempts(&only_large, 1_100).await.unwrap(),
        Reservation::Reserved
    );
    assert!(matches!(
        store.reserve_attempts(&only_large, 1_100).await.unwrap(),
        Reservation::Refused { .. }
    ));

    // A refund gives back one attempt of the window it was reserved in, never more.
    store
        .refund_attempts(&[small.key.clone(), small.key.clone()], 1_000)
        .await
        .unwrap();
    store
        .refund_attempts(std::slice::from_ref(&large.key), 1_000)
        .await
        .unwrap();
    let only_small = [small.clone()];
    assert_eq!(
        store.reserve_attempts(&only_small, 1_200).await.unwrap(),
        Reservation::Reserved
    );
    assert_eq!(
        store.reserve_attempts(&only_small, 1_200).await.unwrap(),
        Reservation::Reserved
    );
    assert!(matches!(
        store.reserve_attempts(&only_small, 1_200).await.unwrap(),
        Reservation::Refused { .. }
    ));
    // Clearing forgets the counter.
    store
        .clear_attempts(std::slice::from_ref(&small.key))
        .await
        .unwrap();
    assert_eq!(
        store.reserve_attempts(&only_small, 1_200).await.unwrap(),
        Reservation::Reserved
    );

    // A new window starts once the old one has ended; a refund for the old window changes nothing.
    for _ in 0..3 {
        assert_eq!(
            store.reserve_attempts(&only_large, 1_900).await.unwrap(),
            Reservation::Reserved
        );
    }
    store
        .refund_attempts(std::slice::from_ref(&large.key), 1_000)
        .await
        .unwrap();
    assert_eq!(
        store.reserve_attempts(&only_large, 1_900).await.unwrap(),
        Reservation::Refused { retry_after: 900 }
    );

    // Housekeeping deletes counters whose window has ended: `small` (ends 2_100), not `large` (2_800).
    let done = store.housekeep(2_100, 0).await.unwrap();
    assert_eq!(done.sign_in_attempts, 1);
    assert_eq!(store.housekeep(2_800, 0).await.unwrap().sign_in_attempts, 1);
}

async fn concurrent_reservations_of_a_counter_succeed_exactly_up_to_its_limit(backend: Backend) {
    let db = TestDb::new(&backend).await;
    let store = db.store().await;
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..24 {
        let store = std::sync::Arc::clone(&store);
        tasks.spawn(async move {
            // Overlapping counter sets given in both orders: the backend must neither deadlock nor
            // let more than the limit through.
            let (shared, own) = (counter("shared", 7), counter(&format!("own-{n}"), 100));
            let counters = if n % 2 == 0 {
                [shared, own]
            } else {
                [own, shared]
            };
            store.reserve_attempts(&counters, 5_000).await.unwrap()
        });
    }
    let answers = tasks.join_all().await;
    let reserved = answers
        .iter()
        .filter(|a| **a == Reservation::Reserved)
        .count();
    assert_eq!(reserved, 7, "{answers:?}");
}

async fn a_sealed_client_secret_is_kept_only_for_client_secret_jwt_and_rewrapped_only_as_read(
    backend: Backend,
) {
    use latchkey::domain::client::{AuthMethod, SealedSecret};
    let db = TestDb::new(&backend).await;
    let store = db.store().await;
    let spec = ClientSpec {
        client_name: "MACing service".into(),
        grant_types: vec!["client_credentials".into()],
        auth_method: "client_secret_jwt".into(),
        ..ClientSpec::default()
    };
    let mut client = Client::from_spec(ClientId::parse("macing").unwrap(), &spec, 1_000).unwrap();
    let first = SealedSecret::from_bytes(vec![1; 60]);
    client.secret_hash = Some(TokenHash::of("lk_cs_first"));
    client.sealed_secret = Some(first.clone());
    store.create_client(&client).await.unwrap();
    let found = store.find_client(&client.client_id).await.unwrap().unwrap();
    assert_eq!(found.sealed_secret.as_ref(), Some(&first));

    // An update keeps the stored sealed secret, whatever the caller's copy says…
    let mut renamed = found.clone();
    renamed.client_name = "Renamed".into();
    renamed.sealed_secret = None;
    assert!(store.update_client(&renamed).await.unwrap());
    let found = store.find_client(&client.client_id).await.unwrap().unwrap();
    assert_eq!(found.sealed_secret.as_ref(), Some(&first));

    // …and a rewrap replaces only the sealed secret it read: a secret rotated meanwhile wins.
    let second = SealedSecret::from_bytes(vec![2; 60]);
    let third = SealedSecret::from_bytes(vec![3; 60]);
    assert!(
        store
            .set_client_secret(
                &client.client_id,
                &TokenHash::of("lk_cs_second"),
                Some(&second),
                2_000
            )
            .await
            .unwrap()
    );
    let keys: Vec<(String, Vec<u8>)> = Vec::new();
    let stale = [(client.client_id.clone(), first.clone(), third.clone())];
    assert!(matches!(
        store.rewrap_sealed_secrets(&keys, &stale).await,
        Err(StoreError::Conflict(_))
    ));
    // Leaving one out is refused too.
    assert!(matches!(
        store.rewrap_sealed_secrets(&keys, &[]).await,
        Err(StoreError::Conflict(_))
    ));
    let current = [(client.client_id.clone(), second.clone(), third.clone())];
    store.rewrap_sealed_secrets(&keys, &current).await.unwrap();
    let found = store.find_client(&client.client_id).await.unwrap().unwrap();
    assert_eq!(found.sealed_secret.as_ref(), Some(&third));

    // Leaving client_secret_jwt drops the sealed copy and keeps the digest.
    let mut basic = found.clone();
    basic.auth_method = AuthMethod::ClientSecretBasic;
    assert!(store.update_client(&basic).await.unwrap());
    let found = store.find_client(&client.client_id).await.unwrap().unwrap();
    assert!(found.sealed_secret.is_none());
    assert!(found.secret_matches("lk_cs_second"));
}
