//! `/metrics`, read with a Prometheus text-format parser: each counter moves when the
//! thing it counts happens (sign-ins by method and outcome, tokens by grant type, refresh
//! reuse, rate-limit refusals, requests by route and status), the state gauges are there,
//! and `metrics_listen` moves the endpoint off the public listener.

use crate::helpers::*;
use crate::{on_both_backends, on_both_backends_with};
use gatehouse::config::RawConfig;
use std::collections::HashMap;

/// Every sample of `/metrics` at `url`, keyed by name and sorted labels.
async fn scrape(url: &str) -> HashMap<String, f64> {
    let response = reqwest::get(url).await.expect("GET /metrics");
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_string();
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    let text = response.text().await.unwrap();
    let lines = text.lines().map(|l| Ok(l.to_string()));
    let parsed = prometheus_parse::Scrape::parse(lines).expect("Prometheus text format");
    let mut samples = HashMap::new();
    for sample in parsed.samples {
        let mut labels: Vec<String> = sample.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        labels.sort();
        let value = match sample.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            prometheus_parse::Value::Histogram(buckets) => buckets.last().map(|b| b.count).unwrap_or(0.0),
            prometheus_parse::Value::Summary(_) => continue,
        };
        samples.insert(format!("{}{{{}}}", sample.metric, labels.join(",")), value);
    }
    samples
}

fn value(samples: &HashMap<String, f64>, key: &str) -> f64 {
    samples.get(key).copied().unwrap_or(0.0)
}

/// The change of `key` between two scrapes.
fn moved(before: &HashMap<String, f64>, after: &HashMap<String, f64>, key: &str) -> f64 {
    value(after, key) - value(before, key)
}

on_both_backends! {
    async fn sign_ins_tokens_and_reuse_move_their_counters(app) {
        let url = app.url("/metrics");
        let before = scrape(&url).await;

        // One wrong password, then a sign-in and a code exchange.
        let browser = app.browser();
        let html = browser.get("/login").await.text().await.unwrap();
        assert_eq!(browser.submit_login(&html, &app.user.username, "not the password").await.status(), 401);
        let tokens = app.tokens_with(&app.client, &[("scope", "openid offline_access")]).await;
        let refresh_token = tokens["refresh_token"].as_str().unwrap();
        // A rotation, then the rotated-out token again: reuse.
        assert_eq!(app.refresh(&app.client, refresh_token, &[]).await.status(), 200);
        assert_eq!(app.refresh(&app.client, refresh_token, &[]).await.status(), 400);

        let after = scrape(&url).await;
        let sign_ins = "gatehouse_sign_ins_total";
        assert_eq!(moved(&before, &after, &format!("{sign_ins}{{method=password,outcome=failure}}")), 1.0);
        assert_eq!(moved(&before, &after, &format!("{sign_ins}{{method=password,outcome=success}}")), 1.0);
        assert_eq!(moved(&before, &after, "gatehouse_tokens_issued_total{grant_type=authorization_code}"), 1.0);
        assert_eq!(moved(&before, &after, "gatehouse_tokens_issued_total{grant_type=refresh_token}"), 1.0);
        assert_eq!(moved(&before, &after, "gatehouse_refresh_token_reuse_total{}"), 1.0);
        assert_eq!(
            moved(&before, &after, "gatehouse_http_requests_total{method=POST,route=/token,status=200}"),
            2.0
        );
        assert_eq!(
            moved(&before, &after, "gatehouse_http_requests_total{method=POST,route=/token,status=400}"),
            1.0
        );
        assert!(moved(&before, &after, "gatehouse_http_request_duration_seconds{route=/token}") >= 3.0);
        // Two password checks (the wrong one and the right one) waited for a hasher.
        assert!(moved(&before, &after, "gatehouse_password_hash_wait_seconds{}") >= 2.0);

        // State read at scrape time.
        assert_eq!(value(&after, "gatehouse_database_up{}"), 1.0);
        assert!(after.contains_key("gatehouse_outbox_pending{queue=mail}"), "{after:?}");
        assert!(after.contains_key("gatehouse_outbox_pending{queue=backchannel}"));
        assert!(value(&after, "gatehouse_database_connections{state=idle}") + value(&after, "gatehouse_database_connections{state=in_use}") >= 1.0);
        assert!(after.contains_key("gatehouse_signing_key_age_seconds{}"));
        // A path nobody routes is one series, whatever the path.
        reqwest::get(app.url("/no/such/path/12345")).await.unwrap();
        let later = scrape(&url).await;
        assert_eq!(moved(&after, &later, "gatehouse_http_requests_total{method=GET,route=unmatched,status=404}"), 1.0);
        assert!(!later.keys().any(|k| k.contains("12345")), "raw paths never become labels");
    }

    async fn second_factors_and_rate_limits_are_counted(app) {
        let url = app.url("/metrics");
        let before = scrape(&url).await;
        let browser = signed_in_browser(&app, &app.user.username, PASSWORD).await;
        let (enrolled, _) = crate::two_factor::enrol(&app, &browser, None).await;
        app.clock.advance(30);
        let other = app.browser();
        let html = other.get("/login").await.text().await.unwrap();
        assert_eq!(other.submit_login(&html, &app.user.username, PASSWORD).await.status(), 303);
        assert_eq!(crate::two_factor::second_factor(&other, "code", "000000").await.status(), 401);
        let code = crate::two_factor::code_now(&app, &enrolled, 0);
        assert_eq!(crate::two_factor::second_factor(&other, "code", &code).await.status(), 303);
        let after = scrape(&url).await;
        assert_eq!(moved(&before, &after, "gatehouse_sign_ins_total{method=totp,outcome=failure}"), 1.0);
        assert_eq!(moved(&before, &after, "gatehouse_sign_ins_total{method=totp,outcome=success}"), 1.0);

        // Past the per-address login limit, refusals are counted by action.
        let flood = app.browser();
        let html = flood.get("/login").await.text().await.unwrap();
        let mut refused = 0;
        // Each with another identifier, so that no identifier's lockout answers first.
        for i in 0..25 {
            if flood.submit_login(&html, &format!("nobody{i}"), "wrong").await.status() == 429 {
                refused += 1;
            }
        }
        assert!(refused > 0, "the limit is 20 a minute");
        let later = scrape(&url).await;
        assert_eq!(moved(&after, &later, "gatehouse_rate_limited_total{action=login}"), refused as f64);
    }
}

