//! Fails on today's code: needs a src fix. Checklist rows whose test shows the product
//! is wrong. Each test here states the expected behaviour; when the fix lands, move the
//! test to its section's file.

use super::abuse::still_serving;
use super::*;
use crate::on_both_backends;

on_both_backends! {
    // F6: Gatehouse sets no header-size limit of its own, so hyper's defaults apply
    // (about 400 KB of request head): a 100 KB header is parsed and answered 200.
    async fn f6_a_huge_header_is_refused_with_a_4xx(app) {
        let http = reqwest::Client::new();
        let big = "a".repeat(100 * 1024);
        let mut answers = Vec::new();
        for (case, name, value) in [
            ("a 100 KB cookie", "cookie", format!("gatehouse_session={big}")),
            ("a 100 KB custom header", "x-padding", big.clone()),
        ] {
            let response = http.get(app.url("/login")).header(name, value).send().await.expect("an answer, not a reset");
            answers.push((case, response.status().as_u16()));
            still_serving(&app, case).await;
        }
        assert!(answers.iter().all(|(_, status)| (400..500).contains(status)), "{answers:?}");
    }

    // E2: every page is sent with frame-ancestors 'none' and X-Frame-Options: DENY except
    // the generic 5xx answer (AppError's text/plain body in src/error.rs, and likewise the
    // catch-panic and timeout bodies in src/app.rs), which has neither: only
    // `Pages::page` sets them. Low stakes (a plain-text body offers nothing to click), but
    // the row asks for all pages; a global `if_not_present` layer, as for nosniff and
    // Referrer-Policy, would cover it.
    async fn e2_a_generic_5xx_answer_forbids_framing_too(app) {
        let browser = signed_in_browser(&app, "alice", PASSWORD).await;
        sqlx::query("ALTER TABLE sessions RENAME TO sessions_gone").execute(app.store.pool()).await.unwrap();
        let failed = browser.get("/account").await;
        assert!(failed.status().is_server_error(), "{}", failed.status());
        let headers = failed.headers();
        let csp = headers.get("content-security-policy").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
        assert!(csp.contains("frame-ancestors 'none'"), "Content-Security-Policy: {csp:?}");
        assert_eq!(headers.get("x-frame-options").map(|v| v.to_str().unwrap().to_string()), Some("DENY".to_string()));
    }
}
