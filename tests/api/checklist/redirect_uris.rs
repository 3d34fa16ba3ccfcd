//! Checklist section A, redirect URIs: near-misses of a registered URI (A1) and the
//! parser-differential strings of known redirect bypasses (A2) sent to /authorize by a
//! signed-in browser, which a registered URI would send straight back to the app with a
//! code; and `javascript:`/`data:` URIs refused by the CLI for post-logout and
//! back-channel logout URIs, as they are for redirect URIs (A3).

use super::*;
use crate::cli::{gatehouse, stderr};
use crate::on_both_backends;
use secrecy::ExposeSecret;

const APP_CB: &str = "https://app.example.com/cb";
const LOOPBACK_CB: &str = "http://localhost/cb";

/// A first-party client with an https and a loopback redirect URI, and a browser signed
/// in to Gatehouse: every authorization request of its that passes goes straight back.
async fn signed_in_with_client(app: &TestApp) -> (Browser, TestClient) {
    let client = add_client(&app.store, "webapp", true, 0, |c| {
        c.redirect_uris = vec![APP_CB.into(), LOOPBACK_CB.into(), CONFIDENTIAL_REDIRECT.into()];
    })
    .await;
    (signed_in_browser(app, "alice", PASSWORD).await, client)
}

/// The authorization request's query for `client` (all valid), with `redirect_uri` put in
/// as given: `raw` leaves it unencoded in the query, as an attacker's link may.
fn query(app: &TestApp, client: &TestClient, redirect_uri: &str, raw: bool) -> String {
    let (url, _) = app.authorize_url(client, &[("redirect_uri", "")]);
    let query = url.split_once('?').unwrap().1.to_string();
    if raw {
        format!("{query}&redirect_uri={redirect_uri}")
    } else {
        format!(
            "{query}&{}",
            serde_urlencoded::to_string([("redirect_uri", redirect_uri)]).unwrap()
        )
    }
}

