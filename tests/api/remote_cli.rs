//! The CLI with `--server URL`: every admin command through a running server's admin API, printing
//! what the same command prints on the database; and its refusals (no or wrong credentials, a client
//! without the admin scope, plain http off this machine, commands that need the database).

use std::process::Output;

use latchkey::domain::client::ClientId;
use serde_json::{Value, json};

use crate::helpers::{Backend, PASSWORD, TEST_SECRET, TestApp, failure_of, json_of, run_cli, text};

crate::backend_tests!(
    clients_are_managed_through_the_server_as_on_the_database,
    users_are_managed_through_the_server_with_passwords_from_stdin,
    apis_and_scopes_are_managed_through_the_server_as_on_the_database,
    roles_and_groups_and_their_links_are_managed_through_the_server,
    keys_are_listed_and_rotated_and_the_audit_trail_read_through_the_server,
    registration_tokens_are_created_listed_and_revoked_through_the_server,
    the_configuration_is_applied_and_exported_through_the_server,
    an_issuer_with_a_path_is_found_through_its_discovery_document,
    the_server_refuses_missing_or_wrong_credentials_and_clients_without_the_admin_scope,
    secrets_never_travel_in_the_clear_and_database_commands_refuse_a_server,
);

/// The variables that carry the admin client's credentials.
const ID_VAR: &str = "LATCHKEY_ADMIN_CLIENT_ID";
const SECRET_VAR: &str = "LATCHKEY_ADMIN_CLIENT_SECRET";

/// Run the real binary off the async runtime (the server answers on it meanwhile).
async fn run(args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Output {
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let stdin = stdin.map(str::to_owned);
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        run_cli(&args, &env, stdin.as_deref())
    })
    .await
    .unwrap()
}

/// The standard output of a command that must have succeeded.
fn stdout_of(output: &Output) -> String {
    assert!(
        output.status.success(),
        "command failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// One test server, an admin client of it, and the CLI both ways.
struct Admin<'a> {
    app: &'a TestApp,
    id: String,
    secret: String,
}

impl<'a> Admin<'a> {
    /// `latchkey admin bootstrap` on the server's database.
    async fn bootstrap(app: &'a TestApp) -> Self {
        let created = json_of(&local(app, &["admin", "bootstrap", "--json"], None).await);
        // The server's clock is fixed: its tokens must not predate the client (made on the wall clock).
        app.clock.advance(10);
        Self {
            app,
            id: text(&created, "client_id"),
            secret: text(&created, "client_secret"),
        }
    }

    /// `latchkey --server ADDRESS ARGS` as the admin client, with a database URL nothing may read.
    async fn remote(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut all = vec!["--server", self.app.address.as_str()];
        all.extend_from_slice(args);
        run(
            &all,
            &[
                (ID_VAR, &self.id),
                (SECRET_VAR, &self.secret),
                ("LATCHKEY_DATABASE_URL", "unusable://"),
            ],
            stdin,
        )
        .await
    }

    /// The same command on the database.
    async fn local(&self, args: &[&str], stdin: Option<&str>) -> Output {
        local(self.app, args, stdin).await
    }

    /// `args` both ways print the same text, and with `--json` the same JSON; that JSON.
    async fn same(&self, args: &[&str]) -> Value {
        let remote = stdout_of(&self.remote(args, None).await);
        let local = stdout_of(&self.local(args, None).await);
        assert_eq!(remote, local, "text of {args:?}");
        let mut with_json = args.to_vec();
        with_json.push("--json");
        let remote = stdout_of(&self.remote(&with_json, None).await);
        let local = stdout_of(&self.local(&with_json, None).await);
        assert_eq!(remote, local, "JSON of {args:?}");
        serde_json::from_str(&remote).unwrap()
    }

    /// `args` fail both ways with the same one line.
    async fn same_refusal(&self, args: &[&str], expected: &str) {
        let remote = failure_of(&self.remote(args, None).await);
        let local = failure_of(&self.local(args, None).await);
        assert_eq!(remote, local, "{args:?}");
        assert!(remote.contains(expected), "{remote}");
    }
}

/// The CLI on `app`'s database.
async fn local(app: &TestApp, args: &[&str], stdin: Option<&str>) -> Output {
    run(
        args,
        &[
            ("LATCHKEY_DATABASE_URL", app.db.url.as_str()),
            ("LATCHKEY_KEY_ENCRYPTION_SECRET", TEST_SECRET),
        ],
        stdin,
    )
    .await
}

/// `value` without the fields that differ between two objects made alike (ids, times, secrets).
fn alike(value: &Value, volatile: &[&str]) -> Value {
    let mut value = value.clone();
    if let Value::Object(fields) = &mut value {
        for key in volatile {
            fields.remove(*key);
        }
    }
    value
}

/// The top-level fields of pretty-printed JSON, in the order printed.
fn fields_in_order(json: &str) -> Vec<String> {
    json.lines()
        .filter_map(|line| line.strip_prefix("  \""))
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_owned)
        .collect()
}

