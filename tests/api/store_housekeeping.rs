//! The Store contract for housekeeping: expired rows go in bounded batches, all of them, counted
//! exactly, on every backend.

use latchkey::domain::grant::{GrantId, HOUSEKEEPING_BATCH};

use crate::helpers::{Backend, TestDb};

crate::backend_tests!(more_than_a_batch_of_expired_rows_is_deleted_completely);

async fn more_than_a_batch_of_expired_rows_is_deleted_completely(backend: Backend) {
    let db = TestDb::new(&backend).await;
    let store = db.store().await;
    let now = 1_000_000;
    // Two and a half batches expired, and a few still live.
    let expired = HOUSEKEEPING_BATCH * 5 / 2;
    for i in 0..expired {
        store
            .revoke_access_token(&format!("expired-{i}"), now - 1)
            .await
            .unwrap();
    }
    for i in 0..3 {
        store
            .revoke_access_token(&format!("live-{i}"), now + 600)
            .await
            .unwrap();
    }

    let done = store.housekeep(now, now - 86_400).await.unwrap();
    assert_eq!(done.revocations, expired);
    let grant = GrantId::from_stored("gr_none".into());
    assert!(!store.is_revoked("expired-0", &grant).await.unwrap());
    assert!(
        !store
            .is_revoked(&format!("expired-{}", expired - 1), &grant)
            .await
            .unwrap()
    );
    assert!(store.is_revoked("live-2", &grant).await.unwrap());

    // Nothing is left for the next pass; the live rows go when they expire.
    assert_eq!(
        store
            .housekeep(now, now - 86_400)
            .await
            .unwrap()
            .revocations,
        0
    );
    assert_eq!(
        store.housekeep(now + 600, now).await.unwrap().revocations,
        3
    );
}