fn on_its_own_port(raw: &mut RawConfig) {
    raw.metrics_listen = Some(format!("127.0.0.1:{}", free_port()));
}

on_both_backends_with! { on_its_own_port;
    async fn metrics_listen_serves_metrics_apart_from_the_public_listener(app) {
        let public = reqwest::get(app.url("/metrics")).await.unwrap();
        assert_eq!(public.status(), 404, "not on the public listener");
        let addr = app.state.config.metrics_listen.expect("metrics_listen");
        let samples = scrape(&format!("http://{addr}/metrics")).await;
        assert_eq!(value(&samples, "gatehouse_database_up{}"), 1.0);
    }
}

/// The example Grafana dashboard asks only for metrics Gatehouse serves: every
/// `gatehouse_…` name in its queries is a family in a real scrape.
#[tokio::test]
async fn the_example_dashboard_queries_only_metrics_that_exist() {
    let app = spawn_app(Backend::Sqlite).await.expect("sqlite app");
    // One request of each kind the dashboard graphs by route and by limit.
    let browser = app.browser();
    let html = browser.get("/login").await.text().await.unwrap();
    for i in 0..21 {
        browser.submit_login(&html, &format!("nobody{i}"), "wrong").await;
    }
    let text = reqwest::get(app.url("/metrics")).await.unwrap().text().await.unwrap();
    let families: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .collect();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/grafana/gatehouse-dashboard.json");
    let dashboard: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut asked = 0;
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            for word in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                if let Some(name) = word.strip_prefix("gatehouse_").map(|_| word) {
                    let family = name.strip_suffix("_bucket").unwrap_or(name);
                    assert!(
                        families.contains(&family),
                        "{} asks for {family}, which /metrics lacks",
                        panel["title"]
                    );
                    asked += 1;
                }
            }
        }
    }
    assert!(asked >= 12, "the dashboard has its queries: {asked}");
}

/// Database trouble is a 503 to the user and one `database_unavailable` error per request
/// on the dashboard, while `/metrics` itself keeps answering.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_failed_by_the_database_are_counted() {
    let app = spawn_app(Backend::Sqlite).await.expect("sqlite app");
    let url = app.url("/metrics");
    let key = "gatehouse_server_errors_total{kind=database_unavailable}";
    let before = scrape(&url).await;
    assert!(before.contains_key(key), "the series exists from the start");
    app.store.close().await;
    let response = reqwest::Client::new()
        .post(app.url("/token"))
        .basic_auth(&app.client.id, app.client.secret.as_deref())
        .form(&[("grant_type", "refresh_token"), ("refresh_token", "anything")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    let after = scrape(&url).await;
    assert_eq!(moved(&before, &after, key), 1.0);
    assert_eq!(value(&after, "gatehouse_database_up{}"), 0.0);
    assert_eq!(
        moved(&before, &after, "gatehouse_server_errors_total{kind=internal}"),
        0.0
    );
}
