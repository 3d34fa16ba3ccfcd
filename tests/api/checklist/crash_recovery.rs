//! Checklist row G4: `kill -9` under write load. The real `gatehouse` binary on SQLite in
//! a temporary directory takes sign-ups from a few concurrent browsers; once some are
//! acknowledged it is killed with SIGKILL mid-load, then started again on the same data
//! directory. Every acknowledged sign-up must still be there, and the database intact.

use super::*;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Sign-ups attempted in all, and how many acknowledged before the kill.
const BUDGET: usize = 30;
const KILL_AFTER: usize = 10;
const WORKERS: usize = 3;

async fn start(dir: &Path, sink: &crate::smtp::SmtpSink) -> ServedBinary {
    let smtp = sink.url();
    let env = [
        ("GATEHOUSE_MAIL__SMTP_URL", smtp.as_str()),
        ("GATEHOUSE_PASSWORD_HASHING__MEMORY_KIB", "8192"),
        ("GATEHOUSE_PASSWORD_HASHING__ITERATIONS", "1"),
        ("GATEHOUSE_ACCOUNTS__RATE_LIMIT_PER_MINUTE", "10000"),
    ];
    ServedBinary::start(dir, free_port(), &env).await
}

/// One sign-up from a fresh browser; Ok(true) when acknowledged ("Check your email").
async fn sign_up_at(base: &str, username: &str) -> Result<bool, reqwest::Error> {
    let browser = Browser::new(base);
    let html = browser.http.get(format!("{base}/signup")).send().await?.text().await?;
    let Some(csrf) = hidden_input(&html, "csrf_token") else {
        return Ok(false);
    };
    let form = [
        ("csrf_token", csrf),
        ("given_name", "Load".to_string()),
        ("family_name", "Test".to_string()),
        ("username", username.to_string()),
        ("email", format!("{username}@example.com")),
        ("password", NEW_PASSWORD.to_string()),
        ("password_confirm", NEW_PASSWORD.to_string()),
    ];
    let response = browser.http.post(format!("{base}/signup")).form(&form).send().await?;
    let status = response.status();
    let page = response.text().await?;
    Ok(status == 200 && page.contains("Check your email"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn g4_acknowledged_signups_survive_a_kill_9_under_load() {
    let dir = tempfile::tempdir().unwrap();
    let sink = crate::smtp::SmtpSink::start().await;
    let mut server = start(dir.path(), &sink).await;

    let next = Arc::new(AtomicUsize::new(0));
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let failed = Arc::new(AtomicUsize::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..WORKERS {
        let (next, acked, failed, base) = (next.clone(), acked.clone(), failed.clone(), server.base.clone());
        workers.spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::SeqCst);
                if n >= BUDGET {
                    return;
                }
                let username = format!("load{n}");
                match sign_up_at(&base, &username).await {
                    Ok(true) => acked.lock().unwrap().push(username),
                    Ok(false) => {}
                    // The server is gone: this one and every later one is unacknowledged.
                    Err(_) => {
                        failed.fetch_add(1, Ordering::SeqCst);
                        return;
                    }
                }
            }
        });
    }
    // Kill it as soon as enough are acknowledged, while the others are in flight.
    for _ in 0..3000 {
        if acked.lock().unwrap().len() >= KILL_AFTER {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.kill();
    workers.join_all().await;
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= KILL_AFTER,
        "only {} sign-ups acknowledged before the kill",
        acked.len()
    );
    assert!(
        failed.load(Ordering::SeqCst) > 0 && acked.len() < BUDGET,
        "the kill came after the load: {} of {BUDGET} acknowledged",
        acked.len()
    );

    // Started again on the same directory: every acknowledged account is there.
    let restarted = start(dir.path(), &sink).await;
    let store = gatehouse::store::Store::connect(&format!("sqlite://{}/data/gatehouse.db", dir.path().display()))
        .await
        .unwrap();
    let (check,): (String,) = sqlx::query_as("PRAGMA integrity_check")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(check, "ok");
    let stored: Vec<String> = sqlx::query_as::<_, (String,)>("SELECT username FROM users")
        .fetch_all(store.pool())
        .await
        .unwrap()
        .into_iter()
        .map(|(u,)| u)
        .collect();
    for username in &acked {
        assert!(
            stored.contains(username),
            "acknowledged sign-up {username} lost: {stored:?}"
        );
    }
    // Each acknowledged sign-up also kept its confirmation mail (queued or delivered).
    let queued: Vec<String> = sqlx::query_as::<_, (String,)>("SELECT recipient FROM mail_outbox")
        .fetch_all(store.pool())
        .await
        .unwrap()
        .into_iter()
        .map(|(r,)| r)
        .collect();
    for username in &acked {
        let to = format!("{username}@example.com");
        assert!(
            queued.contains(&to) || sink.count_to(&to) > 0,
            "the confirmation mail of {username} was lost"
        );
    }
    // The restarted server sees them too (the usernames are taken) and takes new writes.
    for username in acked.iter().take(3) {
        let browser = Browser::new(&restarted.base);
        let html = browser.get("/signup").await.text().await.unwrap();
        let form = [
            ("csrf_token", hidden_input(&html, "csrf_token").unwrap()),
            ("given_name", "Again".to_string()),
            ("family_name", "Test".to_string()),
            ("username", username.clone()),
            ("email", format!("other-{username}@example.com")),
            ("password", NEW_PASSWORD.to_string()),
            ("password_confirm", NEW_PASSWORD.to_string()),
        ];
        let response = browser
            .http
            .post(format!("{}/signup", restarted.base))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{username}");
        assert!(response.text().await.unwrap().contains("That username is taken"));
    }
    assert_eq!(sign_up_at(&restarted.base, "afterrestart").await.ok(), Some(true));
    store.close().await;
}
