//! The admin CLI, run as the real binary: happy paths, and bad input that changes nothing.

use latchkey::domain::client::ClientId;
use latchkey::domain::secret::TokenHash;

use crate::helpers::{Backend, TestDb, failure_of, json_of, run_cli};

crate::backend_tests!(
    client_create_prints_the_id_and_a_secret_shown_once,
    a_public_client_gets_no_secret,
    client_list_show_update_rotate_and_delete,
    bad_client_input_exits_non_zero_and_changes_nothing,
    user_create_reads_the_password_from_stdin,
    bad_user_input_exits_non_zero_and_changes_nothing,
    users_can_be_disabled_enabled_re_passworded_and_deleted,
    scopes_can_be_created_listed_and_deleted,
    bad_scope_input_exits_non_zero_and_changes_nothing,
    keys_list_and_rotate,
    keys_rotate_with_the_wrong_secret_changes_nothing,
    gc_reports_what_it_deleted,
);

async fn gc_reports_what_it_deleted(backend: Backend) {
    let db = TestDb::new(&backend).await;
    let store = db.store().await;
    store
        .create_session(&latchkey::domain::account::SessionRecord {
            id_hash: &TokenHash::of("expired"),
            user_id: None,
            sid: None,
            device: &Default::default(),
            data: b"{}",
            expires_at: 1,
        })
        .await
        .unwrap();
    let out = json_of(&db.cli(&["gc", "--json"], None));
    assert_eq!(out["sessions"], 1);
    assert_eq!(out["authorization_codes"], 0);
}

