//! Checklist G8, the mail server down: a link mail that cannot be sent waits in the
//! outbox and leaves the link the user already holds working; the new link replaces it
//! only once its mail goes out.

use super::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The SMTP URL points at a port of our choosing, where the test runs a relay it can
/// switch off.
fn smtp_through_relay(raw: &mut gatehouse::config::RawConfig) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    raw.mail.smtp_url = Some(format!("smtp://127.0.0.1:{port}").into());
}

/// A TCP relay on `port` to the test's SMTP sink; while `up` is false it drops every
/// connection at once (the mail server is down).
async fn relay(port: u16, sink_port: u16, up: Arc<AtomicBool>) {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("bind the relay");
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            if !up.load(Ordering::SeqCst) {
                drop(inbound);
                continue;
            }
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(("127.0.0.1", sink_port)).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
}

on_both_backends_with! { smtp_through_relay;
    async fn g8_a_reset_mail_that_fails_to_send_leaves_the_link_already_sent_working(app) {
        use secrecy::ExposeSecret;
        let url = app.state.config.mail.smtp_url.as_ref().unwrap().expose_secret().to_string();
        let port: u16 = url.rsplit(':').next().unwrap().parse().unwrap();
        let up = Arc::new(AtomicBool::new(true));
        relay(port, app.mail.port, up.clone()).await;

        // A first reset link arrives.
        request_reset(&app, &app.browser(), "alice").await;
        let first = nth_mail(&app, "alice@example.com", "Reset your", 1).await.link();
        // The mail server goes down; a second reset is asked for and its mail fails.
        up.store(false, Ordering::SeqCst);
        request_reset(&app, &app.browser(), "alice").await;
        let mut attempts = 0;
        for _ in 0..100 {
            let rows: Vec<(i64,)> = sqlx::query_as("SELECT attempts FROM mail_outbox").fetch_all(app.store.pool()).await.unwrap();
            attempts = rows.first().map_or(0, |r| r.0);
            if attempts >= 1 { break; }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(attempts >= 1, "the second mail was tried while the server was down");
        assert_eq!(app.mail.count_to("alice@example.com"), 1, "and not delivered");

        // Nobody holds a newer link, so the one Alice has must still work.
        let browser = app.browser();
        browser.get(&first).await;
        let page = browser.get("/reset").await;
        assert_eq!(page.status(), 200, "the delivered link died when a newer mail failed to send");
    }
}