/// The labels of a `key: value` text, in order.
fn labels(text: &str) -> Vec<String> {
    text.lines()
        .map(|line| line.split(':').next().unwrap_or_default().to_owned())
        .collect()
}

/// Whether `username` signs in with `password` at the login page.
async fn signs_in(app: &TestApp, username: &str, password: &str) -> bool {
    let page = app.post_login(username, password).await;
    page.status() == 200 && page.text().await.unwrap().contains("Signed in")
}

async fn clients_are_managed_through_the_server_as_on_the_database(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let admin = Admin::bootstrap(&app).await;
    stdout_of(
        &admin
            .local(
                &["scope", "create", "orders:read", "--description", "Read"],
                None,
            )
            .await,
    );
    let create = |id: &'static str| {
        [
            "client",
            "create",
            "--client-id",
            id,
            "--name",
            "Orders",
            "--grant-type",
            "client_credentials",
            "--scope",
            "orders:read",
        ]
    };

    // Created through the server as on the database: the same fields, a secret shown once that the
    // stored hash verifies.
    let mut args = create("orders").to_vec();
    args.push("--json");
    let remote_out = stdout_of(&admin.remote(&args, None).await);
    let mut args = create("orders-local").to_vec();
    args.push("--json");
    let local_out = stdout_of(&admin.local(&args, None).await);
    let (remote, local): (Value, Value) = (
        serde_json::from_str(&remote_out).unwrap(),
        serde_json::from_str(&local_out).unwrap(),
    );
    let volatile = ["client_id", "client_secret", "created_at", "updated_at"];
    assert_eq!(alike(&remote, &volatile), alike(&local, &volatile));
    assert_eq!(fields_in_order(&remote_out), fields_in_order(&local_out));
    assert_eq!(fields_in_order(&remote_out)[0], "client_secret");
    let stored = app
        .state
        .store
        .find_client(&ClientId::parse("orders").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(stored.secret_matches(&text(&remote, "client_secret")));
    let remote_text = stdout_of(&admin.remote(&create("web"), None).await);
    let local_text = stdout_of(&admin.local(&create("web-local"), None).await);
    assert_eq!(labels(&remote_text), labels(&local_text));
    assert!(
        remote_text.contains("Store the secret now"),
        "{remote_text}"
    );

    let listed = admin.same(&["client", "list"]).await;
    assert_eq!(listed.as_array().unwrap().len(), 5, "{listed}");
    admin.same(&["client", "show", "orders"]).await;

    // Update: only the options given change (the server gets the whole registration).
    let updated = json_of(
        &admin
            .remote(
                &[
                    "client",
                    "update",
                    "orders",
                    "--name",
                    "Orders v2",
                    "--skip-consent",
                    "true",
                    "--json",
                ],
                None,
            )
            .await,
    );
    assert_eq!(updated["client_name"], "Orders v2");
    assert_eq!(updated["skip_consent"], true);
    assert_eq!(updated["scope"], "orders:read");
    assert_eq!(updated["grant_types"], json!(["client_credentials"]));

    // Roles: the link's answer, `client show` with the role, a duplicate refused alike.
    stdout_of(&admin.local(&["role", "create", "orders:admin"], None).await);
    let added = json_of(
        &admin
            .remote(
                &["client", "add-role", "orders", "orders:admin", "--json"],
                None,
            )
            .await,
    );
    assert_eq!(
        added,
        json!({ "client_id": "orders", "added_role": "orders:admin" })
    );
    let shown = admin.same(&["client", "show", "orders"]).await;
    assert_eq!(shown["roles"], json!(["orders:admin"]));
    admin
        .same_refusal(
            &["client", "add-role", "orders", "orders:admin"],
            "already has the role",
        )
        .await;
    let removed = stdout_of(
        &admin
            .remote(&["client", "remove-role", "orders", "orders:admin"], None)
            .await,
    );
    assert_eq!(
        removed.trim(),
        "client orders no longer has role orders:admin"
    );

    // A new secret, shown once: the stored hash verifies it and no longer the old one.
    let rotated = json_of(
        &admin
            .remote(&["client", "rotate-secret", "orders", "--json"], None)
            .await,
    );
    assert_eq!(rotated["client_id"], "orders");
    let stored = app
        .state
        .store
        .find_client(&ClientId::parse("orders").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(stored.secret_matches(&text(&rotated, "client_secret")));
    assert!(!stored.secret_matches(&text(&remote, "client_secret")));

    let deleted = json_of(
        &admin
            .remote(&["client", "delete", "orders", "--json"], None)
            .await,
    );
    assert_eq!(deleted, json!({ "deleted": "orders" }));
    admin
        .same_refusal(&["client", "show", "orders"], "no client with id 'orders'")
        .await;
    admin
        .same_refusal(
            &["client", "create", "--name", "X", "--scope", "nope"],
            "unknown scope(s): nope",
        )
        .await;
}

async fn users_are_managed_through_the_server_with_passwords_from_stdin(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let admin = Admin::bootstrap(&app).await;
    let created = json_of(
        &admin
            .remote(
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
                Some(&format!("{PASSWORD}\n")),
            )
            .await,
    );
    assert_eq!(created["username"], "alice");
    assert_eq!(created["email_verified"], true);
    assert!(created.get("password").is_none() && created.get("password_hash").is_none());
    // The password read from standard input is the one the server stored.
    assert!(signs_in(&app, "alice", PASSWORD).await);

    // A weak password is refused with the database's own message, and creates nobody.
    let weak = ["user", "create", "--username", "bob", "--password-stdin"];
    let remote = failure_of(&admin.remote(&weak, Some("passwordpassword\n")).await);
    let local = failure_of(&admin.local(&weak, Some("passwordpassword\n")).await);
    assert_eq!(remote, local);
    assert!(remote.contains("too easy to guess"), "{remote}");

    admin.same(&["user", "list"]).await;
    admin.same(&["user", "show", "alice"]).await;

    let new_password = "a different horse battery staple";
    let set = json_of(
        &admin
            .remote(
                &[
                    "user",
                    "set-password",
                    "alice",
                    "--password-stdin",
                    "--json",
                ],
                Some(new_password),
            )
            .await,
    );
    assert_eq!(set["password_changed"], true);
    assert_eq!(set["username"], "alice");
    assert!(signs_in(&app, "alice", new_password).await);
    assert!(!signs_in(&app, "alice", PASSWORD).await);

    let disabled = json_of(
        &admin
            .remote(&["user", "disable", "alice", "--json"], None)
            .await,
    );
    assert_eq!(disabled["disabled"], true);
    assert_eq!(
        admin.same(&["user", "show", "alice"]).await["disabled"],
        true
    );
    let enabled = stdout_of(&admin.remote(&["user", "enable", "alice"], None).await);
    assert_eq!(enabled.trim(), "enabled alice");

    // Signed out everywhere: the same report either way.
    let remote = stdout_of(
        &admin
            .remote(&["user", "revoke-sessions", "alice"], None)
            .await,
    );
    let local = stdout_of(
        &admin
            .local(&["user", "revoke-sessions", "alice"], None)
            .await,
    );
    assert_eq!(remote, local);
    assert!(remote.starts_with("signed out: alice; ended "), "{remote}");

    // Roles held directly show in `user show` through the server as on the database.
    stdout_of(
        &admin
            .local(&["role", "create", "support:agent"], None)
            .await,
    );
    let added = json_of(
        &admin
            .remote(
                &["user", "add-role", "ALICE", "support:agent", "--json"],
                None,
            )
            .await,
    );
    assert_eq!(
        added,
        json!({ "username": "alice", "added_role": "support:agent" })
    );
    let shown = admin.same(&["user", "show", "alice"]).await;
    assert_eq!(shown["roles"], json!(["support:agent"]));
    assert_eq!(shown["direct_roles"], json!(["support:agent"]));
    stdout_of(
        &admin
            .remote(&["user", "remove-role", "alice", "support:agent"], None)
            .await,
    );

    let deleted = json_of(
        &admin
            .remote(&["user", "delete", "Alice", "--json"], None)
            .await,
    );
    assert_eq!(deleted, json!({ "deleted": "alice" }));
    admin
        .same_refusal(&["user", "show", "alice"], "no user named 'alice'")
        .await;
}

async fn apis_and_scopes_are_managed_through_the_server_as_on_the_database(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let admin = Admin::bootstrap(&app).await;
    let created = json_of(
        &admin
            .remote(
                &[
                    "api",
                    "create",
                    "--audience",
                    "https://orders.example.com",
                    "--name",
                    "Orders",
                    "--scope",
                    "orders:read",
                    "--token-ttl",
                    "5m",
                    "--token-alg",
                    "ES256",
                    "--json",
                ],
                None,
            )
            .await,
    );
    assert_eq!(created["access_token_ttl"], 300);
    assert_eq!(created["access_token_alg"], "ES256");
    assert_eq!(created["scopes"], json!(["orders:read"]));
    admin.same(&["api", "list"]).await;
    admin
        .same(&["api", "show", "https://orders.example.com"])
        .await;

    // PATCH: the options given change, the others stay.
    let updated = json_of(
        &admin
            .remote(
                &[
                    "api",
                    "update",
                    "https://orders.example.com",
                    "--token-ttl",
                    "0",
                    "--rbac",
                    "true",
                    "--json",
                ],
                None,
            )
            .await,
    );
    assert_eq!(updated["access_token_ttl"], Value::Null);
    assert_eq!(updated["access_token_alg"], "ES256");
    assert_eq!(updated["rbac"], true);

    // Scopes.
    let scope = json_of(
        &admin
            .remote(
                &[
                    "scope",
                    "create",
                    "orders:write",
                    "--description",
                    "Change orders",
                    "--api",
                    "https://orders.example.com",
                    "--hidden",
                    "--json",
                ],
                None,
            )
            .await,
    );
    assert_eq!(scope["api"], "https://orders.example.com");
    assert_eq!(scope["hidden"], true);
    admin.same(&["scope", "list"]).await;
    admin
        .same_refusal(&["scope", "delete", "openid"], "is an OIDC scope")
        .await;
    admin
        .same_refusal(
            &["api", "delete", "https://orders.example.com"],
            "still has scopes or roles",
        )
        .await;
    for scope in ["orders:read", "orders:write"] {
        let deleted = json_of(
            &admin
                .remote(&["scope", "delete", scope, "--json"], None)
                .await,
        );
        assert_eq!(deleted, json!({ "deleted": scope }));
    }
    let deleted = stdout_of(
        &admin
            .remote(&["api", "delete", "https://orders.example.com"], None)
            .await,
    );
    assert_eq!(deleted.trim(), "deleted API https://orders.example.com");
    admin
        .same_refusal(
            &["api", "show", "https://orders.example.com"],
            "no API with audience",
        )
        .await;
}

async fn roles_and_groups_and_their_links_are_managed_through_the_server(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let admin = Admin::bootstrap(&app).await;
    app.create_user("alice").await;
    let role = json_of(
        &admin
            .remote(
                &[
                    "role",
                    "create",
                    "orders:admin",
                    "--description",
                    "Manage every order",
                    "--json",
                ],
                None,
            )
            .await,
    );
    assert_eq!(role["description"], "Manage every order");
    let text = stdout_of(&admin.remote(&["role", "create", "orders:read"], None).await);
    assert_eq!(text.trim(), "created role orders:read");

    let group = stdout_of(&admin.remote(&["group", "create", "support"], None).await);
    assert_eq!(group.trim(), "created group support");
    let member = json_of(
        &admin
            .remote(&["group", "add-member", "support", "Alice", "--json"], None)
            .await,
    );
    assert_eq!(
        member,
        json!({ "group": "support", "added_member": "alice" })
    );
    let linked = stdout_of(
        &admin
            .remote(&["group", "add-role", "support", "orders:read"], None)
            .await,
    );
    assert_eq!(linked.trim(), "group support now has role orders:read");

    // Shown alike both ways, each with its links.
    let shown = admin.same(&["group", "show", "support"]).await;
    assert_eq!(shown["members"], json!(["alice"]));
    assert_eq!(shown["roles"], json!(["orders:read"]));
    let shown = admin.same(&["role", "show", "orders:read"]).await;
    assert_eq!(shown["groups"], json!(["support"]));
    let shown = admin.same(&["user", "show", "alice"]).await;
    assert_eq!(shown["roles"], json!(["orders:read"]));
    assert_eq!(shown["groups"], json!(["support"]));
    admin.same(&["role", "list"]).await;
    admin.same(&["group", "list"]).await;
    admin
        .same_refusal(
            &["group", "add-member", "support", "alice"],
            "is already a member",
        )
        .await;
    admin
        .same_refusal(&["role", "create", "bad name"], "bad name")
        .await;

    let removed = json_of(
        &admin
            .remote(
                &["group", "remove-role", "support", "orders:read", "--json"],
                None,
            )
            .await,
    );
    assert_eq!(
        removed,
        json!({ "group": "support", "removed_role": "orders:read" })
    );
    let removed = stdout_of(
        &admin
            .remote(&["group", "remove-member", "support", "alice"], None)
            .await,
    );
    assert_eq!(removed.trim(), "removed alice from group support");
    let deleted = json_of(
        &admin
            .remote(&["group", "delete", "support", "--json"], None)
            .await,
    );
    assert_eq!(deleted, json!({ "deleted": "support" }));
    let deleted = stdout_of(
        &admin
            .remote(&["role", "delete", "orders:admin"], None)
            .await,
    );
    assert_eq!(deleted.trim(), "deleted role orders:admin");
    admin
        .same_refusal(&["group", "show", "support"], "no group named 'support'")
        .await;
}

async fn registration_tokens_are_created_listed_and_revoked_through_the_server(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let admin = Admin::bootstrap(&app).await;
    let created = json_of(
        &admin
            .remote(
                &[
                    "registration-token",
                    "create",
                    "--expires",
                    "7d",
                    "--max-uses",
                    "3",
                    "--json",
                ],
                None,
            )
            .await,
    );
    let token_id = text(&created, "token_id");
    assert!(text(&created, "registration_token").starts_with("lk_iat_"));
    assert_eq!(created["max_uses"], 3);
    let local = json_of(
        &admin
            .local(&["registration-token", "create", "--json"], None)
            .await,
    );
    assert!(local["expires_at"].is_null() && local["max_uses"].is_null());
    // The value is never listed; both ways list the same tokens.
    let listed = admin.same(&["registration-token", "list"]).await;
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert!(!listed.to_string().contains("lk_iat_"));
    let text_out = stdout_of(&admin.remote(&["registration-token", "create"], None).await);
    assert!(
        text_out.starts_with("created registration token "),
        "{text_out}"
    );

    let revoked = json_of(
        &admin
            .remote(&["registration-token", "revoke", &token_id, "--json"], None)
            .await,
    );
    assert_eq!(revoked["revoked"], token_id.as_str());
    admin
        .same_refusal(
            &["registration-token", "revoke", &token_id],
            "no registration token with id",
        )
        .await;
    admin
        .same_refusal(
            &["registration-token", "create", "--max-uses", "0"],
            "--max-uses must be at least 1",
        )
        .await;
    // The token's creation is an admin change naming the admin client; never its value.
    let events = admin
        .same(&["audit", "list", "--type", "admin.change", "--limit", "10"])
        .await;
    let creation = events
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["detail"]["id"] == token_id.as_str())
        .unwrap();
    assert_eq!(creation["actor"], format!("client:{}", admin.id));
    assert!(!events.to_string().contains("lk_iat_"));
}

