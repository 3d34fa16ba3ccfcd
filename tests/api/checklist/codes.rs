//! Checklist rows about authorization codes: PKCE required of a client registered with
//! `require_pkce` (A7), malformed verifiers at /token (A9), the configured code lifetime
//! and its RFC 6749 cap (A10), and codes that die with their account (C19).

use super::*;
use crate::on_both_backends;
use gatehouse::config::RawConfig;
use serde_json::Value;

/// A confidential client registered as `gatehouse client create --require-pkce true` does.
async fn pkce_client(app: &TestApp) -> TestClient {
    add_client(&app.store, "strict", true, 0, |c| {
        c.redirect_uris = vec![CONFIDENTIAL_REDIRECT.into()];
        c.require_pkce = true;
    })
    .await
}

/// Without code_challenge and code_challenge_method.
const NO_PKCE: [(&str, &str); 2] = [("code_challenge", ""), ("code_challenge_method", "")];

/// Redeems `code` for `client` without any code_verifier.
async fn redeem_without_verifier(app: &TestApp, client: &TestClient, code: &str) -> reqwest::Response {
    app.token_request(
        client,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &client.redirect_uri),
        ],
    )
    .await
}

fn code_ttl_120(raw: &mut RawConfig) {
    raw.tokens.code_ttl_secs = 120;
}

on_both_backends! {
    /// The documented policy: PKCE (S256) is required of public clients and of any client
    /// registered with `require_pkce`; a confidential client may leave it out by default,
    /// because RFC 9700 §2.1.1 says confidential clients SHOULD (not MUST) use PKCE, and
    /// they authenticate at /token with their secret anyway.
    async fn a7_a_client_registered_with_require_pkce_must_send_a_challenge_and_a_verifier(app) {
        let strict = pkce_client(&app).await;
        // /authorize without a challenge: invalid_request back to the client, no login page.
        let (url, _) = app.authorize_url(&strict, &NO_PKCE);
        let response = app.browser().get(&url).await;
        assert_eq!(response.status(), 302);
        let to = location(response.headers()).expect("an error redirect to the client");
        assert!(to.starts_with(CONFIDENTIAL_REDIRECT), "{to}");
        assert_eq!(query_param(&to, "error").as_deref(), Some("invalid_request"), "{to}");
        assert_eq!(query_param(&to, "state").as_deref(), Some("st4te"));
        assert!(query_param(&to, "code").is_none());

        // A code issued with a challenge is useless without its verifier, and spent.
        let (code, verifier) = app.code_for(&strict).await;
        let (status, error) = oauth_error(redeem_without_verifier(&app, &strict, &code).await).await;
        assert_eq!((status, error.as_str()), (400, "invalid_grant"));
        let (status, error) = oauth_error(app.redeem(&strict, &code, &verifier).await).await;
        assert_eq!((status, error.as_str()), (400, "invalid_grant"), "the code was spent by the failed attempt");
        // With PKCE the client signs in as usual.
        let (code, verifier) = app.code_for(&strict).await;
        assert_eq!(app.redeem(&strict, &code, &verifier).await.status(), 200);
    }

    /// The other side of the policy above (RFC 9700 §2.1.1: confidential clients SHOULD use
    /// PKCE): the default confidential client may leave it out.
    async fn a7_by_default_a_confidential_client_may_leave_out_pkce(app) {
        let (url, _) = app.authorize_url(&app.client, &NO_PKCE);
        let to = app.browser().sign_in(&url, "alice", PASSWORD).await;
        let code = query_param(&to, "code").expect("a code without PKCE");
        let response = redeem_without_verifier(&app, &app.client, &code).await;
        assert_eq!(response.status(), 200);
        let tokens: Value = response.json().await.unwrap();
        assert!(tokens["id_token"].is_string());
    }

    async fn a9_verifiers_of_the_wrong_length_or_charset_are_invalid_grant_and_spend_the_code(app) {
        let too_short = "a".repeat(42);
        let too_long = "a".repeat(129);
        let plus = format!("{}+", "a".repeat(43));
        for (case, bad) in [("42 characters", &too_short), ("129 characters", &too_long), ("a `+`", &plus)] {
            // A code whose challenge is the S256 of the real verifier: the bad one is refused
            // and the real one no longer helps.
            let (code, verifier) = app.code_for(&app.client).await;
            let (status, error) = oauth_error(app.redeem(&app.client, &code, bad).await).await;
            assert_eq!((status, error.as_str()), (400, "invalid_grant"), "{case}");
            let (status, error) = oauth_error(app.redeem(&app.client, &code, &verifier).await).await;
            assert_eq!((status, error.as_str()), (400, "invalid_grant"), "{case}: the code is spent");

            // A code whose challenge is the S256 of the bad verifier itself: the hash matches,
            // so only the RFC 7636 §4.1 length and charset check can refuse it.
            let challenge = pkce_challenge(bad);
            let (code, _) = app.code_with(&app.client, &[("code_challenge", &challenge)]).await;
            let (status, error) = oauth_error(app.redeem(&app.client, &code, bad).await).await;
            assert_eq!((status, error.as_str()), (400, "invalid_grant"), "{case}, matching challenge");
            let (status, error) = oauth_error(app.redeem(&app.client, &code, bad).await).await;
            assert_eq!((status, error.as_str()), (400, "invalid_grant"), "{case}, matching challenge, again");
        }
        // The bounds themselves are accepted: 43 and 128 characters of the unreserved set.
        for good in ["a".repeat(43), format!("{}-._~", "A1".repeat(62))] {
            assert!(good.len() == 43 || good.len() == 128);
            let challenge = pkce_challenge(&good);
            let (code, _) = app.code_with(&app.client, &[("code_challenge", &challenge)]).await;
            assert_eq!(app.redeem(&app.client, &code, &good).await.status(), 200, "{} characters", good.len());
        }
    }

    async fn c19_an_unredeemed_code_dies_with_the_account(app) {
        // Two codes, unredeemed: one from the browser that will delete the account, one
        // from another of the account's sessions.
        let browser = app.browser();
        let (url, verifier) = app.authorize_url(&app.client, &[]);
        let code = query_param(&browser.sign_in(&url, "alice", PASSWORD).await, "code").unwrap();
        let (other_code, other_verifier) = app.code_for(&app.client).await;
        assert_eq!(rows_of(&app.store, "authorization_codes").await.len(), 2);

        let deleted = account_form(&app, &browser, "/account/delete", &[("current_password", PASSWORD)]).await;
        assert_eq!(deleted.status(), 200);
        assert!(deleted.text().await.unwrap().contains("Account deleted"));
        // The codes are gone with the account, not merely refused.
        let left = rows_of(&app.store, "authorization_codes").await;
        assert!(left.is_empty(), "codes outlived their account: {left:?}");
        for (code, verifier) in [(&code, &verifier), (&other_code, &other_verifier)] {
            let response = app.redeem(&app.client, code, verifier).await;
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap_or_default();
            assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
            assert!(body.get("access_token").is_none() && body.get("id_token").is_none());
        }
    }
}

