//! The audit trail: each security-relevant step over HTTP leaves exactly one event (who,
//! what, outcome, from which IP); no event holds a password, code, token or cookie; the
//! account page shows the user's own recent activity; the janitor prunes past the
//! retention; and an audit write that fails does not fail the sign-in.

use crate::helpers::*;
use crate::on_both_backends;
use gatehouse::store::audit::{AuditEventRow, AuditFilter, NewAuditEvent};
use serde_json::Value;

const NEW_PASSWORD: &str = "quiet lantern orbit meadow";
const WRONG_PASSWORD: &str = "wrong but memorable guess";

/// Every event, newest first.
async fn events(app: &TestApp) -> Vec<AuditEventRow> {
    let filter = AuditFilter {
        limit: 500,
        ..AuditFilter::default()
    };
    app.store.audit_events(&filter).await.expect("audit events")
}

/// The events with this action, newest first.
async fn events_of(app: &TestApp, action: &str) -> Vec<AuditEventRow> {
    let filter = AuditFilter {
        action: Some(action.into()),
        limit: 500,
        ..AuditFilter::default()
    };
    app.store.audit_events(&filter).await.expect("audit events")
}

/// Asserts `event` is (action, outcome, actor) from the test's loopback address.
fn assert_event(event: &AuditEventRow, action: &str, outcome: &str, actor: Option<&str>) {
    assert_eq!(
        (
            event.action.as_str(),
            event.outcome.as_str(),
            event.actor_user_id.as_deref(),
            event.ip.as_str()
        ),
        (action, outcome, actor, "127.0.0.1"),
        "{event:?}"
    );
}

async fn login(app: &TestApp, identifier: &str, password: &str) -> u16 {
    let browser = app.browser();
    let html = browser.get("/login").await.text().await.unwrap();
    browser
        .submit_login(&html, identifier, password)
        .await
        .status()
        .as_u16()
}

async fn account_form(app: &TestApp, browser: &Browser, action: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    let html = browser.get("/account").await.text().await.unwrap();
    let mut form: Vec<(&str, String)> = vec![("csrf_token", hidden_input(&html, "csrf_token").unwrap())];
    form.extend(fields.iter().map(|(k, v)| (*k, v.to_string())));
    browser.http.post(app.url(action)).form(&form).send().await.unwrap()
}

async fn third_party(app: &TestApp) -> TestClient {
    add_client(&app.store, "partner", true, 0, |c| {
        c.name = "Partner App".into();
        c.redirect_uris = vec!["https://partner.example.com/cb".into()];
        c.first_party = false;
    })
    .await
}

/// Signs in for `client` with offline access; returns the code and the token response.
async fn offline_sign_in(app: &TestApp, browser: &Browser) -> (String, Value) {
    let (url, verifier) = app.authorize_url(&app.client, &[("scope", "openid offline_access")]);
    let to = browser.sign_in(&url, "alice", PASSWORD).await;
    let code = query_param(&to, "code").expect("code");
    let tokens: Value = app.redeem(&app.client, &code, &verifier).await.json().await.unwrap();
    (code, tokens)
}

/// Rotates `refresh_token` once, then presents it again: a detected reuse.
async fn reuse(app: &TestApp, refresh_token: &str) -> Value {
    let rotated: Value = app.refresh(&app.client, refresh_token, &[]).await.json().await.unwrap();
    let (status, error) = oauth_error(app.refresh(&app.client, refresh_token, &[]).await).await;
    assert_eq!((status, error.as_str()), (400, "invalid_grant"));
    rotated
}

