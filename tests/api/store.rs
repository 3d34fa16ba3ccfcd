//! Storage guarantees that the database itself must enforce.

use crate::helpers::*;
use crate::on_both_backends;
use gatehouse::store::is_unique_violation;

on_both_backends! {
    async fn usernames_and_emails_are_unique_ignoring_case(app) {
        let now = app.clock.now();
        let hash = "$argon2id$v=19$m=8192,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";
        let attempt = |username: &'static str, email: &'static str| {
            let store = app.store.clone();
            async move {
                let id = gatehouse::secrets::random_id();
                store
                    .create_account(
                        &gatehouse::store::accounts::NewAccount {
                            id: &id, username, email, email_verified: true,
                            given_name: "", family_name: "", password_hash: hash,
                        },
                        now,
                    )
                    .await
            }
        };
        let same_username = attempt("ALICE", "new@example.com").await.unwrap_err();
        assert!(is_unique_violation(&same_username), "{same_username}");
        let same_email = attempt("alice2", "Alice@EXAMPLE.com").await.unwrap_err();
        assert!(is_unique_violation(&same_email), "{same_email}");
        attempt("bob", "bob@example.com").await.unwrap();
        let found = app.store.account_by_identifier("BOB@example.COM").await.unwrap().unwrap();
        assert_eq!(found.username, "bob");
    }
}

#[tokio::test]
async fn sqlite_runs_in_wal_mode_with_foreign_keys_and_a_busy_timeout() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let pool = app.store.pool();
    let (mode,): (String,) = sqlx::query_as("PRAGMA journal_mode").fetch_one(pool).await.unwrap();
    assert_eq!(mode, "wal");
    let (fk,): (i64,) = sqlx::query_as("PRAGMA foreign_keys").fetch_one(pool).await.unwrap();
    assert_eq!(fk, 1);
    let (timeout,): (i64,) = sqlx::query_as("PRAGMA busy_timeout").fetch_one(pool).await.unwrap();
    assert!(timeout >= 1000, "busy_timeout {timeout}");
    let (sync,): (i64,) = sqlx::query_as("PRAGMA synchronous").fetch_one(pool).await.unwrap();
    assert_eq!(sync, 2, "synchronous=FULL");
}

#[tokio::test]
async fn template_overrides_replace_embedded_pages() {
    let overrides = tempfile::tempdir().unwrap();
    std::fs::write(
        overrides.path().join("error.html"),
        "{% extends \"base.html\" %}{% block content %}<p>Custom trouble: {{ message }}</p>{% endblock %}",
    )
    .unwrap();
    let dir = overrides.path().to_path_buf();
    let app = spawn_app_with(Backend::Sqlite, move |raw| {
        raw.templates_dir = Some(dir);
        raw.product_name = "Acme ID".into();
        raw.branding.accent_color = Some("#ff6600".into());
        raw.branding.logo_url = Some("https://cdn.example.com/logo.png".into());
    })
    .await
    .unwrap();
    let html = reqwest::get(app.url("/nowhere")).await.unwrap().text().await.unwrap();
    assert!(
        html.contains("Custom trouble: There is nothing at this address."),
        "{html}"
    );
    assert!(html.contains("Acme ID"), "branding from config");
    // Templates without an override still come from the binary.
    let page = reqwest::get(app.url("/login")).await.unwrap();
    let csp = page.headers()["content-security-policy"].to_str().unwrap().to_string();
    let login = page.text().await.unwrap();
    assert!(login.contains("name=\"password\""));
    assert!(
        login.contains("src=\"https:&#x2f;&#x2f;cdn.example.com&#x2f;logo.png\""),
        "{login}"
    );
    assert!(csp.contains("img-src 'self' data: https://cdn.example.com;"), "{csp}");
    let theme = reqwest::get(app.url("/assets/theme.css"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(theme.contains("--accent: #ff6600"));
}
