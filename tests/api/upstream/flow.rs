//! The happy paths: the button on the login and signup pages, signing up through the
//! upstream (the username step), signing in again with the same upstream `sub`, what the
//! app's ID token says (`amr`, `idp`), the Google preset, and an upstream email change.

use super::*;

federated! { Federation::corp;
    /// Both hosted pages carry one form per upstream, and an unknown id is a 404.
    async fn login_and_signup_pages_offer_the_upstream(fed: Federation) {
        let browser = fed.browser();
        for path in ["/login", "/signup"] {
            let page = get(&browser, &fed.down.url(path)).await;
            assert_eq!(page.status, 200, "{page:?}");
            assert!(page.text.contains(CORP_BUTTON), "{path}: {page:?}");
            let form = form_fields(&page.text, CORP_START).unwrap_or_else(|| panic!("{path}: no form to {CORP_START}"));
            assert!(field(&form, "csrf_token").is_some_and(|v| !v.is_empty()), "{path}: {form:?}");
        }
        let login = get(&browser, &fed.down.url("/login")).await;
        let form = form_fields(&login.text, CORP_START).unwrap();
        let unknown = post(&browser, &fed.down.url("/login/upstream/nope"), &form).await;
        assert_eq!(unknown.status, 404, "{unknown:?}");
    }

    /// Sign up with the upstream: one username step (the suggestion from the email is
    /// filled in), then the app gets an ID token saying amr ["fed"] and idp "corp". The
    /// next sign-in with the same upstream identity goes straight to the app, same account.
    async fn sign_up_through_the_upstream_then_sign_in_again(fed: Federation) {
        fed.upstream_user("uma", "uma@corp.example").await;
        let browser = fed.browser();
        let (step, verifier) = fed.sign_in(&browser, "uma").await;
        step.assert_step("Choose a username");
        assert!(step.url.starts_with(&fed.down.url("/login/upstream/continue")), "{step:?}");
        let form = form_fields(&step.text, "/login/upstream/username").expect("the username form");
        assert_eq!(field(&form, "username"), Some("uma"), "suggested from the email: {form:?}");
        assert!(!signed_in_at(&browser, &fed.down).await, "not signed in before the step is done");

        let done = choose_username(&browser, &fed.down, &step, None).await;
        let (claims, userinfo) = fed.app_sees(&done, &verifier).await;
        assert_federated(&claims);
        assert_eq!(userinfo["preferred_username"], "uma", "{userinfo}");
        assert_eq!(userinfo["email"], "uma@corp.example", "{userinfo}");
        assert_eq!(userinfo["email_verified"], true, "the upstream verified it: {userinfo}");
        let sub = claims["sub"].as_str().expect("sub").to_string();
        assert_eq!(fed.down.mail.count_to("uma@corp.example"), 0, "no confirmation needed");

        // Again, from a browser that knows neither Gatehouse: no step this time.
        let again = fed.browser();
        let (page, verifier) = fed.sign_in(&again, "uma").await;
        let (claims, userinfo) = fed.app_sees(&page, &verifier).await;
        assert_federated(&claims);
        assert_eq!(claims["sub"], json!(sub), "the same local account");
        assert_eq!(userinfo["preferred_username"], "uma");
    }

    /// The suggested username is free: the email's local part is taken locally.
    async fn the_suggested_username_is_free(fed: Federation) {
        // The downstream already has `alice`; the upstream user's email starts "alice@".
        fed.upstream_user("alice-at-corp", "alice@corp.example").await;
        let browser = fed.browser();
        let (step, verifier) = fed.sign_in(&browser, "alice-at-corp").await;
        step.assert_step("Choose a username");
        let form = form_fields(&step.text, "/login/upstream/username").expect("the username form");
        let suggested = field(&form, "username").unwrap_or_default().to_string();
        assert!(suggested.starts_with("alice") && suggested != "alice", "a free suggestion: {suggested:?}");

        // Choosing a taken one is refused on the same step; the suggestion then works.
        let taken = choose_username(&browser, &fed.down, &step, Some("alice")).await;
        assert!(taken.status == 200 || taken.status == 400 || taken.status == 409, "{taken:?}");
        assert!(taken.text.contains("Choose a username"), "still the username step: {taken:?}");
        let done = choose_username(&browser, &fed.down, &taken, Some(&suggested)).await;
        let (claims, userinfo) = fed.app_sees(&done, &verifier).await;
        assert_federated(&claims);
        assert_eq!(userinfo["preferred_username"], json!(suggested));
        assert_ne!(claims["sub"], json!(fed.down.user.id), "not the local alice");
    }

    /// A password sign-in on the same Gatehouse: amr ["pwd"], no idp.
    async fn password_sign_in_says_pwd_and_no_idp(fed: Federation) {
        let (code, verifier) = fed.down.code_for(&fed.down.client).await;
        let response = fed.down.redeem(&fed.down.client, &code, &verifier).await;
        assert_eq!(response.status(), 200);
        let tokens: Value = response.json().await.unwrap();
        let claims = jwt_claims(tokens["id_token"].as_str().unwrap());
        assert_eq!(claims["amr"], json!(["pwd"]), "{claims}");
        assert!(claims.get("idp").is_none(), "{claims}");
        assert_eq!(claims["sub"], json!(fed.down.user.id));
    }

    /// The upstream changes the user's email (even to one a local account has): the next
    /// sign-in lands in the same account, whose email stays as it was.
    async fn an_upstream_email_change_does_not_move_the_account(fed: Federation) {
        let uma = fed.upstream_user("uma", "uma@corp.example").await;
        fed.local_user("bob", "bob@example.com").await;
        let browser = fed.browser();
        let (step, verifier) = fed.sign_in(&browser, "uma").await;
        let done = choose_username(&browser, &fed.down, &step, None).await;
        let (claims, _) = fed.app_sees(&done, &verifier).await;
        let sub = claims["sub"].clone();

        fed.up.store.set_email(&uma.id, "bob@example.com", fed.up.clock.now()).await.unwrap();
        let again = fed.browser();
        let (page, verifier) = fed.sign_in(&again, "uma").await;
        let (claims, userinfo) = fed.app_sees(&page, &verifier).await;
        assert_federated(&claims);
        assert_eq!(claims["sub"], sub, "the same account, not bob's");
        assert_eq!(userinfo["preferred_username"], "uma");
        assert_eq!(userinfo["email"], "uma@corp.example", "the local email is unchanged");
    }
}

federated! { Federation::google;
    /// kind = "google" with its issuer overridden (to the upstream Gatehouse) works as a
    /// whole sign-up.
    async fn the_google_preset_signs_up_with_an_overridden_issuer(fed: Federation) {
        fed.upstream_user("gina", "gina@corp.example").await;
        let browser = fed.browser();
        let (step, verifier) = fed.sign_in(&browser, "gina").await;
        step.assert_step("Choose a username");
        let done = choose_username(&browser, &fed.down, &step, None).await;
        let (claims, userinfo) = fed.app_sees(&done, &verifier).await;
        assert_federated(&claims);
        assert_eq!(userinfo["email"], "gina@corp.example");
    }
}
