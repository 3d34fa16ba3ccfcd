//! An upstream identity whose email a local account already has: never linked silently,
//! never a second account; linked after proof (the local password, or a single-use link
//! mailed to the local address, good only in the browser and for the exact upstream
//! identity it was made for), or by `auto_link` when both sides verified the email. A
//! local sign-up that never confirmed its email is replaced, never linked.
//!
//! In each Federation both Gatehouses have an `alice` with alice@example.com: the
//! upstream's is the identity, the downstream's the local account.

use super::*;

/// The "Link your account" step for the upstream's alice (who matches the local alice).
async fn link_step(fed: &Federation, browser: &Browser) -> (Page, String) {
    let (step, verifier) = fed.sign_in(browser, &fed.up.user.username).await;
    step.assert_step("Link your account");
    assert!(
        !step.text.contains("Choose a username"),
        "no second account for a taken email: {step:?}"
    );
    assert!(
        !signed_in_at(browser, &fed.down).await,
        "not signed in before the proof"
    );
    (step, verifier)
}

/// Posts the "send me a link" form of the link step; the link mailed to the local alice.
async fn request_link_mail(fed: &Federation, browser: &Browser, step: &Page, nth: usize) -> String {
    let form = form_fields(&step.text, "/login/upstream/link/email").expect("the emailed-proof form");
    let sent = post(browser, &fed.down.url("/login/upstream/link/email"), &form).await;
    assert!(sent.status == 200 || sent.status == 303, "{sent:?}");
    let mail = fed.down.mail.wait_for_nth(&fed.down.user.email, "", nth).await;
    let link = mail.link();
    assert!(
        link.starts_with(&fed.down.url("/login/upstream/link/confirm")),
        "{link}\n{}",
        mail.text
    );
    link
}

federated! { Federation::corp;
    /// Proof by the local password: a wrong one is refused, the right one links and
    /// signs in; afterwards the upstream alone signs in to the same account.
    async fn linking_with_the_local_password(fed: Federation) {
        let browser = fed.browser();
        let (step, verifier) = link_step(&fed, &browser).await;
        let mut form = form_fields(&step.text, "/login/upstream/link").expect("the password form");

        set_field(&mut form, "password", "not the password at all");
        let wrong = follow_post(&browser, &fed.down, "/login/upstream/link", &form).await;
        assert!(wrong.status != 500 && wrong.location.is_none(), "{wrong:?}");
        assert!(!signed_in_at(&browser, &fed.down).await, "a wrong password links nothing");

        // The step (re-shown, or still pending) takes the right password.
        let step = get(&browser, &fed.down.url("/login/upstream/continue")).await;
        step.assert_step("Link your account");
        let mut form = form_fields(&step.text, "/login/upstream/link").expect("the password form");
        set_field(&mut form, "password", PASSWORD);
        let done = follow_post(&browser, &fed.down, "/login/upstream/link", &form).await;
        let (claims, userinfo) = fed.app_sees(&done, &verifier).await;
        assert_eq!(claims["sub"], json!(fed.down.user.id), "the local alice");
        assert_eq!(userinfo["preferred_username"], "alice");

        let again = fed.browser();
        let (page, verifier) = fed.sign_in(&again, "alice").await;
        let (claims, _) = fed.app_sees(&page, &verifier).await;
        assert_federated(&claims);
        assert_eq!(claims["sub"], json!(fed.down.user.id), "linked for good");
    }

    /// Proof by a link mailed to the local address: refused in another browser, accepted
    /// in the browser that asked for it, then used up.
    async fn linking_with_the_emailed_link(fed: Federation) {
        let browser = fed.browser();
        let (step, verifier) = link_step(&fed, &browser).await;
        assert_eq!(fed.down.mail.count_to(&fed.down.user.email), 0, "no mail before asked");

        // Opened in a browser that has no part in this sign-in: it links nothing.
        let first = request_link_mail(&fed, &browser, &step, 1).await;
        let stranger = fed.browser();
        let elsewhere = walk(&stranger, &first, &[&fed.down.base]).await;
        assert!(elsewhere.status != 500, "{elsewhere:?}");
        assert!(
            !elsewhere.location.as_deref().unwrap_or_default().starts_with(CONFIDENTIAL_REDIRECT),
            "another browser does not reach the app: {elsewhere:?}"
        );
        assert!(!signed_in_at(&stranger, &fed.down).await, "another browser is not signed in");

        // A fresh link, opened where it was asked for: linked and on to the app.
        let step = get(&browser, &fed.down.url("/login/upstream/continue")).await;
        step.assert_step("Link your account");
        let link = request_link_mail(&fed, &browser, &step, 2).await;
        let done = walk(&browser, &link, &[&fed.down.base]).await;
        let (claims, _) = fed.app_sees(&done, &verifier).await;
        assert_eq!(claims["sub"], json!(fed.down.user.id), "the local alice");

        // Single use.
        let replay = fed.browser();
        let used = walk(&replay, &link, &[&fed.down.base]).await;
        assert!(used.status != 500, "{used:?}");
        assert!(!signed_in_at(&replay, &fed.down).await, "a used link signs nobody in");

        let again = fed.browser();
        let (page, verifier) = fed.sign_in(&again, "alice").await;
        let (claims, _) = fed.app_sees(&page, &verifier).await;
        assert_eq!(claims["sub"], json!(fed.down.user.id), "linked for good");
    }

    /// An emailed proof made for upstream identity A cannot link identity B, even in B's
    /// own "Link your account" step for the same local account.
    async fn an_emailed_proof_is_bound_to_one_upstream_identity(fed: Federation) {
        // A: the upstream's alice; asks for a link and does not use it.
        let browser_a = fed.browser();
        let (step_a, _) = link_step(&fed, &browser_a).await;
        let link_for_a = request_link_mail(&fed, &browser_a, &step_a, 1).await;

        // B: another upstream user who (now) claims the same address.
        let mallory = fed.upstream_user("mallory", "mallory@corp.example").await;
        fed.up.store.set_email(&fed.up.user.id, "alice.old@corp.example", fed.up.clock.now()).await.unwrap();
        fed.up.store.set_email(&mallory.id, "alice@example.com", fed.up.clock.now()).await.unwrap();
        let browser_b = fed.browser();
        let (step_b, _) = fed.sign_in(&browser_b, "mallory").await;
        step_b.assert_step("Link your account");

        // B opens A's link: nothing is linked and B is not signed in.
        let tried = walk(&browser_b, &link_for_a, &[&fed.down.base]).await;
        assert!(tried.status != 500, "{tried:?}");
        assert!(
            !tried.location.as_deref().unwrap_or_default().starts_with(CONFIDENTIAL_REDIRECT),
            "B does not reach the app: {tried:?}"
        );
        assert!(!signed_in_at(&browser_b, &fed.down).await, "B is not signed in");

        // And B's identity is still unknown: a new trip asks again.
        let later = fed.browser();
        let (page, _) = fed.sign_in(&later, "mallory").await;
        page.assert_step("Link your account");
    }

    /// A local sign-up that never confirmed its email is not linked to (even when the
    /// upstream verified the address): the user chooses a username, a new account is made,
    /// and the unconfirmed one, with its password, is gone.
    async fn an_unconfirmed_local_signup_is_replaced_not_linked(fed: Federation) {
        const SQUATTER_PASSWORD: &str = "squatter's chosen password 42";
        let squatter = fed.browser();
        let signup = get(&squatter, &fed.down.url("/signup")).await;
        let mut form = form_fields(&signup.text, "/signup").expect("the signup form");
        for (name, value) in [
            ("given_name", "Sq"),
            ("family_name", "Uatter"),
            ("username", "squatter"),
            ("email", "uma@corp.example"),
            ("password", SQUATTER_PASSWORD),
            ("password_confirm", SQUATTER_PASSWORD),
        ] {
            set_field(&mut form, name, value);
        }
        let made = post(&squatter, &fed.down.url("/signup"), &form).await;
        assert_eq!(made.status, 200, "{made:?}");
        assert!(made.text.contains("Check your email"), "{made:?}");
        fed.down.mail.wait_for("uma@corp.example", "Confirm your email").await;

        fed.upstream_user("uma", "uma@corp.example").await;
        let browser = fed.browser();
        let (step, verifier) = fed.sign_in(&browser, "uma").await;
        step.assert_step("Choose a username");
        assert!(!step.text.contains("Link your account"), "{step:?}");
        let done = choose_username(&browser, &fed.down, &step, Some("uma")).await;
        let (claims, userinfo) = fed.app_sees(&done, &verifier).await;
        assert_federated(&claims);
        assert_eq!(userinfo["preferred_username"], "uma");
        assert_eq!(userinfo["email"], "uma@corp.example");

        // The sign-up's password opens nothing, by username or by email.
        for identifier in ["squatter", "uma@corp.example"] {
            let (status, _) = password_login(&fed.down, identifier, SQUATTER_PASSWORD).await;
            assert_ne!(status, 303, "{identifier} with the squatter's password signs in");
        }
    }
}