async fn client_create_prints_the_id_and_a_secret_shown_once(backend: Backend) {
    let db = TestDb::new(&backend).await;
    let out = json_of(&db.cli(
        &[
            "client",
            "create",
            "--name",
            "Web app",
            "--redirect-uri",
            "https://app.example.com/cb",
            "--grant-type",
            "authorization_code",
            "--grant-type",
            "refresh_token",
            "--scope",
            "openid profile",
            "--auth-method",
            "client_secret_post",
            "--json",
        ],
        None,
    ));
    let client_id = out["client_id"].as_str().unwrap();
    let secret = out["client_secret"].as_str().unwrap();
    assert!(
        secret.starts_with("lk_cs_") && secret.len() == 49,
        "{secret}"
    );
    assert_eq!(out["auth_method"], "client_secret_post");

    let store = db.store().await;
    let stored = store
        .find_client(&ClientId::parse(client_id).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(
        stored.secret_matches(secret),
        "the stored hash verifies the printed secret"
    );
    let shown = json_of(&db.cli(&["client", "show", client_id, "--json"], None));
    assert!(
        shown.get("client_secret").is_none(),
        "the secret is never shown again"
    );
    assert!(
        !String::from_utf8_lossy(&db.cli(&["client", "show", client_id], None).stdout)
            .contains(secret)
    );
}

async fn a_public_client_gets_no_secret(backend: Backend) {
    let db = TestDb::new(&backend).await;
    let out = json_of(&db.cli(
        &[
            "client",
            "create",
            "--name",
            "SPA",
            "--redirect-uri",
            "http://127.0.0.1/cb",
            "--auth-method",
            "none",
            "--json",
        ],
        None,
    ));
    assert!(out.get("client_secret").is_none());
    assert_eq!(out["require_pkce"], true);
    let client = db
        .store()
        .await
        .find_client(&ClientId::parse(out["client_id"].as_str().unwrap()).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(client.secret_hash.is_none());
}

async fn client_list_show_update_rotate_and_delete(backend: Backend) {
    let db = TestDb::new(&backend).await;
    json_of(&db.cli(
        &[
            "scope",
            "create",
            "orders:read",
            "--description",
            "Read orders",
            "--json",
        ],
        None,
    ));
    let created = json_of(&db.cli(
        &[
            "client",
            "create",
            "--client-id",
            "orders-service",
            "--name",
            "Orders",
            "--grant-type",
            "client_credentials",
            "--scope",
            "orders:read",
            "--json",
        ],
        None,
    ));
    assert_eq!(created["client_id"], "orders-service");
    let old_secret = created["client_secret"].as_str().unwrap().to_owned();

    let list = json_of(&db.cli(&["client", "list", "--json"], None));
    assert_eq!(list.as_array().unwrap().len(), 1);

    let updated = json_of(&db.cli(
        &[
            "client",
            "update",
            "orders-service",
            "--name",
            "Orders v2",
            "--introspect-any",
            "true",
            "--json",
        ],
        None,
    ));
    assert_eq!(updated["client_name"], "Orders v2");
    assert_eq!(updated["introspect_any"], true);
    assert_eq!(updated["scope"], "orders:read", "unchanged fields are kept");

    let rotated = json_of(&db.cli(
        &["client", "rotate-secret", "orders-service", "--json"],
        None,
    ));
    let new_secret = rotated["client_secret"].as_str().unwrap();
    let client = db
        .store()
        .await
        .find_client(&ClientId::parse("orders-service").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(client.secret_matches(new_secret));
    assert!(
        !client.secret_matches(&old_secret),
        "the old secret stops working"
    );

    json_of(&db.cli(&["client", "delete", "orders-service", "--json"], None));
    assert!(
        db.store()
            .await
            .find_client(&ClientId::parse("orders-service").unwrap())
            .await
            .unwrap()
            .is_none()
    );
    let err = failure_of(&db.cli(&["client", "show", "orders-service"], None));
    assert!(err.contains("no client with id 'orders-service'"), "{err}");
}

async fn bad_client_input_exits_non_zero_and_changes_nothing(backend: Backend) {
    let db = TestDb::new(&backend).await;
    let cases: &[(&[&str], &str)] = &[
        (
            &["--grant-type", "password"],
            "unknown grant type 'password'",
        ),
        (&["--redirect-uri", "not a uri"], "is not an absolute URI"),
        (
            &["--redirect-uri", "https://app.example.com/cb#frag"],
            "must not contain a fragment",
        ),
        (
            &["--redirect-uri", "http://app.example.com/cb"],
            "not loopback",
        ),
        (
            &[
                "--redirect-uri",
                "https://a.example.com/cb",
                "--scope",
                "nope",
            ],
            "unknown scope(s): nope",
        ),
        (
            &[
                "--redirect-uri",
                "https://a.example.com/cb",
                "--auth-method",
                "client_secret_magic",
            ],
            "unknown auth method",
        ),
        (
            &[
                "--auth-method",
                "none",
                "--grant-type",
                "client_credentials",
            ],
            "public client",
        ),
        (
            &["--grant-type", "authorization_code"],
            "needs at least one --redirect-uri",
        ),
        (
            &[
                "--client-id",
                "bad id!",
                "--grant-type",
                "client_credentials",
            ],
            "client id",
        ),
        // Control characters never reach the store (the URL parser would silently drop a tab).
        (
            &["--redirect-uri", "https://a.example.com/c\tb"],
            "control characters",
        ),
    ];
    for (extra, expected) in cases {
        let mut args = vec!["client", "create", "--name", "Bad"];
        args.extend_from_slice(extra);
        let err = failure_of(&db.cli(&args, None));
        assert!(err.contains(expected), "{extra:?}: {err}");
    }
    let err = failure_of(&db.cli(
        &[
            "client",
            "create",
            "--name",
            "Evil\u{1b}[2J app",
            "--grant-type",
            "client_credentials",
        ],
        None,
    ));
    assert!(err.contains("control characters"), "{err}");
    let err = failure_of(&db.cli(
        &[
            "scope",
            "create",
            "orders:read",
            "--description",
            "two\nlines",
        ],
        None,
    ));
    assert!(err.contains("control characters"), "{err}");
    json_of(&db.cli(
        &[
            "client",
            "create",
            "--client-id",
            "svc",
            "--name",
            "Svc",
            "--json",
        ],
        None,
    ));
    let err = failure_of(&db.cli(
        &["client", "create", "--client-id", "svc", "--name", "Again"],
        None,
    ));
    assert!(err.contains("already exists"), "{err}");
    let err = failure_of(&db.cli(&["client", "update", "svc", "--scope", "unknown"], None));
    assert!(err.contains("unknown scope"), "{err}");
    let err = failure_of(&db.cli(&["client", "update", "svc", "--auth-method", "none"], None));
    assert!(
        err.contains("public") || err.contains("client_credentials"),
        "{err}"
    );

    let clients = db.store().await.list_clients().await.unwrap();
    assert_eq!(clients.len(), 1, "only the one good client exists");
    assert_eq!(
        clients[0].client_name, "Svc",
        "failed updates changed nothing"
    );
}

async fn user_create_reads_the_password_from_stdin(backend: Backend) {
    let db = TestDb::new(&backend).await;
    let out = json_of(&db.cli(
        &[
            "user",
            "create",
            "--username",
            "Alice",
            "--email",
            "alice@example.com",
            "--name",
            "Alice Liddell",
            "--password-stdin",
            "--json",
        ],
        Some("correct horse battery staple\n"),
    ));
    assert_eq!(out["username"], "alice", "usernames are stored lower-case");
    assert!(out.get("password_hash").is_none());
    let user = db
        .store()
        .await
        .find_user_by_username("alice")
        .await
        .unwrap()
        .unwrap();
    assert!(user.password_hash.starts_with("$argon2id$"));
    let password = secrecy::SecretString::from("correct horse battery staple".to_owned());
    assert!(latchkey::domain::password::verify_password(
        &password,
        Some(&user.password_hash)
    ));
    let shown = json_of(&db.cli(&["user", "show", "ALICE", "--json"], None));
    assert_eq!(shown["email"], "alice@example.com");
}

async fn bad_user_input_exits_non_zero_and_changes_nothing(backend: Backend) {
    let db = TestDb::new(&backend).await;
    json_of(&db.cli(
        &[
            "user",
            "create",
            "--username",
            "bob",
            "--password-stdin",
            "--json",
        ],
        Some("first password"),
    ));
    let original = db
        .store()
        .await
        .find_user_by_username("bob")
        .await
        .unwrap()
        .unwrap();

    let err = failure_of(&db.cli(
        &["user", "create", "--username", "BOB", "--password-stdin"],
        Some("second password"),
    ));
    assert!(err.contains("taken"), "{err}");
    let err = failure_of(&db.cli(
        &["user", "create", "--username", "carol", "--password-stdin"],
        Some(""),
    ));
    assert!(err.contains("at least 12 characters"), "{err}");
    let err = failure_of(&db.cli(
        &[
            "user",
            "create",
            "--username",
            "carol",
            "--email",
            "nope",
            "--password-stdin",
        ],
        Some("long enough"),
    ));
    assert!(err.contains("not an email"), "{err}");
    let err = failure_of(&db.cli(
        &[
            "user",
            "create",
            "--username",
            "two words",
            "--password-stdin",
        ],
        Some("long enough"),
    ));
    assert!(err.contains("username"), "{err}");
    let err = failure_of(&db.cli(
        &["user", "create", "--username", "carol"],
        Some("long enough"),
    ));
    assert!(err.contains("--password-stdin"), "{err}");
    let err = failure_of(&db.cli(
        &["user", "set-password", "bob", "--password-stdin"],
        Some("short"),
    ));
    assert!(err.contains("at least 12"), "{err}");

    let users = db.store().await.list_users().await.unwrap();
    assert_eq!(users, vec![original], "nothing changed");
}

async fn users_can_be_disabled_enabled_re_passworded_and_deleted(backend: Backend) {
    let db = TestDb::new(&backend).await;
    json_of(&db.cli(
        &[
            "user",
            "create",
            "--username",
            "dave",
            "--password-stdin",
            "--json",
        ],
        Some("first password"),
    ));
    json_of(&db.cli(&["user", "disable", "dave", "--json"], None));
    assert!(
        db.store()
            .await
            .find_user_by_username("dave")
            .await
            .unwrap()
            .unwrap()
            .disabled
    );
    json_of(&db.cli(&["user", "enable", "dave", "--json"], None));
    assert!(
        !db.store()
            .await
            .find_user_by_username("dave")
            .await
            .unwrap()
            .unwrap()
            .disabled
    );
    json_of(&db.cli(
        &["user", "set-password", "dave", "--password-stdin", "--json"],
        Some("second password\n"),
    ));
    let user = db
        .store()
        .await
        .find_user_by_username("dave")
        .await
        .unwrap()
        .unwrap();
    let second = secrecy::SecretString::from("second password".to_owned());
    assert!(latchkey::domain::password::verify_password(
        &second,
        Some(&user.password_hash)
    ));
    let list = json_of(&db.cli(&["user", "list", "--json"], None));
    assert_eq!(list.as_array().unwrap().len(), 1);
    json_of(&db.cli(&["user", "delete", "dave", "--json"], None));
    assert!(db.store().await.list_users().await.unwrap().is_empty());
    let err = failure_of(&db.cli(&["user", "disable", "dave"], None));
    assert!(err.contains("no user named 'dave'"), "{err}");
}

async fn scopes_can_be_created_listed_and_deleted(backend: Backend) {
    let db = TestDb::new(&backend).await;
    json_of(&db.cli(
        &[
            "scope",
            "create",
            "orders:write",
            "--description",
            "Change your orders",
            "--json",
        ],
        None,
    ));
    let list = json_of(&db.cli(&["scope", "list", "--json"], None));
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        vec![
            "email",
            "groups",
            "offline_access",
            "openid",
            "orders:write",
            "profile",
            "roles"
        ]
    );
    json_of(&db.cli(&["scope", "delete", "orders:write", "--json"], None));
    assert_eq!(db.store().await.list_scopes().await.unwrap().len(), 6);
}

async fn bad_scope_input_exits_non_zero_and_changes_nothing(backend: Backend) {
    let db = TestDb::new(&backend).await;
    let err = failure_of(&db.cli(
        &["scope", "create", "bad\"scope", "--description", "x"],
        None,
    ));
    assert!(err.contains("not a valid scope"), "{err}");
    let err = failure_of(&db.cli(
        &["scope", "create", "openid", "--description", "again"],
        None,
    ));
    assert!(err.contains("already exists"), "{err}");
    let err = failure_of(&db.cli(&["scope", "delete", "openid"], None));
    assert!(err.contains("cannot be deleted"), "{err}");
    json_of(&db.cli(
        &[
            "scope",
            "create",
            "orders:read",
            "--description",
            "Read orders",
            "--json",
        ],
        None,
    ));
    json_of(&db.cli(
        &[
            "client",
            "create",
            "--client-id",
            "svc",
            "--name",
            "Svc",
            "--scope",
            "orders:read",
            "--json",
        ],
        None,
    ));
    let err = failure_of(&db.cli(&["scope", "delete", "orders:read"], None));
    assert!(err.contains("still allowed for client(s) svc"), "{err}");
    assert_eq!(db.store().await.list_scopes().await.unwrap().len(), 7);
    // The scopes that release roles and groups are built in too.
    let err = failure_of(&db.cli(&["scope", "delete", "groups"], None));
    assert!(err.contains("cannot be deleted"), "{err}");
}

async fn keys_list_and_rotate(backend: Backend) {
    let db = TestDb::new(&backend).await;
    // The first rotation on an empty store creates the active and next keys, then rotates.
    let first = json_of(&db.cli(&["keys", "rotate", "--json"], None));
    let listed = json_of(&db.cli(&["keys", "list", "--json"], None));
    let keys = listed.as_array().unwrap();
    assert_eq!(keys.len(), 3);
    let active: Vec<&serde_json::Value> = keys.iter().filter(|k| k["state"] == "active").collect();
    assert_eq!(active.len(), 1);
    assert_eq!(active[0]["kid"], first["active_kid"]);
    let retired = keys.iter().find(|k| k["state"] == "retired").unwrap();
    assert_eq!(
        retired["published_until"].as_i64().unwrap(),
        retired["retired_at"].as_i64().unwrap() + 600 + 30,
        "published until the longest token lifetime plus one key refresh interval has passed"
    );
    let text = String::from_utf8_lossy(&db.cli(&["keys", "list"], None).stdout).to_string();
    assert!(
        text.contains("active") && text.contains("next") && text.contains("retired"),
        "{text}"
    );
}

async fn keys_rotate_with_the_wrong_secret_changes_nothing(backend: Backend) {
    let db = TestDb::new(&backend).await;
    json_of(&db.cli(&["keys", "rotate", "--json"], None));
    let before = db.store().await.list_signing_keys().await.unwrap();
    let out = run_cli(
        &["keys", "rotate"],
        &[
            ("LATCHKEY_DATABASE_URL", db.url.as_str()),
            (
                "LATCHKEY_KEY_ENCRYPTION_SECRET",
                "a different secret that is long enough",
            ),
        ],
        None,
    );
    let err = failure_of(&out);
    assert!(err.contains("cannot decrypt signing key"), "{err}");
    assert_eq!(db.store().await.list_signing_keys().await.unwrap(), before);
}

#[test]
fn bad_configuration_stops_with_one_line_naming_the_setting() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[("LATCHKEY_ISSUER", "https://id.example.com/?tenant=a")],
            "LATCHKEY_ISSUER",
        ),
        (
            &[("LATCHKEY_ISSUER", "https://id.example.com/#x")],
            "fragment",
        ),
        (&[("LATCHKEY_ISSUER", "not a url")], "LATCHKEY_ISSUER"),
        (
            &[("LATCHKEY_DATABASE_URL", "mysql://root@localhost/db")],
            "unknown scheme 'mysql'",
        ),
        (
            &[("LATCHKEY_DATABASE_URL", "postgres://nobody@127.0.0.1:1/db")],
            "LATCHKEY_KEY_ENCRYPTION_SECRET",
        ),
        (
            &[("LATCHKEY_KEY_ENCRYPTION_SECRET", "short")],
            "at least 32 characters",
        ),
        (&[("LATCHKEY_ACCESS_TOKEN_TTL", "soon")], "soon"),
    ];
    for (env, expected) in cases {
        let err = failure_of(&run_cli(&["serve", "--bind", "127.0.0.1:0"], env, None));
        assert!(err.contains(expected), "{env:?}: {err}");
    }
}

#[test]
fn each_command_s_help_shows_its_own_options_before_the_server_settings() {
    let out = crate::helpers::run_cli(&["client", "create", "--help"], &[], None);
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    let at = |needle: &str| {
        help.find(needle)
            .unwrap_or_else(|| panic!("{needle} missing from:\n{help}"))
    };
    let heading = at("Server settings");
    for own in [
        "--name <NAME>",
        "--redirect-uri",
        "--grant-type",
        "--resource",
    ] {
        assert!(at(own) < heading, "{own} comes first");
    }
    for setting in ["--issuer <ISSUER>", "--database-url", "--access-token-ttl"] {
        assert!(at(setting) > heading, "{setting} is a server setting");
    }
    assert!(at("--json") > heading, "output options come last");
}
