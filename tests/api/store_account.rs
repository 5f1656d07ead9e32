//! The Store contract for the account page, on every backend: a user's sessions are listed with
//! where they signed in from; ending one touches only that user's session and the grants issued in
//! it; connected applications are the consented clients and those holding a live grant; revoking one
//! revokes only that client's grants of that user.

use latchkey::domain::account::{ConsentRevocation, SessionDevice};
use latchkey::domain::client::Client;
use latchkey::domain::grant::{AuthorizationCode, Grant, GrantId};
use latchkey::domain::scope::ScopeSet;
use latchkey::domain::secret::TokenHash;
use latchkey::domain::user::User;
use latchkey::store::Store;

use crate::helpers::{Backend, TestDb};
use crate::store::{user, web_client};

crate::backend_tests!(
    a_users_sessions_are_listed_with_their_device_and_only_theirs_can_be_ended,
    revoking_a_consent_revokes_that_clients_grants_of_that_user_only,
);

fn gid(name: &str) -> GrantId {
    GrantId::from_stored(format!("grant-{name}"))
}

/// Record a grant `name` of `owner` to `client`, issued in the session `sid`, through a code.
async fn grant(store: &dyn Store, client: &Client, owner: &User, name: &str, sid: Option<&str>) {
    let scope = ScopeSet::parse("openid email").unwrap();
    let code = AuthorizationCode {
        dpop_jkt: None,
        sid: sid.map(str::to_owned),
        code_hash: TokenHash::of(name),
        grant_id: gid(name),
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
    store.create_authorization_code(&code).await.unwrap();
    let grant = Grant {
        cert_thumbprint: None,
        dpop_jkt: None,
        sid: sid.map(str::to_owned),
        grant_id: gid(name),
        client_id: client.client_id.clone(),
        user_id: Some(owner.user_id.clone()),
        scope,
        resources: Vec::new(),
        auth_time: Some(0),
        authentication: Some(latchkey::domain::authn::Authentication::password()),
        requested_claims: None,
        created_at: 0,
        expires_at: 1_000,
        revoked_at: None,
    };
    store
        .redeem_authorization_code(&TokenHash::of(name), &grant, None, 10, Default::default())
        .await
        .unwrap();
}

async fn revoked(store: &dyn Store, name: &str) -> bool {
    store.is_revoked("-", &gid(name)).await.unwrap()
}

async fn a_users_sessions_are_listed_with_their_device_and_only_theirs_can_be_ended(
    backend: Backend,
) {
    let db = TestDb::new(&backend).await;
    let store = db.store().await;
    let client = web_client(0);
    store.create_client(&client).await.unwrap();
    let (alice, bob) = (user("alice", 0), user("bob", 0));
    store.create_user(&alice).await.unwrap();
    store.create_user(&bob).await.unwrap();
    let device = |at: i64, address: &str| SessionDevice {
        signed_in_at: Some(at),
        address: Some(address.into()),
        user_agent: Some("Firefox/128.0".into()),
    };
    for (id, owner, sid, signed_in_at, expires_at) in [
        ("a-laptop", &alice, "sid-a1", 10, 900),
        ("a-phone", &alice, "sid-a2", 20, 900),
        ("a-old", &alice, "sid-a0", 1, 50),
        ("b-laptop", &bob, "sid-b1", 10, 900),
    ] {
        store
            .create_session(&latchkey::domain::account::SessionRecord {
                id_hash: &TokenHash::of(id),
                user_id: Some(&owner.user_id),
                sid: Some(sid),
                device: &device(signed_in_at, "192.0.2.1"),
                data: b"{}",
                expires_at,
            })
            .await
            .unwrap();
    }
    // A save keeps the device columns up to date.
    store
        .save_session(&latchkey::domain::account::SessionRecord {
            id_hash: &TokenHash::of("a-phone"),
            user_id: Some(&alice.user_id),
            sid: Some("sid-a2"),
            device: &device(20, "2001:db8::2"),
            data: b"{}",
            expires_at: 900,
        })
        .await
        .unwrap();
    grant(store.as_ref(), &client, &alice, "a1", Some("sid-a1")).await;
    grant(store.as_ref(), &client, &alice, "a2", Some("sid-a2")).await;

    let listed = store.list_user_sessions(&alice.user_id, 100).await.unwrap();
    let sids: Vec<_> = listed.iter().map(|s| s.sid.as_deref().unwrap()).collect();
    assert_eq!(
        sids,
        ["sid-a2", "sid-a1"],
        "live ones, newest sign-in first"
    );
    assert_eq!(listed[0].device, device(20, "2001:db8::2"));
    assert_eq!(listed[0].expires_at, 900);

    // Bob's session is not Alice's to end.
    let end = |sid: &'static str| {
        let store = store.clone();
        let alice = alice.user_id.clone();
        async move {
            store
                .end_user_session(&alice, sid, 100, 2_000, Default::default())
                .await
                .unwrap()
        }
    };
    assert!(!end("sid-b1").await);
    assert!(
        store
            .load_session(&TokenHash::of("b-laptop"), 100)
            .await
            .unwrap()
            .is_some()
    );
    assert!(end("sid-a2").await);
    assert!(!end("sid-a2").await, "once");
    assert!(
        store
            .load_session(&TokenHash::of("a-phone"), 100)
            .await
            .unwrap()
            .is_none()
    );
    // The grants issued in that session are revoked, the others' are not.
    assert!(revoked(store.as_ref(), "a2").await);
    assert!(!revoked(store.as_ref(), "a1").await);
    assert_eq!(
        store
            .list_user_sessions(&alice.user_id, 100)
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn revoking_a_consent_revokes_that_clients_grants_of_that_user_only(backend: Backend) {
    let db = TestDb::new(&backend).await;
    let store = db.store().await;
    let (notes, calendar) = (web_client(0), web_client(0));
    store.create_client(&notes).await.unwrap();
    store.create_client(&calendar).await.unwrap();
    let (alice, bob) = (user("alice", 0), user("bob", 0));
    store.create_user(&alice).await.unwrap();
    store.create_user(&bob).await.unwrap();
    store
        .save_consent(&alice.user_id, &notes.client_id, "openid email", 7)
        .await
        .unwrap();
    store
        .save_consent(&bob.user_id, &notes.client_id, "openid", 7)
        .await
        .unwrap();
    grant(store.as_ref(), &notes, &alice, "alice-notes", None).await;
    // No consent (a first-party client), a live grant: connected all the same.
    grant(store.as_ref(), &calendar, &alice, "alice-calendar", None).await;
    grant(store.as_ref(), &notes, &bob, "bob-notes", None).await;

    let apps = store
        .list_connected_apps(&alice.user_id, 100)
        .await
        .unwrap();
    assert_eq!(apps.len(), 2, "{apps:?}");
    let consented = apps
        .iter()
        .find(|a| a.client_id == notes.client_id.as_str())
        .unwrap();
    assert_eq!(
        (consented.scope.as_str(), consented.consented_at),
        ("openid email", Some(7))
    );
    let granted = apps
        .iter()
        .find(|a| a.client_id == calendar.client_id.as_str())
        .unwrap();
    assert_eq!(
        (granted.scope.as_str(), granted.consented_at),
        ("email openid", None),
        "the grant's scope, as stored"
    );
    // An expired grant connects nothing.
    assert_eq!(
        store
            .list_connected_apps(&alice.user_id, 1_000)
            .await
            .unwrap()
            .len(),
        1
    );

    let done = store
        .revoke_consent(
            &alice.user_id,
            &notes.client_id,
            100,
            2_000,
            Default::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        done,
        ConsentRevocation {
            consent: true,
            grants: 1
        }
    );
    assert!(revoked(store.as_ref(), "alice-notes").await);
    assert!(!revoked(store.as_ref(), "alice-calendar").await);
    assert!(!revoked(store.as_ref(), "bob-notes").await);
    assert!(
        store
            .find_consent(&alice.user_id, &notes.client_id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .find_consent(&bob.user_id, &notes.client_id)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        store
            .revoke_consent(
                &alice.user_id,
                &notes.client_id,
                100,
                2_000,
                Default::default()
            )
            .await
            .unwrap(),
        ConsentRevocation::default(),
        "nothing left to revoke"
    );
}
