//! NGINX (Debian's `nginx`, open source) in front of APIs, with `auth_request` to the demo gateway's
//! `/verify`: each route names the audience its tokens must be for and, for writes, the role the
//! caller must hold (the recipe docs/gateways.md marks as tested).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::helpers::{Backend, TestApp, json_of, text};
use crate::microservices::start_system;

crate::backend_tests!(nginx_auth_request_checks_the_audience_and_role_of_each_route);

const NGINX: &str = "/usr/sbin/nginx";
/// The demo's Service B API (with its scope `orders:read` and role `orders-admin`), as `start_system`
/// registers it.
const ORDERS: &str = "https://orders.demo.example";
const BILLING: &str = "https://billing.example.com";

/// NGINX in the foreground (one process), killed when dropped.
struct Nginx {
    child: std::process::Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `/verify?…` with the query percent-encoded.
fn verify_query(audience: &str, role: Option<&str>) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.append_pair("aud", audience);
    if let Some(role) = role {
        query.append_pair("role", role);
    }
    query.finish()
}

impl Nginx {
    /// Whether Debian's nginx is installed; announces a skip once, and fails under `CI=true`.
    fn available() -> bool {
        let missing = !std::path::Path::new(NGINX).exists();
        if missing {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("CI=true but nginx is missing: apt-get install nginx (see .ci/run)");
            }
            static NOTICE: std::sync::Once = std::sync::Once::new();
            NOTICE.call_once(|| {
                use std::io::Write;
                let _ = std::io::stderr().write_all(
                    b"\nnote: nginx not found: the NGINX test is skipped (it passes vacuously); apt-get install nginx to run it\n",
                );
            });
        }
        !missing
    }

    /// Start NGINX on a free loopback port: `/orders/` needs a token for the Orders API,
    /// `/orders/admin/` one with the role `orders-admin` too, `/billing/` one for the Billing API.
    /// The recipe of docs/gateways.md, with static files standing in for the services.
    async fn start(verifier: &str) -> Self {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for page in ["orders", "orders/admin", "billing"] {
            let at = root.join("www").join(page);
            std::fs::create_dir_all(&at).unwrap();
            std::fs::write(at.join("index.html"), format!("{page}\n")).unwrap();
        }
        std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755)).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("http://127.0.0.1:{port}");
        let route = |path: &str, check: &str| {
            format!(
                r#"
        location {path} {{
            auth_request {check};
            auth_request_set $auth_sub $upstream_http_x_authenticated_sub;
            auth_request_set $auth_roles $upstream_http_x_authenticated_roles;
            auth_request_set $auth_challenge $upstream_http_www_authenticate;
            add_header WWW-Authenticate $auth_challenge always;
            add_header X-Seen-Sub $auth_sub always;
            add_header X-Seen-Roles $auth_roles always;
        }}"#
            )
        };
        let check = |name: &str, query: String| {
            format!(
                r#"
        location = {name} {{
            internal;
            proxy_pass {verifier}/verify?{query};
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
        }}"#
            )
        };
        let root_path = root.display();
        let config = format!(
            r#"daemon off;
master_process off;
pid {root_path}/nginx.pid;
error_log {root_path}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {root_path}/client_body;
    proxy_temp_path {root_path}/proxy;
    fastcgi_temp_path {root_path}/fastcgi;
    uwsgi_temp_path {root_path}/uwsgi;
    scgi_temp_path {root_path}/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {root_path}/www;
        {orders}
        {orders_admin}
        {billing}
        {check_orders}
        {check_orders_admin}
        {check_billing}
    }}
}}
"#,
            orders = route("/orders/", "/_verify_orders"),
            orders_admin = route("/orders/admin/", "/_verify_orders_admin"),
            billing = route("/billing/", "/_verify_billing"),
            check_orders = check("/_verify_orders", verify_query(ORDERS, None)),
            check_orders_admin = check(
                "/_verify_orders_admin",
                verify_query(ORDERS, Some("orders-admin"))
            ),
            check_billing = check("/_verify_billing", verify_query(BILLING, None)),
        );
        let conf = root.join("nginx.conf");
        std::fs::write(&conf, config).unwrap();
        let child = std::process::Command::new(NGINX)
            .arg("-p")
            .arg(root)
            .arg("-c")
            .arg(&conf)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .expect("nginx starts");
        let nginx = Self {
            child,
            url,
            _dir: dir,
        };
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return nginx;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!("nginx did not listen on {port}");
    }
}

