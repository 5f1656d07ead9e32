//! `GET /metrics`: the Prometheus text exposition, read with an independent parser (the
//! `openmetrics-parser` crate's Prometheus 0.0.4 parser), moving with traffic, with bounded labels.

use std::time::Duration;

use openmetrics_parser::prometheus::parse_prometheus;
use openmetrics_parser::{MetricsExposition, PrometheusType, PrometheusValue};

use crate::helpers::{Backend, PASSWORD, TestApp, TestDb};

crate::backend_tests!(
    metrics_count_requests_tokens_sign_ins_and_housekeeping,
    metrics_labels_stay_bounded_under_random_paths,
    metrics_can_have_an_address_of_their_own,
);

type Exposition = MetricsExposition<PrometheusType, PrometheusValue>;

/// `/metrics`, parsed.
async fn scrape(app: &TestApp) -> Exposition {
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    parse(&response.text().await.unwrap())
}

fn parse(text: &str) -> Exposition {
    parse_prometheus(text).unwrap_or_else(|err| panic!("not Prometheus text: {err:?}\n{text}"))
}

/// The value of the sample of `family` whose labels include all of `labels` (0 when there is none).
fn value(exposition: &Exposition, family: &str, labels: &[(&str, &str)]) -> f64 {
    let Some(family) = exposition.families.get(family) else {
        return 0.0;
    };
    family
        .iter_samples()
        .filter(|sample| {
            let set = sample.get_labelset().unwrap();
            labels
                .iter()
                .all(|(k, v)| set.get_label_value(k) == Some(*v))
        })
        .map(|sample| match &sample.value {
            PrometheusValue::Counter(counter) => counter.value.as_f64(),
            PrometheusValue::Gauge(gauge) => gauge.as_f64(),
            PrometheusValue::Unknown(number) => number.as_f64(),
            PrometheusValue::Histogram(histogram) => histogram.count.unwrap_or_default() as f64,
            PrometheusValue::Summary(summary) => summary.count.unwrap_or_default() as f64,
        })
        .sum()
}

