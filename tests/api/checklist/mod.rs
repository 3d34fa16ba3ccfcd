//! One regression test (or a few) per row of the security checklist
//! (`/work/shared/security-checklist.md`), named after the row (`c14_…`, `h4_…`) so a
//! row can cite its test. Black-box like the rest of the suite: a real Gatehouse on
//! loopback, real HTTP, mail from the real SMTP sink, time moved with the test clock.
//! Each file covers a few rows of one theme (its doc says which), except
//! `needs_src_fix.rs`: the tests that fail on today's code, each a product defect to fix.

use crate::helpers::*;
use crate::smtp::Mail;
use gatehouse::store::Store;
use serde_json::Value;

pub(crate) use crate::on_both_backends_with;

mod abuse;
mod accounts;
mod codes;
mod crash_recovery;
mod cross_site_forms;
mod durability;
mod email_links;
mod key_ids;
mod mail_outage;
mod needs_src_fix;
mod operational;
mod page_headers;
mod pages;
mod passwords;
mod protocol;
mod redirect_uris;
mod refresh_tokens;
mod session_store;
mod sessions;
mod token_checks;
mod tokens;

/// A registered post-logout redirect URI of the test relying parties.
const PLRU: &str = "http://127.0.0.1:9/post_logout_redirect";

/// Introspects `token` as the test's confidential client; the answer's JSON.
async fn introspect(app: &TestApp, token: &str) -> Value {
    let response = app
        .token_request_to("/introspect", &app.client, &[("token", token)])
        .await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// A relying party with a registered post-logout URI, its tokens from a browser signed in
/// as alice, and that browser.
async fn rp_signed_in(app: &TestApp) -> (TestClient, Browser, Value) {
    let rp = add_client(&app.store, "rp", true, 0, |c| {
        c.redirect_uris = vec![CONFIDENTIAL_REDIRECT.into()];
        c.post_logout_redirect_uris = vec![PLRU.into()];
    })
    .await;
    let browser = app.browser();
    let (url, verifier) = app.authorize_url(&rp, &[]);
    let code = query_param(&browser.sign_in(&url, "alice", PASSWORD).await, "code").unwrap();
    let tokens: Value = app.redeem(&rp, &code, &verifier).await.json().await.unwrap();
    (rp, browser, tokens)
}

/// A password the checklist tests change to; passes the policy.
pub const NEW_PASSWORD: &str = "quiet lantern orbit meadow";

/// The status of a fresh browser's login attempt: 303 signed in, 401 refused.
pub async fn login_status(app: &TestApp, identifier: &str, password: &str) -> u16 {
    let browser = app.browser();
    let html = browser.get("/login").await.text().await.unwrap();
    browser
        .submit_login(&html, identifier, password)
        .await
        .status()
        .as_u16()
}

/// Submits a form of the account page with the session's CSRF token.
pub async fn account_form(
    app: &TestApp,
    browser: &Browser,
    action: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let html = browser.get("/account").await.text().await.unwrap();
    let mut form: Vec<(&str, String)> = vec![("csrf_token", hidden_input(&html, "csrf_token").expect("csrf token"))];
    form.extend(fields.iter().map(|(k, v)| (*k, v.to_string())));
    browser.http.post(app.url(action)).form(&form).send().await.unwrap()
}

/// Fills in the forgot-password form in `browser` for `identifier`.
pub async fn request_reset(app: &TestApp, browser: &Browser, identifier: &str) -> reqwest::Response {
    let html = browser.get("/forgot").await.text().await.unwrap();
    let form = [
        ("csrf_token", hidden_input(&html, "csrf_token").expect("csrf token")),
        ("identifier", identifier.to_string()),
    ];
    browser.http.post(app.url("/forgot")).form(&form).send().await.unwrap()
}

/// Fills in the signup form in `browser`.
pub async fn sign_up(app: &TestApp, browser: &Browser, username: &str, email: &str) -> reqwest::Response {
    let html = browser.get("/signup").await.text().await.unwrap();
    let form = [
        ("csrf_token", hidden_input(&html, "csrf_token").expect("csrf token")),
        ("given_name", "Carol".to_string()),
        ("family_name", "Example".to_string()),
        ("username", username.to_string()),
        ("email", email.to_string()),
        ("password", NEW_PASSWORD.to_string()),
        ("password_confirm", NEW_PASSWORD.to_string()),
    ];
    browser.http.post(app.url("/signup")).form(&form).send().await.unwrap()
}

/// Opens an emailed confirm-style link and presses its button (POST `action`).
pub async fn press_link(app: &TestApp, browser: &Browser, link: &str, action: &str) -> reqwest::Response {
    let page = browser.get(link).await;
    assert_eq!(page.status(), 200, "{link}");
    let html = page.text().await.unwrap();
    let form = [
        ("csrf_token", hidden_input(&html, "csrf_token").expect("csrf token")),
        ("token", hidden_input(&html, "token").expect("token")),
    ];
    browser.http.post(app.url(action)).form(&form).send().await.unwrap()
}

/// The `n`th (1-based) message to `to` about `subject`, waiting for the mail worker.
pub async fn nth_mail(app: &TestApp, to: &str, subject: &str, n: usize) -> Mail {
    app.mail.wait_for_nth(to, subject, n).await
}

/// The `token` query parameter of an emailed link.
pub fn link_token(link: &str) -> String {
    query_param(link, "token").expect("a token in the link")
}

/// HTML text as a browser shows it (the entities our templates produce decoded), to
/// tell "shown, escaped" from "not shown at all".
pub fn unescape_html(html: &str) -> String {
    html.replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&#47;", "/")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Every row of every table of the database, as `(table, row as text)`: each column cast
/// to text by the database itself and joined with a separator.
pub async fn every_row(store: &Store) -> Vec<(String, String)> {
    use gatehouse::store::Backend as StoreBackend;
    use sqlx::Row;
    let pool = store.pool();
    let tables: Vec<String> = match store.backend() {
        StoreBackend::Sqlite => sqlx::query("SELECT name FROM sqlite_master WHERE type = 'table'"),
        StoreBackend::Postgres => sqlx::query(
            "SELECT CAST(table_name AS TEXT) AS name FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
        ),
    }
    .fetch_all(pool)
    .await
    .expect("list tables")
    .iter()
    .map(|r| r.get::<String, _>("name"))
    .collect();
    assert!(tables.len() >= 10, "the schema's tables: {tables:?}");
    let mut rows = Vec::new();
    for table in tables {
        let columns: Vec<String> = match store.backend() {
            StoreBackend::Sqlite => sqlx::query(&format!("PRAGMA table_info(\"{table}\")"))
                .fetch_all(pool)
                .await
                .expect("columns")
                .iter()
                .map(|r| r.get::<String, _>("name"))
                .collect(),
            StoreBackend::Postgres => sqlx::query(
                "SELECT CAST(column_name AS TEXT) AS name FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = $1",
            )
            .bind(&table)
            .fetch_all(pool)
            .await
            .expect("columns")
            .iter()
            .map(|r| r.get::<String, _>("name"))
            .collect(),
        };
        assert!(!columns.is_empty(), "{table} has columns");
        let select = columns
            .iter()
            .map(|c| match store.backend() {
                // Blobs (sqlx's migration checksums) as hex, so every value is text.
                StoreBackend::Sqlite => {
                    format!("CASE WHEN typeof(\"{c}\") = 'blob' THEN hex(\"{c}\") ELSE CAST(\"{c}\" AS TEXT) END")
                }
                StoreBackend::Postgres => format!("CAST(\"{c}\" AS TEXT)"),
            })
            .collect::<Vec<_>>()
            .join(", ");
        let fetched = sqlx::query(&format!("SELECT {select} FROM \"{table}\""))
            .fetch_all(pool)
            .await
            .unwrap_or_else(|e| panic!("read {table}: {e}"));
        for row in fetched {
            let values: Vec<String> = (0..columns.len())
                .map(|i| row.get::<Option<String>, _>(i).unwrap_or_default())
                .collect();
            rows.push((table.clone(), values.join("\u{1f}")));
        }
    }
    rows
}

/// The rows of one table, as [`every_row`] reads them.
pub async fn rows_of(store: &Store, table: &str) -> Vec<String> {
    every_row(store)
        .await
        .into_iter()
        .filter(|(t, _)| t == table)
        .map(|(_, row)| row)
        .collect()
}
