//! Apache httpd with mod_auth_openidc, configured with nothing but Latchkey's discovery URL and a
//! client registration, signs a user in and out (the recipe docs/gateways.md marks as tested).

use latchkey::domain::client::ClientSpec;

use crate::helpers::{Backend, TestApp, TestClient, location, query_param};

crate::backend_tests!(apache_with_mod_auth_openidc_signs_a_user_in_knowing_only_the_discovery_url);

// --- Apache httpd + mod_auth_openidc -------------------------------------------------------------

const APACHE: &str = "/usr/sbin/apache2";
const MOD_AUTH_OPENIDC: &str = "/usr/lib/apache2/modules/mod_auth_openidc.so";

/// Apache httpd in the foreground, killed when dropped.
struct Apache {
    child: std::process::Child,
    url: String,
    dir: tempfile::TempDir,
}

impl Drop for Apache {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Apache {
    /// Whether Debian's apache2 and libapache2-mod-auth-openidc are installed; announces a skip once,
    /// and fails under `CI=true`.
    fn available() -> bool {
        let missing = [APACHE, MOD_AUTH_OPENIDC]
            .iter()
            .any(|path| !std::path::Path::new(path).exists());
        if missing {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!(
                    "CI=true but apache2 or mod_auth_openidc is missing: apt-get install apache2 libapache2-mod-auth-openidc (see .ci/run)"
                );
            }
            static NOTICE: std::sync::Once = std::sync::Once::new();
            NOTICE.call_once(|| {
                use std::io::Write;
                let _ = std::io::stderr().write_all(
                    b"\nnote: apache2 or mod_auth_openidc not found: the Apache test is skipped (it passes vacuously); apt-get install apache2 libapache2-mod-auth-openidc to run it\n",
                );
            });
        }
        !missing
    }

