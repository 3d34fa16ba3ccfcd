//! The admin API (`/admin/api/v1`) as automation uses it: a real access token from /token
//! by client credentials with the `gatehouse:admin` scope, then JSON over HTTP. RFC 6750
//! refusals, the client lifecycle (the secret shown once, rotation and deletion felt at
//! /token), validation identical to the CLI's, keys, users, and the OpenAPI document.

use crate::cli::{gatehouse, stderr};
use crate::helpers::{
    add_client, create_user, signed_in_browser, TestApp, TestClient, CONFIDENTIAL_REDIRECT, PASSWORD,
};
use crate::on_both_backends;
use reqwest::StatusCode;
use serde_json::{json, Value};

pub(crate) const ADMIN_SCOPE: &str = "gatehouse:admin";

/// Registers a client-credentials client for the admin API with `scopes`.
pub(crate) async fn automation(app: &TestApp, id: &str, scopes: &[&str]) -> TestClient {
    let audience = app.url("/admin/api/v1");
    let scopes: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
    add_client(&app.store, id, true, app.clock.now(), |c| {
        c.grant_types = vec!["client_credentials".into()];
        c.allowed_scopes = Some(scopes);
        c.audiences = vec![audience];
    })
    .await
}

/// A token from /token by client credentials, for the admin API.
pub(crate) async fn token_for(app: &TestApp, client: &TestClient) -> String {
    let resource = app.url("/admin/api/v1");
    let response = app
        .token_request(client, &[("grant_type", "client_credentials"), ("resource", &resource)])
        .await;
    assert_eq!(response.status(), 200, "client credentials for {}", client.id);
    let body: Value = response.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_string()
}

pub(crate) async fn admin_token(app: &TestApp) -> String {
    let admin = automation(app, "automation", &[ADMIN_SCOPE]).await;
    token_for(app, &admin).await
}

/// An admin API call: the status and the JSON body (Null when there is none).
pub(crate) async fn call(
    app: &TestApp,
    token: Option<&str>,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let (status, _, body) = call_with_headers(app, token, method, path, body).await;
    (status, body)
}

async fn call_with_headers(
    app: &TestApp,
    token: Option<&str>,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let http = reqwest::Client::new();
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = http.request(method, app.url(&format!("/admin/api/v1{path}")));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("admin API call");
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("JSON answer, got {text:?}"))
    };
    (status, headers, body)
}

/// Client credentials for `id` with `secret`, at /token: the status.
async fn client_credentials_status(app: &TestApp, id: &str, secret: &str) -> u16 {
    let client = TestClient {
        id: id.into(),
        secret: Some(secret.into()),
        redirect_uri: String::new(),
    };
    app.token_request(&client, &[("grant_type", "client_credentials")])
        .await
        .status()
        .as_u16()
}