/// Sign `username` in through the login form with `password`; the page's status.
async fn sign_in(app: &TestApp, username: &str, password: &str) -> u16 {
    let client = app.web_client().await;
    let (url, _) = app.authorize_url(&client, "openid", &[]);
    let login = app.get_url(&url).await;
    assert_eq!(login.status(), 303);
    let page = app.get("/login").await.text().await.unwrap();
    let csrf = crate::helpers::hidden_value(&page, "csrf_token");
    app.http
        .post(format!("{}/login", app.address))
        .form(&[
            ("username", username),
            ("password", password),
            ("csrf_token", &csrf),
        ])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn metrics_count_requests_tokens_sign_ins_and_housekeeping(backend: Backend) {
    let app = TestApp::spawn_on(TestDb::new(&backend).await, &["--gc-interval", "1s"]).await;
    let before = scrape(&app).await;
    let token = ("latchkey_tokens_issued_total", "client_credentials");

    let service = app
        .service_client(&["orders:read"], "client_secret_basic")
        .await;
    for _ in 0..3 {
        let response = app.client_credentials(&service, Some("orders:read")).await;
        assert_eq!(response.status(), 200);
    }
    app.create_user("alice").await;
    sign_in(&app, "alice", "not the password").await;
    sign_in(&app, "alice", PASSWORD).await;
    assert_eq!(app.get("/no/such/page").await.status(), 404);

    let after = scrape(&app).await;
    let alg = app.state.settings.access_token_alg.as_str();
    let moved = |family: &str, labels: &[(&str, &str)]| {
        value(&after, family, labels) - value(&before, family, labels)
    };
    assert_eq!(
        moved(token.0, &[("grant_type", token.1), ("alg", alg)]),
        3.0
    );
    assert_eq!(
        moved(
            "latchkey_http_requests_total",
            &[("route", "/token"), ("method", "POST"), ("status", "2xx")]
        ),
        3.0
    );
    assert_eq!(
        moved(
            "latchkey_http_request_duration_seconds",
            &[("route", "/token"), ("status", "2xx")]
        ),
        3.0,
        "the histogram's count"
    );
    assert_eq!(
        moved(
            "latchkey_http_requests_total",
            &[("route", "unmatched"), ("status", "4xx")]
        ),
        1.0
    );
    assert_eq!(
        moved("latchkey_sign_ins_total", &[("outcome", "wrong_password")]),
        1.0
    );
    assert_eq!(
        moved("latchkey_sign_ins_total", &[("outcome", "success")]),
        1.0
    );
    // Gauges read at the scrape.
    assert_eq!(value(&after, "latchkey_argon2_queue_depth", &[]), 0.0);
    assert_eq!(
        value(&after, "latchkey_store_connections", &[("state", "max")]),
        f64::from(app.state.settings.database_max_connections)
    );
    assert!(value(&after, "latchkey_store_connections", &[("state", "idle")]) >= 1.0);
    for alg in ["RS256", "ES256", "EdDSA"] {
        let family = after
            .families
            .get("latchkey_signing_key_age_seconds")
            .unwrap();
        assert!(
            family
                .get_sample_by_label_values(&[alg.to_owned()])
                .is_some(),
            "{alg}"
        );
    }
    assert!(
        after.families.contains_key("latchkey_store_errors_total"),
        "store errors are always exposed"
    );

    // Every metric the Grafana dashboard in docs/ charts is one this server exposes.
    let dashboard = include_str!("../../docs/grafana-dashboard.json");
    let charted: std::collections::BTreeSet<&str> = dashboard
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|word| word.starts_with("latchkey_"))
        .map(|word| word.strip_suffix("_bucket").unwrap_or(word))
        .collect();
    assert!(charted.len() >= 9, "{charted:?}");
    for name in charted {
        assert!(
            after.families.contains_key(name),
            "the dashboard charts {name}"
        );
    }

    // Housekeeping (every second here) counts what it deletes: an expired code is one row.
    let client = app.web_client().await;
    let (url, _) = app.authorize_url(&client, "openid", &[]);
    let callback = app.sign_in_through(&url, "alice").await;
    assert!(crate::helpers::query_param(&callback, "code").is_some());
    let codes = [("table", "authorization_codes")];
    let start = value(&after, "latchkey_housekeeping_deleted_rows_total", &codes);
    app.clock.advance(3600);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let now = scrape(&app).await;
        if value(&now, "latchkey_housekeeping_deleted_rows_total", &codes) > start {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "housekeeping deleted nothing in 10 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn metrics_labels_stay_bounded_under_random_paths(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let mut seen = Vec::new();
    for n in 0..1000 {
        let path = format!("/probe-{n}/{}", latchkey::domain::secret::random_string(6));
        let method = if n % 2 == 0 { "GET" } else { "PROPFIND" };
        let response = app
            .http
            .request(
                reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                format!("{}{path}", app.address),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404);
        seen.push(path);
    }
    let text = app.get("/metrics").await.text().await.unwrap();
    let exposition = parse(&text);
    let requests = exposition
        .families
        .get("latchkey_http_requests_total")
        .unwrap();
    let series = requests.iter_samples().count();
    assert!(series < 20, "{series} request series after 1,000 paths");
    assert!(!text.contains("/probe-"), "a raw path became a label");
    assert!(
        !text.contains("PROPFIND"),
        "an unknown method became a label"
    );
    assert_eq!(
        value(
            &exposition,
            "latchkey_http_requests_total",
            &[("route", "unmatched"), ("method", "other")]
        ),
        500.0
    );
}

async fn metrics_can_have_an_address_of_their_own(backend: Backend) {
    let app = TestApp::spawn_on(
        TestDb::new(&backend).await,
        &["--metrics-bind", "127.0.0.1:9"],
    )
    .await;
    // Not beside the OAuth endpoints any more…
    assert_eq!(app.get("/metrics").await.status(), 404);
    // …but on the metrics listener (served here as `latchkey serve` does on --metrics-bind).
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let router = latchkey::app::metrics_router(app.state.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });
    let response = app
        .http
        .get(format!("http://{address}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let exposition = parse(&response.text().await.unwrap());
    assert!(
        exposition
            .families
            .contains_key("latchkey_http_requests_total")
    );
}