federated! { Federation::corp_auto_link;
    /// auto_link = true: a verified upstream email and a confirmed local one link without
    /// a step.
    async fn auto_link_links_verified_emails_without_a_step(fed: Federation) {
        let browser = fed.browser();
        let (page, verifier) = fed.sign_in(&browser, "alice").await;
        let (claims, userinfo) = fed.app_sees(&page, &verifier).await;
        assert_federated(&claims);
        assert_eq!(claims["sub"], json!(fed.down.user.id), "the local alice");
        assert_eq!(userinfo["preferred_username"], "alice");
    }

    /// auto_link = true does not link to an unconfirmed local sign-up either.
    async fn auto_link_never_links_an_unconfirmed_signup(fed: Federation) {
        let squatter = fed.browser();
        let signup = get(&squatter, &fed.down.url("/signup")).await;
        let mut form = form_fields(&signup.text, "/signup").expect("the signup form");
        for (name, value) in [
            ("given_name", "Sq"),
            ("family_name", "Uatter"),
            ("username", "squatter"),
            ("email", "uma@corp.example"),
            ("password", "squatter's chosen password 42"),
            ("password_confirm", "squatter's chosen password 42"),
        ] {
            set_field(&mut form, name, value);
        }
        let made = post(&squatter, &fed.down.url("/signup"), &form).await;
        assert!(made.text.contains("Check your email"), "{made:?}");

        fed.upstream_user("uma", "uma@corp.example").await;
        let browser = fed.browser();
        let (step, _) = fed.sign_in(&browser, "uma").await;
        step.assert_step("Choose a username");
        assert!(!signed_in_at(&browser, &fed.down).await, "not signed in to the sign-up");
    }
}

/// A fresh browser's password sign-in at `app`: the status and page.
pub async fn password_login(app: &TestApp, identifier: &str, password: &str) -> (u16, String) {
    let browser = app.browser();
    let html = browser.get("/login").await.text().await.unwrap();
    let response = browser.submit_login(&html, identifier, password).await;
    (response.status().as_u16(), response.text().await.unwrap_or_default())
}