on_both_backends! {
    async fn sign_ins_and_failures_each_leave_one_event(app) {
        assert_eq!(login(&app, "alice", PASSWORD).await, 303);
        assert_eq!(login(&app, "alice", WRONG_PASSWORD).await, 401);
        assert_eq!(login(&app, "nobody-here", WRONG_PASSWORD).await, 401);
        let all = events(&app).await;
        assert_eq!(all.len(), 3, "{all:?}");
        assert_event(&all[0], "sign_in_failed", "failure", None);
        assert_eq!(all[0].detail.as_deref(), Some("unknown_user"), "the typed identifier is not kept");
        assert_event(&all[1], "sign_in_failed", "failure", Some(&app.user.id));
        assert_event(&all[2], "sign_in", "success", Some(&app.user.id));
        assert_eq!(all[2].detail.as_deref(), Some("pwd"));
        assert!(all.iter().all(|e| !format!("{e:?}").contains("nobody-here")));
    }

    async fn the_user_agent_is_kept_and_cut_to_256_characters(app) {
        let browser = app.browser();
        let html = browser.get("/login").await.text().await.unwrap();
        let agent = format!("TestBrowser/1.0 {}", "x".repeat(400));
        let form = [
            ("identifier", "alice".to_string()),
            ("password", WRONG_PASSWORD.to_string()),
            ("csrf_token", hidden_input(&html, "csrf_token").unwrap()),
        ];
        let response = browser.http.post(app.url("/login")).header("user-agent", &agent).form(&form).send().await.unwrap();
        assert_eq!(response.status(), 401);
        let all = events(&app).await;
        assert_eq!(all.len(), 1, "{all:?}");
        assert_eq!(all[0].user_agent, agent.chars().take(256).collect::<String>());
    }

    async fn sign_up_and_confirmation_are_recorded(app) {
        let browser = app.browser();
        let html = browser.get("/signup").await.text().await.unwrap();
        let form = [
            ("csrf_token", hidden_input(&html, "csrf_token").unwrap()),
            ("given_name", "Carol".to_string()),
            ("family_name", "Example".to_string()),
            ("username", "carol".to_string()),
            ("email", "carol@example.com".to_string()),
            ("password", NEW_PASSWORD.to_string()),
            ("password_confirm", NEW_PASSWORD.to_string()),
        ];
        let response = browser.http.post(app.url("/signup")).form(&form).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let carol = app.store.account_by_identifier("carol").await.unwrap().expect("carol").id;
        let signed_up = events(&app).await;
        assert_eq!(signed_up.len(), 1, "{signed_up:?}");
        assert_event(&signed_up[0], "sign_up", "success", Some(&carol));

        let link = app.mail.wait_for("carol@example.com", "Confirm your email").await.link();
        let page = browser.get(&link).await.text().await.unwrap();
        let form = [
            ("csrf_token", hidden_input(&page, "csrf_token").unwrap()),
            ("token", hidden_input(&page, "token").unwrap()),
        ];
        let confirmed = browser.http.post(app.url("/signup/confirm")).form(&form).send().await.unwrap();
        assert_eq!(confirmed.status(), 302);
        let all = events(&app).await;
        assert_eq!(all.len(), 3, "{all:?}");
        assert_event(&all[0], "sign_in", "success", Some(&carol));
        assert_eq!(all[0].detail.as_deref(), Some("email_link"));
        assert_event(&all[1], "email_confirmed", "success", Some(&carol));
    }

    async fn a_password_change_is_recorded(app) {
        let browser = signed_in_browser(&app, "alice", PASSWORD).await;
        let response = account_form(&app, &browser, "/account/password", &[
            ("current_password", PASSWORD), ("password", NEW_PASSWORD), ("password_confirm", NEW_PASSWORD),
        ]).await;
        assert_eq!(response.status(), 200);
        let changed = events_of(&app, "password_changed").await;
        assert_eq!(changed.len(), 1, "{changed:?}");
        assert_event(&changed[0], "password_changed", "success", Some(&app.user.id));
        assert_eq!(events(&app).await.len(), 2, "the sign-in and the change");
    }

    async fn consent_given_and_withdrawn_are_recorded_with_the_client(app) {
        let partner = third_party(&app).await;
        let browser = app.browser();
        let (url, _) = app.authorize_url(&partner, &[("scope", "openid email")]);
        let html = browser.follow(&url).await.text().await.unwrap();
        let response = browser.submit_login(&html, "alice", PASSWORD).await;
        let html = browser.follow(&location(response.headers()).unwrap()).await.text().await.unwrap();
        let form = [
            ("csrf_token", hidden_input(&html, "csrf_token").unwrap()),
            ("request_id", hidden_input(&html, "request_id").unwrap()),
            ("decision", "allow".to_string()),
        ];
        let response = browser.http.post(app.url("/consent")).form(&form).send().await.unwrap();
        assert_eq!(response.status(), 302);
        let granted = events_of(&app, "consent_granted").await;
        assert_eq!(granted.len(), 1, "{granted:?}");
        assert_event(&granted[0], "consent_granted", "success", Some(&app.user.id));
        assert_eq!((granted[0].target.as_deref(), granted[0].client_id.as_deref()), (Some("partner"), Some("partner")));

        let list = browser.get("/account/consents").await.text().await.unwrap();
        let form = [("csrf_token", hidden_input(&list, "csrf_token").unwrap()), ("client_id", "partner".to_string())];
        browser.http.post(app.url("/account/consents/revoke")).form(&form).send().await.unwrap();
        let withdrawn = events_of(&app, "consent_withdrawn").await;
        assert_eq!(withdrawn.len(), 1, "{withdrawn:?}");
        assert_event(&withdrawn[0], "consent_withdrawn", "success", Some(&app.user.id));
        assert_eq!(withdrawn[0].client_id.as_deref(), Some("partner"));
    }

    async fn a_reused_refresh_token_is_recorded_against_its_owner(app) {
        let (_, tokens) = offline_sign_in(&app, &app.browser()).await;
        reuse(&app, tokens["refresh_token"].as_str().unwrap()).await;
        let reused = events_of(&app, "refresh_token_reuse").await;
        assert_eq!(reused.len(), 1, "{reused:?}");
        assert_event(&reused[0], "refresh_token_reuse", "failure", Some(&app.user.id));
        assert_eq!(reused[0].client_id.as_deref(), Some("client"));
    }

    async fn no_event_holds_a_password_code_token_or_cookie(app) {
        assert_eq!(login(&app, "alice", WRONG_PASSWORD).await, 401);
        let browser = app.browser();
        let (code, tokens) = offline_sign_in(&app, &browser).await;
        let rotated = reuse(&app, tokens["refresh_token"].as_str().unwrap()).await;
        let account = account_form(&app, &browser, "/account/password", &[
            ("current_password", PASSWORD), ("password", NEW_PASSWORD), ("password_confirm", NEW_PASSWORD),
        ]).await;
        assert_eq!(account.status(), 200);
        let mut secrets = vec![PASSWORD.to_string(), WRONG_PASSWORD.to_string(), NEW_PASSWORD.to_string(), code];
        for token in [&tokens["access_token"], &tokens["refresh_token"], &tokens["id_token"], &rotated["refresh_token"]] {
            secrets.push(token.as_str().expect("a token").to_string());
        }
        let cookies = browser.cookies();
        // Long values only: a flag such as `1` would match any timestamp.
        let values: Vec<&str> = cookies.split(';').filter_map(|c| c.split_once('=')).map(|(_, v)| v.trim()).filter(|v| v.len() >= 16).collect();
        assert!(!values.is_empty(), "the browser holds a session cookie");
        secrets.extend(values.iter().map(|v| v.to_string()));

        let all = events(&app).await;
        assert!(all.len() >= 4, "{all:?}");
        for event in &all {
            let columns = [
                Some(event.id.to_string()), Some(event.at.to_string()), event.actor_user_id.clone(),
                Some(event.action.clone()), Some(event.outcome.clone()), event.target.clone(),
                event.client_id.clone(), Some(event.ip.clone()), Some(event.user_agent.clone()), event.detail.clone(),
            ];
            for column in columns.iter().flatten() {
                for secret in &secrets {
                    assert!(!column.contains(secret.as_str()), "{secret:?} is in {event:?}");
                }
            }
        }
    }

    async fn second_factors_added_used_and_refused_are_recorded_without_their_codes(app) {
        let browser = signed_in_browser(&app, "alice", PASSWORD).await;
        let (enrolled, _) = crate::two_factor::enrol(&app, &browser, None).await;
        let added = events_of(&app, "factor_added").await;
        assert_eq!(added.len(), 1, "{added:?}");
        assert_event(&added[0], "factor_added", "success", Some(&app.user.id));
        assert_eq!(added[0].detail.as_deref(), Some("otp"));

        app.clock.advance(30);
        let other = signed_in_browser(&app, "alice", PASSWORD).await;
        let code = crate::two_factor::code_now(&app, &enrolled, 0);
        let wrong: String = code.chars().map(|c| if c == '9' { '0' } else { char::from(c as u8 + 1) }).collect();
        assert_eq!(crate::two_factor::second_factor(&other, "code", &wrong).await.status(), 401);
        assert_eq!(crate::two_factor::second_factor(&other, "code", &code).await.status(), 303);
        let all = events(&app).await;
        assert_event(&all[0], "sign_in", "success", Some(&app.user.id));
        assert_eq!(all[0].detail.as_deref(), Some("mfa:otp"));
        assert_event(&all[1], "second_factor_failed", "failure", Some(&app.user.id));
        assert_event(&all[2], "sign_in", "success", Some(&app.user.id));
        assert_eq!(all[2].detail.as_deref(), Some("pwd"), "the password step before it");

        let mut secrets = enrolled.recovery.clone();
        secrets.extend([code, wrong]);
        for event in &all {
            for secret in &secrets {
                assert!(!format!("{event:?}").contains(secret.as_str()), "{secret:?} is in {event:?}");
            }
        }
    }

    async fn a_deleted_accounts_deletion_outlives_it_in_the_trail(app) {
        let browser = signed_in_browser(&app, "alice", PASSWORD).await;
        let response = account_form(&app, &browser, "/account/delete", &[("current_password", PASSWORD)]).await;
        assert_eq!(response.status(), 200);
        assert!(app.store.account_by_id(&app.user.id).await.unwrap().is_none(), "the account is gone");
        let deleted = events_of(&app, "account_deleted").await;
        assert_eq!(deleted.len(), 1, "{deleted:?}");
        assert_event(&deleted[0], "account_deleted", "success", Some(&app.user.id));
        assert_eq!(events(&app).await.len(), 2, "the sign-in stays too");
    }

    async fn the_account_page_shows_the_users_own_recent_activity(app) {
        let now = app.clock.now();
        create_user(&app.store, "bob", "bob@example.com", now).await;
        assert_eq!(login(&app, "alice", WRONG_PASSWORD).await, 401);
        let alice = signed_in_browser(&app, "alice", PASSWORD).await;
        let bob = signed_in_browser(&app, "bob", PASSWORD).await;
        let changed = account_form(&app, &bob, "/account/password", &[
            ("current_password", PASSWORD), ("password", NEW_PASSWORD), ("password_confirm", NEW_PASSWORD),
        ]).await;
        assert_eq!(changed.status(), 200);

        let page = alice.get("/account").await.text().await.unwrap();
        assert!(page.contains("Recent security activity"), "{page}");
        assert!(page.contains("Signed in with password from 127.0.0.1 on "), "{page}");
        assert!(page.contains("Failed sign-in attempt from 127.0.0.1 on "), "{page}");
        assert!(page.contains(" UTC"), "{page}");
        assert!(!page.contains("Password changed from"), "bob's change is not on alice's page: {page}");

        // Whatever an event holds is escaped on the page.
        let hostile = NewAuditEvent {
            at: app.clock.now(), actor_user_id: Some(&app.user.id), action: "sign_in", outcome: "success",
            target: None, client_id: None, ip: "<b>ip</b>", user_agent: "", detail: Some("fed:<script>x</script>"),
        };
        app.store.insert_audit_event(&hostile).await.unwrap();
        let page = alice.get("/account").await.text().await.unwrap();
        assert!(!page.contains("<script>x") && !page.contains("<b>ip"), "{page}");
        assert!(page.contains("Signed in with &lt;script&gt;x"), "{page}");

        let page = bob.get("/account").await.text().await.unwrap();
        assert!(page.contains("Password changed from 127.0.0.1 on "), "{page}");
        assert!(!page.contains("Failed sign-in attempt"), "alice's failure is not on bob's page: {page}");
    }

    async fn the_janitor_prunes_events_past_the_retention(app) {
        assert_eq!(app.state.config.audit.retention_days, 90, "the default");
        assert_eq!(login(&app, "alice", PASSWORD).await, 303);
        app.clock.advance(89 * 86_400);
        assert_eq!(login(&app, "alice", WRONG_PASSWORD).await, 401);
        gatehouse::janitor::sweep(&app.state).await;
        assert_eq!(events(&app).await.len(), 2, "both are within 90 days");

        app.clock.advance(2 * 86_400);
        gatehouse::janitor::sweep(&app.state).await;
        let left = events(&app).await;
        assert_eq!(left.len(), 1, "{left:?}");
        assert_eq!(left[0].action, "sign_in_failed", "the 91-day-old sign-in is gone, the 2-day-old failure stays");
    }

    async fn a_failed_audit_write_does_not_fail_the_sign_in(app) {
        // The cheapest failing insert: the table is gone.
        sqlx::query("DROP TABLE audit_events").execute(app.store.pool()).await.unwrap();
        assert_eq!(login(&app, "alice", WRONG_PASSWORD).await, 401, "a refusal stays a refusal");
        let browser = signed_in_browser(&app, "alice", PASSWORD).await;
        let page = browser.get("/account").await;
        assert_eq!(page.status(), 200, "the account page shows without its activity");
        assert!(page.text().await.unwrap().contains("Nothing recorded yet."));
    }

    async fn events_filter_by_user_action_outcome_and_time_and_page_by_keyset(app) {
        // Times relative to a recent base: events older than the retention would be the
        // janitor's to delete, and its first sweep may run in the middle of the test.
        let base = app.clock.now() - 1000;
        for (offset, actor, action, outcome) in [
            (100, Some("u1"), "sign_in", "success"),
            (200, Some("u1"), "sign_in_failed", "failure"),
            (300, Some("u2"), "sign_in", "success"),
            (400, None, "sign_in_failed", "failure"),
            (500, Some("u1"), "sign_in", "success"),
        ] {
            let event = NewAuditEvent {
                at: base + offset, actor_user_id: actor, action, outcome, target: None, client_id: None,
                ip: "192.0.2.1", user_agent: "", detail: None,
            };
            app.store.insert_audit_event(&event).await.unwrap();
        }
        let list = |filter: AuditFilter| {
            let store = app.store.clone();
            async move { store.audit_events(&filter).await.unwrap().iter().map(|e| e.at - base).collect::<Vec<_>>() }
        };
        let all = AuditFilter { limit: 10, ..AuditFilter::default() };
        assert_eq!(list(all.clone()).await, [500, 400, 300, 200, 100]);
        assert_eq!(list(AuditFilter { actor_user_id: Some("u1".into()), ..all.clone() }).await, [500, 200, 100]);
        assert_eq!(list(AuditFilter { action: Some("sign_in".into()), ..all.clone() }).await, [500, 300, 100]);
        assert_eq!(list(AuditFilter { outcome: Some("failure".into()), ..all.clone() }).await, [400, 200]);
        assert_eq!(list(AuditFilter { since: Some(base + 200), until: Some(base + 500), ..all.clone() }).await, [400, 300, 200]);
        let both = AuditFilter { actor_user_id: Some("u1".into()), action: Some("sign_in".into()), since: Some(base + 150), ..all.clone() };
        assert_eq!(list(both).await, [500]);

        // Keyset pages of two: each page starts after the last id of the one before.
        let first = app.store.audit_events(&AuditFilter { limit: 2, ..AuditFilter::default() }).await.unwrap();
        assert_eq!(first.iter().map(|e| e.at - base).collect::<Vec<_>>(), [500, 400]);
        let second = app.store.audit_events(&AuditFilter { limit: 2, before_id: Some(first[1].id), ..AuditFilter::default() }).await.unwrap();
        assert_eq!(second.iter().map(|e| e.at - base).collect::<Vec<_>>(), [300, 200]);
        let last = AuditFilter { limit: 2, before_id: Some(second[1].id), ..AuditFilter::default() };
        assert_eq!(list(last).await, [100]);

        assert_eq!(app.store.prune_audit_events(base + 300).await.unwrap(), 2);
        assert_eq!(list(all).await, [500, 400, 300]);
    }
}
