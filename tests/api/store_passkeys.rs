//! The Store contract for passkeys, on every backend: a user's handle is chosen once; a credential id
//! is registered once, with its audit event and (for a first factor) recovery codes in the same
//! transaction; a use is recorded by compare-and-swap on the stored state; removing the last
//! factor takes the recovery codes with it; a ceremony is taken out once, and not after it expires.

use latchkey::domain::audit::{AuditEvent, AuditFilter, EventType, InTransaction};
use latchkey::domain::passkey::{Ceremony, Passkey, Purpose};
use latchkey::domain::secret::TokenHash;
use latchkey::domain::user::UserId;

use crate::helpers::{Backend, TestDb};
use crate::store::user;

crate::backend_tests!(
    a_passkey_is_registered_once_used_by_compare_and_swap_and_removed_with_the_last_codes,
    a_passkey_ceremony_is_taken_once_and_not_after_it_expires,
);

fn passkey(user_id: &UserId, id: &[u8], at: i64) -> Passkey {
    Passkey {
        credential_id: id.to_vec(),
        user_id: user_id.clone(),
        name: "Laptop".into(),
        static_state: vec![1, 2, 3],
        dynamic_state: vec![0; 7],
        transports: 4,
        created_at: at,
        last_used_at: None,
    }
}

fn enrolled(user_id: &UserId) -> AuditEvent {
    AuditEvent::new(EventType::SecondFactorEnrolled, 1_000, "user").user(user_id.to_string())
}

async fn a_passkey_is_registered_once_used_by_compare_and_swap_and_removed_with_the_last_codes(
    backend: Backend,
) {
    let db = TestDb::new(&backend).await;
    let store = db.store().await;
    let alice = user("alice", 1_000);
    let bob = user("bob", 1_000);
    store.create_user(&alice).await.unwrap();
    store.create_user(&bob).await.unwrap();

    // The first handle offered is kept; later offers get it back.
    let handle = store
        .passkey_user_handle(&alice.user_id, &[7; 64])
        .await
        .unwrap();
    assert_eq!(handle, vec![7; 64]);
    let again = store
        .passkey_user_handle(&alice.user_id, &[9; 64])
        .await
        .unwrap();
    assert_eq!(again, handle);

    // Registered once, with recovery codes for a first factor and its event, all together.
    let codes = [TokenHash::of("code-1"), TokenHash::of("code-2")];
    let event = enrolled(&alice.user_id);
    let laptop = passkey(&alice.user_id, b"credential-1", 1_000);
    assert!(
        store
            .add_passkey(&laptop, Some(&codes), InTransaction::done(&event))
            .await
            .unwrap()
    );
    assert_eq!(store.count_recovery_codes(&alice.user_id).await.unwrap(), 2);
    let stolen = passkey(&bob.user_id, b"credential-1", 1_001);
    let bob_event = enrolled(&bob.user_id);
    assert!(
        !store
            .add_passkey(&stolen, None, InTransaction::done(&bob_event))
            .await
            .unwrap(),
        "a credential id is registered once"
    );
    let events = store
        .list_audit_events(&AuditFilter {
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(events.len(), 1, "the refused one wrote no event");
    let (found, found_handle) = store.find_passkey(b"credential-1").await.unwrap().unwrap();
    assert_eq!(found, laptop);
    assert_eq!(found_handle, handle);
    assert!(store.find_passkey(b"unknown").await.unwrap().is_none());

    // A use swaps the state only from the one read.
    let next = vec![1; 7];
    assert!(
        store
            .use_passkey(b"credential-1", &laptop.dynamic_state, &next, 1_100)
            .await
            .unwrap()
    );
    assert!(
        !store
            .use_passkey(b"credential-1", &laptop.dynamic_state, &[2; 7], 1_101)
            .await
            .unwrap(),
        "a concurrent use that read the old state loses"
    );
    let listed = store.list_passkeys(&alice.user_id).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].dynamic_state, next);
    assert_eq!(listed[0].last_used_at, Some(1_100));

    // Removing: only the owner's; a second passkey keeps the codes, the last one takes them.
    let phone = passkey(&alice.user_id, b"credential-2", 1_200);
    let event = enrolled(&alice.user_id);
    assert!(
        store
            .add_passkey(&phone, None, InTransaction::done(&event))
            .await
            .unwrap()
    );
    let removed = AuditEvent::new(EventType::AccountSecondFactorRemoved, 1_300, "user");
    assert!(
        !store
            .remove_passkey(&bob.user_id, b"credential-1", InTransaction::done(&removed))
            .await
            .unwrap()
    );
    assert!(
        store
            .remove_passkey(
                &alice.user_id,
                b"credential-1",
                InTransaction::done(&removed)
            )
            .await
            .unwrap()
    );
    assert_eq!(store.count_recovery_codes(&alice.user_id).await.unwrap(), 2);
    assert!(
        store
            .remove_passkey(
                &alice.user_id,
                b"credential-2",
                InTransaction::done(&removed)
            )
            .await
            .unwrap()
    );
    assert_eq!(store.count_recovery_codes(&alice.user_id).await.unwrap(), 0);
    assert!(
        store
            .list_passkeys(&alice.user_id)
            .await
            .unwrap()
            .is_empty()
    );

    // An operator's reset removes passkeys too.
    let event = enrolled(&alice.user_id);
    store
        .add_passkey(&laptop, Some(&codes), InTransaction::done(&event))
        .await
        .unwrap();
    let reset = AuditEvent::new(EventType::AdminChange, 1_400, "cli:test");
    assert!(
        store
            .reset_second_factors(&alice.user_id, InTransaction::done(&reset))
            .await
            .unwrap()
    );
    assert!(
        store
            .list_passkeys(&alice.user_id)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.count_recovery_codes(&alice.user_id).await.unwrap(), 0);
}

