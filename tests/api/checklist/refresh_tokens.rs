//! Checklist rows about refresh tokens: guessed or garbage tokens and tokens at rest
//! (A12), and the race of concurrent refreshes of one token (G2), whose losers count as
//! reuse (src/oauth/token/refresh_token.rs; the README: "using an old one again revokes the
//! whole family").

use super::*;
use crate::on_both_backends;
use serde_json::Value;
use std::sync::Arc;
use tokio::sync::Barrier;

async fn offline_tokens(app: &TestApp) -> Value {
    app.tokens_with(&app.client, &[("scope", "openid email offline_access")])
        .await
}

on_both_backends! {
    async fn a12_unknown_or_garbage_refresh_tokens_are_invalid_grant_and_none_is_stored_raw(app) {
        let first = offline_tokens(&app).await;
        let rt1 = first["refresh_token"].as_str().unwrap().to_string();
        let rotated: Value = app.refresh(&app.client, &rt1, &[]).await.json().await.unwrap();
        let rt2 = rotated["refresh_token"].as_str().unwrap().to_string();

        // At rest: one row per token, keyed by its digest; no raw token anywhere in the table.
        let rows = rows_of(&app.store, "refresh_tokens").await;
        assert_eq!(rows.len(), 2, "{rows:?}");
        for token in [&rt1, &rt2] {
            assert!(!rows.iter().any(|r| r.contains(token.as_str())), "a raw refresh token is stored: {rows:?}");
            let digest = gatehouse::secrets::digest(token);
            assert!(rows.iter().any(|r| r.contains(&digest)), "stored as its digest");
        }

        let mut near_miss = rt2.clone();
        let last = near_miss.pop().unwrap();
        near_miss.push(if last == 'A' { 'B' } else { 'A' });
        let random = gatehouse::secrets::random_token();
        // What a thief of the database would hold: the stored digest itself.
        let stored = gatehouse::secrets::digest(&rt2);
        let long = "r".repeat(4000);
        let guesses = [
            random.as_str(), near_miss.as_str(), stored.as_str(), "x", "' OR '1'='1", "%00", "../../etc/passwd",
            "eyJhbGciOiJub25lIn0.e30.", "ünïcödé", long.as_str(),
        ];
        for guess in guesses {
            let response = app.refresh(&app.client, guess, &[]).await;
            assert_eq!(response.headers()["cache-control"], "no-store");
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap_or_default();
            assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{guess}: {body}");
            assert!(body.get("access_token").is_none(), "{guess}");
        }
        // The guesses burned nothing: the live token still refreshes.
        assert_eq!(app.refresh(&app.client, &rt2, &[]).await.status(), 200);
    }

    /// The policy, from src/oauth/token/refresh_token.rs: of concurrent uses of one token the
    /// database lets exactly one win and "the others count as reuse", and reuse revokes the
    /// family (RFC 9700 §4.14.2), so the winner's new refresh token and access token die too.
    async fn g2_concurrent_refreshes_have_one_winner_and_the_losers_revoke_the_family(app) {
        let tokens = offline_tokens(&app).await;
        let rt = tokens["refresh_token"].as_str().unwrap().to_string();
        let app = Arc::new(app);
        let barrier = Arc::new(Barrier::new(20));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..20 {
            let (app, rt, barrier) = (app.clone(), rt.clone(), barrier.clone());
            tasks.spawn(async move {
                barrier.wait().await;
                let response = app.refresh(&app.client, &rt, &[]).await;
                let status = response.status().as_u16();
                (status, response.json::<Value>().await.unwrap_or_default())
            });
        }
        let answers = tasks.join_all().await;
        let statuses: Vec<u16> = answers.iter().map(|(s, _)| *s).collect();
        let winners: Vec<&Value> = answers.iter().filter(|(s, _)| *s == 200).map(|(_, b)| b).collect();
        assert_eq!(winners.len(), 1, "{statuses:?}");
        for (status, body) in answers.iter().filter(|(s, _)| *s != 200) {
            assert_eq!((*status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
        }
        // The losers were reuse: the family is revoked, the winner's fresh tokens with it.
        let winner = winners[0];
        let new_rt = winner["refresh_token"].as_str().expect("the winner got a new refresh token");
        assert_ne!(new_rt, rt);
        let (status, error) = oauth_error(app.refresh(&app.client, new_rt, &[]).await).await;
        assert_eq!((status, error.as_str()), (400, "invalid_grant"), "the winner's refresh token is revoked");
        assert_eq!(app.userinfo_status(winner["access_token"].as_str().unwrap()).await, 401, "and its access token");
        assert_eq!(app.userinfo_status(tokens["access_token"].as_str().unwrap()).await, 401, "and the first one");
        // Another family of the same user and client is untouched.
        let other = offline_tokens(&app).await;
        assert_eq!(app.refresh(&app.client, other["refresh_token"].as_str().unwrap(), &[]).await.status(), 200);
    }
}