async fn keys_are_listed_and_rotated_and_the_audit_trail_read_through_the_server(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let admin = Admin::bootstrap(&app).await;
    let keys = admin.same(&["keys", "list"]).await;
    assert!(!keys.as_array().unwrap().is_empty(), "{keys}");

    let rotated = json_of(
        &admin
            .remote(&["keys", "rotate", "--alg", "ES256", "--json"], None)
            .await,
    );
    assert_eq!(rotated["alg"], "ES256");
    let kid = text(&rotated, "active_kid");
    let keys = admin.same(&["keys", "list"]).await;
    let active = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .unwrap();
    assert_eq!(active["state"], "active");
    let retired = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["alg"] == "ES256" && k["state"] == "retired")
        .unwrap();
    assert!(retired["published_until"].is_i64(), "{retired}");
    let text_out = stdout_of(&admin.remote(&["keys", "rotate"], None).await);
    assert!(text_out.starts_with("RS256 now signs with "), "{text_out}");

    // The audit trail: the same events both ways; the server's changes name the admin client.
    let events = admin
        .same(&["audit", "list", "--type", "admin.change", "--limit", "5"])
        .await;
    let newest = &events.as_array().unwrap()[0];
    assert_eq!(newest["actor"], format!("client:{}", admin.id));
    assert_eq!(newest["detail"]["object"], "key");
    admin
        .same(&["audit", "list", "--client", &admin.id, "--since", "1h"])
        .await;
    admin
        .same_refusal(
            &["audit", "list", "--limit", "0"],
            "--limit must be between",
        )
        .await;
}

