//! Start-up settings, checked through the real binary and a running server: the issuer.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use crate::helpers::{Backend, TestApp, failure_of, run_cli};

crate::backend_tests!(an_uppercase_https_issuer_still_gets_hsts_and_secure_cookies);

async fn an_uppercase_https_issuer_still_gets_hsts_and_secure_cookies(backend: Backend) {
    let app = TestApp::spawn_with_issuer(&backend, "HTTPS://ID.Example.COM").await;
    assert_eq!(
        app.get_discovery().await["issuer"],
        "https://id.example.com"
    );
    let page = app.get("/login").await;
    assert_eq!(
        page.headers()["strict-transport-security"],
        "max-age=31536000"
    );
    let cookie = page.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("Secure"), "{cookie}");
}

#[test]
fn issuer_problems_stop_start_up_with_one_line_naming_the_setting() {
    let cases: &[(&str, &str)] = &[
        (
            " https://id.example.com",
            "must not start or end with spaces",
        ),
        (
            "https://id.example.com ",
            "must not start or end with spaces",
        ),
        ("http://id.example.com", "--insecure-http-issuer"),
        ("HTTP://10.0.0.5:8080", "OIDC Discovery"),
    ];
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("latchkey.db").display());
    for (issuer, expected) in cases {
        // `migrate` validates the same settings as `serve`, and ends even if it wrongly accepts them.
        let err = failure_of(&run_cli(
            &["migrate"],
            &[("LATCHKEY_ISSUER", issuer), ("LATCHKEY_DATABASE_URL", &url)],
            None,
        ));
        assert!(err.contains("LATCHKEY_ISSUER"), "{issuer:?}: {err}");
        assert!(err.contains(expected), "{issuer:?}: {err}");
    }
}

#[test]
fn a_plain_http_issuer_is_accepted_when_the_operator_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("latchkey.db").display());
    for (name, value) in [
        ("LATCHKEY_INSECURE_HTTP_ISSUER", "true"),
        ("LATCHKEY_INSECURE_HTTP_ISSUER", "1"),
        ("LATCHKEY_INSECURE_HTTP_ISSUER", "yes"),
    ] {
        let out = run_cli(
            &["migrate"],
            &[
                ("LATCHKEY_ISSUER", "http://id.internal:8080"),
                ("LATCHKEY_DATABASE_URL", &url),
                (name, value),
            ],
            None,
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let err = failure_of(&run_cli(
        &["migrate"],
        &[
            ("LATCHKEY_ISSUER", "http://id.internal:8080"),
            ("LATCHKEY_DATABASE_URL", &url),
            ("LATCHKEY_INSECURE_HTTP_ISSUER", "maybe"),
        ],
        None,
    ));
    assert!(err.contains("maybe"), "a typo is not silently 'on': {err}");
    let out = run_cli(
        &[
            "migrate",
            "--insecure-http-issuer",
            "--issuer",
            "http://id.internal:8080",
        ],
        &[("LATCHKEY_DATABASE_URL", &url)],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn serve_warns_when_a_loopback_issuer_is_bound_on_a_public_address() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("latchkey.db").display());
    let mut command = Command::new(env!("CARGO_BIN_EXE_latchkey"));
    for (key, _) in std::env::vars() {
        if key.starts_with("LATCHKEY_") {
            command.env_remove(key);
        }
    }
    let mut child = command
        .args([
            "serve",
            "--bind",
            "0.0.0.0:0",
            "--issuer",
            "http://127.0.0.1:8080",
        ])
        .env("LATCHKEY_DATABASE_URL", &url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = Vec::new();
    for line in stderr.lines() {
        let line = line.unwrap();
        let done = line.contains("latchkey is listening");
        seen.push(line);
        if done {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let log = seen.join("\n");
    assert!(log.contains("latchkey is listening"), "{log}");
    assert!(
        log.contains("WARN") && log.contains("non-loopback address with a loopback issuer"),
        "{log}"
    );
}
