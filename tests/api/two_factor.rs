//! Authenticator-app codes (RFC 6238), recovery codes, and step-up: enrolment from the
//! account page, the second-factor step after a password, replay and drift, the shared
//! lockout, the freshness rule for changing factors, and what `acr`/`amr` say, checked in
//! the ID token the app receives. Passkeys are `passkeys.rs`.

use crate::helpers::*;
use crate::{on_both_backends, on_both_backends_with};
use gatehouse::config::RawConfig;
use serde_json::Value;

/// What an enrolment leaves the test: the secret (as the user's phone has it) and the
/// recovery codes shown once.
pub(crate) struct Enrolled {
    pub secret: Vec<u8>,
    pub recovery: Vec<String>,
}

fn between<'a>(html: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = html.find(start)? + start.len();
    let len = html[from..].find(end)?;
    Some(&html[from..from + len])
}

fn recovery_codes(html: &str) -> Vec<String> {
    html.split("<li><code>")
        .skip(1)
        .filter_map(|part| part.split("</code>").next())
        .map(str::to_string)
        .collect()
}

/// The CSRF token of the signed-in page at `path`.
async fn csrf_of(browser: &Browser, path: &str) -> String {
    let html = browser.get(path).await.text().await.unwrap();
    hidden_input(&html, "csrf_token").unwrap_or_else(|| panic!("no csrf_token on {path}: {html}"))
}

/// Enrols an authenticator app from /account/two-factor, as a user would: starts, reads
/// the key under the QR code, types the current code.
pub(crate) async fn enrol(app: &TestApp, browser: &Browser, request_id: Option<&str>) -> (Enrolled, reqwest::Response) {
    let path = match request_id {
        Some(id) => format!("/account/two-factor?request_id={id}"),
        None => "/account/two-factor".to_string(),
    };
    let csrf = csrf_of(browser, &path).await;
    let mut form = vec![("csrf_token", csrf.as_str())];
    if let Some(id) = request_id {
        form.push(("request_id", id));
    }
    let setup = browser.post_form("/account/two-factor/totp", &form).await;
    assert_eq!(setup.status(), 200);
    let html = setup.text().await.unwrap();
    assert!(html.contains("<svg"), "the QR code is drawn on the page: {html}");
    let key = between(&html, "<code id=\"totp-secret\" class=\"secret\">", "</code>").expect("the key in text");
    let secret = gatehouse::totp::decode_secret(key).expect("a base32 key");
    let code = gatehouse::totp::code_at(&secret, app.clock.now());
    form.push(("code", code.as_str()));
    let confirmed = browser.post_form("/account/two-factor/totp/confirm", &form).await;
    assert_eq!(confirmed.status(), 200, "the first code confirms the enrolment");
    let html = confirmed.text().await.unwrap();
    let recovery = recovery_codes(&html);
    assert_eq!(recovery.len(), 10, "ten recovery codes, shown once: {html}");
    let next = between(&html, "id=\"recovery-continue\" class=\"button primary\" href=\"", "\"")
        .unwrap_or_default()
        .replace("&#x2f;", "/");
    let onwards = browser.get(&next).await;
    (Enrolled { secret, recovery }, onwards)
}

/// Signs in with the password at `authorize_url`; returns the response to the login form.
async fn password_step(app: &TestApp, browser: &Browser, authorize_url: &str) -> reqwest::Response {
    let page = browser.follow(authorize_url).await;
    let html = page.text().await.unwrap();
    browser.submit_login(&html, &app.user.username, PASSWORD).await
}

pub(crate) async fn second_factor(browser: &Browser, field: &str, value: &str) -> reqwest::Response {
    let page = browser.get("/login/second-factor").await;
    assert_eq!(page.status(), 200);
    let csrf = hidden_input(&page.text().await.unwrap(), "csrf_token").unwrap();
    browser
        .post_form("/login/second-factor", &[("csrf_token", csrf.as_str()), (field, value)])
        .await
}

pub(crate) async fn id_token_after(app: &TestApp, browser: &Browser, next: &str, verifier: &str) -> Value {
    let done = browser.follow(next).await;
    let to = location(done.headers()).unwrap_or_else(|| panic!("no redirect to the app: {}", done.status()));
    let code = query_param(&to, "code").unwrap_or_else(|| panic!("no code in {to}"));
    let tokens: Value = app.redeem(&app.client, &code, verifier).await.json().await.unwrap();
    jwt_claims(tokens["id_token"].as_str().unwrap())
}