async fn the_configuration_is_applied_and_exported_through_the_server(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let admin = Admin::bootstrap(&app).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("latchkey.yaml");
    std::fs::write(
        &file,
        r#"
scopes:
  - name: orders:read
    description: Read orders
roles:
  - name: orders:admin
groups:
  - name: staff
    members: [alice]
    roles: [orders:admin]
clients:
  - client_id: billing
    name: Billing service
    grant_types: [client_credentials]
    scope: orders:read
    secret_env: BILLING_SECRET
users:
  - username: alice
"#,
    )
    .unwrap();
    let file = file.to_str().unwrap();
    let billing_secret = "billing-secret-0123456789abcdef-0123456789";

    // The secret is read where the CLI runs (here from its environment) and sent in the body.
    let apply = |args: &'static [&'static str]| {
        let mut all = vec!["--server", app.address.as_str(), "apply", "-f", file];
        all.extend_from_slice(args);
        let env = [
            (ID_VAR, admin.id.as_str()),
            (SECRET_VAR, admin.secret.as_str()),
            ("BILLING_SECRET", billing_secret),
        ];
        async move { run(&all, &env, None).await }
    };
    let planned = stdout_of(&apply(&["--dry-run"]).await);
    assert!(planned.contains("create client billing"), "{planned}");
    assert!(
        planned.ends_with("dry run: nothing was changed\n"),
        "{planned}"
    );
    let applied: Value = serde_json::from_str(&stdout_of(&apply(&["--json"]).await)).unwrap();
    assert_eq!(applied["applied"], true, "{applied}");
    assert!(
        applied.get("secrets").is_none(),
        "the secret was given: none generated"
    );
    let billing = app
        .state
        .store
        .find_client(&ClientId::parse("billing").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(billing.secret_matches(billing_secret));
    let again = stdout_of(&apply(&[]).await);
    assert!(again.contains("nothing to change"), "{again}");

    // Exported alike both ways, as YAML and as JSON.
    let exported = admin.same(&["export"]).await;
    assert_eq!(exported["groups"][0]["members"], json!(["alice"]));

    // Pruning through the server refuses to delete the admin client making the request; on the
    // database the same file would.
    let empty = dir.path().join("empty.yaml");
    std::fs::write(&empty, "").unwrap();
    let empty = empty.to_str().unwrap();
    let prune = ["apply", "-f", empty, "--prune", "--dry-run", "--json"];
    let refused = failure_of(&admin.remote(&prune, None).await);
    assert!(
        refused.contains(&format!("would delete the admin client '{}'", admin.id)),
        "{refused}"
    );
    let local = json_of(&admin.local(&prune, None).await);
    let deleted: Vec<&Value> = local["delete"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|step| step["kind"] == "client")
        .map(|step| &step["id"])
        .collect();
    assert!(deleted.contains(&&json!(admin.id)), "{local}");
}

