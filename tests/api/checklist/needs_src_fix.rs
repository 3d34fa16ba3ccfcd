//! Fails on today's code: needs a src fix. Checklist rows whose test shows the product
//! is wrong. Each test here states the expected behaviour; when the fix lands, move the
//! test to its section's file.

use super::abuse::still_serving;
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
}
