//! Declarative configuration: `latchkey apply -f` (idempotent, a plan first, one transaction,
//! `--prune`, `--dry-run`), `latchkey export` (export → apply reproduces the store), and the same
//! over the admin API (`POST /admin/v1/apply`, `GET /admin/v1/export`).

use latchkey::domain::audit::{AuditEvent, AuditFilter, EventType};
use latchkey::domain::client::{Client, ClientId};
use latchkey::domain::secret::TokenHash;
use latchkey::store::Store;
use serde_json::{Value, json};

use crate::helpers::{Backend, TEST_SECRET, TestApp, TestDb, failure_of, json_of, run_cli, text};

crate::backend_tests!(
    apply_creates_everything_then_has_nothing_to_do,
    export_then_apply_on_an_empty_store_reproduces_it,
    apply_plans_updates_with_their_fields_and_prune_deletes,
    a_file_with_an_error_changes_nothing,
    a_failure_inside_the_transaction_changes_nothing,
    apply_and_export_over_the_admin_api,
);

/// A configuration using every kind of item and link.
const CONFIG: &str = r#"
apis:
  - audience: https://orders.example.com
    name: Orders
    token_ttl: 1h
    token_alg: ES256
    rbac: true
    scopes: [orders:read]
scopes:
  - name: orders:write
    description: Change your orders
    api: https://orders.example.com
  - name: reports
    description: Read reports
    hidden: true
roles:
  - name: orders:admin
    description: Runs the orders desk
    api: https://orders.example.com
    scopes: [orders:read, orders:write]
  - name: auditor
groups:
  - name: staff
    members: [alice]
    roles: [orders:admin]
clients:
  - client_id: web
    name: Web shop
    redirect_uris: [https://shop.example.com/cb]
    grant_types: [authorization_code, refresh_token]
    scope: openid profile orders:read
    resources: [https://orders.example.com]
  - client_id: spa
    name: Single-page app
    auth_method: none
    redirect_uris: [https://spa.example.com/cb]
    scope: openid
  - client_id: billing
    name: Billing service
    grant_types: [client_credentials]
    scope: orders:read reports
    roles: [orders:admin]
    secret_file: billing.secret
users:
  - username: alice
    email: alice@example.com
    name: Alice
    roles: [auditor]
  - username: bob
"#;

const BILLING_SECRET: &str = "billing-secret-0123456789abcdef-0123456789";

/// A folder holding `latchkey.yaml` with `config` and the billing client's secret file.
fn folder(config: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("latchkey.yaml"), config).unwrap();
    std::fs::write(
        dir.path().join("billing.secret"),
        format!("{BILLING_SECRET}\n"),
    )
    .unwrap();
    dir
}

fn file(dir: &tempfile::TempDir) -> String {
    dir.path().join("latchkey.yaml").display().to_string()
}

/// The steps of a plan of one kind (`create`, `update`, `delete`) as `kind id[: changes]`.
fn steps(plan: &Value, verb: &str) -> Vec<String> {
    let mut steps: Vec<String> = plan[verb]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let head = format!("{} {}", text(s, "kind"), text(s, "id"));
            match s["changes"].as_array() {
                Some(changes) => {
                    let fields: Vec<&str> = changes.iter().map(|c| c.as_str().unwrap()).collect();
                    format!("{head}: {}", fields.join(","))
                }
                None => head,
            }
        })
        .collect();
    steps.sort();
    steps
}

/// Every `admin.change` event, newest first.
async fn admin_changes(store: &dyn Store) -> Vec<AuditEvent> {
    store
        .list_audit_events(&AuditFilter {
            event_type: Some(EventType::AdminChange),
            limit: 100,
            ..AuditFilter::default()
        })
        .await
        .unwrap()
}

/// The client registered as `id`, if any.
async fn client(store: &dyn Store, id: &str) -> Option<Client> {
    store
        .find_client(&ClientId::parse(id).unwrap())
        .await
        .unwrap()
}

