//! Checklist section D, the session id at rest (D3): the cookie is 256 random bits, the
//! sessions table holds only its SHA-256 digest, and what the table holds does not work
//! as a cookie.

use super::*;
use crate::on_both_backends;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

fn session_cookie(browser: &Browser) -> String {
    let cookies = browser.cookies();
    cookies
        .split("; ")
        .find_map(|c| c.strip_prefix("gatehouse_session="))
        .unwrap_or_else(|| panic!("a session cookie in {cookies:?}"))
        .to_string()
}

/// The status of /account for a browser that sends `cookie` as its session cookie:
/// 200 signed in, 303 or 302 to the login page otherwise.
async fn account_with_cookie(app: &TestApp, cookie: &str) -> (u16, Option<String>) {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = http
        .get(app.url("/account"))
        .header("cookie", format!("gatehouse_session={cookie}"))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), location(response.headers()))
}

on_both_backends! {
    async fn d3_sessions_are_stored_as_a_digest_of_a_256_bit_cookie(app) {
        let browsers = [
            signed_in_browser(&app, "alice", PASSWORD).await,
            signed_in_browser(&app, "alice", PASSWORD).await,
        ];
        let cookies: Vec<String> = browsers.iter().map(session_cookie).collect();
        assert_ne!(cookies[0], cookies[1]);
        for cookie in &cookies {
            let raw = URL_SAFE_NO_PAD.decode(cookie).unwrap_or_else(|e| panic!("{cookie:?} is not base64url: {e}"));
            assert!(raw.len() * 8 >= 256, "{} bits", raw.len() * 8);
            assert_eq!(account_with_cookie(&app, cookie).await.0, 200, "the cookie signs in");
        }

        let rows = rows_of(&app.store, "sessions").await;
        assert_eq!(rows.len(), 2, "{rows:?}");
        let everything = every_row(&app.store).await;
        for cookie in &cookies {
            for (table, row) in &everything {
                assert!(!row.contains(cookie.as_str()), "the raw cookie is stored in {table}: {row}");
            }
            // What is stored is the SHA-256 of the cookie (base64url or hex).
            let sha = Sha256::digest(cookie.as_bytes());
            let b64 = URL_SAFE_NO_PAD.encode(sha);
            let hex: String = sha.iter().map(|b| format!("{b:02x}")).collect();
            let holding: Vec<&String> = rows.iter().filter(|r| r.contains(&b64) || r.contains(&hex)).collect();
            assert_eq!(holding.len(), 1, "one session row holds the digest of {cookie}: {rows:?}");
        }

        // Someone who can read the table cannot use what it holds as a cookie.
        let mut stolen: Vec<String> = rows
            .iter()
            .flat_map(|r| r.split('\u{1f}').map(str::to_string).collect::<Vec<_>>())
            .filter(|v| v.len() >= 16)
            .collect();
        stolen.sort();
        stolen.dedup();
        assert!(stolen.len() >= 4, "digests, ids and CSRF tokens to try: {stolen:?}");
        for value in &stolen {
            let (status, to) = account_with_cookie(&app, value).await;
            assert_ne!(status, 200, "the stored value {value:?} works as a session cookie");
            assert!(to.is_some_and(|to| to.starts_with("/login")), "{value:?}: back to the login page");
        }
    }
}