on_both_backends_with! { code_ttl_120;
    async fn a10_a_configured_code_lifetime_replaces_the_60_second_default(app) {
        assert_eq!(RawConfig::default().tokens.code_ttl_secs, 60, "the default");
        // 100 s is past the default but within the configured 120 s.
        let (code, verifier) = app.code_for(&app.client).await;
        app.clock.advance(100);
        assert_eq!(app.redeem(&app.client, &code, &verifier).await.status(), 200, "alive at 100 s");
        // At 121 s a code has expired.
        let (code, verifier) = app.code_for(&app.client).await;
        app.clock.advance(121);
        let (status, error) = oauth_error(app.redeem(&app.client, &code, &verifier).await).await;
        assert_eq!((status, error.as_str()), (400, "invalid_grant"), "expired at 121 s");
    }
}

#[test]
fn a10_a_code_lifetime_over_600_seconds_is_refused_naming_the_key() {
    let with_ttl = |secs: i64| {
        let mut raw = RawConfig::default();
        raw.tokens.code_ttl_secs = secs;
        gatehouse::Config::from_raw(raw)
    };
    let err = with_ttl(601).expect_err("601 s is over RFC 6749 §4.1.2's ten minutes");
    assert!(err.to_string().contains("tokens.code_ttl_secs"), "{err}");
    assert!(with_ttl(600).is_ok(), "ten minutes is allowed");
}

/// The same refusal from the real binary: `gatehouse serve` with the lifetime set in the
/// environment exits with an error naming the key, and never listens.
#[tokio::test]
async fn a10_the_server_refuses_to_start_with_a_code_lifetime_over_600_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .arg("serve")
        .current_dir(dir.path())
        .env_remove("GATEHOUSE_CONFIG")
        .env("GATEHOUSE_LISTEN", format!("127.0.0.1:{port}"))
        .env("GATEHOUSE_ISSUER", format!("http://127.0.0.1:{port}"))
        .env("GATEHOUSE_TOKENS__CODE_TTL_SECS", "601")
        .kill_on_drop(true)
        .output()
        .await
        .expect("run gatehouse");
    assert!(!output.status.success(), "gatehouse started with code_ttl_secs = 601");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("tokens.code_ttl_secs"), "{stderr}");
    assert!(
        !dir.path().join("data").join("gatehouse.db").exists(),
        "refused before opening the database"
    );
}