async fn an_issuer_with_a_path_is_found_through_its_discovery_document(backend: Backend) {
    let app = TestApp::spawn_with_issuer_path(&backend, "/auth").await;
    assert!(app.address.ends_with("/auth"));
    let admin = Admin::bootstrap(&app).await;
    let listed = admin.same(&["client", "list"]).await;
    assert_eq!(listed[0]["client_id"], admin.id.as_str());
    // Given with a trailing slash, the server is the same.
    let slash = format!("{}/", app.address);
    let output = run(
        &["--server", &slash, "scope", "list", "--json"],
        &[(ID_VAR, &admin.id), (SECRET_VAR, &admin.secret)],
        None,
    )
    .await;
    assert!(json_of(&output).as_array().unwrap().len() >= 4);
    // Without the issuer's path there is no discovery document to find.
    let root = app.address.trim_end_matches("/auth").to_owned();
    let output = run(
        &["--server", &root, "client", "list"],
        &[(ID_VAR, &admin.id), (SECRET_VAR, &admin.secret)],
        None,
    )
    .await;
    let refused = failure_of(&output);
    assert!(refused.contains("issuer's path"), "{refused}");
}

async fn the_server_refuses_missing_or_wrong_credentials_and_clients_without_the_admin_scope(
    backend: Backend,
) {
    let app = TestApp::spawn(&backend).await;
    let admin = Admin::bootstrap(&app).await;
    let server = app.address.as_str();
    let list = ["--server", server, "client", "list"];

    // No credentials, or half of them: said before anything is sent.
    let refused = failure_of(&run(&list, &[], None).await);
    assert!(
        refused.contains(ID_VAR) && refused.contains(SECRET_VAR),
        "{refused}"
    );
    let refused = failure_of(&run(&list, &[(ID_VAR, &admin.id)], None).await);
    assert!(
        refused.ends_with(&format!("{SECRET_VAR} is not set")),
        "{refused}"
    );

    // A wrong secret: the credentials are named, the secret is never printed.
    let wrong = "lk_cs_not-the-secret";
    let output = run(&list, &[(ID_VAR, &admin.id), (SECRET_VAR, wrong)], None).await;
    let refused = failure_of(&output);
    assert!(
        refused.contains("refused the admin client's credentials"),
        "{refused}"
    );
    assert!(!refused.contains(wrong) && output.stdout.is_empty());

    // A client without latchkey:admin cannot get an admin token.
    let service = app
        .service_client(&["orders:read"], "client_secret_basic")
        .await;
    app.clock.advance(10);
    let secret = service.secret.clone().unwrap();
    let output = run(
        &list,
        &[(ID_VAR, &service.client_id), (SECRET_VAR, &secret)],
        None,
    )
    .await;
    let refused = failure_of(&output);
    assert!(refused.contains("may not use the admin API"), "{refused}");
    assert!(!refused.contains(&secret));

    // The admin client deleted meanwhile: its credentials stop working.
    stdout_of(&admin.local(&["client", "delete", &admin.id], None).await);
    app.clock.advance(app.state.settings.client_cache_ttl + 1);
    let refused = failure_of(&admin.remote(&["client", "list"], None).await);
    assert!(
        refused.contains("refused the admin client's credentials"),
        "{refused}"
    );
}