async fn apply_creates_everything_then_has_nothing_to_do(backend: Backend) {
    let db = TestDb::new(&backend).await;
    let dir = folder(CONFIG);

    // A dry run plans everything and writes nothing.
    let plan = json_of(&db.cli(&["apply", "-f", &file(&dir), "--dry-run", "--json"], None));
    assert_eq!(
        steps(&plan, "create"),
        [
            "api https://orders.example.com",
            "client billing",
            "client spa",
            "client web",
            "group staff",
            "role auditor",
            "role orders:admin",
            "scope orders:read",
            "scope orders:write",
            "scope reports",
            "user alice",
            "user bob",
        ]
    );
    assert_eq!(plan["applied"], false);
    assert!(plan.get("secrets").is_none(), "{plan}");
    let store = db.store().await;
    assert!(store.list_clients().await.unwrap().is_empty());

    // Applied: the text output is the plan, then the one generated secret.
    let out = db.cli(&["apply", "-f", &file(&dir)], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(printed.contains("create client web\n"), "{printed}");
    assert!(
        printed.contains("applied 12 change(s) in one transaction"),
        "{printed}"
    );
    let secret_line = printed
        .lines()
        .find(|l| l.starts_with("client web secret (shown once): lk_cs_"))
        .unwrap_or_else(|| panic!("no secret for web in {printed}"));
    assert!(
        !printed.contains("client billing secret"),
        "billing's secret is the file's"
    );
    assert!(!printed.contains(BILLING_SECRET));

    // What was written: the file's secret, the links, a user without a password.
    let billing = client(store.as_ref(), "billing").await.unwrap();
    assert_eq!(billing.secret_hash, Some(TokenHash::of(BILLING_SECRET)));
    let web = client(store.as_ref(), "web").await.unwrap();
    let web_secret = secret_line.rsplit(' ').next().unwrap();
    assert_eq!(web.secret_hash, Some(TokenHash::of(web_secret)));
    let spa = client(store.as_ref(), "spa").await.unwrap();
    assert_eq!(spa.secret_hash, None);
    let alice = store.find_user_by_username("alice").await.unwrap().unwrap();
    assert_eq!(alice.password_hash, "");
    let authorization = store.find_authorization(&alice.user_id).await.unwrap();
    let roles: Vec<&str> = authorization.roles.iter().map(|r| r.as_str()).collect();
    assert_eq!(roles, ["auditor", "orders:admin"]);
    let groups: Vec<&str> = authorization.groups.iter().map(|g| g.as_str()).collect();
    assert_eq!(groups, ["staff"]);
    let client_roles = store.find_client_roles(&billing.client_id).await.unwrap();
    assert_eq!(client_roles.len(), 1);
    let scopes = store.list_scopes().await.unwrap();
    let reports = scopes.iter().find(|s| s.name == "reports").unwrap();
    assert!(reports.hidden && reports.api.is_none());
    let read = scopes.iter().find(|s| s.name == "orders:read").unwrap();
    assert_eq!(read.description, "orders:read", "created by the API's list");

    // One audit event per step, in the same transaction, none holding a secret.
    let events = admin_changes(store.as_ref()).await;
    assert_eq!(events.len(), 12);
    for event in &events {
        assert_eq!(event.detail["via"], "apply");
        assert_eq!(event.detail["action"], "created");
        assert!(event.actor.starts_with("cli:"), "{}", event.actor);
        let all = serde_json::to_string(event).unwrap();
        assert!(!all.contains(BILLING_SECRET) && !all.contains(web_secret));
    }

    // The second apply has nothing to do, and says so.
    let again = json_of(&db.cli(&["apply", "-f", &file(&dir), "--json"], None));
    assert_eq!(
        again,
        json!({"create": [], "update": [], "delete": [], "applied": false})
    );
    let out = db.cli(&["apply", "-f", &file(&dir)], None);
    assert!(String::from_utf8_lossy(&out.stdout).contains("nothing to change"));
    // Even with --prune: everything is listed, and the OIDC scopes are never pruned.
    let pruned = json_of(&db.cli(&["apply", "-f", &file(&dir), "--prune", "--json"], None));
    assert_eq!(pruned["delete"], json!([]));

    // A user created without a password signs in once an operator gives one.
    db.cli(
        &["user", "set-password", "alice", "--password-stdin"],
        Some("correct horse battery staple 42"),
    );
    let alice = store.find_user_by_username("alice").await.unwrap().unwrap();
    assert!(alice.password_hash.starts_with("$argon2id$"));
}

async fn export_then_apply_on_an_empty_store_reproduces_it(backend: Backend) {
    let db = TestDb::new(&backend).await;
    let dir = folder(CONFIG);
    json_of(&db.cli(&["apply", "-f", &file(&dir), "--json"], None));
    // Things made with the CLI are exported too.
    json_of(&db.cli(
        &[
            "scope",
            "create",
            "audit:read",
            "--description",
            "Read the audit",
            "--json",
        ],
        None,
    ));
    json_of(&db.cli(&["group", "create", "ops", "--json"], None));
    json_of(&db.cli(&["group", "add-member", "ops", "bob", "--json"], None));

    let exported = dir.path().join("exported.yaml");
    let out = db.cli(&["export", "-o", &exported.display().to_string()], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let yaml = std::fs::read_to_string(&exported).unwrap();
    assert!(yaml.contains("client_id: web"), "{yaml}");
    assert!(
        !yaml.contains("secret_file")
            && !yaml.contains("secret_env")
            && !yaml.contains("lk_cs_")
            && !yaml.contains(BILLING_SECRET),
        "no secret is exported: {yaml}"
    );
    assert!(
        !yaml.contains("name: openid"),
        "the OIDC scopes are built in: {yaml}"
    );
    assert!(yaml.contains("token_ttl: 1h"), "{yaml}");

    // Applied to an empty store, the export reproduces the configuration exactly.
    let fresh = TestDb::new(&backend).await;
    let plan = json_of(&fresh.cli(
        &["apply", "-f", &exported.display().to_string(), "--json"],
        None,
    ));
    assert_eq!(plan["applied"], true);
    assert_eq!(
        plan["secrets"].as_object().unwrap().len(),
        2,
        "both confidential clients get a new secret: {plan}"
    );
    let original = json_of(&db.cli(&["export", "--json"], None));
    let copy = json_of(&fresh.cli(&["export", "--json"], None));
    assert_eq!(original, copy);
    assert_eq!(
        original["groups"][0]["members"],
        json!(["bob"]),
        "{original}"
    );
    // And applying the export to its own store changes nothing.
    let same = json_of(&db.cli(
        &["apply", "-f", &exported.display().to_string(), "--json"],
        None,
    ));
    assert_eq!(same["applied"], false, "{same}");
}

async fn apply_plans_updates_with_their_fields_and_prune_deletes(backend: Backend) {
    let db = TestDb::new(&backend).await;
    let dir = folder(CONFIG);
    json_of(&db.cli(&["apply", "-f", &file(&dir), "--json"], None));
    let store = db.store().await;
    let web_before = client(store.as_ref(), "web").await.unwrap();

    let changed = CONFIG
        .replace("description: Read reports", "description: Read the reports")
        .replace(
            "redirect_uris: [https://shop.example.com/cb]",
            "redirect_uris: [https://shop.example.com/cb, https://shop.example.com/cb2]",
        )
        .replace("members: [alice]", "members: [alice, bob]")
        .replace("    roles: [auditor]\n", "    roles: [auditor, orders:admin]\n")
        .replace("    token_ttl: 1h\n", "    token_ttl: 2h\n")
        // The spa client is no longer listed.
        .replace(
            "  - client_id: spa\n    name: Single-page app\n    auth_method: none\n    redirect_uris: [https://spa.example.com/cb]\n    scope: openid\n",
            "",
        );
    std::fs::write(dir.path().join("latchkey.yaml"), &changed).unwrap();
    // A new secret in the file replaces the stored one.
    let rotated = "rotated-billing-secret-0123456789abcdef-0123";
    std::fs::write(dir.path().join("billing.secret"), rotated).unwrap();

    let plan = json_of(&db.cli(&["apply", "-f", &file(&dir), "--json"], None));
    assert_eq!(steps(&plan, "create"), Vec::<String>::new());
    assert_eq!(
        steps(&plan, "update"),
        [
            "api https://orders.example.com: token_ttl",
            "client billing: secret",
            "client web: redirect_uris",
            "group staff: members",
            "scope reports: description",
            "user alice: roles",
        ]
    );
    assert_eq!(steps(&plan, "delete"), Vec::<String>::new(), "no --prune");
    let web = client(store.as_ref(), "web").await.unwrap();
    assert_eq!(web.redirect_uris.len(), 2);
    assert_eq!(
        web.secret_hash, web_before.secret_hash,
        "an update keeps the secret"
    );
    assert_eq!(web.created_at, web_before.created_at);
    let billing = client(store.as_ref(), "billing").await.unwrap();
    assert_eq!(billing.secret_hash, Some(TokenHash::of(rotated)));
    let apis = store.list_apis().await.unwrap();
    assert_eq!(apis[0].access_token_ttl, Some(7200));
    assert!(client(store.as_ref(), "spa").await.is_some());

    // --prune deletes what the file no longer lists, and nothing else; the text plan says so.
    let out = db.cli(&["apply", "-f", &file(&dir), "--prune", "--dry-run"], None);
    let printed = String::from_utf8_lossy(&out.stdout);
    assert_eq!(printed, "delete client spa\ndry run: nothing was changed\n");
    let plan = json_of(&db.cli(&["apply", "-f", &file(&dir), "--prune", "--json"], None));
    assert_eq!(steps(&plan, "delete"), ["client spa"]);
    assert!(client(store.as_ref(), "spa").await.is_none());
    // An empty file with --prune deletes every item, but never the OIDC scopes.
    std::fs::write(dir.path().join("latchkey.yaml"), "").unwrap();
    let plan = json_of(&db.cli(&["apply", "-f", &file(&dir), "--prune", "--json"], None));
    assert_eq!(steps(&plan, "delete").len(), 11, "{plan}");
    assert!(store.list_clients().await.unwrap().is_empty());
    assert!(store.list_users().await.unwrap().is_empty());
    assert!(store.list_apis().await.unwrap().is_empty());
    let scopes = store.list_scopes().await.unwrap();
    assert!(scopes.iter().all(|s| s.builtin) && scopes.iter().any(|s| s.name == "openid"));
}

async fn a_file_with_an_error_changes_nothing(backend: Backend) {
    let db = TestDb::new(&backend).await;
    let store = db.store().await;
    let cases = [
        (
            CONFIG.replace("scope: openid profile orders:read", "scope: openid nope"),
            "client 'web': unknown scope(s): nope",
        ),
        (
            CONFIG.replace("members: [alice]", "members: [carol]"),
            "group 'staff': no user named 'carol'",
        ),
        (
            CONFIG.replace("scopes: [orders:read, orders:write]", "scopes: [reports]"),
            "role 'orders:admin': 'reports' belongs to no API",
        ),
        (
            CONFIG.replace(
                "  - username: bob\n",
                "  - username: bob\n  - username: BOB\n",
            ),
            "the document lists the user 'bob' twice",
        ),
        (
            CONFIG.replace("token_ttl: 1h", "token_ttl: soon"),
            "API 'https://orders.example.com': token_ttl: 'soon' is not a duration",
        ),
        (
            CONFIG.replace(
                "    secret_file: billing.secret\n",
                "    secret: in-the-file\n",
            ),
            "unknown field `secret`",
        ),
        (
            CONFIG.replace("clients:", "clients:\n  - client_id: [oops"),
            "latchkey.yaml",
        ),
        (
            CONFIG.replace(
                "auth_method: none",
                "auth_method: none\n    secret_file: billing.secret",
            ),
            "client 'spa' authenticates with none and takes no secret",
        ),
    ];
    for (config, expected) in cases {
        let dir = folder(&config);
        let refused = failure_of(&db.cli(&["apply", "-f", &file(&dir)], None));
        assert!(refused.contains(expected), "{expected}: {refused}");
        assert!(store.list_apis().await.unwrap().is_empty(), "{expected}");
        assert!(store.list_users().await.unwrap().is_empty(), "{expected}");
    }
    // A secret too weak to stand in for a generated one.
    let dir = folder(CONFIG);
    std::fs::write(dir.path().join("billing.secret"), "hunter2").unwrap();
    let refused = failure_of(&db.cli(&["apply", "-f", &file(&dir)], None));
    assert!(
        refused.contains("32 to 512 printable ASCII characters"),
        "{refused}"
    );
    // A secret named by an environment variable that is not set.
    let config = CONFIG.replace(
        "secret_file: billing.secret",
        "secret_env: LK_TEST_BILLING_SECRET",
    );
    let dir = folder(&config);
    let env = [
        ("LATCHKEY_DATABASE_URL", db.url.as_str()),
        ("LATCHKEY_KEY_ENCRYPTION_SECRET", TEST_SECRET),
    ];
    let refused = failure_of(&run_cli(&["apply", "-f", &file(&dir)], &env, None));
    assert!(
        refused.contains("LK_TEST_BILLING_SECRET (secret_env) is not set"),
        "{refused}"
    );
    assert!(store.list_clients().await.unwrap().is_empty());
    // Set, it is used.
    let mut env = env.to_vec();
    env.push(("LK_TEST_BILLING_SECRET", BILLING_SECRET));
    json_of(&run_cli(
        &["apply", "-f", &file(&dir), "--json"],
        &env,
        None,
    ));
    let billing = client(store.as_ref(), "billing").await.unwrap();
    assert_eq!(billing.secret_hash, Some(TokenHash::of(BILLING_SECRET)));
}

async fn a_failure_inside_the_transaction_changes_nothing(backend: Backend) {
    let db = TestDb::new(&backend).await;
    json_of(&db.cli(
        &[
            "user",
            "create",
            "--username",
            "carol",
            "--password-stdin",
            "--json",
        ],
        Some("correct horse battery staple 42"),
    ));
    let store = db.store().await;
    let carol = store.find_user_by_username("carol").await.unwrap().unwrap();
    // Every check passes, but the store refuses the last client: its id is carol's `sub`
    // (RFC 9068 §5), which only the insert itself finds out, after the APIs, scopes, roles,
    // users and the other clients were written in the same transaction.
    let config = CONFIG.replace(
        "  - client_id: billing\n",
        &format!("  - client_id: {}\n", carol.user_id),
    );
    let dir = folder(&config);
    let refused = failure_of(&db.cli(&["apply", "-f", &file(&dir)], None));
    assert!(refused.contains("belongs to a user"), "{refused}");
    assert!(store.list_apis().await.unwrap().is_empty());
    assert!(store.list_clients().await.unwrap().is_empty());
    assert!(store.list_roles().await.unwrap().is_empty());
    assert_eq!(store.list_users().await.unwrap().len(), 1);
    let events = admin_changes(store.as_ref()).await;
    assert!(
        events.iter().all(|e| e.detail["via"] != "apply"),
        "no event of a change that did not happen"
    );
}

async fn apply_and_export_over_the_admin_api(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let created = json_of(&app.db.cli(&["admin", "bootstrap", "--json"], None));
    let (admin_id, admin_secret) = (text(&created, "client_id"), text(&created, "client_secret"));
    app.clock.advance(10);
    let response = app
        .http
        .post(format!("{}/token", app.address))
        .basic_auth(&admin_id, Some(&admin_secret))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "latchkey:admin"),
        ])
        .send()
        .await
        .unwrap();
    let token = text(&response.json::<Value>().await.unwrap(), "access_token");
    let call = |path: &str, body: Option<Value>| {
        let request = match &body {
            Some(body) => app.http.post(format!("{}{path}", app.address)).json(body),
            None => app.http.get(format!("{}{path}", app.address)),
        };
        let token = token.clone();
        async move {
            let response = request.bearer_auth(token).send().await.unwrap();
            let status = response.status().as_u16();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    // The CLI parses the YAML and sends JSON: here, another store's export.
    let source = TestDb::new(&backend).await;
    let dir = folder(CONFIG);
    json_of(&source.cli(&["apply", "-f", &file(&dir), "--json"], None));
    let document = json_of(&source.cli(&["export", "--json"], None));

    let (status, plan) = call(
        "/admin/v1/apply",
        Some(
            json!({"document": document, "dry_run": true, "secrets": {"billing": BILLING_SECRET}}),
        ),
    )
    .await;
    assert_eq!(status, 200, "{plan}");
    assert_eq!(plan["applied"], false);
    assert_eq!(plan["create"].as_array().unwrap().len(), 12);
    let (status, done) = call(
        "/admin/v1/apply",
        Some(json!({"document": document, "secrets": {"billing": BILLING_SECRET}})),
    )
    .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["applied"], true);
    assert!(
        done["secrets"]["web"]
            .as_str()
            .unwrap()
            .starts_with("lk_cs_")
    );
    assert!(done["secrets"].get("billing").is_none());
    let events = admin_changes(app.state.store.as_ref()).await;
    let applied: Vec<_> = events
        .iter()
        .filter(|e| e.detail["via"] == "apply")
        .collect();
    assert_eq!(applied.len(), 12);
    assert!(
        applied
            .iter()
            .all(|e| e.actor == format!("client:{admin_id}"))
    );

    // The export holds the admin client too; applying it with --prune keeps everything.
    let (status, exported) = call("/admin/v1/export", None).await;
    assert_eq!(status, 200, "{exported}");
    assert_eq!(
        exported["clients"].as_array().unwrap().len(),
        4,
        "{exported}"
    );
    let (status, same) = call(
        "/admin/v1/apply",
        Some(json!({"document": exported, "prune": true})),
    )
    .await;
    assert_eq!(status, 200, "{same}");
    assert_eq!(same["applied"], false, "{same}");
    // --prune never deletes the admin client making the request.
    let (status, refused) = call(
        "/admin/v1/apply",
        Some(json!({"document": document, "prune": true})),
    )
    .await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["error"], "invalid_request");
    assert!(
        text(&refused, "error_description").contains(&format!(
            "--prune would delete the admin client '{admin_id}'"
        )),
        "{refused}"
    );
    // A configuration larger than the rest of the API's 64 KiB body limit is accepted.
    let many: Vec<Value> = (0..2000)
        .map(|i| json!({"name": format!("bulk:{i:04}"), "description": "One of many scopes"}))
        .collect();
    let large = json!({"document": {"scopes": many}, "dry_run": true});
    assert!(large.to_string().len() > 64 * 1024);
    let (status, plan) = call("/admin/v1/apply", Some(large)).await;
    assert_eq!(status, 200, "{plan}");
    assert_eq!(plan["create"].as_array().unwrap().len(), 2000);
    // Bad bodies are 400 with the reason; no token is 401.
    let (status, refused) = call(
        "/admin/v1/apply",
        Some(json!({"document": {"widgets": []}})),
    )
    .await;
    assert_eq!(status, 400, "{refused}");
    assert!(
        text(&refused, "error_description").contains("widgets"),
        "{refused}"
    );
    let anonymous = app
        .http
        .get(format!("{}/admin/v1/export", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
}
