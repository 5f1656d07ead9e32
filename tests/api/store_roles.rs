//! The Store contract for roles and groups (RFC 9068 §2.2.3.1): the same suite against every backend.

use latchkey::domain::group::{Group, GroupName};
use latchkey::domain::role::{Assignment, Authorization, Role, RoleName};
use latchkey::store::{Store, StoreError};

use crate::helpers::{Backend, TestDb};
use crate::store::{user, web_client};

crate::backend_tests!(
    roles_round_trip_and_a_duplicate_is_a_conflict,
    groups_round_trip_and_a_duplicate_is_a_conflict,
    assignments_are_added_once_and_removed_once,
    an_assignment_to_something_missing_writes_nothing,
    a_user_s_authorization_is_their_roles_their_groups_and_their_groups_roles,
    role_holders_and_group_contents_list_who_holds_what,
    deleting_a_role_a_group_a_user_or_a_client_cascades_to_its_links,
);

fn role_name(raw: &str) -> RoleName {
    RoleName::parse(raw).unwrap()
}

fn group_name(raw: &str) -> GroupName {
    GroupName::parse(raw).unwrap()
}

async fn role(store: &dyn Store, raw: &str) -> RoleName {
    let role = Role {
        name: role_name(raw),
        api: None,
        scopes: Vec::new(),
        description: Some(format!("The {raw} role")),
        require_mfa: false,
        created_at: 1_000,
    };
    store.create_role(&role).await.unwrap();
    role.name
}

async fn group(store: &dyn Store, raw: &str) -> GroupName {
    let group = Group {
        name: group_name(raw),
        created_at: 1_000,
    };
    store.create_group(&group).await.unwrap();
    group.name
}

fn names<T: ToString>(items: &[T]) -> Vec<String> {
    items.iter().map(ToString::to_string).collect()
}

async fn roles_round_trip_and_a_duplicate_is_a_conflict(backend: Backend) {
    let db = TestDb::new(&backend).await;
    let store = db.store().await;
    let admin = Role {
        name: role_name("admin"),
        api: None,
        scopes: Vec::new(),
        description: Some("Everything".into()),
        require_mfa: false,
        created_at: 1_000,
    };
    let reader = Role {
        name: role_name("orders:read"),
        api: None,
        scopes: Vec::new(),
        description: None,
        require_mfa: false,
        created_at: 2_000,
    };
    store.create_role(&reader).await.unwrap();
    store.create_role(&admin).await.unwrap();
    assert_eq!(
        store.find_role(&admin.name).await.unwrap(),
        Some(admin.clone())
    );
    assert_eq!(store.find_role(&role_name("nobody")).await.unwrap(), None);
    assert_eq!(
        store.list_roles().await.unwrap(),
        vec![admin.clone(), reader]
    );
    let duplicate = store.create_role(&admin).await.unwrap_err();
    assert!(
        matches!(&duplicate, StoreError::Conflict(what) if what.contains("admin")),
        "{duplicate}"
    );
    assert!(store.delete_role(&admin.name).await.unwrap());
    assert!(!store.delete_role(&admin.name).await.unwrap());
    assert_eq!(store.find_role(&admin.name).await.unwrap(), None);
}

