//! Checklist section D, sessions: the idle and the absolute timeout, enforced on the
//! server (D4). Past either, a silent authorization asks for a login and refresh tokens
//! issued without offline_access die with the session; offline ones live on.

use super::*;
use serde_json::Value;

const IDLE: i64 = 600;
const ABSOLUTE: i64 = 3600;

fn short_sessions(raw: &mut gatehouse::config::RawConfig) {
    raw.sessions.idle_ttl_secs = IDLE;
    raw.sessions.absolute_ttl_secs = ABSOLUTE;
}

/// A signed-in browser with two refresh tokens: one of a first-party app that always gets
/// them (bound to the session) and one granted offline_access.
struct Signed {
    browser: Browser,
    always: TestClient,
    session_bound: String,
    offline: String,
}

async fn signed_in(app: &TestApp) -> Signed {
    let always = add_client(&app.store, "always", true, 0, |c| {
        c.redirect_uris = vec![CONFIDENTIAL_REDIRECT.into()];
        c.always_refresh = true;
    })
    .await;
    let browser = app.browser();
    let (url, verifier) = app.authorize_url(&always, &[("scope", "openid email")]);
    let code = query_param(&browser.sign_in(&url, "alice", PASSWORD).await, "code").unwrap();
    let tokens: Value = app.redeem(&always, &code, &verifier).await.json().await.unwrap();
    assert!(!tokens["scope"].as_str().unwrap().contains("offline_access"));
    let session_bound = tokens["refresh_token"]
        .as_str()
        .expect("a session-bound refresh token")
        .to_string();
    let (url, verifier) = app.authorize_url(&app.client, &[("scope", "openid offline_access")]);
    let to = location(browser.follow(&url).await.headers()).unwrap();
    let code = query_param(&to, "code").unwrap();
    let tokens: Value = app.redeem(&app.client, &code, &verifier).await.json().await.unwrap();
    let offline = tokens["refresh_token"]
        .as_str()
        .expect("an offline refresh token")
        .to_string();
    Signed {
        browser,
        always,
        session_bound,
        offline,
    }
}

/// What a silent authorization in `browser` answers: Ok(code) or Err(error).
async fn prompt_none(app: &TestApp, browser: &Browser) -> Result<String, String> {
    let (url, _) = app.authorize_url(&app.client, &[("prompt", "none")]);
    let to = location(browser.get(&url).await.headers()).expect("a redirect to the app");
    query_param(&to, "code").ok_or_else(|| query_param(&to, "error").unwrap_or_default())
}

/// Refreshes; returns the new refresh token, or the error.
async fn refresh(app: &TestApp, client: &TestClient, token: &str) -> Result<String, String> {
    let response = app.refresh(client, token, &[]).await;
    if response.status() == 200 {
        let body: Value = response.json().await.unwrap();
        Ok(body["refresh_token"].as_str().unwrap().to_string())
    } else {
        Err(oauth_error(response).await.1)
    }
}

on_both_backends_with! { short_sessions;
    async fn d4_past_the_idle_timeout_the_session_and_its_refresh_tokens_end(app) {
        let s = signed_in(&app).await;
        app.clock.advance(IDLE - 60);
        assert!(prompt_none(&app, &s.browser).await.is_ok(), "still within the idle timeout");
        let session_bound = refresh(&app, &s.always, &s.session_bound).await.expect("alive while the session is");
        // Unused for longer than the idle timeout.
        app.clock.advance(IDLE + 1);
        assert_eq!(prompt_none(&app, &s.browser).await, Err("login_required".to_string()));
        assert_eq!(s.browser.get("/account").await.status(), 302, "the account page asks to sign in");
        assert_eq!(refresh(&app, &s.always, &session_bound).await, Err("invalid_grant".to_string()));
        assert!(refresh(&app, &app.client, &s.offline).await.is_ok(), "offline_access outlives the session");
    }

    async fn d4_past_the_absolute_timeout_even_a_busy_session_ends(app) {
        let s = signed_in(&app).await;
        let mut session_bound = s.session_bound.clone();
        let mut offline = s.offline.clone();
        // Active every IDLE - 100 seconds, so the idle timeout never strikes, until the
        // absolute end is less than that away.
        let mut elapsed = 0;
        while ABSOLUTE - elapsed > IDLE - 100 {
            app.clock.advance(IDLE - 100);
            elapsed += IDLE - 100;
            assert!(prompt_none(&app, &s.browser).await.is_ok(), "alive after {elapsed} s of activity");
            assert_eq!(s.browser.get("/account").await.status(), 200);
            session_bound = refresh(&app, &s.always, &session_bound).await.expect("alive with the session");
            offline = refresh(&app, &app.client, &offline).await.expect("offline token");
        }
        assert!(ABSOLUTE - elapsed + 1 < IDLE, "the last activity is recent: only the absolute timeout applies");
        app.clock.advance(ABSOLUTE - elapsed + 1);
        assert_eq!(prompt_none(&app, &s.browser).await, Err("login_required".to_string()));
        assert_eq!(s.browser.get("/account").await.status(), 302);
        assert_eq!(refresh(&app, &s.always, &session_bound).await, Err("invalid_grant".to_string()));
        assert!(refresh(&app, &app.client, &offline).await.is_ok(), "offline_access outlives the session");
    }
}