async fn a_passkey_ceremony_is_taken_once_and_not_after_it_expires(backend: Backend) {
    let db = TestDb::new(&backend).await;
    let store = db.store().await;
    let alice = user("alice", 1_000);
    store.create_user(&alice).await.unwrap();
    let ceremony = Ceremony {
        purpose: Purpose::Register,
        user_id: Some(alice.user_id.clone()),
        state: vec![5; 40],
        expires_at: 1_300,
    };
    let id = TokenHash::of("ceremony-1");
    store.begin_passkey_ceremony(&id, &ceremony).await.unwrap();
    assert_eq!(
        store.take_passkey_ceremony(&id, 1_000).await.unwrap(),
        Some(ceremony.clone())
    );
    assert_eq!(store.take_passkey_ceremony(&id, 1_000).await.unwrap(), None);

    // Of eight concurrent takes, one gets it.
    let id = TokenHash::of("ceremony-2");
    store.begin_passkey_ceremony(&id, &ceremony).await.unwrap();
    let takes = (0..8).map(|_| {
        let store = store.clone();
        let id = id.clone();
        tokio::spawn(async move { store.take_passkey_ceremony(&id, 1_000).await.unwrap() })
    });
    let mut got = 0;
    for take in takes {
        got += usize::from(take.await.unwrap().is_some());
    }
    assert_eq!(got, 1);

    // An expired one is not given, and housekeeping deletes it.
    let id = TokenHash::of("ceremony-3");
    let anonymous = Ceremony {
        purpose: Purpose::SignIn,
        user_id: None,
        ..ceremony
    };
    store.begin_passkey_ceremony(&id, &anonymous).await.unwrap();
    let id4 = TokenHash::of("ceremony-4");
    store
        .begin_passkey_ceremony(&id4, &anonymous)
        .await
        .unwrap();
    assert_eq!(store.take_passkey_ceremony(&id, 1_300).await.unwrap(), None);
    let done = store.housekeep(1_300, 0).await.unwrap();
    assert_eq!(done.passkey_ceremonies, 1);
}
