//! The admin audit trail over HTTP: every change through the admin API leaves one
//! `admin.*` event naming who made it (the client, for a client-credentials token; the
//! user, for an admin's own token), the target, the outcome, the IP and the User-Agent,
//! and never a secret or a token; `GET /admin/api/v1/audit` reads the trail back, newest
//! first, filtered and paged.

use crate::admin_api::{admin_token, call, ADMIN_SCOPE};
use crate::helpers::*;
use crate::on_both_backends;
use serde_json::{json, Value};

/// The events of `action`, newest first, through the API.
async fn events_of(app: &TestApp, token: &str, action: &str) -> Vec<Value> {
    let (status, page) = call(
        app,
        Some(token),
        "GET",
        &format!("/audit?action={action}&limit=200"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{page}");
    page["events"].as_array().unwrap().clone()
}

/// The one event of `action`, asserted to be the automation client's, on `target`.
async fn one_event(app: &TestApp, token: &str, action: &str, target: Option<&str>, outcome: &str) -> Value {
    let events = events_of(app, token, action).await;
    assert_eq!(events.len(), 1, "{action}: {events:?}");
    let event = events[0].clone();
    assert_eq!(event["outcome"], outcome, "{event}");
    assert_eq!(event["actor_user_id"], Value::Null, "a client acted: {event}");
    assert_eq!(event["client_id"], "automation", "{event}");
    assert_eq!(event["ip"], "127.0.0.1", "{event}");
    if let Some(target) = target {
        assert_eq!(event["target"], target, "{event}");
    }
    event
}

on_both_backends! {
    /// Each mutation of the admin API is one event with the client that made it; a
    /// refused one is a failure; no event holds the secrets or tokens involved.
    async fn admin_audit_records_every_admin_api_change(app) {
        let token = admin_token(&app).await;
        let http = reqwest::Client::new();
        let created: Value = http
            .post(app.url("/admin/api/v1/clients"))
            .bearer_auth(&token)
            .header("user-agent", "audit-test/1.0")
            .json(&json!({"name": "Billing", "client_id": "billing", "redirect_uris": ["https://billing.example/cb"]}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let first_secret = created["client_secret"].as_str().unwrap().to_string();
        let event = one_event(&app, &token, "admin.client_created", Some("billing"), "success").await;
        assert_eq!(event["user_agent"], "audit-test/1.0");

        let (status, _) = call(&app, Some(&token), "PATCH", "/clients/billing", Some(json!({"name": "Billing 2"}))).await;
        assert_eq!(status, 200);
        one_event(&app, &token, "admin.client_updated", Some("billing"), "success").await;
        let (status, rotated) = call(&app, Some(&token), "POST", "/clients/billing/secret", None).await;
        assert_eq!(status, 200);
        let second_secret = rotated["client_secret"].as_str().unwrap().to_string();
        one_event(&app, &token, "admin.client_secret_rotated", Some("billing"), "success").await;
        let (status, _) = call(&app, Some(&token), "DELETE", "/clients/billing", None).await;
        assert_eq!(status, 204);
        one_event(&app, &token, "admin.client_deleted", Some("billing"), "success").await;

        // A change refused for breaking a rule is a failed attempt, with the client named.
        let (status, _) = call(&app, Some(&token), "POST", "/clients", Some(json!({"name": "x", "redirect_uris": ["not a uri"]}))).await;
        assert_eq!(status, 422);
        let failures = events_of(&app, &token, "admin.client_created").await;
        assert_eq!(failures[0]["outcome"], "failure", "{failures:?}");

        let (status, key) = call(&app, Some(&token), "POST", "/keys", None).await;
        assert_eq!(status, 201);
        let kid = key["kid"].as_str().unwrap();
        one_event(&app, &token, "admin.key_rotated", Some(kid), "success").await;
        let (status, _) = call(&app, Some(&token), "POST", &format!("/keys/{kid}/retire"), None).await;
        assert_eq!(status, 409, "refused while its tokens may be live");
        one_event(&app, &token, "admin.key_retired", Some(kid), "failure").await;
        let (status, _) = call(&app, Some(&token), "POST", &format!("/keys/{kid}/retire?force=true"), None).await;
        assert_eq!(status, 200);
        let retired = events_of(&app, &token, "admin.key_retired").await;
        assert_eq!((retired.len(), retired[0]["outcome"].as_str()), (2, Some("success")));

        let (status, bob) = call(&app, Some(&token), "POST", "/users", Some(json!({"username": "bob", "email": "bob@example.com", "password": "a long enough password"}))).await;
        assert_eq!(status, 201, "{bob}");
        let bob = bob["id"].as_str().unwrap().to_string();
        one_event(&app, &token, "admin.user_created", Some(&bob), "success").await;
        let user_path = |tail: &str| format!("/users/{bob}{tail}");
        assert_eq!(call(&app, Some(&token), "PATCH", &user_path(""), Some(json!({"given_name": "Bob"}))).await.0, 200);
        one_event(&app, &token, "admin.user_updated", Some(&bob), "success").await;
        assert_eq!(call(&app, Some(&token), "POST", &user_path("/disable"), None).await.0, 200);
        one_event(&app, &token, "admin.user_disabled", Some(&bob), "success").await;
        assert_eq!(call(&app, Some(&token), "POST", &user_path("/enable"), None).await.0, 200);
        one_event(&app, &token, "admin.user_enabled", Some(&bob), "success").await;
        assert_eq!(call(&app, Some(&token), "POST", &user_path("/sessions/end"), None).await.0, 200);
        one_event(&app, &token, "admin.sessions_ended", Some(&bob), "success").await;
        assert_eq!(call(&app, Some(&token), "POST", &user_path("/password-reset"), None).await.0, 202);
        one_event(&app, &token, "admin.password_reset_sent", Some(&bob), "success").await;

        let tokens = app.tokens_with(&app.client, &[("scope", "openid offline_access")]).await;
        let (_, grants) = call(&app, Some(&token), "GET", &format!("/users/{}/grants", app.user.id), None).await;
        let grant = grants[0]["id"].as_str().unwrap().to_string();
        let revoke = format!("/users/{}/grants/{grant}", app.user.id);
        assert_eq!(call(&app, Some(&token), "DELETE", &revoke, None).await.0, 204);
        let event = one_event(&app, &token, "admin.grant_revoked", Some(&app.user.id), "success").await;
        assert_eq!(event["detail"], format!("grant:{grant}"));

        app.store
            .link_identity(
                &gatehouse::store::federation::NewIdentity {
                    id: "ident-1",
                    issuer: "https://accounts.example.com",
                    subject: "1234",
                    user_id: &app.user.id,
                    upstream_id: "example",
                    email: "alice@elsewhere.example",
                },
                app.clock.now(),
            )
            .await
            .unwrap();
        let unlink = format!("/users/{}/identities/ident-1", app.user.id);
        assert_eq!(call(&app, Some(&token), "DELETE", &unlink, None).await.0, 204);
        one_event(&app, &token, "admin.identity_unlinked", Some(&app.user.id), "success").await;
        assert_eq!(call(&app, Some(&token), "DELETE", &user_path(""), None).await.0, 204);
        one_event(&app, &token, "admin.user_deleted", Some(&bob), "success").await;
        assert_eq!(call(&app, Some(&token), "DELETE", "/users/nobody", None).await.0, 404);
        let deletions = events_of(&app, &token, "admin.user_deleted").await;
        assert_eq!((deletions[0]["outcome"].as_str(), deletions[0]["target"].as_str()), (Some("failure"), Some("nobody")));

        let (_, all) = call(&app, Some(&token), "GET", "/audit?limit=200", None).await;
        let text = all.to_string();
        let secrets = [
            first_secret.as_str(),
            second_secret.as_str(),
            token.as_str(),
            tokens["access_token"].as_str().unwrap(),
            tokens["refresh_token"].as_str().unwrap(),
            "a long enough password",
        ];
        for secret in secrets {
            assert!(!text.contains(secret), "a secret in the audit trail: {secret}");
        }
    }

    /// An admin's own token names the admin user as the actor.
    async fn admin_audit_names_the_admin_user_behind_a_users_token(app) {
        let console = add_client(&app.store, "console", true, app.clock.now(), |c| {
            c.redirect_uris = vec![CONFIDENTIAL_REDIRECT.into()];
            c.allowed_scopes = Some(["openid", ADMIN_SCOPE].map(String::from).to_vec());
        })
        .await;
        app.store.set_admin(&app.user.username, true, app.clock.now()).await.unwrap();
        let tokens = app.tokens_with(&console, &[("scope", "openid gatehouse:admin")]).await;
        let token = tokens["access_token"].as_str().unwrap();
        let bob = create_user(&app.store, "bob", "bob@example.com", app.clock.now()).await;
        let (status, _) = call(&app, Some(token), "POST", &format!("/users/{}/disable", bob.id), None).await;
        assert_eq!(status, 200);
        let (status, page) = call(&app, Some(token), "GET", &format!("/audit?user_id={}&action=admin.user_disabled", app.user.id), None).await;
        assert_eq!(status, 200, "{page}");
        let events = page["events"].as_array().unwrap();
        assert_eq!(events.len(), 1, "{page}");
        assert_eq!(events[0]["actor_user_id"], app.user.id.as_str());
        assert_eq!(events[0]["client_id"], "console");
        assert_eq!(events[0]["target"], bob.id.as_str());
    }

    /// Newest first; filters by user, action and outcome; `before` pages without repeats
    /// or gaps; a bad filter is a 422 naming the field; only admins may read it.
    async fn admin_audit_endpoint_filters_and_pages(app) {
        let wrong = app.browser();
        let html = wrong.get("/login").await.text().await.unwrap();
        for _ in 0..3 {
            assert_eq!(wrong.submit_login(&html, &app.user.username, "not the password").await.status(), 401);
        }
        signed_in_browser(&app, &app.user.username, PASSWORD).await;
        let token = admin_token(&app).await;
        let (status, all) = call(&app, Some(&token), "GET", "/audit", None).await;
        assert_eq!(status, 200, "{all}");
        let events = all["events"].as_array().unwrap();
        assert_eq!(events.len(), 4, "{all}");
        assert_eq!(events[0]["action"], "sign_in", "newest first: {all}");
        assert!(events.windows(2).all(|w| w[0]["id"].as_i64() > w[1]["id"].as_i64()));
        assert_eq!(all["next_cursor"], Value::Null);

        let (_, failed) = call(&app, Some(&token), "GET", &format!("/audit?user_id={}&outcome=failure", app.user.id), None).await;
        let failed = failed["events"].as_array().unwrap();
        assert_eq!(failed.len(), 3);
        assert!(failed.iter().all(|e| e["action"] == "sign_in_failed"));

        let mut seen = Vec::new();
        let mut path = "/audit?limit=3".to_string();
        loop {
            let (status, page) = call(&app, Some(&token), "GET", &path, None).await;
            assert_eq!(status, 200, "{page}");
            seen.extend(page["events"].as_array().unwrap().iter().map(|e| e["id"].as_i64().unwrap()));
            match page["next_cursor"].as_i64() {
                Some(before) => path = format!("/audit?limit=3&before={before}"),
                None => break,
            }
        }
        let everything: Vec<i64> = events.iter().map(|e| e["id"].as_i64().unwrap()).collect();
        assert_eq!(seen, everything);

        for (query, field) in [("action=nonsense", "action"), ("outcome=maybe", "outcome"), ("limit=0", "limit"), ("limit=201", "limit")] {
            let (status, body) = call(&app, Some(&token), "GET", &format!("/audit?{query}"), None).await;
            assert_eq!((status.as_u16(), body["field"].as_str()), (422, Some(field)), "{query}: {body}");
        }
        let (status, _) = call(&app, Some(&token), "GET", "/audit?before=soon", None).await;
        assert_eq!(status, 400);
        let (status, _) = call(&app, None, "GET", "/audit", None).await;
        assert_eq!(status, 401);

        let (_, doc) = call(&app, None, "GET", "/openapi.json", None).await;
        let operation = &doc["paths"]["/admin/api/v1/audit"]["get"];
        let params: Vec<&str> = operation["parameters"].as_array().expect("documented").iter().filter_map(|p| p["name"].as_str()).collect();
        assert_eq!(params, ["user_id", "action", "outcome", "before", "limit"]);
        assert!(doc["components"]["schemas"]["AuditPage"].is_object(), "{doc}");
    }
}