/// Asserts that `redirect_uri`, by GET and by POST, gets Gatehouse's own error page (400,
/// HTML, no Location) that does not echo the URI.
async fn assert_refused(app: &TestApp, browser: &Browser, client: &TestClient, redirect_uri: &str, raw: bool) {
    let query = query(app, client, redirect_uri, raw);
    let get = browser.get(&format!("/authorize?{query}")).await;
    let post = browser
        .http
        .post(app.url("/authorize"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(query)
        .send()
        .await
        .unwrap();
    for (method, response) in [("GET", get), ("POST", post)] {
        let case = format!("{method} redirect_uri={redirect_uri:?} (raw: {raw})");
        assert_eq!(response.status(), 400, "{case}");
        assert!(location(response.headers()).is_none(), "{case} redirected");
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "{case}"
        );
        let html = unescape_html(&response.text().await.unwrap());
        assert!(html.contains("not registered"), "{case}: {html}");
        assert!(!html.to_lowercase().contains("evil"), "{case}: the page echoes the URI");
        assert!(!html.contains("code="), "{case}");
    }
}

/// The registered URI itself goes straight back with a code: the refusals are the URI's.
async fn assert_accepted(app: &TestApp, browser: &Browser, client: &TestClient, redirect_uri: &str) {
    let response = browser
        .get(&format!("/authorize?{}", query(app, client, redirect_uri, false)))
        .await;
    assert_eq!(response.status(), 302, "{redirect_uri}");
    let to = location(response.headers()).unwrap();
    assert!(to.starts_with(&format!("{redirect_uri}?")), "{to}");
    assert!(query_param(&to, "code").is_some(), "{to}");
}

on_both_backends! {
    async fn a1_near_misses_of_a_registered_redirect_uri_get_an_error_page(app) {
        let (browser, client) = signed_in_with_client(&app).await;
        for registered in [APP_CB, LOOPBACK_CB, CONFIDENTIAL_REDIRECT] {
            assert_accepted(&app, &browser, &client, registered).await;
        }
        let near_misses = [
            // Dot segments, encoded and not, which a normalising matcher would resolve.
            "https://app.example.com/%2e/cb",
            "https://app.example.com/%2E/cb",
            "https://app.example.com/x/%2e%2e/cb",
            "https://app.example.com/x/%2E%2E/cb",
            "https://app.example.com/./cb",
            "https://app.example.com/x/../cb",
            "https://app.example.com/cb/%2e",
            "https://app.example.com/%63b",
            "http://127.0.0.1:9/%2e/callback",
            "http://127.0.0.1:9/x/%2e%2e/callback",
            // Fragments, empty or not.
            "https://app.example.com/cb#",
            "https://app.example.com/cb#fragment",
            "http://localhost/cb#x",
            "http://127.0.0.1:9/callback#fragment",
            // Trailing slashes and dots.
            "https://app.example.com/cb/",
            "https://app.example.com/cb//",
            "https://app.example.com./cb",
            "http://localhost/cb/",
            "http://127.0.0.1:9/callback/",
            // Case.
            "HTTPS://app.example.com/cb",
            "https://APP.EXAMPLE.COM/cb",
            "https://App.Example.Com/cb",
            "https://app.example.com/CB",
            "https://app.example.com/Cb",
            "http://LOCALHOST/cb",
            "http://localhost/CB",
            "HTTP://127.0.0.1:9/callback",
            // Default or padded ports, extra query, whitespace.
            "https://app.example.com:443/cb",
            "http://localhost:80/cb",
            "http://127.0.0.1:09/callback",
            "https://app.example.com/cb?",
            "https://app.example.com/cb?x=1",
            "https://app.example.com/cb%20",
            " https://app.example.com/cb",
            "https://app.example.com/cb\n",
        ];
        for uri in near_misses {
            assert_refused(&app, &browser, &client, uri, false).await;
        }
        // Unencoded in the query, the way an attacker's link may carry them: Gatehouse
        // decodes the query once, so these arrive as `/./cb`, `/cb` plus a fragment, etc.
        for uri in [
            "https://app.example.com/%2e/cb",
            "https://app.example.com/x/%2e%2e/cb",
            "https://app.example.com/cb%23fragment",
            "https://app.example.com/cb%2f",
            "https%3a%2f%2fapp.example.com%2fcb%2f",
        ] {
            assert_refused(&app, &browser, &client, uri, true).await;
        }
        // The refusals spent nothing: the exact URI still works.
        assert_accepted(&app, &browser, &client, APP_CB).await;
    }

    async fn a2_parser_differential_redirect_uris_get_an_error_page(app) {
        let (browser, client) = signed_in_with_client(&app).await;
        assert_accepted(&app, &browser, &client, APP_CB).await;
        let bypasses = [
            // Userinfo: which `@` ends it depends on the parser.
            "https://a@b@evil.example/cb",
            "https://app.example.com@evil.example/cb",
            "https://app.example.com:443@evil.example/cb",
            "https://app.example.com%40evil.example/cb",
            "https://evil.example\\@app.example.com/cb",
            "https://evil.example#@app.example.com/cb",
            "https://evil.example?@app.example.com/cb",
            "http://localhost@evil.example/cb",
            // Path parameters and traversal past the registered path.
            "https://app.example.com/cb/..;/evil",
            "https://app.example.com/..;/cb",
            "https://app.example.com/cb;/../../evil",
            "https://app.example.com/cb/..%2f..%2fevil",
            "https://app.example.com/cb/../../evil",
            "https://app.example.com/cb/..\\evil",
            // Registered host as a prefix, suffix or path of another.
            "https://app.example.com.evil.tld/cb",
            "https://app.example.com.evil.tld/cb?next=https://app.example.com/cb",
            "https://evilapp.example.com/cb",
            "https://evil.tld/app.example.com/cb",
            "https://evil.tld/https://app.example.com/cb",
            // Loopback lookalikes.
            "http://localhost.evil.tld/cb",
            "http://localhost.evil.tld:9/cb",
            "http://127.0.0.1.evil.tld:9/callback",
            "http://127.0.0.1:9@evil.example/callback",
            // Scheme-relative and scheme tricks.
            "//evil.example/cb",
            "https:evil.example/cb",
            "https:/evil.example/cb",
            "javascript://app.example.com/cb%0aalert(1)",
            "https://app.example.com/cb?redirect=https://evil.example",
        ];
        for uri in bypasses {
            assert_refused(&app, &browser, &client, uri, false).await;
        }
        for uri in ["https://a@b@evil.example/cb", "https://app.example.com/cb/..;/evil", "https://app.example.com%2eevil.tld/cb"] {
            assert_refused(&app, &browser, &client, uri, true).await;
        }
        assert_accepted(&app, &browser, &client, APP_CB).await;
    }

    async fn a3_the_cli_refuses_script_and_data_uris_for_logout_uris(app) {
        let dir = tempfile::tempdir().unwrap();
        let db = app.state.config.database_url.expose_secret().to_string();
        let cli = |args: &[&str]| {
            let mut all = vec!["--database-url", db.as_str()];
            all.extend_from_slice(args);
            gatehouse(dir.path(), &all, &[], None)
        };
        let good = ["--name", "RP", "--redirect-uri", APP_CB];
        // A client to update, made by the CLI with good logout URIs.
        let made = cli(&[&["client", "create", "--client-id", "rp"][..], &good[..], &[
            "--post-logout-redirect-uri", "https://app.example.com/bye",
            "--backchannel-logout-uri", "https://app.example.com/backchannel",
        ][..]].concat());
        assert!(made.status.success(), "{}", stderr(&made));
        let bad_uris = [
            "javascript:alert(1)",
            "JaVaScRiPt:alert(1)",
            "javascript://app.example.com/%0aalert(1)",
            "data:text/html,<script>alert(1)</script>",
            "DATA:text/html;base64,PHNjcmlwdD4=",
            "vbscript:msgbox(1)",
            "file:///etc/passwd",
            "http://app.example.com/bye",
        ];
        for bad in bad_uris {
            for (flag, error) in [
                ("--post-logout-redirect-uri", "invalid redirect URI"),
                ("--backchannel-logout-uri", "invalid back-channel logout URI"),
            ] {
                let case = format!("{flag} {bad}");
                let create = cli(&[&["client", "create", "--client-id", "bad"][..], &good[..], &[flag, bad][..]].concat());
                assert!(!create.status.success(), "create with {case}");
                assert!(stderr(&create).contains(error), "create with {case}: {}", stderr(&create));
                assert!(!stderr(&create).contains("panicked"), "{}", stderr(&create));
                assert!(app.store.client("bad").await.unwrap().is_none(), "create with {case} stored a client");

                let update = cli(&["client", "update", "rp", flag, bad]);
                assert!(!update.status.success(), "update with {case}");
                assert!(stderr(&update).contains(error), "update with {case}: {}", stderr(&update));
            }
        }
        // The updates changed nothing.
        let rp = app.store.client("rp").await.unwrap().expect("the client made by the CLI");
        assert_eq!(rp.post_logout_redirect_uris, ["https://app.example.com/bye"]);
        assert_eq!(rp.backchannel_logout_uri.as_deref(), Some("https://app.example.com/backchannel"));
    }
}
