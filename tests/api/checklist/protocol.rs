//! Checklist section A, protocol: guessed codes and codes at rest (A12), the account
//! deleted between authorization and code exchange (A13), and a client secret in the
//! query string (A14).

use super::*;
use crate::on_both_backends;
use serde_json::Value;

on_both_backends! {
    async fn a12_unknown_or_garbage_codes_are_invalid_grant_and_codes_are_stored_hashed(app) {
        let (code, verifier) = app.code_for(&app.client).await;
        // At rest: a row for the code exists, and the code itself is in none of them.
        let rows = rows_of(&app.store, "authorization_codes").await;
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert!(!rows[0].contains(&code), "the raw code is stored: {rows:?}");

        let mut near_miss = code.clone();
        let last = near_miss.pop().unwrap();
        near_miss.push(if last == 'A' { 'B' } else { 'A' });
        let long = "a".repeat(4000);
        let random = gatehouse::secrets::random_token();
        let guesses = [
            random.as_str(), near_miss.as_str(), "x", "../../etc/passwd", "' OR '1'='1", "%00", long.as_str(),
            "eyJhbGciOiJub25lIn0.e30.",
        ];
        for guess in guesses {
            let response = app.redeem(&app.client, guess, &verifier).await;
            assert!(response.headers()["cache-control"] == "no-store");
            let (status, error) = oauth_error(response).await;
            assert_eq!((status, error.as_str()), (400, "invalid_grant"), "{guess}");
        }
        // The guesses spent nothing: the real code still works.
        let response = app.redeem(&app.client, &code, &verifier).await;
        assert_eq!(response.status(), 200);
    }

    async fn a13_code_of_an_account_deleted_before_the_exchange_is_invalid_grant(app) {
        let browser = app.browser();
        let (url, verifier) = app.authorize_url(&app.client, &[("scope", "openid email offline_access")]);
        let code = query_param(&browser.sign_in(&url, "alice", PASSWORD).await, "code").expect("a code");
        // The same user, in the same browser, deletes the account on the account page.
        let deleted = account_form(&app, &browser, "/account/delete", &[("current_password", PASSWORD)]).await;
        assert_eq!(deleted.status(), 200);
        assert!(deleted.text().await.unwrap().contains("Account deleted"));
        let response = app.redeem(&app.client, &code, &verifier).await;
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or_default();
        assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
        assert!(body.get("access_token").is_none() && body.get("id_token").is_none());
    }

    async fn a14_client_secret_in_the_query_string_is_refused(app) {
        let (code, verifier) = app.code_for(&app.client).await;
        let secret = app.client.secret.clone().unwrap();
        let query = serde_urlencoded::to_string([("client_id", app.client.id.as_str()), ("client_secret", secret.as_str())]).unwrap();
        let http = reqwest::Client::new();
        let base_form = [
            ("grant_type", "authorization_code"), ("code", code.as_str()),
            ("redirect_uri", app.client.redirect_uri.as_str()), ("code_verifier", verifier.as_str()),
        ];
        let mut with_id = base_form.to_vec();
        with_id.push(("client_id", app.client.id.as_str()));
        for (case, form) in [("secret and id only in the query", base_form.to_vec()), ("id in the body, secret in the query", with_id)] {
            let response = http.post(format!("{}?{query}", app.url("/token"))).form(&form).send().await.unwrap();
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap_or_default();
            let error = body["error"].as_str().unwrap_or_default();
            assert!(
                (status == 401 && error == "invalid_client") || (status == 400 && error == "invalid_request"),
                "{case}: {status} {body}"
            );
            assert!(body.get("access_token").is_none(), "{case}: no token");
        }
        // The refusals did not spend the code: the same request, authenticated properly, works.
        assert_eq!(app.redeem(&app.client, &code, &verifier).await.status(), 200);
    }
}
