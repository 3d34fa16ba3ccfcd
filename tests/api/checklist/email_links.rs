//! Checklist section C, emailed confirmation links: dead after 24 hours, and dead once
//! the address they were sent for is no longer the one being confirmed (C6); two accounts
//! confirming the same new address at once, where the database picks one (C18).

use super::accounts::open_reset_link;
use super::*;
use crate::on_both_backends;

const DAY: i64 = 24 * 3600;
const CONFIRM: &str = "Confirm your email address";
const CONFIRM_NEW: &str = "Confirm your new email address";

/// A confirmation page opened in `browser` and the form it offers, kept to be sent later
/// (a tab left open).
struct OpenedLink {
    browser: Browser,
    form: Vec<(&'static str, String)>,
}

async fn open_link(app: &TestApp, link: &str) -> OpenedLink {
    let browser = app.browser();
    let page = browser.get(link).await;
    assert_eq!(page.status(), 200, "{link} is live when opened");
    let html = page.text().await.unwrap();
    let form = vec![
        ("csrf_token", hidden_input(&html, "csrf_token").unwrap()),
        ("token", hidden_input(&html, "token").unwrap()),
    ];
    OpenedLink { browser, form }
}

impl OpenedLink {
    async fn press(&self, app: &TestApp, action: &str) -> reqwest::Response {
        self.browser
            .http
            .post(app.url(action))
            .form(&self.form)
            .send()
            .await
            .unwrap()
    }
}

/// Asks, from alice's account page, to move her account to `email`; returns the link
/// mailed there (the `n`th mail to that address).
async fn ask_email_change(app: &TestApp, browser: &Browser, email: &str, n: usize) -> String {
    let response = account_form(
        app,
        browser,
        "/account/email",
        &[("current_password", PASSWORD), ("email", email)],
    )
    .await;
    assert_eq!(response.status(), 200, "email change to {email} asked");
    nth_mail(app, email, CONFIRM_NEW, n).await.link()
}

async fn email_of(app: &TestApp, user_id: &str) -> String {
    app.store.account_by_id(user_id).await.unwrap().unwrap().email
}

on_both_backends! {
    async fn c6_a_signup_confirmation_link_dies_after_24_hours(app) {
        // Two sign-ups at the same time: one link is used just inside the day, the other
        // just after it.
        let carol = app.browser();
        assert_eq!(sign_up(&app, &carol, "carol", "carol@example.com").await.status(), 200);
        let dave = app.browser();
        assert_eq!(sign_up(&app, &dave, "dave", "dave@example.com").await.status(), 200);
        let carol_link = nth_mail(&app, "carol@example.com", CONFIRM, 1).await.link();
        let dave_link = nth_mail(&app, "dave@example.com", CONFIRM, 1).await.link();
        let carol_tab = open_link(&app, &carol_link).await;

        app.clock.advance(DAY - 60);
        let response = press_link(&app, &dave, &dave_link, "/signup/confirm").await;
        assert_eq!(response.status(), 302, "a link used within the day confirms and signs in");
        assert_eq!(login_status(&app, "dave", NEW_PASSWORD).await, 303);

        app.clock.advance(61);
        let page = carol.get(&carol_link).await;
        assert_eq!(page.status(), 400, "the link is dead after a day");
        assert!(page.text().await.unwrap().contains("This link has expired"));
        let pressed = carol_tab.press(&app, "/signup/confirm").await;
        assert_eq!(pressed.status(), 400, "a page opened in time cannot confirm after the day");
        assert!(pressed.headers().get("set-cookie").is_none_or(|c| !c.to_str().unwrap().contains("session")));
        assert_eq!(login_status(&app, "carol", NEW_PASSWORD).await, 403, "carol's address was never confirmed");
    }

    async fn c6_links_for_an_address_die_once_the_account_moved_to_another(app) {
        let browser = signed_in_browser(&app, "alice", PASSWORD).await;
        // A reset link sent to the current address, and a change to new1 whose page is
        // opened but not confirmed.
        request_reset(&app, &app.browser(), "alice").await;
        let reset_link = nth_mail(&app, "alice@example.com", "Reset your", 1).await.link();
        let first = ask_email_change(&app, &browser, "new1@example.com", 1).await;
        let first_tab = open_link(&app, &first).await;
        // Alice moves to new2 instead.
        let second = ask_email_change(&app, &browser, "new2@example.com", 1).await;
        let done = press_link(&app, &app.browser(), &second, "/account/email/confirm").await;
        assert_eq!(done.status(), 200);
        assert!(done.text().await.unwrap().contains("Email changed"));
        assert_eq!(email_of(&app, &app.user.id).await, "new2@example.com");

        // The link for new1 cannot move the account there any more, opened or not.
        let pressed = first_tab.press(&app, "/account/email/confirm").await;
        assert_eq!(pressed.status(), 400);
        assert!(pressed.text().await.unwrap().contains("This link has expired"));
        assert_eq!(app.browser().get(&first).await.status(), 400);
        // Nor can the used link for new2 be replayed, nor the reset link sent to the old
        // address reset the password.
        assert_eq!(app.browser().get(&second).await.status(), 400);
        assert_eq!(open_reset_link(&app.browser(), &reset_link).await, 400, "the reset link went to the old address");
        assert_eq!(email_of(&app, &app.user.id).await, "new2@example.com");
        assert_eq!(login_status(&app, "new2@example.com", PASSWORD).await, 303);
        assert_eq!(login_status(&app, "new1@example.com", PASSWORD).await, 401);
    }

    async fn c18_two_accounts_confirming_one_new_address_at_once_have_one_winner(app) {
        let bob = create_user(&app.store, "bob", "bob@example.com", app.clock.now()).await;
        let alice_browser = signed_in_browser(&app, "alice", PASSWORD).await;
        let bob_browser = signed_in_browser(&app, "bob", PASSWORD).await;
        for round in 1..=3 {
            let shared = format!("shared{round}@example.com");
            let before = [email_of(&app, &app.user.id).await, email_of(&app, &bob.id).await];
            ask_email_change(&app, &alice_browser, &shared, 1).await;
            ask_email_change(&app, &bob_browser, &shared, 2).await;
            let links = [
                nth_mail(&app, &shared, CONFIRM_NEW, 1).await.link(),
                nth_mail(&app, &shared, CONFIRM_NEW, 2).await.link(),
            ];
            let tabs = [open_link(&app, &links[0]).await, open_link(&app, &links[1]).await];
            // Both confirmations at once.
            let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(2));
            let (a, b) = tokio::join!(
                async { barrier.wait().await; tabs[0].press(&app, "/account/email/confirm").await },
                async { barrier.wait().await; tabs[1].press(&app, "/account/email/confirm").await },
            );
            let mut answers = Vec::new();
            for response in [a, b] {
                let status = response.status().as_u16();
                answers.push((status, response.text().await.unwrap()));
            }
            let mut statuses: Vec<u16> = answers.iter().map(|(s, _)| *s).collect();
            statuses.sort();
            assert_eq!(statuses, [200, 409], "round {round}: one winner, one refusal");
            let (_, loser_page) = answers.iter().find(|(s, _)| *s == 409).unwrap();
            assert!(loser_page.contains("Address not available"), "round {round}: {loser_page}");
            for name in ["alice", "bob", "Alice", "Liddell"] {
                assert!(!loser_page.contains(name), "round {round}: the refusal names the other account ({name})");
            }

            // Exactly one account has the address; the other kept its own.
            let after = [email_of(&app, &app.user.id).await, email_of(&app, &bob.id).await];
            let winners: Vec<usize> = (0..2).filter(|&i| after[i] == shared).collect();
            assert_eq!(winners.len(), 1, "round {round}: {after:?}");
            let loser = 1 - winners[0];
            assert_eq!(after[loser], before[loser], "round {round}: the loser's address is unchanged");
            assert_eq!(login_status(&app, &shared, PASSWORD).await, 303, "round {round}: the address signs in the winner");
            // Both links are spent, the loser's too.
            for link in &links {
                assert_eq!(app.browser().get(link).await.status(), 400, "round {round}: {link}");
            }
        }
    }
}