async fn groups_round_trip_and_a_duplicate_is_a_conflict(backend: Backend) {
    let db = TestDb::new(&backend).await;
    let store = db.store().await;
    let ops = Group {
        name: group_name("ops"),
        created_at: 1_000,
    };
    let eng = Group {
        name: group_name("eng"),
        created_at: 2_000,
    };
    store.create_group(&ops).await.unwrap();
    store.create_group(&eng).await.unwrap();
    assert_eq!(
        store.find_group(&ops.name).await.unwrap(),
        Some(ops.clone())
    );
    assert_eq!(store.find_group(&group_name("none")).await.unwrap(), None);
    assert_eq!(store.list_groups().await.unwrap(), vec![eng, ops.clone()]);
    assert!(matches!(
        store.create_group(&ops).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(store.delete_group(&ops.name).await.unwrap());
    assert!(!store.delete_group(&ops.name).await.unwrap());
}

async fn assignments_are_added_once_and_removed_once(backend: Backend) {
    let db = TestDb::new(&backend).await;
    let store = db.store().await;
    let alice = user("alice", 1_000);
    store.create_user(&alice).await.unwrap();
    let client = web_client(1_000);
    store.create_client(&client).await.unwrap();
    let admin = role(store.as_ref(), "admin").await;
    let ops = group(store.as_ref(), "ops").await;
    for link in [
        Assignment::UserRole(alice.user_id.clone(), admin.clone()),
        Assignment::ClientRole(client.client_id.clone(), admin.clone()),
        Assignment::GroupMember(ops.clone(), alice.user_id.clone()),
        Assignment::GroupRole(ops.clone(), admin.clone()),
    ] {
        assert!(store.add_assignment(&link).await.unwrap(), "{link:?}");
        assert!(
            !store.add_assignment(&link).await.unwrap(),
            "twice: {link:?}"
        );
        assert!(store.remove_assignment(&link).await.unwrap(), "{link:?}");
        assert!(
            !store.remove_assignment(&link).await.unwrap(),
            "gone: {link:?}"
        );
    }
    assert_eq!(
        store.find_authorization(&alice.user_id).await.unwrap(),
        Authorization::default()
    );
}

async fn an_assignment_to_something_missing_writes_nothing(backend: Backend) {
    let db = TestDb::new(&backend).await;
    let store = db.store().await;
    let alice = user("alice", 1_000);
    store.create_user(&alice).await.unwrap();
    let client = web_client(1_000);
    store.create_client(&client).await.unwrap();
    let admin = role(store.as_ref(), "admin").await;
    let ops = group(store.as_ref(), "ops").await;
    let ghost = user("ghost", 1_000);
    let missing_role = role_name("missing");
    for link in [
        Assignment::UserRole(alice.user_id.clone(), missing_role.clone()),
        Assignment::UserRole(ghost.user_id.clone(), admin.clone()),
        Assignment::ClientRole(client.client_id.clone(), missing_role.clone()),
        Assignment::ClientRole(web_client(1_000).client_id, admin.clone()),
        Assignment::GroupMember(group_name("missing"), alice.user_id.clone()),
        Assignment::GroupMember(ops.clone(), ghost.user_id.clone()),
        Assignment::GroupRole(ops.clone(), missing_role.clone()),
        Assignment::GroupRole(group_name("missing"), admin.clone()),
    ] {
        assert!(!store.add_assignment(&link).await.unwrap(), "{link:?}");
    }
    assert!(
        store
            .find_role_holders(&admin)
            .await
            .unwrap()
            .users
            .is_empty()
    );
    assert_eq!(
        store.find_group_contents(&ops).await.unwrap(),
        Default::default()
    );
}

async fn a_user_s_authorization_is_their_roles_their_groups_and_their_groups_roles(
    backend: Backend,
) {
    let db = TestDb::new(&backend).await;
    let store = db.store().await;
    let (alice, bob) = (user("alice", 1_000), user("bob", 1_000));
    store.create_user(&alice).await.unwrap();
    store.create_user(&bob).await.unwrap();
    let admin = role(store.as_ref(), "admin").await;
    let reader = role(store.as_ref(), "orders:read").await;
    let writer = role(store.as_ref(), "orders:write").await;
    let ops = group(store.as_ref(), "ops").await;
    let eng = group(store.as_ref(), "eng").await;
    for link in [
        Assignment::UserRole(alice.user_id.clone(), admin.clone()),
        // Held directly and through a group: listed once.
        Assignment::UserRole(alice.user_id.clone(), reader.clone()),
        Assignment::GroupMember(ops.clone(), alice.user_id.clone()),
        Assignment::GroupMember(eng.clone(), alice.user_id.clone()),
        Assignment::GroupRole(ops.clone(), reader.clone()),
        Assignment::GroupRole(eng.clone(), writer.clone()),
        Assignment::GroupMember(eng.clone(), bob.user_id.clone()),
    ] {
        assert!(store.add_assignment(&link).await.unwrap());
    }
    let alices = store.find_authorization(&alice.user_id).await.unwrap();
    assert_eq!(
        names(&alices.roles),
        ["admin", "orders:read", "orders:write"]
    );
    assert_eq!(names(&alices.direct_roles), ["admin", "orders:read"]);
    assert_eq!(names(&alices.groups), ["eng", "ops"]);
    let bobs = store.find_authorization(&bob.user_id).await.unwrap();
    assert_eq!(names(&bobs.roles), ["orders:write"]);
    assert!(bobs.direct_roles.is_empty());
    assert_eq!(names(&bobs.groups), ["eng"]);
    let nobody = user("nobody", 1_000);
    assert_eq!(
        store.find_authorization(&nobody.user_id).await.unwrap(),
        Authorization::default()
    );
}

async fn role_holders_and_group_contents_list_who_holds_what(backend: Backend) {
    let db = TestDb::new(&backend).await;
    let store = db.store().await;
    let (alice, bob) = (user("alice", 1_000), user("bob", 1_000));
    store.create_user(&alice).await.unwrap();
    store.create_user(&bob).await.unwrap();
    let client = web_client(1_000);
    store.create_client(&client).await.unwrap();
    let admin = role(store.as_ref(), "admin").await;
    let billing = role(store.as_ref(), "billing").await;
    let ops = group(store.as_ref(), "ops").await;
    for link in [
        Assignment::UserRole(bob.user_id.clone(), admin.clone()),
        Assignment::UserRole(alice.user_id.clone(), admin.clone()),
        Assignment::ClientRole(client.client_id.clone(), admin.clone()),
        Assignment::ClientRole(client.client_id.clone(), billing.clone()),
        Assignment::GroupRole(ops.clone(), admin.clone()),
        Assignment::GroupMember(ops.clone(), bob.user_id.clone()),
    ] {
        assert!(store.add_assignment(&link).await.unwrap());
    }
    let holders = store.find_role_holders(&admin).await.unwrap();
    assert_eq!(holders.users, ["alice", "bob"]);
    assert_eq!(holders.clients, std::slice::from_ref(&client.client_id));
    assert_eq!(names(&holders.groups), ["ops"]);
    assert_eq!(
        names(&store.find_client_roles(&client.client_id).await.unwrap()),
        ["admin", "billing"]
    );
    let contents = store.find_group_contents(&ops).await.unwrap();
    assert_eq!(contents.members, ["bob"]);
    assert_eq!(names(&contents.roles), ["admin"]);
}

async fn deleting_a_role_a_group_a_user_or_a_client_cascades_to_its_links(backend: Backend) {
    let db = TestDb::new(&backend).await;
    let store = db.store().await;
    let (alice, bob) = (user("alice", 1_000), user("bob", 1_000));
    store.create_user(&alice).await.unwrap();
    store.create_user(&bob).await.unwrap();
    let client = web_client(1_000);
    store.create_client(&client).await.unwrap();
    let admin = role(store.as_ref(), "admin").await;
    let reader = role(store.as_ref(), "reader").await;
    let ops = group(store.as_ref(), "ops").await;
    for link in [
        Assignment::UserRole(alice.user_id.clone(), admin.clone()),
        Assignment::UserRole(bob.user_id.clone(), reader.clone()),
        Assignment::ClientRole(client.client_id.clone(), admin.clone()),
        Assignment::ClientRole(client.client_id.clone(), reader.clone()),
        Assignment::GroupMember(ops.clone(), alice.user_id.clone()),
        Assignment::GroupMember(ops.clone(), bob.user_id.clone()),
        Assignment::GroupRole(ops.clone(), reader.clone()),
        Assignment::GroupRole(ops.clone(), admin.clone()),
    ] {
        assert!(store.add_assignment(&link).await.unwrap());
    }

    // A deleted role leaves every user, client and group.
    assert!(store.delete_role(&admin).await.unwrap());
    assert_eq!(
        names(
            &store
                .find_authorization(&alice.user_id)
                .await
                .unwrap()
                .roles
        ),
        ["reader"]
    );
    assert_eq!(
        names(&store.find_client_roles(&client.client_id).await.unwrap()),
        ["reader"]
    );
    assert_eq!(
        names(&store.find_group_contents(&ops).await.unwrap().roles),
        ["reader"]
    );
    // Re-created, it holds nothing of the old one.
    let admin = role(store.as_ref(), "admin").await;
    assert_eq!(
        store.find_role_holders(&admin).await.unwrap(),
        Default::default()
    );

    // A deleted user leaves their groups and roles.
    assert!(store.delete_user(&bob.user_id, 0).await.unwrap());
    assert_eq!(
        store.find_group_contents(&ops).await.unwrap().members,
        ["alice"]
    );
    assert!(
        store
            .find_role_holders(&reader)
            .await
            .unwrap()
            .users
            .is_empty()
    );

    // A deleted group takes its roles away from its members.
    assert!(store.delete_group(&ops).await.unwrap());
    assert_eq!(
        store.find_authorization(&alice.user_id).await.unwrap(),
        Authorization::default()
    );
    assert!(
        store
            .find_role_holders(&reader)
            .await
            .unwrap()
            .groups
            .is_empty()
    );

    // A deleted client leaves its roles.
    assert!(store.delete_client(&client.client_id).await.unwrap());
    assert!(
        store
            .find_client_roles(&client.client_id)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .find_role_holders(&reader)
            .await
            .unwrap()
            .clients
            .is_empty()
    );
}