async fn secrets_never_travel_in_the_clear_and_database_commands_refuse_a_server(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let admin = Admin::bootstrap(&app).await;
    let credentials = [
        (ID_VAR, admin.id.as_str()),
        (SECRET_VAR, admin.secret.as_str()),
    ];

    // Plain http to another machine is refused before anything is sent (192.0.2.0/24 is
    // TEST-NET-1: nothing answers there).
    for server in ["http://192.0.2.1:8080", "http://id.example.com"] {
        let output = run(
            &[
                "--server",
                server,
                "user",
                "create",
                "--username",
                "x",
                "--password-stdin",
            ],
            &credentials,
            Some(PASSWORD),
        )
        .await;
        let refused = failure_of(&output);
        assert!(refused.contains("in the clear"), "{refused}");
    }
    // LATCHKEY_SERVER does what --server does; cleared (empty), it names no server.
    let mut env = credentials.to_vec();
    env.push(("LATCHKEY_SERVER", "http://192.0.2.1"));
    let refused = failure_of(&run(&["client", "list"], &env, None).await);
    assert!(refused.contains("in the clear"), "{refused}");
    let env = [
        ("LATCHKEY_SERVER", ""),
        ("LATCHKEY_DATABASE_URL", app.db.url.as_str()),
        ("LATCHKEY_KEY_ENCRYPTION_SECRET", TEST_SECRET),
    ];
    stdout_of(&run(&["migrate"], &env, None).await);

    // https is spoken (aws-lc-rs rustls): to a plain-HTTP port the handshake fails, in one line.
    let https = app.address.replace("http://", "https://");
    let refused =
        failure_of(&run(&["--server", &https, "client", "list"], &credentials, None).await);
    assert!(refused.contains("cannot reach"), "{refused}");
    let refused = failure_of(
        &run(
            &[
                "--server",
                &https,
                "--server-ca-file",
                "/nonexistent/ca.pem",
                "client",
                "list",
            ],
            &credentials,
            None,
        )
        .await,
    );
    assert!(
        refused.contains("cannot read --server-ca-file"),
        "{refused}"
    );

    // Nobody listening.
    let refused = failure_of(
        &run(
            &["--server", "http://127.0.0.1:1", "client", "list"],
            &credentials,
            None,
        )
        .await,
    );
    assert!(
        refused.contains("cannot reach http://127.0.0.1:1"),
        "{refused}"
    );

    // The commands that need the database itself say so, before any request.
    let database_commands: [(&str, &[&str]); 5] = [
        ("serve", &["serve"]),
        ("migrate", &["migrate"]),
        ("gc", &["gc"]),
        (
            "keys rewrap",
            &["keys", "rewrap", "--new-secret-file", "/nonexistent"],
        ),
        ("admin bootstrap", &["admin", "bootstrap"]),
    ];
    for (name, command) in database_commands {
        let mut args = vec!["--server", "http://127.0.0.1:1"];
        args.extend_from_slice(command);
        let refused = failure_of(&run(&args, &[], None).await);
        assert!(
            refused.contains(&format!("`latchkey {name}` works on the database itself")),
            "{refused}"
        );
        assert!(refused.contains("cannot run with --server"), "{refused}");
    }
}