pub(crate) fn amr(claims: &Value) -> Vec<String> {
    claims["amr"]
        .as_array()
        .unwrap_or_else(|| panic!("no amr: {claims}"))
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

pub(crate) fn code_now(app: &TestApp, enrolled: &Enrolled, offset: i64) -> String {
    gatehouse::totp::code_at(&enrolled.secret, app.clock.now() + offset)
}

/// A signed-in browser (password only, no app) for the test user.
async fn signed_in(app: &TestApp) -> Browser {
    signed_in_browser(app, &app.user.username, PASSWORD).await
}

on_both_backends! {
    async fn an_authenticator_app_is_enrolled_then_asked_for_after_the_password(app) {
        let browser = signed_in(&app).await;
        let (enrolled, onwards) = enrol(&app, &browser, None).await;
        assert_eq!(onwards.status(), 200);
        assert!(onwards.text().await.unwrap().contains("An authenticator app is set up"));
        app.mail.wait_for(&app.user.email, "A second factor was added").await;

        // The seed is sealed at rest: neither its bytes nor its text are in the row.
        let row = app.store.totp(&app.user.id).await.unwrap().unwrap();
        let key = gatehouse::totp::enrolment(&enrolled.secret, "x", "y").unwrap().secret_base32;
        assert!(!row.secret.contains(&key));
        assert!(row.confirmed_at.is_some());

        // A new sign-in: the password alone leads to the second-factor page, not the app.
        app.clock.advance(30);
        let other = app.browser();
        let (url, verifier) = app.authorize_url(&app.client, &[]);
        let after_password = password_step(&app, &other, &url).await;
        assert_eq!(after_password.status(), 303);
        assert_eq!(location(after_password.headers()).as_deref(), Some("/login/second-factor"));
        let whoami = other.get("/session/whoami").await;
        assert_eq!(whoami.status(), 401, "no session exists between the factors");

        let wrong = second_factor(&other, "code", "000000").await;
        assert_eq!(wrong.status(), 401);
        let right = second_factor(&other, "code", &code_now(&app, &enrolled, 0)).await;
        assert_eq!(right.status(), 303);
        let next = location(right.headers()).unwrap();
        assert!(next.starts_with("/authorize/resume/"), "{next}");
        let claims = id_token_after(&app, &other, &next, &verifier).await;
        assert_eq!(amr(&claims), ["pwd", "otp", "mfa"]);
        assert_eq!(claims["acr"], "1");
        let whoami: Value = other.get("/session/whoami").await.json().await.unwrap();
        assert_eq!(whoami["amr"], serde_json::json!(["pwd", "otp", "mfa"]));
    }

    async fn a_code_counts_once_and_one_step_of_drift_either_way(app) {
        let browser = signed_in(&app).await;
        let (enrolled, _) = enrol(&app, &browser, None).await;
        app.clock.advance(90);

        // The step before now (a slow phone) is accepted ...
        let first = app.browser();
        assert_eq!(password_step(&app, &first, "/login").await.status(), 303);
        let previous = code_now(&app, &enrolled, -30);
        assert_eq!(second_factor(&first, "code", &previous).await.status(), 303);

        // ... but the same code again, in another browser, is a replay.
        let second = app.browser();
        assert_eq!(password_step(&app, &second, "/login").await.status(), 303);
        let replay = second_factor(&second, "code", &previous).await;
        assert_eq!(replay.status(), 401);
        assert!(replay.text().await.unwrap().contains("not right, or was already used"));
        // Two steps away is too far; the step after now (a fast phone) is fine.
        assert_eq!(second_factor(&second, "code", &code_now(&app, &enrolled, -60)).await.status(), 401);
        assert_eq!(second_factor(&second, "code", &code_now(&app, &enrolled, 30)).await.status(), 303);
        let whoami: Value = second.get("/session/whoami").await.json().await.unwrap();
        assert_eq!(whoami["amr"], serde_json::json!(["pwd", "otp", "mfa"]));
    }

    async fn recovery_codes_sign_in_once_each_and_tell_the_owner(app) {
        let browser = signed_in(&app).await;
        let (enrolled, _) = enrol(&app, &browser, None).await;
        let code = enrolled.recovery[3].clone();

        let first = app.browser();
        assert_eq!(password_step(&app, &first, "/login").await.status(), 303);
        // Typed loosely: capitals and spaces instead of dashes.
        let typed = code.to_uppercase().replace('-', " ");
        assert_eq!(second_factor(&first, "recovery_code", &typed).await.status(), 303);
        let whoami: Value = first.get("/session/whoami").await.json().await.unwrap();
        assert_eq!(whoami["amr"], serde_json::json!(["pwd", "otp", "mfa"]));
        let mail = app.mail.wait_for(&app.user.email, "A recovery code was used").await;
        assert!(mail.text.contains("9 unused recovery code"), "{}", mail.text);

        let second = app.browser();
        assert_eq!(password_step(&app, &second, "/login").await.status(), 303);
        assert_eq!(second_factor(&second, "recovery_code", &code).await.status(), 401);
        let page = first.get("/account/two-factor").await.text().await.unwrap();
        assert!(page.contains("9 unused recovery code(s) left"), "{page}");
    }

    async fn one_code_sent_twice_at_once_signs_in_once(app) {
        let browser = signed_in(&app).await;
        let (enrolled, _) = enrol(&app, &browser, None).await;
        app.clock.advance(30);
        let (first, second) = (app.browser(), app.browser());
        assert_eq!(password_step(&app, &first, "/login").await.status(), 303);
        assert_eq!(password_step(&app, &second, "/login").await.status(), 303);
        let code = code_now(&app, &enrolled, 0);
        let recovery = enrolled.recovery[0].clone();
        let (a, b) = tokio::join!(second_factor(&first, "code", &code), second_factor(&second, "code", &code));
        let mut statuses = [a.status().as_u16(), b.status().as_u16()];
        statuses.sort();
        assert_eq!(statuses, [303, 401], "exactly one wins the time step");
        // The same for a recovery code.
        let (third, fourth) = (app.browser(), app.browser());
        assert_eq!(password_step(&app, &third, "/login").await.status(), 303);
        assert_eq!(password_step(&app, &fourth, "/login").await.status(), 303);
        let (c, d) = tokio::join!(
            second_factor(&third, "recovery_code", &recovery),
            second_factor(&fourth, "recovery_code", &recovery)
        );
        let mut statuses = [c.status().as_u16(), d.status().as_u16()];
        statuses.sort();
        assert_eq!(statuses, [303, 401], "exactly one spends the recovery code");
    }

    async fn wrong_codes_share_the_password_lockout(app) {
        let browser = signed_in(&app).await;
        let (enrolled, _) = enrol(&app, &browser, None).await;
        app.clock.advance(30);
        let other = app.browser();
        assert_eq!(password_step(&app, &other, "/login").await.status(), 303);
        for _ in 0..5 {
            assert_eq!(second_factor(&other, "code", "123456").await.status(), 401);
        }
        // Locked now: even the right code waits, and so does the password.
        let locked = second_factor(&other, "code", &code_now(&app, &enrolled, 0)).await;
        assert_eq!(locked.status(), 429);
        let third = app.browser();
        assert_eq!(password_step(&app, &third, "/login").await.status(), 429);
        // After the wait, the right code goes through.
        app.clock.advance(31);
        let done = second_factor(&other, "code", &code_now(&app, &enrolled, 0)).await;
        assert_eq!(done.status(), 303);
    }

    async fn an_unconfirmed_enrolment_is_not_a_factor(app) {
        let browser = signed_in(&app).await;
        let csrf = csrf_of(&browser, "/account/two-factor").await;
        let setup = browser.post_form("/account/two-factor/totp", &[("csrf_token", &csrf)]).await;
        assert_eq!(setup.status(), 200);
        let other = app.browser();
        let response = password_step(&app, &other, "/login").await;
        assert_eq!(location(response.headers()).as_deref(), Some("/account"), "no second factor asked for yet");
        // A wrong confirmation code keeps it unconfirmed and says why.
        let wrong = browser.post_form("/account/two-factor/totp/confirm", &[("csrf_token", &csrf), ("code", "000000")]).await;
        assert_eq!(wrong.status(), 400);
        assert!(wrong.text().await.unwrap().contains("That code is not right"));
        assert!(app.store.totp(&app.user.id).await.unwrap().unwrap().confirmed_at.is_none());
    }

    async fn changing_factors_needs_a_fresh_sign_in_with_a_factor(app) {
        let older = signed_in(&app).await;
        let browser = signed_in(&app).await;
        let (enrolled, _) = enrol(&app, &browser, None).await;

        // A session from before the enrolment (password only) cannot remove it.
        let csrf = csrf_of(&older, "/account/two-factor").await;
        let refused = older.post_form("/account/two-factor/totp/remove", &[("csrf_token", &csrf)]).await;
        assert_eq!(refused.status(), 403);
        assert!(refused.text().await.unwrap().contains("sign in again with your second factor"));
        // Nor can the enrolling session, once its sign-in is old.
        app.clock.advance(16 * 60);
        let csrf = csrf_of(&browser, "/account/two-factor").await;
        let stale = browser.post_form("/account/two-factor/totp/remove", &[("csrf_token", &csrf)]).await;
        assert_eq!(stale.status(), 403);
        assert!(app.store.totp(&app.user.id).await.unwrap().is_some());

        // A fresh sign-in with the code may.
        let fresh = app.browser();
        assert_eq!(password_step(&app, &fresh, "/login").await.status(), 303);
        assert_eq!(second_factor(&fresh, "code", &code_now(&app, &enrolled, 0)).await.status(), 303);
        let csrf = csrf_of(&fresh, "/account/two-factor").await;
        let removed = fresh.post_form("/account/two-factor/totp/remove", &[("csrf_token", &csrf)]).await;
        assert_eq!(removed.status(), 200);
        assert!(removed.text().await.unwrap().contains("Authenticator app removed"));
        app.mail.wait_for(&app.user.email, "A second factor was removed").await;
        assert_eq!(app.store.unused_recovery_codes(&app.user.id).await.unwrap(), 0, "recovery codes go with the last factor");
        let after = app.browser();
        assert_eq!(location(password_step(&app, &after, "/login").await.headers()).as_deref(), Some("/account"));
    }

    async fn acr_values_mfa_makes_a_user_without_a_factor_set_one_up_and_says_mfa(app) {
        let browser = app.browser();
        let (url, verifier) = app.authorize_url(&app.client, &[("acr_values", "mfa")]);
        let after_password = password_step(&app, &browser, &url).await;
        let resume = location(after_password.headers()).unwrap();
        let setup = browser.get(&resume).await;
        let to = location(setup.headers()).unwrap();
        assert!(to.starts_with("/account/two-factor?request_id="), "{to}");
        let page = browser.get(&to).await.text().await.unwrap();
        assert!(page.contains("needs a second factor"), "{page}");
        let request_id = query_param(&format!("http://x{to}"), "request_id").unwrap();
        let (_, onwards) = enrol(&app, &browser, Some(&request_id)).await;
        let to = location(onwards.headers()).expect("back to the app");
        let code = query_param(&to, "code").unwrap();
        let tokens: Value = app.redeem(&app.client, &code, &verifier).await.json().await.unwrap();
        let claims = jwt_claims(tokens["id_token"].as_str().unwrap());
        assert_eq!(claims["acr"], "mfa");
        assert_eq!(amr(&claims), ["pwd", "otp", "mfa"]);

        // The session now meets mfa silently; phr (a passkey) it does not.
        let (url, _) = app.authorize_url(&app.client, &[("acr_values", "mfa"), ("prompt", "none")]);
        let to = location(browser.get(&url).await.headers()).unwrap();
        assert!(query_param(&to, "code").is_some(), "{to}");
        let (url, _) = app.authorize_url(&app.client, &[("acr_values", "phr"), ("prompt", "none")]);
        let to = location(browser.get(&url).await.headers()).unwrap();
        assert_eq!(query_param(&to, "error").as_deref(), Some("login_required"), "{to}");
    }

    async fn acr_values_mfa_steps_a_password_session_up_in_place(app) {
        let older = signed_in(&app).await;
        let enrolling = signed_in(&app).await;
        let (enrolled, _) = enrol(&app, &enrolling, None).await;
        app.clock.advance(30);

        // The older session signed in with a password only: silently it cannot meet mfa.
        let (url, _) = app.authorize_url(&app.client, &[("acr_values", "mfa"), ("prompt", "none")]);
        let to = location(older.get(&url).await.headers()).unwrap();
        assert_eq!(query_param(&to, "error").as_deref(), Some("login_required"), "{to}");
        let before: Value = older.get("/session/whoami").await.json().await.unwrap();
        let (url, verifier) = app.authorize_url(&app.client, &[("prompt", "none")]);
        let sid_before = id_token_after(&app, &older, &url, &verifier).await["sid"].clone();

        // The same demand as an essential acr claim (OIDC Core §5.5.1.1).
        let essential = r#"{"id_token":{"acr":{"essential":true,"values":["mfa"]}}}"#;
        let (url, _) = app.authorize_url(&app.client, &[("claims", essential), ("prompt", "none")]);
        let to = location(older.get(&url).await.headers()).unwrap();
        assert_eq!(query_param(&to, "error").as_deref(), Some("login_required"), "{to}");

        let (url, verifier) = app.authorize_url(&app.client, &[("acr_values", "mfa")]);
        let step = older.get(&url).await;
        assert_eq!(location(step.headers()).as_deref(), Some("/login/second-factor"));
        let page = older.get("/login/second-factor").await.text().await.unwrap();
        assert!(page.contains("This app asks for a second factor"), "{page}");
        let done = second_factor(&older, "code", &code_now(&app, &enrolled, 0)).await;
        let claims = id_token_after(&app, &older, &location(done.headers()).unwrap(), &verifier).await;
        assert_eq!(claims["acr"], "mfa");
        assert_eq!(amr(&claims), ["pwd", "otp", "mfa"]);
        // The same session, raised: its apps stay signed in.
        let after: Value = older.get("/session/whoami").await.json().await.unwrap();
        assert_eq!(claims["sid"], sid_before, "the same session");
        assert_eq!(after["sub"], before["sub"]);
        assert_eq!(after["amr"], serde_json::json!(["pwd", "otp", "mfa"]));
        assert_eq!(app.store.user_sessions(&app.user.id, app.clock.now()).await.unwrap().len(), 2);
    }

    async fn acr_values_phr_asks_a_user_with_only_an_app_code_for_a_passkey(app) {
        let browser = signed_in(&app).await;
        let (_, _) = enrol(&app, &browser, None).await;
        // The enrolling session has otp and mfa, but no passkey.
        let (url, _) = app.authorize_url(&app.client, &[("acr_values", "phr")]);
        let to = location(browser.get(&url).await.headers()).unwrap();
        assert!(to.starts_with("/account/two-factor?request_id=") && to.ends_with("&need=passkey"), "{to}");
        let page = browser.get(&to).await.text().await.unwrap();
        assert!(page.contains("needs a passkey"), "{page}");
        // "phr mfa": the first one met is the answer's acr.
        let (url, verifier) = app.authorize_url(&app.client, &[("acr_values", "phr mfa")]);
        let claims = id_token_after(&app, &browser, &url, &verifier).await;
        assert_eq!(claims["acr"], "mfa");
    }

    async fn a_client_can_require_a_second_factor(app) {
        let strict = add_client(&app.store, "strict-app", true, app.clock.now(), |c| {
            c.redirect_uris = vec!["https://strict.example/cb".into()];
            c.require_mfa = true;
        })
        .await;
        let browser = app.browser();
        let (url, _) = app.authorize_url(&strict, &[]);
        let after_password = password_step(&app, &browser, &url).await;
        let setup = browser.get(&location(after_password.headers()).unwrap()).await;
        let to = location(setup.headers()).unwrap();
        assert!(to.starts_with("/account/two-factor?request_id="), "{to}");
        // Other clients are not affected.
        let (url, _) = app.authorize_url(&app.client, &[("prompt", "none")]);
        let to = location(browser.get(&url).await.headers()).unwrap();
        assert!(query_param(&to, "code").is_some(), "{to}");
    }

    async fn discovery_lists_the_acr_values_gatehouse_honours(app) {
        let discovery: Value = reqwest::get(app.url("/.well-known/openid-configuration")).await.unwrap().json().await.unwrap();
        assert_eq!(discovery["acr_values_supported"], serde_json::json!(["0", "1", "mfa", "phr"]));
    }
}

fn require_mfa(raw: &mut RawConfig) {
    raw.accounts.require_mfa = true;
}

on_both_backends_with! { require_mfa;
    async fn the_operator_can_require_a_second_factor_of_everyone(app) {
        let browser = app.browser();
        let (url, verifier) = app.authorize_url(&app.client, &[]);
        let after_password = password_step(&app, &browser, &url).await;
        let setup = browser.get(&location(after_password.headers()).unwrap()).await;
        let to = location(setup.headers()).unwrap();
        assert!(to.starts_with("/account/two-factor?request_id="), "{to}");
        let request_id = query_param(&format!("http://x{to}"), "request_id").unwrap();
        let (_, onwards) = enrol(&app, &browser, Some(&request_id)).await;
        let to = location(onwards.headers()).expect("back to the app");
        let code = query_param(&to, "code").unwrap();
        let tokens: Value = app.redeem(&app.client, &code, &verifier).await.json().await.unwrap();
        let claims = jwt_claims(tokens["id_token"].as_str().unwrap());
        assert_eq!(amr(&claims), ["pwd", "otp", "mfa"]);
        // No acr_values asked: the acr says only that the sign-in was fresh.
        assert_eq!(claims["acr"], "1");
    }
}

/// The relying-party library's view: an app asks for `acr_values=mfa` through
/// `openidconnect`, the user gives password and code, and the library verifies the ID
/// token (signature, iss, aud, nonce) and reads `acr` and `amr` from it.
mod relying_party {
    use super::*;
    use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
    use openidconnect::{
        AuthenticationContextClass, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
        PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
    };

    on_both_backends! {
        async fn the_relying_party_library_asks_for_mfa_and_verifies_acr_and_amr(app) {
            let browser = signed_in(&app).await;
            let (enrolled, _) = enrol(&app, &browser, None).await;
            app.clock.advance(30);

            let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
            let metadata = CoreProviderMetadata::discover_async(IssuerUrl::new(app.base.clone()).unwrap(), &http)
                .await
                .expect("discovery");
            let supported: Vec<String> = metadata
                .acr_values_supported()
                .expect("acr_values_supported")
                .iter()
                .map(|a| a.to_string())
                .collect();
            assert!(supported.contains(&"mfa".to_string()), "{supported:?}");
            let rp = CoreClient::from_provider_metadata(
                metadata,
                ClientId::new(app.client.id.clone()),
                app.client.secret.clone().map(ClientSecret::new),
            )
            .set_redirect_uri(RedirectUrl::new(app.client.redirect_uri.clone()).unwrap());
            let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
            let (url, _, nonce) = rp
                .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
                .add_scope(Scope::new("profile".into()))
                .add_auth_context_value(AuthenticationContextClass::new("mfa".into()))
                .set_pkce_challenge(challenge)
                .url();

            let user = app.browser();
            assert_eq!(password_step(&app, &user, url.as_str()).await.status(), 303);
            let done = second_factor(&user, "code", &code_now(&app, &enrolled, 0)).await;
            let back = user.follow(&location(done.headers()).unwrap()).await;
            let redirect = location(back.headers()).expect("back to the app");
            let code = query_param(&redirect, "code").expect("code");
            let tokens = rp
                .exchange_code(AuthorizationCode::new(code))
                .unwrap()
                .set_pkce_verifier(verifier)
                .request_async(&http)
                .await
                .expect("code exchange");
            let claims = tokens
                .id_token()
                .expect("id token")
                .claims(&rp.id_token_verifier(), &nonce)
                .expect("a valid ID token");
            assert_eq!(claims.auth_context_ref().map(|a| a.as_str()), Some("mfa"));
            let amr: Vec<String> = claims
                .auth_method_refs()
                .expect("amr")
                .iter()
                .map(|a| a.to_string())
                .collect();
            assert_eq!(amr, ["pwd", "otp", "mfa"]);
        }
    }
}