/// A client-credentials client for both APIs, holding `roles`; its secret.
fn register(app: &TestApp, client_id: &str, roles: &[&str]) -> String {
    let created = json_of(&app.db.cli(
        &[
            "client",
            "create",
            "--client-id",
            client_id,
            "--name",
            client_id,
            "--grant-type",
            "client_credentials",
            "--scope",
            "orders:read billing:read",
            "--resource",
            ORDERS,
            "--resource",
            BILLING,
            "--json",
        ],
        None,
    ));
    for role in roles {
        json_of(
            &app.db
                .cli(&["client", "add-role", client_id, role, "--json"], None),
        );
    }
    text(&created, "client_secret")
}

/// A client-credentials token for `resource` (RFC 8707).
async fn token_for(app: &TestApp, client_id: &str, secret: &str, resource: &str) -> String {
    let response = app
        .http
        .post(format!("{}/token", app.address))
        .basic_auth(client_id, Some(secret))
        .form(&[("grant_type", "client_credentials"), ("resource", resource)])
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    text(&body, "access_token")
}

async fn nginx_auth_request_checks_the_audience_and_role_of_each_route(backend: Backend) {
    if !Nginx::available() {
        return;
    }
    let system = start_system(&backend).await;
    let app = &system.app;
    assert_eq!(system.apis.service_b, ORDERS);
    json_of(&app.db.cli(
        &[
            "api",
            "create",
            "--audience",
            BILLING,
            "--name",
            "Billing",
            "--scope",
            "billing:read",
            "--json",
        ],
        None,
    ));
    app.clock.advance(10); // past the server's catalog cache
    let nginx = Nginx::start(&system.gateway).await;

    let reader = register(app, "reader", &[]);
    let admin = register(app, "admin", &["orders-admin"]);
    let reader_orders = token_for(app, "reader", &reader, ORDERS).await;
    let reader_billing = token_for(app, "reader", &reader, BILLING).await;
    let admin_orders = token_for(app, "admin", &admin, ORDERS).await;
    let admin_billing = token_for(app, "admin", &admin, BILLING).await;
    // Without `scope`, a token for one API carries the client's scopes of that API only.
    for (token, scope) in [
        (&reader_orders, "orders:read"),
        (&reader_billing, "billing:read"),
    ] {
        let payload = token.split('.').nth(1).unwrap();
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        assert_eq!(claims["scope"], scope);
    }

    let get = |path: &str, token: Option<&str>| {
        let mut request = app.http.get(format!("{}{path}", nginx.url));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        async move {
            let response = request.send().await.unwrap();
            let header = |name: &str| {
                response
                    .headers()
                    .get(name)
                    .map(|v| v.to_str().unwrap().to_owned())
                    .unwrap_or_default()
            };
            let seen = (header("x-seen-sub"), header("x-seen-roles"));
            let challenge = header("www-authenticate");
            let status = response.status().as_u16();
            let body = response.text().await.unwrap();
            (status, seen, challenge, body)
        }
    };

    // No token: 401 with the verifier's RFC 6750 challenge passed on.
    let (status, _, challenge, _) = get("/orders/", None).await;
    assert_eq!(status, 401);
    assert!(challenge.starts_with("Bearer"), "{challenge}");

    // A token for the Orders API opens the Orders route, and NGINX learns who called.
    let (status, (sub, roles), _, body) = get("/orders/", Some(&reader_orders)).await;
    assert_eq!((status, body.as_str()), (200, "orders\n"));
    assert_eq!((sub.as_str(), roles.as_str()), ("reader", ""));

    // The same caller's Billing token is for another API: refused on the Orders route (RFC 9068 §4),
    // accepted on its own.
    let (status, _, challenge, _) = get("/orders/", Some(&reader_billing)).await;
    assert_eq!(status, 401);
    assert!(challenge.contains("invalid_token"), "{challenge}");
    assert_eq!(get("/billing/", Some(&reader_billing)).await.0, 200);
    assert_eq!(get("/billing/", Some(&reader_orders)).await.0, 401);

    // A query the caller adds cannot loosen the route's check (were NGINX to pass it on to the
    // verifier, a second `aud` makes the verifier's query malformed: 401).
    let sneaky = format!("/orders/?{}", verify_query(BILLING, None));
    assert_eq!(get(&sneaky, Some(&reader_billing)).await.0, 401);

    // Writes need the role: 403 without it, 200 with it.
    assert_eq!(get("/orders/admin/", Some(&reader_orders)).await.0, 403);
    let (status, (sub, roles), _, body) = get("/orders/admin/", Some(&admin_orders)).await;
    assert_eq!((status, body.as_str()), (200, "orders/admin\n"));
    assert_eq!((sub.as_str(), roles.as_str()), ("admin", "orders-admin"));

    // The role belongs to the Orders API: the admin's Billing token does not carry it.
    assert_eq!(get("/orders/admin/", Some(&admin_billing)).await.0, 401);
    let (status, (_, roles), _, _) = get("/billing/", Some(&admin_billing)).await;
    assert_eq!((status, roles.as_str()), (200, ""));
    drop(nginx);
}
