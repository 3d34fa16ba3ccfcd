//! Link mails: they wait in the outbox without a live link, and the per-recipient link
//! cap neither silences security notices nor kills the last link sent (issue 15).

use super::*;

/// An SMTP server that accepts connections and never says a word: a delivery to it hangs
/// (until the mailer's timeout), so the mail worker is held inside one send. Returns its
/// port and how many connections it accepted.
async fn silent_smtp() -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
            counter.fetch_add(1, Ordering::SeqCst);
        }
    });
    (port, accepted)
}

async fn link_mail_waits_in_the_outbox_without_a_live_link(backend: Backend) {
    let (port, accepted) = silent_smtp().await;
    let Some(app) = spawn_app_with(backend, |raw| {
        raw.mail.smtp_url = Some(format!("smtp://127.0.0.1:{port}").into());
    })
    .await
    else {
        return;
    };
    // Bob's reset mail goes first and holds the worker in a send that never completes.
    let bob = create_user(&app.store, "bob", "bob@example.com", app.clock.now()).await;
    request_reset(&app, "bob").await;
    for _ in 0..100 {
        if accepted.load(Ordering::SeqCst) > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(accepted.load(Ordering::SeqCst) > 0, "the worker is sending bob's mail");

    // Alice's reset mail waits in the outbox, not yet sent.
    request_reset(&app, "alice").await;
    let mut queued = Vec::new();
    for _ in 0..100 {
        queued =
            sqlx::query_as::<_, (String, String)>("SELECT body_text, body_html FROM mail_outbox WHERE recipient = $1")
                .bind(&app.user.email)
                .fetch_all(app.store.pool())
                .await
                .expect("read mail_outbox");
        if !queued.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(queued.len(), 1, "alice's reset mail is in the outbox");
    let (text, html) = &queued[0];
    let slot = gatehouse::mail::LINK_TOKEN_SLOT;
    let placeholder_link = format!("{}/reset?token={slot}", app.base);
    assert!(
        text.contains(&placeholder_link),
        "the body holds the placeholder: {text}"
    );
    assert!(html.contains(slot), "the HTML part too");
    let queued_link = text[text.find("http").expect("a link")..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    assert_eq!(
        query_param(&queued_link, "token").as_deref(),
        Some(slot),
        "no token in the stored link"
    );
    assert_eq!(
        open_reset_link(&app.browser(), &queued_link).await,
        400,
        "the stored link is dead"
    );

    let tokens = "SELECT COUNT(*) FROM email_tokens WHERE user_id = $1 AND purpose = 'reset'";
    assert_eq!(
        count(&app.store, tokens, &[&app.user.id]).await,
        0,
        "alice's token is issued only as it is sent"
    );
    assert_eq!(
        count(&app.store, tokens, &[&bob.id]).await,
        0,
        "bob's, still being sent, has none yet: a token is stored once its mail is accepted"
    );
}

mod link_mail_waits_in_the_outbox_without_a_live_link {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        link_mail_waits_in_the_outbox_without_a_live_link(Backend::Sqlite).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        link_mail_waits_in_the_outbox_without_a_live_link(Backend::Postgres).await
    }
}

on_both_backends! {
    async fn a_sent_link_mail_carries_a_live_link(app) {
        request_reset(&app, "alice").await;
        let mail = app.mail.wait_for(&app.user.email, "Reset your").await;
        assert!(!mail.text.contains(gatehouse::mail::LINK_TOKEN_SLOT), "{}", mail.text);
        let link = mail.link();
        assert!(link.starts_with(&format!("{}/reset?token=", app.base)), "{link}");
        assert_eq!(reset_with_link(&app, &link).await, 200, "the emailed link sets a new password");
        assert_eq!(login(&app, "alice", NEW_PASSWORD).await.0, 303);
        assert_eq!(open_reset_link(&app.browser(), &link).await, 400, "once");
    }
}

on_both_backends! {
    async fn security_notices_are_not_dropped_by_the_link_cap(app) {
        // Anyone can spend the address's link share with the forgot form.
        for _ in 0..6 {
            request_reset(&app, "alice").await;
        }
        nth_mail(&app, &app.user.email, "Reset your", 5).await;

        let browser = signed_in(&app).await;
        let (status, html) = change_email(&app, &browser, PASSWORD, "alice@new.example").await;
        assert_eq!(status, 200, "{html}");
        nth_mail(&app, "alice@new.example", "Confirm your new email", 1).await;
        app.mail.wait_for(&app.user.email, "email address is changing").await;

        let (status, html) = change_password(&app, &browser, PASSWORD, &[]).await;
        assert_eq!(status, 200, "{html}");
        app.mail.wait_for(&app.user.email, "password was changed").await;
        assert_eq!(mails_about(&app, &app.user.email, "Reset your"), 5, "the link cap itself still holds");
    }
}

on_both_backends_with! { two_links_per_hour;
    async fn a_capped_resend_keeps_the_last_link_alive(app) {
        request_reset(&app, "alice").await;
        nth_mail(&app, &app.user.email, "Reset your", 1).await;
        request_reset(&app, "alice").await;
        let second = nth_mail(&app, &app.user.email, "Reset your", 2).await.link();
        // Over the cap: nothing is sent. Bob's reset, asked for afterwards, marks when the
        // capped request has been handled.
        request_reset(&app, "alice").await;
        create_user(&app.store, "bob", "bob@example.com", app.clock.now()).await;
        request_reset(&app, "bob").await;
        nth_mail(&app, "bob@example.com", "Reset your", 1).await;
        assert_eq!(mails_about(&app, &app.user.email, "Reset your"), 2, "the third request sent nothing");

        assert_eq!(reset_with_link(&app, &second).await, 200, "the last link sent still sets a new password");
        assert_eq!(login(&app, "alice", NEW_PASSWORD).await.0, 303);
    }
}
