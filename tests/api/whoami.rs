//! `GET /session/whoami`: the session check an app on Gatehouse's host (or a reverse
//! proxy's forward-auth) asks instead of verifying tokens.

use crate::helpers::*;
use crate::on_both_backends;

async fn whoami(app: &TestApp, cookie: Option<&str>) -> (u16, reqwest::header::HeaderMap, serde_json::Value) {
    let mut request = reqwest::Client::new().get(app.url("/session/whoami"));
    if let Some(cookie) = cookie {
        request = request.header("Cookie", cookie);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.json().await.unwrap())
}

on_both_backends! {
    async fn names_the_signed_in_account_until_it_signs_out(app) {
        let user = create_user(&app.store, "bob", "bob@example.com", 0).await;
        let browser = signed_in_browser(&app, "bob", PASSWORD).await;
        let cookie = browser.cookies();

        let (status, headers, body) = whoami(&app, Some(&cookie)).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["sub"], user.id.as_str());
        assert_eq!(body["amr"], serde_json::json!(["pwd"]));
        assert!(body["auth_time"].as_i64().unwrap() > 0);
        assert_eq!(headers["cache-control"], "no-store");
        assert!(headers.get("access-control-allow-origin").is_none());

        // Signing out on the logout page ends the answer at once.
        let html = browser.get("/logout").await.text().await.unwrap();
        let csrf = hidden_input(&html, "csrf_token").expect("logout page csrf");
        let response = browser.http.post(app.url("/logout/confirm")).form(&[("csrf_token", csrf)]).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let (status, _, body) = whoami(&app, Some(&cookie)).await;
        assert_eq!((status, body["error"].as_str()), (401, Some("login_required")));
    }

    async fn refuses_no_cookie_and_a_forged_one(app) {
        let (status, _, body) = whoami(&app, None).await;
        assert_eq!((status, body["error"].as_str()), (401, Some("login_required")));
        let forged = "gatehouse_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        let (status, _, body) = whoami(&app, Some(forged)).await;
        assert_eq!((status, body["error"].as_str()), (401, Some("login_required")));
    }
}
