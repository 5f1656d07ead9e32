//! The password policy (OWASP ASVS §2.1.1, §2.1.7) wherever a password is set: `user create` and
//! `user set-password`, run as the real binary.

use crate::helpers::{Backend, PASSWORD, TestDb, failure_of, json_of};

crate::backend_tests!(
    a_weak_password_exits_non_zero_with_one_line_saying_why_and_writes_nothing,
    the_suites_test_password_is_accepted,
);

async fn a_weak_password_exits_non_zero_with_one_line_saying_why_and_writes_nothing(
    backend: Backend,
) {
    let db = TestDb::new(&backend).await;
    let create = |username: &'static str, password: &'static str| {
        db.cli(
            &["user", "create", "--username", username, "--password-stdin"],
            Some(password),
        )
    };
    let err = failure_of(&create("carol", "password1234"));
    assert!(
        err.starts_with("error: the password is too easy to guess: "),
        "{err}"
    );
    assert!(err.contains("very common password"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    let err = failure_of(&create("carol", "Xq7#vLp2!mZ"));
    assert!(err.contains("at least 12 characters"), "{err}");
    let err = failure_of(&db.cli(
        &[
            "user",
            "create",
            "--username",
            "wbxtkrqpzmvn",
            "--password-stdin",
        ],
        Some("wbxtkrqpzmvn1"),
    ));
    assert!(
        err.contains("too easy to guess"),
        "the username is no password: {err}"
    );
    assert!(db.store().await.list_users().await.unwrap().is_empty());

    json_of(&db.cli(
        &[
            "user",
            "create",
            "--username",
            "dave",
            "--password-stdin",
            "--json",
        ],
        Some(PASSWORD),
    ));
    let before = db.store().await.list_users().await.unwrap();
    let err = failure_of(&db.cli(
        &["user", "set-password", "dave", "--password-stdin"],
        Some("qwertyuiopasdf"),
    ));
    assert!(err.contains("too easy to guess"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(
        db.store().await.list_users().await.unwrap(),
        before,
        "the old password stays"
    );
}

async fn the_suites_test_password_is_accepted(backend: Backend) {
    let db = TestDb::new(&backend).await;
    let user = json_of(&db.cli(
        &[
            "user",
            "create",
            "--username",
            "erin",
            "--password-stdin",
            "--json",
        ],
        Some(PASSWORD),
    ));
    assert_eq!(user["username"], "erin");
}