on_both_backends! {
    /// RFC 6750 §3.1: no token is invalid_token (401 with a Bearer challenge), a token
    /// without the scope is insufficient_scope (403), a revoked token is invalid_token.
    async fn admin_api_refuses_missing_unscoped_and_revoked_tokens_rfc6750_3_1(app) {
        let (status, headers, body) = call_with_headers(&app, None, "GET", "/clients", None).await;
        assert_eq!(status, 401);
        assert_eq!(body["error"], "invalid_token");
        let challenge = headers["www-authenticate"].to_str().unwrap();
        assert!(challenge.starts_with("Bearer") && challenge.contains("invalid_token"), "{challenge}");
        let (status, _) = call(&app, Some("not-a-token"), "GET", "/clients", None).await;
        assert_eq!(status, 401);

        let reader = automation(&app, "reader", &["reports:read"]).await;
        let unscoped = token_for(&app, &reader).await;
        let (status, headers, body) = call_with_headers(&app, Some(&unscoped), "GET", "/clients", None).await;
        assert_eq!(status, 403, "{body}");
        assert_eq!(body["error"], "insufficient_scope");
        assert!(headers["www-authenticate"].to_str().unwrap().contains("insufficient_scope"));

        // A user's code flow never carries the admin scope, even when asked for by a
        // client that may have it.
        let mut app_client = app.store.client(&app.client.id).await.unwrap().unwrap();
        app_client.allowed_scopes = Some(["openid", "profile", "email", ADMIN_SCOPE].map(String::from).to_vec());
        app.store.update_client(&app_client).await.unwrap();
        app.state.clients.refresh(&app.store).await.unwrap();
        let tokens = app.tokens_with(&app.client, &[("scope", "openid gatehouse:admin")]).await;
        let (status, body) = call(&app, tokens["access_token"].as_str(), "GET", "/clients", None).await;
        assert_eq!(status, 403, "alice is no admin: {body}");
        assert!(!tokens["scope"].as_str().unwrap_or_default().contains(ADMIN_SCOPE), "{tokens}");

        let admin = automation(&app, "automation", &[ADMIN_SCOPE]).await;
        let token = token_for(&app, &admin).await;
        let (status, _) = call(&app, Some(&token), "GET", "/clients", None).await;
        assert_eq!(status, 200);
        // Deleting a client (or taking the scope away) stops the tokens it already holds.
        let other = automation(&app, "automation2", &[ADMIN_SCOPE]).await;
        let other_token = token_for(&app, &other).await;
        let (status, _) = call(&app, Some(&other_token), "GET", "/clients", None).await;
        assert_eq!(status, 200);
        let (status, _) = call(&app, Some(&token), "DELETE", "/clients/automation2", None).await;
        assert_eq!(status, 204);
        let (status, body) = call(&app, Some(&other_token), "GET", "/clients", None).await;
        assert_eq!(status, 401, "{body}");
        let revoked = app
            .token_request_to("/revoke", &admin, &[("token", &token), ("token_type_hint", "access_token")])
            .await;
        assert_eq!(revoked.status(), 200);
        let (status, body) = call(&app, Some(&token), "GET", "/clients", None).await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(body["error"], "invalid_token");
    }

    /// Create (the secret shown once), show (no secret), update, rotate (the old secret is
    /// refused at /token, the new one works), delete (its client credentials refused).
    async fn admin_api_client_lifecycle(app) {
        let token = admin_token(&app).await;
        let (status, headers, created) = call_with_headers(&app, Some(&token), "POST", "/clients", Some(json!({
            "name": "Billing",
            "client_id": "billing",
            "grant_types": ["client_credentials"],
            "audiences": ["https://api.example.com"],
            "scopes": ["invoices:read"],
        }))).await;
        assert_eq!(status, 201, "{created}");
        assert_eq!(created["client_id"], "billing");
        assert_eq!(headers["cache-control"], "no-store", "an answer with a secret is never cached");
        let first_secret = created["client_secret"].as_str().unwrap().to_string();
        assert_eq!(client_credentials_status(&app, "billing", &first_secret).await, 200);

        let (status, shown) = call(&app, Some(&token), "GET", "/clients/billing", None).await;
        assert_eq!(status, 200);
        assert_eq!(shown["name"], "Billing");
        assert!(shown.get("client_secret").is_none() && !shown.to_string().contains(&first_secret), "{shown}");
        let (_, listed) = call(&app, Some(&token), "GET", "/clients", None).await;
        assert!(listed.as_array().unwrap().iter().any(|c| c["client_id"] == "billing"));
        assert!(!listed.to_string().contains(&first_secret));

        let (status, updated) = call(&app, Some(&token), "PATCH", "/clients/billing", Some(json!({
            "name": "Billing v2",
            "first_party": false,
        }))).await;
        assert_eq!(status, 200, "{updated}");
        assert_eq!(updated["name"], "Billing v2");
        assert_eq!(updated["first_party"], false);
        assert_eq!(updated["grant_types"], json!(["client_credentials"]), "unchanged fields keep their value");

        let (status, rotated) = call(&app, Some(&token), "POST", "/clients/billing/secret", None).await;
        assert_eq!(status, 200, "{rotated}");
        let second_secret = rotated["client_secret"].as_str().unwrap().to_string();
        assert_ne!(first_secret, second_secret);
        assert_eq!(client_credentials_status(&app, "billing", &first_secret).await, 401);
        assert_eq!(client_credentials_status(&app, "billing", &second_secret).await, 200);

        let (status, body) = call(&app, Some(&token), "DELETE", "/clients/billing", None).await;
        assert_eq!(status, 204, "{body}");
        assert_eq!(client_credentials_status(&app, "billing", &second_secret).await, 401);
        let (status, body) = call(&app, Some(&token), "GET", "/clients/billing", None).await;
        assert_eq!(status, 404);
        assert_eq!(body["error"], "not_found");
        let (status, _) = call(&app, Some(&token), "DELETE", "/clients/billing", None).await;
        assert_eq!(status, 404);
        let (status, _) = call(&app, Some(&token), "POST", "/clients/spa/secret", None).await;
        assert_eq!(status, 409, "a public client has no secret to rotate");
    }

    /// Every refusal names the field and says what the CLI says for the same input.
    async fn admin_api_refuses_invalid_clients_exactly_as_the_cli_does(app) {
        let token = admin_token(&app).await;
        let dir = tempfile::tempdir().unwrap();
        let cases: [(Value, &[&str], &str); 4] = [
            (
                json!({"name": "x", "redirect_uris": ["javascript:alert(1)"]}),
                &["--redirect-uri", "javascript:alert(1)"],
                "redirect_uris",
            ),
            (
                json!({"name": "x", "grant_types": ["password"], "redirect_uris": ["https://a.example/cb"]}),
                &["--grant-type", "password", "--redirect-uri", "https://a.example/cb"],
                "grant_types",
            ),
            (
                json!({"name": "x", "grant_types": ["client_credentials"]}),
                &["--grant-type", "client_credentials"],
                "audiences",
            ),
            (
                json!({"name": "x", "scopes": ["gatehouse:admin"], "first_party": false, "redirect_uris": ["https://a.example/cb"]}),
                &["--scope", "gatehouse:admin", "--third-party", "--redirect-uri", "https://a.example/cb"],
                "scopes",
            ),
        ];
        for (body, flags, field) in cases {
            let (status, refused) = call(&app, Some(&token), "POST", "/clients", Some(body.clone())).await;
            assert_eq!(status, 422, "{body}: {refused}");
            assert_eq!(refused["error"], "invalid_request");
            assert_eq!(refused["field"], field, "{refused}");
            let mut args = vec!["client", "create", "--name", "x"];
            args.extend(flags);
            let output = gatehouse(dir.path(), &args, &[], None);
            assert!(!output.status.success());
            let description = refused["error_description"].as_str().unwrap();
            assert!(stderr(&output).contains(description), "CLI said {:?}, API said {description:?}", stderr(&output));
        }
        let (status, refused) = call(&app, Some(&token), "PATCH", "/clients/client", Some(json!({
            "redirect_uris": ["javascript:alert(1)"],
        }))).await;
        assert_eq!((status.as_u16(), refused["field"].as_str()), (422, Some("redirect_uris")), "{refused}");
        let (status, refused) = call(&app, Some(&token), "POST", "/clients", Some(json!({"name": "x", "redirect_uri": "https://a.example/cb"}))).await;
        assert!(status.is_client_error(), "{status}");
        assert!(refused["error_description"].as_str().unwrap().contains("redirect_uri"), "an unknown field is named: {refused}");
        let (status, _) = call(&app, Some(&token), "POST", "/clients", Some(json!({"name": "x", "client_id": "client", "redirect_uris": ["https://a.example/cb"]}))).await;
        assert_eq!(status, 409, "the client_id is taken");
    }

    /// A rotated key shows in the list as published; an unknown kid is 404.
    async fn admin_api_keys_rotate_shows_in_list(app) {
        let token = admin_token(&app).await;
        let (status, before) = call(&app, Some(&token), "GET", "/keys", None).await;
        assert_eq!(status, 200);
        let before = before.as_array().unwrap().len();
        let (status, added) = call(&app, Some(&token), "POST", "/keys", None).await;
        assert_eq!(status, 201, "{added}");
        let (_, after) = call(&app, Some(&token), "GET", "/keys", None).await;
        let after = after.as_array().unwrap();
        assert_eq!(after.len(), before + 1);
        let listed = after.iter().find(|k| k["kid"] == added["kid"]).expect("the new key is listed");
        assert_eq!(listed["state"], added["state"]);
        let (status, body) = call(&app, Some(&token), "POST", "/keys/no-such-kid/retire", None).await;
        assert_eq!(status, 404, "{body}");
        // The one signing key has no successor yet: refused without force.
        let active = after.iter().find(|k| k["state"] == "active").unwrap();
        let kid = active["kid"].as_str().unwrap();
        let (status, body) = call(&app, Some(&token), "POST", &format!("/keys/{kid}/retire"), None).await;
        assert_eq!(status, 409, "{body}");
    }

    /// The document is OpenAPI 3.1, has the bearer scheme, and names exactly the routes
    /// the router has under /admin/api/v1, each of which answers (never 404 or 405).
    async fn admin_api_openapi_document_names_every_route(app) {
        let response = reqwest::get(app.url("/admin/api/v1/openapi.json")).await.unwrap();
        assert_eq!(response.status(), 200);
        let doc: Value = response.json().await.expect("the document is JSON");
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1."), "{}", doc["openapi"]);
        assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
        let mut documented: Vec<(String, String)> = vec![];
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                    documented.push((method.to_uppercase(), path.clone()));
                }
            }
        }
        let mut routed: Vec<(String, String)> = gatehouse::admin::api::route_table()
            .into_iter()
            .map(|(method, path)| (method.to_string(), path.to_string()))
            .collect();
        documented.sort();
        routed.sort();
        assert_eq!(documented, routed);
        let (status, body) = call(&app, None, "GET", "/no-such-endpoint", None).await;
        assert_eq!((status.as_u16(), body["error"].as_str()), (404, Some("not_found")), "{body}");
        for (method, path) in &documented {
            let concrete = path.replace("{client_id}", "client").replace("{kid}", "k").replace("{user_id}", "u")
                .replace("{grant_id}", "g")
                .replace("{identity_id}", "i");
            let response = reqwest::Client::new()
                .request(reqwest::Method::from_bytes(method.as_bytes()).unwrap(), app.url(&concrete))
                .send()
                .await
                .unwrap();
            let expected = if path.ends_with("openapi.json") { 200 } else { 401 };
            assert_eq!(response.status(), expected, "{method} {path}");
        }
    }

    /// Search matches username, email and name, case-insensitively, and pages with a
    /// cursor: every match exactly once.
    async fn admin_api_users_search_finds_by_email_and_paginates(app) {
        let token = admin_token(&app).await;
        let now = app.clock.now();
        for name in ["bob", "carol", "dave", "erin"] {
            create_user(&app.store, name, &format!("{name}@corp.example"), now).await;
        }
        let (status, found) = call(&app, Some(&token), "GET", "/users?q=CAROL@corp", None).await;
        assert_eq!(status, 200, "{found}");
        let users = found["users"].as_array().unwrap();
        assert_eq!(users.len(), 1, "{found}");
        assert_eq!(users[0]["username"], "carol");
        assert!(users[0].get("password_hash").is_none());
        let (_, by_name) = call(&app, Some(&token), "GET", "/users?q=liddell", None).await;
        assert_eq!(by_name["users"].as_array().unwrap().len(), 5, "every test user is an Alice Liddell");
        let (_, none) = call(&app, Some(&token), "GET", "/users?q=100%25", None).await;
        assert!(none["users"].as_array().unwrap().is_empty(), "% is matched literally: {none}");

        let mut seen = vec![];
        let mut path = "/users?q=corp.example&limit=3".to_string();
        loop {
            let (status, page) = call(&app, Some(&token), "GET", &path, None).await;
            assert_eq!(status, 200, "{page}");
            let users = page["users"].as_array().unwrap();
            assert!(users.len() <= 3);
            seen.extend(users.iter().map(|u| u["username"].as_str().unwrap().to_string()));
            match page["next_cursor"].as_str() {
                Some(cursor) => path = format!("/users?q=corp.example&limit=3&cursor={cursor}"),
                None => break,
            }
        }
        seen.sort();
        assert_eq!(seen, ["bob", "carol", "dave", "erin"]);
        let (status, refused) = call(&app, Some(&token), "GET", "/users?limit=0", None).await;
        assert_eq!((status.as_u16(), refused["field"].as_str()), (422, Some("limit")));

        let (status, shown) = call(&app, Some(&token), "GET", &format!("/users/{}", app.user.id), None).await;
        assert_eq!(status, 200);
        assert_eq!(shown["email"], app.user.email);
        let (status, _) = call(&app, Some(&token), "GET", "/users/nobody", None).await;
        assert_eq!(status, 404);
    }

    /// Ending a user's sessions signs every browser of theirs out; deleting them removes
    /// the account.
    async fn admin_api_users_end_sessions_and_delete(app) {
        let token = admin_token(&app).await;
        let browser = signed_in_browser(&app, &app.user.username, PASSWORD).await;
        assert_eq!(browser.get("/session/whoami").await.status(), 200);
        let (status, ended) = call(&app, Some(&token), "POST", &format!("/users/{}/sessions/end", app.user.id), None).await;
        assert_eq!(status, 200, "{ended}");
        assert_eq!(ended["sessions_ended"], 1);
        assert_eq!(browser.get("/session/whoami").await.status(), 401, "the session cookie no longer works");

        let (status, _) = call(&app, Some(&token), "DELETE", &format!("/users/{}", app.user.id), None).await;
        assert_eq!(status, 204);
        assert!(app.store.account_by_id(&app.user.id).await.unwrap().is_none());
        let (status, _) = call(&app, Some(&token), "DELETE", &format!("/users/{}", app.user.id), None).await;
        assert_eq!(status, 404);
        let (status, _) = call(&app, Some(&token), "POST", "/users/nobody/sessions/end", None).await;
        assert_eq!(status, 404);
    }

    /// `gatehouse user grant-admin` gives a user the role: a first-party app allowed the
    /// scope then gets gatehouse:admin for them (and not before); `revoke-admin` ends it,
    /// for tokens already issued too.
    async fn admin_api_admin_role_from_the_cli_reaches_a_users_token(app) {
        use secrecy::ExposeSecret;
        let console = add_client(&app.store, "console", true, app.clock.now(), |c| {
            c.redirect_uris = vec![CONFIDENTIAL_REDIRECT.into()];
            c.allowed_scopes = Some(["openid", "profile", "email", ADMIN_SCOPE].map(String::from).to_vec());
        })
        .await;
        let ask = [("scope", "openid gatehouse:admin")];
        let before = app.tokens_with(&console, &ask).await;
        assert_eq!(before["scope"], "openid", "not an admin yet: {before}");
        let (status, _) = call(&app, before["access_token"].as_str(), "GET", "/clients", None).await;
        assert_eq!(status, 403);

        let dir = tempfile::tempdir().unwrap();
        let database = app.state.config.database_url.expose_secret().to_string();
        let env = [("GATEHOUSE_DATABASE_URL", database.as_str())];
        let granted = gatehouse(dir.path(), &["user", "grant-admin", &app.user.username], &env, None);
        assert!(granted.status.success(), "{}", stderr(&granted));
        let nobody = gatehouse(dir.path(), &["user", "grant-admin", "nobody"], &env, None);
        assert!(!nobody.status.success() && stderr(&nobody).contains("no user"), "{}", stderr(&nobody));

        let after = app.tokens_with(&console, &ask).await;
        assert_eq!(after["scope"], "openid gatehouse:admin", "{after}");
        let token = after["access_token"].as_str();
        let (status, body) = call(&app, token, "GET", "/clients", None).await;
        assert_eq!(status, 200, "{body}");
        let revoked = gatehouse(dir.path(), &["user", "revoke-admin", &app.user.username], &env, None);
        assert!(revoked.status.success(), "{}", stderr(&revoked));
        let (status, body) = call(&app, token, "GET", "/clients", None).await;
        assert_eq!(status, 403, "the role is checked on every call: {body}");
    }

    /// A disabled user cannot refresh (refused at the token endpoint) or sign in (refused
    /// after the password held), and their sessions end; enabled again, they sign in.
    async fn admin_api_disabled_users_cannot_sign_in_or_refresh(app) {
        let token = admin_token(&app).await;
        let tokens = app.tokens_with(&app.client, &[("scope", "openid offline_access")]).await;
        let refresh = tokens["refresh_token"].as_str().expect("a refresh token").to_string();
        // The token endpoint's own check, before any grant is revoked.
        let now = app.clock.now();
        assert!(app.store.set_disabled(&app.user.id, Some(now), now).await.unwrap());
        let (status, error) = crate::helpers::oauth_error(app.refresh(&app.client, &refresh, &[]).await).await;
        assert_eq!((status, error.as_str()), (400, "invalid_grant"));
        app.store.set_disabled(&app.user.id, None, now).await.unwrap();

        let browser = signed_in_browser(&app, &app.user.username, PASSWORD).await;
        let tokens = app.tokens_with(&app.client, &[("scope", "openid offline_access")]).await;
        let refresh = tokens["refresh_token"].as_str().unwrap().to_string();
        let (status, disabled) = call(&app, Some(&token), "POST", &format!("/users/{}/disable", app.user.id), None).await;
        assert_eq!(status, 200, "{disabled}");
        assert!(disabled["disabled_at"].is_i64(), "{disabled}");
        assert_eq!(browser.get("/session/whoami").await.status(), 401, "their sessions ended");
        assert_eq!(app.refresh(&app.client, &refresh, &[]).await.status(), 400);
        let fresh = app.browser();
        let html = fresh.get("/login").await.text().await.unwrap();
        let refused = fresh.submit_login(&html, &app.user.username, PASSWORD).await;
        assert_eq!(refused.status(), 403);
        assert!(refused.text().await.unwrap().contains("disabled"));
        assert_eq!(fresh.get("/session/whoami").await.status(), 401);

        let (status, enabled) = call(&app, Some(&token), "POST", &format!("/users/{}/enable", app.user.id), None).await;
        assert_eq!(status, 200, "{enabled}");
        assert!(enabled["disabled_at"].is_null());
        let again = signed_in_browser(&app, &app.user.username, PASSWORD).await;
        assert_eq!(again.get("/session/whoami").await.status(), 200);
        let (status, _) = call(&app, Some(&token), "POST", "/users/nobody/disable", None).await;
        assert_eq!(status, 404);
    }

    /// A user's grants are listed and one revoked stops its tokens; a forced password
    /// reset mails the forgot-password link, which opens the reset form.
    async fn admin_api_users_grants_and_password_reset(app) {
        let token = admin_token(&app).await;
        let tokens = app.tokens_with(&app.client, &[("scope", "openid offline_access")]).await;
        let access = tokens["access_token"].as_str().unwrap();
        assert_eq!(app.userinfo_status(access).await, 200);
        let grants_path = format!("/users/{}/grants", app.user.id);
        let (status, grants) = call(&app, Some(&token), "GET", &grants_path, None).await;
        assert_eq!(status, 200, "{grants}");
        let grants = grants.as_array().unwrap();
        assert_eq!(grants.len(), 1, "{grants:?}");
        assert_eq!(grants[0]["client_id"], "client");
        assert_eq!(grants[0]["offline"], true);
        let grant = format!("{grants_path}/{}", grants[0]["id"].as_str().unwrap());
        let (status, _) = call(&app, Some(&token), "DELETE", &grant, None).await;
        assert_eq!(status, 204);
        assert_eq!(app.userinfo_status(access).await, 401, "its access token stopped");
        let (status, _) = call(&app, Some(&token), "DELETE", &grant, None).await;
        assert_eq!(status, 404);
        let (_, left) = call(&app, Some(&token), "GET", &grants_path, None).await;
        assert!(left.as_array().unwrap().is_empty(), "{left}");

        let (status, body) = call(&app, Some(&token), "POST", &format!("/users/{}/password-reset", app.user.id), None).await;
        assert_eq!(status, 202, "{body}");
        let link = app.mail.wait_for(&app.user.email, "Reset your").await.link();
        assert!(link.contains("/reset?token="), "{link}");
        let page = app.browser().follow(&link).await;
        assert_eq!(page.status(), 200);
        assert!(page.text().await.unwrap().contains("password"));
        let (status, _) = call(&app, Some(&token), "POST", "/users/nobody/password-reset", None).await;
        assert_eq!(status, 404);
    }

    /// Users are created and renamed with the CLI's rules and messages; the new account
    /// signs in with its password.
    async fn admin_api_users_create_and_update_as_the_cli_does(app) {
        let token = admin_token(&app).await;
        let (status, created) = call(&app, Some(&token), "POST", "/users", Some(json!({
            "username": "frank",
            "email": "frank@corp.example",
            "given_name": "Frank",
            "password": PASSWORD,
        }))).await;
        assert_eq!(status, 201, "{created}");
        assert_eq!(created["email_verified"], true);
        assert!(!created.to_string().contains(PASSWORD));
        signed_in_browser(&app, "frank", PASSWORD).await;

        let dir = tempfile::tempdir().unwrap();
        for (body, args, field) in [
            (
                json!({"username": "a@b", "email": "x@example.com", "password": PASSWORD}),
                vec!["--username", "a@b", "--email", "x@example.com"],
                "username",
            ),
            (
                json!({"username": "grace", "email": "not-an-email", "password": PASSWORD}),
                vec!["--username", "grace", "--email", "not-an-email"],
                "email",
            ),
        ] {
            let (status, refused) = call(&app, Some(&token), "POST", "/users", Some(body.clone())).await;
            assert_eq!(status, 422, "{body}: {refused}");
            assert_eq!(refused["field"], field, "{refused}");
            let mut full = vec!["user", "create"];
            full.extend(args);
            full.push("--password-stdin");
            let output = gatehouse(dir.path(), &full, &[], Some(PASSWORD));
            let description = refused["error_description"].as_str().unwrap();
            assert!(stderr(&output).contains(description), "CLI said {:?}, API said {description:?}", stderr(&output));
        }
        let (status, refused) = call(&app, Some(&token), "POST", "/users", Some(json!({
            "username": "grace", "email": "grace@corp.example", "password": "short",
        }))).await;
        assert_eq!((status.as_u16(), refused["field"].as_str()), (422, Some("password")), "{refused}");
        let (status, _) = call(&app, Some(&token), "POST", "/users", Some(json!({
            "username": "FRANK", "email": "other@corp.example", "password": PASSWORD,
        }))).await;
        assert_eq!(status, 409, "usernames are unique case-insensitively");

        let path = format!("/users/{}", created["id"].as_str().unwrap());
        let (status, updated) = call(&app, Some(&token), "PATCH", &path, Some(json!({"username": "franklin", "family_name": "Stone"}))).await;
        assert_eq!(status, 200, "{updated}");
        assert_eq!((updated["username"].as_str(), updated["given_name"].as_str(), updated["family_name"].as_str()), (Some("franklin"), Some("Frank"), Some("Stone")));
        let (status, refused) = call(&app, Some(&token), "PATCH", &path, Some(json!({"username": app.user.username}))).await;
        assert_eq!(status, 409, "{refused}");
        let (status, refused) = call(&app, Some(&token), "PATCH", &path, Some(json!({"given_name": ""}))).await;
        assert_eq!((status.as_u16(), refused["field"].as_str()), (422, Some("given_name")), "{refused}");
    }

    /// Linked identities are listed and unlinked (the user is told by mail); an unknown
    /// one is 404.
    async fn admin_api_users_identities_are_listed_and_unlinked(app) {
        let token = admin_token(&app).await;
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
        let path = format!("/users/{}/identities", app.user.id);
        let (status, linked) = call(&app, Some(&token), "GET", &path, None).await;
        assert_eq!(status, 200, "{linked}");
        assert_eq!(linked[0]["id"], "ident-1");
        assert_eq!(linked[0]["upstream_id"], "example");
        let (status, body) = call(&app, Some(&token), "DELETE", &format!("{path}/ident-1"), None).await;
        assert_eq!(status, 204, "{body}");
        let (_, left) = call(&app, Some(&token), "GET", &path, None).await;
        assert_eq!(left, json!([]));
        let (status, _) = call(&app, Some(&token), "DELETE", &format!("{path}/ident-1"), None).await;
        assert_eq!(status, 404);
        let (status, _) = call(&app, Some(&token), "GET", "/users/nobody/identities", None).await;
        assert_eq!(status, 404);
    }
}