    /// Start Apache on a free loopback port, protecting `/protected/` with mod_auth_openidc for
    /// `client`, configured with the discovery URL and the client's own settings only.
    async fn start(discovery: &str, client: &TestClient, port: u16) -> Self {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let protected = root.join("www/protected");
        std::fs::create_dir_all(&protected).unwrap();
        std::fs::write(
            protected.join("whoami.shtml"),
            "user=<!--#echo var=\"REMOTE_USER\" --> email=<!--#echo var=\"OIDC_CLAIM_email\" -->\n",
        )
        .unwrap();
        // Run as root, Apache serves as www-data: the files must be readable by it.
        for path in [root, &root.join("www"), &protected] {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        std::fs::set_permissions(
            protected.join("whoami.shtml"),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        let url = format!("http://127.0.0.1:{port}");
        let modules = "/usr/lib/apache2/modules";
        let config = format!(
            r#"ServerRoot "{root}"
ServerName 127.0.0.1
Listen 127.0.0.1:{port}
PidFile "{root}/httpd.pid"
DefaultRuntimeDir "{root}"
Mutex file:{root} default
ErrorLog "{root}/error.log"
LogLevel warn
LoadModule mpm_event_module {modules}/mod_mpm_event.so
LoadModule authn_core_module {modules}/mod_authn_core.so
LoadModule authz_core_module {modules}/mod_authz_core.so
LoadModule authz_user_module {modules}/mod_authz_user.so
LoadModule include_module {modules}/mod_include.so
LoadModule mime_module {modules}/mod_mime.so
LoadModule auth_openidc_module {modules}/mod_auth_openidc.so
User www-data
Group www-data
TypesConfig /dev/null
DocumentRoot "{root}/www"

OIDCProviderMetadataURL {discovery}
OIDCClientID {client_id}
OIDCClientSecret {secret}
OIDCRedirectURI {url}/protected/redirect_uri
OIDCCryptoPassphrase {passphrase}
OIDCScope "openid profile email"
OIDCPKCEMethod S256
OIDCRemoteUserClaim preferred_username

<Location /protected>
  AuthType openid-connect
  Require valid-user
  Options +Includes
  AddOutputFilter INCLUDES .shtml
</Location>
"#,
            root = root.display(),
            client_id = client.client_id,
            secret = client.secret.as_deref().unwrap(),
            passphrase = latchkey::domain::secret::random_string(32),
        );
        let config_path = root.join("httpd.conf");
        std::fs::write(&config_path, config).unwrap();
        let child = std::process::Command::new(APACHE)
            .arg("-X")
            .arg("-f")
            .arg(&config_path)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut apache = Self { child, url, dir };
        // Bounded polling until it accepts connections (or exits).
        for _ in 0..200 {
            if let Some(status) = apache.child.try_wait().unwrap() {
                panic!("apache2 exited with {status}: {}", apache.log());
            }
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return apache;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("apache2 did not listen within 10 s: {}", apache.log());
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }
}

async fn apache_with_mod_auth_openidc_signs_a_user_in_knowing_only_the_discovery_url(
    backend: Backend,
) {
    if !Apache::available() {
        return;
    }
    let app = TestApp::spawn(&backend).await;
    app.create_user("alice").await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // As in docs/gateways.md: a confidential client, client_secret_basic, PKCE S256.
    let client = app
        .register_client(ClientSpec {
            client_name: "Apache".into(),
            redirect_uris: vec![format!("http://127.0.0.1:{port}/protected/redirect_uri")],
            post_logout_redirect_uris: vec![format!("http://127.0.0.1:{port}/")],
            scope: "openid profile email".into(),
            auth_method: "client_secret_basic".into(),
            ..Default::default()
        })
        .await;
    let discovery = format!("{}/.well-known/openid-configuration", app.address);
    let apache = Apache::start(&discovery, &client, port).await;
    let page = format!("{}/protected/whoami.shtml", apache.url);

    // Apache sends the browser to Latchkey with PKCE; the user signs in and consents.
    let first = app.get_url(&page).await;
    assert_eq!(first.status(), 302, "{}", apache.log());
    let authorize = url::Url::parse(&location(&first)).unwrap();
    assert!(
        authorize
            .as_str()
            .starts_with(&format!("{}/authorize?", app.address))
    );
    assert_eq!(
        query_param(&authorize, "code_challenge_method").unwrap(),
        "S256"
    );
    let callback = app.sign_in_through(authorize.as_str(), "alice").await;
    assert!(
        callback
            .as_str()
            .starts_with(&format!("{}/protected/redirect_uri?", apache.url))
    );
    // Apache redeems the code (client_secret_basic), validates the ID token against the JWKS, and
    // returns the browser to the page it asked for.
    let redeemed = app.get_url(callback.as_str()).await;
    assert_eq!(redeemed.status(), 302, "{}", apache.log());
    assert_eq!(location(&redeemed), page);
    let shown = app.get_url(&page).await;
    assert_eq!(shown.status(), 200, "{}", apache.log());
    assert_eq!(
        shown.text().await.unwrap().trim(),
        "user=alice email=alice@example.com"
    );

    // RP-initiated logout through mod_auth_openidc reaches Latchkey's end-session endpoint.
    let logout = app
        .get_url(&format!(
            "{}/protected/redirect_uri?logout={}",
            apache.url,
            url::form_urlencoded::byte_serialize(format!("{}/", apache.url).as_bytes())
                .collect::<String>()
        ))
        .await;
    let end_session = location(&logout);
    assert!(
        end_session.starts_with(&format!("{}/end_session?id_token_hint=", app.address)),
        "{end_session}"
    );
    let back = app.get_url(&end_session).await;
    assert_eq!(location(&back), format!("{}/", apache.url));
    let again = app.get_url(&page).await;
    assert_eq!(again.status(), 302, "signed out: sign in again");
    // The password is needed again: Latchkey's session ended too.
    let authorize = app.get_url(&location(&again)).await;
    assert!(location(&authorize).ends_with("/login"));
}
