//! The role and group commands, run as the real binary: happy paths, and bad input that exits
//! non-zero with one `error:` line and changes nothing.

use latchkey::domain::group::GroupName;
use latchkey::domain::role::RoleName;

use crate::helpers::{Backend, TestDb, failure_of, json_of};
use crate::store::{user, web_client};

crate::backend_tests!(
    roles_and_groups_are_created_linked_shown_and_deleted,
    users_and_clients_are_given_and_lose_roles,
    bad_role_and_group_input_exits_non_zero_and_changes_nothing,
);

/// The one `error:` line of a failed command.
fn error_line(output: &std::process::Output) -> String {
    let stderr = failure_of(output);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line: {stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    lines[0].to_owned()
}

async fn roles_and_groups_are_created_linked_shown_and_deleted(backend: Backend) {
    let db = TestDb::new(&backend).await;
    let store = db.store().await;
    store.create_user(&user("alice", 1_000)).await.unwrap();
    let created = json_of(&db.cli(
        &[
            "role",
            "create",
            "orders:admin",
            "--description",
            "  Runs orders ",
            "--json",
        ],
        None,
    ));
    assert_eq!(created["name"], "orders:admin");
    assert_eq!(created["description"], "Runs orders");
    json_of(&db.cli(&["role", "create", "reader", "--json"], None));
    let roles = json_of(&db.cli(&["role", "list", "--json"], None));
    assert_eq!(roles[0]["name"], "orders:admin");
    assert_eq!(roles[1]["name"], "reader");
    assert!(roles[1]["description"].is_null());

    json_of(&db.cli(&["group", "create", "ops", "--json"], None));
    json_of(&db.cli(&["group", "add-member", "ops", "Alice", "--json"], None));
    json_of(&db.cli(&["group", "add-role", "ops", "reader", "--json"], None));
    let group = json_of(&db.cli(&["group", "show", "ops", "--json"], None));
    assert_eq!(group["members"], serde_json::json!(["alice"]));
    assert_eq!(group["roles"], serde_json::json!(["reader"]));
    let groups = json_of(&db.cli(&["group", "list", "--json"], None));
    assert_eq!(groups[0]["name"], "ops");
    let role = json_of(&db.cli(&["role", "show", "reader", "--json"], None));
    assert_eq!(role["groups"], serde_json::json!(["ops"]));
    assert_eq!(role["users"], serde_json::json!([]));
    // The text forms name the links too.
    let text = db.cli(&["group", "show", "ops"], None);
    assert!(String::from_utf8_lossy(&text.stdout).contains("alice"));

    let shown = json_of(&db.cli(&["user", "show", "alice", "--json"], None));
    assert_eq!(shown["roles"], serde_json::json!(["reader"]));
    assert_eq!(shown["groups"], serde_json::json!(["ops"]));
    assert_eq!(shown["direct_roles"], serde_json::json!([]));

    json_of(&db.cli(&["group", "remove-role", "ops", "reader", "--json"], None));
    json_of(&db.cli(&["group", "remove-member", "ops", "alice", "--json"], None));
    let group = json_of(&db.cli(&["group", "show", "ops", "--json"], None));
    assert_eq!(group["members"], serde_json::json!([]));
    assert_eq!(group["roles"], serde_json::json!([]));

    json_of(&db.cli(&["group", "delete", "ops", "--json"], None));
    json_of(&db.cli(&["role", "delete", "reader", "--json"], None));
    assert!(
        store
            .find_group(&GroupName::parse("ops").unwrap())
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .find_role(&RoleName::parse("reader").unwrap())
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        json_of(&db.cli(&["group", "list", "--json"], None)),
        serde_json::json!([])
    );
}

async fn users_and_clients_are_given_and_lose_roles(backend: Backend) {
    let db = TestDb::new(&backend).await;
    let store = db.store().await;
    let alice = user("alice", 1_000);
    store.create_user(&alice).await.unwrap();
    let client = web_client(1_000);
    store.create_client(&client).await.unwrap();
    let client_id = client.client_id.as_str();
    json_of(&db.cli(&["role", "create", "admin", "--json"], None));

    let added = json_of(&db.cli(&["user", "add-role", "alice", "admin", "--json"], None));
    assert_eq!(added["added_role"], "admin");
    let shown = json_of(&db.cli(&["user", "show", "alice", "--json"], None));
    assert_eq!(shown["roles"], serde_json::json!(["admin"]));
    assert_eq!(shown["direct_roles"], serde_json::json!(["admin"]));
    json_of(&db.cli(&["client", "add-role", client_id, "admin", "--json"], None));
    let shown = json_of(&db.cli(&["client", "show", client_id, "--json"], None));
    assert_eq!(shown["roles"], serde_json::json!(["admin"]));
    let text = db.cli(&["client", "show", client_id], None);
    assert!(String::from_utf8_lossy(&text.stdout).contains("roles:"));
    let role = json_of(&db.cli(&["role", "show", "admin", "--json"], None));
    assert_eq!(role["users"], serde_json::json!(["alice"]));
    assert_eq!(role["clients"], serde_json::json!([client_id]));

    json_of(&db.cli(&["user", "remove-role", "alice", "admin", "--json"], None));
    json_of(&db.cli(
        &["client", "remove-role", client_id, "admin", "--json"],
        None,
    ));
    let role = json_of(&db.cli(&["role", "show", "admin", "--json"], None));
    assert_eq!(role["users"], serde_json::json!([]));
    assert_eq!(role["clients"], serde_json::json!([]));
}

async fn bad_role_and_group_input_exits_non_zero_and_changes_nothing(backend: Backend) {
    let db = TestDb::new(&backend).await;
    let store = db.store().await;
    let alice = user("alice", 1_000);
    store.create_user(&alice).await.unwrap();
    let client = web_client(1_000);
    store.create_client(&client).await.unwrap();
    let client_id = client.client_id.as_str();
    json_of(&db.cli(
        &["role", "create", "admin", "--description", "All", "--json"],
        None,
    ));
    json_of(&db.cli(&["group", "create", "ops", "--json"], None));
    json_of(&db.cli(&["user", "add-role", "alice", "admin", "--json"], None));
    json_of(&db.cli(&["group", "add-member", "ops", "alice", "--json"], None));
    json_of(&db.cli(&["client", "add-role", client_id, "admin", "--json"], None));
    let before = (
        json_of(&db.cli(&["role", "show", "admin", "--json"], None)),
        json_of(&db.cli(&["group", "show", "ops", "--json"], None)),
        json_of(&db.cli(&["role", "list", "--json"], None)),
        json_of(&db.cli(&["group", "list", "--json"], None)),
    );

    // (command, what the one error line says)
    let cases: &[(&[&str], &str)] = &[
        (&["role", "create", "admin"], "already exists"),
        (&["role", "create", "two words"], "not a valid role name"),
        (&["role", "create", "a/b"], "not a valid role name"),
        (
            &["role", "create", &"x".repeat(65)],
            "not a valid role name",
        ),
        (
            &["role", "create", "new", "--description", "a\u{1b}[31mb"],
            "control characters",
        ),
        (&["role", "show", "nobody"], "no role named 'nobody'"),
        (&["role", "delete", "nobody"], "no role named 'nobody'"),
        (&["group", "create", "ops"], "already exists"),
        (&["group", "create", "bad name"], "not a valid group name"),
        (&["group", "show", "nobody"], "no group named 'nobody'"),
        (&["group", "delete", "nobody"], "no group named 'nobody'"),
        (
            &["group", "add-member", "nobody", "alice"],
            "no group named 'nobody'",
        ),
        (
            &["group", "add-member", "ops", "ghost"],
            "no user named 'ghost'",
        ),
        (&["group", "add-member", "ops", "alice"], "already a member"),
        (
            &["group", "remove-member", "ops", "ghost"],
            "no user named 'ghost'",
        ),
        (
            &["group", "add-role", "ops", "nobody"],
            "no role named 'nobody'",
        ),
        (
            &["group", "add-role", "ops", "bad/name"],
            "not a valid role name",
        ),
        (
            &["group", "remove-role", "ops", "admin"],
            "does not have the role",
        ),
        (
            &["user", "add-role", "ghost", "admin"],
            "no user named 'ghost'",
        ),
        (
            &["user", "add-role", "alice", "nobody"],
            "no role named 'nobody'",
        ),
        (
            &["user", "add-role", "alice", "admin"],
            "already has the role",
        ),
        (
            &["user", "add-role", "alice", "bad name"],
            "not a valid role name",
        ),
        (
            &["user", "remove-role", "alice", "nobody"],
            "no role named 'nobody'",
        ),
        (
            &["client", "add-role", "no-such-client", "admin"],
            "no client with id 'no-such-client'",
        ),
        (
            &["client", "add-role", client_id, "nobody"],
            "no role named 'nobody'",
        ),
        (
            &["client", "add-role", client_id, "admin"],
            "already has the role",
        ),
        (
            &["client", "remove-role", "no-such-client", "admin"],
            "no client with id",
        ),
    ];
    for (args, expected) in cases {
        let mut with_json = args.to_vec();
        with_json.push("--json");
        for args in [args.to_vec(), with_json] {
            let line = error_line(&db.cli(&args, None));
            assert!(line.contains(expected), "{args:?}: {line}");
        }
    }

    let after = (
        json_of(&db.cli(&["role", "show", "admin", "--json"], None)),
        json_of(&db.cli(&["group", "show", "ops", "--json"], None)),
        json_of(&db.cli(&["role", "list", "--json"], None)),
        json_of(&db.cli(&["group", "list", "--json"], None)),
    );
    assert_eq!(before, after, "nothing changed");
    let authorization = store.find_authorization(&alice.user_id).await.unwrap();
    assert_eq!(authorization.roles, [RoleName::parse("admin").unwrap()]);
    assert_eq!(authorization.groups, [GroupName::parse("ops").unwrap()]);
}
