//! Dynamic Client Registration (RFC 7591, RFC 7592, OpenID Connect Dynamic Client
//! Registration 1.0): off by default; open, or gated by initial access tokens; the
//! registered client signs in (as a third-party app, so with consent) and is read,
//! replaced and deleted with its registration access token only.

use crate::helpers::*;
use crate::on_both_backends_with;
use gatehouse::config::{RawConfig, RegistrationMode};
use openidconnect::core::{CoreClientRegistrationRequest, CoreProviderMetadata};
use openidconnect::registration::EmptyAdditionalClientMetadata;
use openidconnect::{ClientName, IssuerUrl, LocalizedClaim, RedirectUrl};
use serde_json::{json, Value};

fn open(raw: &mut RawConfig) {
    raw.registration.mode = RegistrationMode::Open;
}

fn gated(raw: &mut RawConfig) {
    raw.registration.mode = RegistrationMode::Token;
}

const RP_REDIRECT: &str = "https://rp.example.com/cb";

async fn register(app: &TestApp, token: Option<&str>, body: &Value) -> reqwest::Response {
    let mut request = reqwest::Client::new().post(app.url("/register")).json(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

async fn manage(method: reqwest::Method, uri: &str, token: &str, body: Option<&Value>) -> reqwest::Response {
    let mut request = reqwest::Client::new().request(method, uri).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(body);
    }
    request.send().await.unwrap()
}

async fn error_of(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    (status, body["error"].as_str().unwrap_or_default().to_string())
}

/// Signs alice in at `authorize`: the consent page's HTML.
async fn consent_page(browser: &Browser, authorize: &str) -> String {
    let html = browser.follow(authorize).await.text().await.unwrap();
    let response = browser.submit_login(&html, "alice", PASSWORD).await;
    browser
        .follow(&location(response.headers()).unwrap())
        .await
        .text()
        .await
        .unwrap()
}

/// Signs alice in at `authorize`, allows the consent page, and returns the app's redirect.
pub(crate) async fn sign_in_with_consent(app: &TestApp, authorize: &str) -> String {
    let browser = app.browser();
    let html = consent_page(&browser, authorize).await;
    assert!(
        html.contains("name=\"decision\""),
        "a registered app is third-party: {html}"
    );
    let form = [
        ("csrf_token", hidden_input(&html, "csrf_token").unwrap()),
        ("request_id", hidden_input(&html, "request_id").unwrap()),
        ("decision", "allow".to_string()),
    ];
    let response = browser.http.post(app.url("/consent")).form(&form).send().await.unwrap();
    let next = location(response.headers()).unwrap();
    if next.starts_with('/') {
        location(browser.follow(&next).await.headers()).unwrap()
    } else {
        next
    }
}

on_both_backends_with! {
    open;

    async fn a_relying_party_library_registers_and_its_client_signs_in(app) {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let metadata = CoreProviderMetadata::discover_async(IssuerUrl::new(app.base.clone()).unwrap(), &http)
            .await
            .unwrap();
        let endpoint = metadata.registration_endpoint().expect("discovery names registration_endpoint").clone();
        assert_eq!(endpoint.as_str(), app.url("/register"));
        let mut name = LocalizedClaim::new();
        name.insert(None, ClientName::new("Registered RP".into()));
        let registered = CoreClientRegistrationRequest::new(
            vec![RedirectUrl::new(RP_REDIRECT.into()).unwrap()],
            EmptyAdditionalClientMetadata::default(),
        )
        .set_client_name(Some(name))
        .register_async(&endpoint, &http)
        .await
        .expect("registration");
        let client = TestClient {
            id: registered.client_id().to_string(),
            secret: registered.client_secret().map(|s| s.secret().clone()),
            redirect_uri: RP_REDIRECT.into(),
        };
        assert!(client.secret.is_some(), "client_secret_basic by default: a secret is issued");

        let (authorize, verifier) = app.authorize_url(&client, &[]);
        let redirect = sign_in_with_consent(&app, &authorize).await;
        let code = query_param(&redirect, "code").expect("code");
        let tokens = app.redeem(&client, &code, &verifier).await;
        assert_eq!(tokens.status(), 200);
        let tokens: Value = tokens.json().await.unwrap();
        assert_eq!(jwt_claims(tokens["id_token"].as_str().unwrap())["aud"], client.id.as_str());
    }

    async fn the_registration_response_holds_the_registered_metadata_and_a_management_token(app) {
        let response = register(&app, None, &json!({
            "redirect_uris": [RP_REDIRECT],
            "client_name": "Weather Widget",
            "post_logout_redirect_uris": ["https://rp.example.com/bye"],
            "grant_types": ["authorization_code", "refresh_token"],
            "scope": "openid email",
            "logo_uri": "https://rp.example.com/logo.png",
        })).await;
        assert_eq!(response.status(), 201);
        assert_eq!(response.headers()["cache-control"], "no-store");
        let body: Value = response.json().await.unwrap();
        let id = body["client_id"].as_str().unwrap();
        assert_eq!(body["client_name"], "Weather Widget");
        assert_eq!(body["redirect_uris"], json!([RP_REDIRECT]));
        assert_eq!(body["post_logout_redirect_uris"], json!(["https://rp.example.com/bye"]));
        assert_eq!(body["grant_types"], json!(["authorization_code", "refresh_token"]));
        assert_eq!(body["response_types"], json!(["code"]));
        assert_eq!(body["token_endpoint_auth_method"], "client_secret_basic");
        assert_eq!(body["scope"], "openid email");
        assert_eq!(body["client_secret_expires_at"], 0);
        assert_eq!(body["logo_uri"], "https://rp.example.com/logo.png", "shown on the consent page");
        assert_eq!(body["dpop_bound_access_tokens"], false);
        let strict: Value = register(&app, None, &json!({"redirect_uris": [RP_REDIRECT], "dpop_bound_access_tokens": true})).await.json().await.unwrap();
        assert_eq!(strict["dpop_bound_access_tokens"], true, "RFC 9449 §5.2");
        let stored = app.store.client(strict["client_id"].as_str().unwrap()).await.unwrap().unwrap();
        assert!(stored.require_dpop);
        let uri = body["registration_client_uri"].as_str().unwrap();
        assert_eq!(uri, app.url(&format!("/register/{id}")));
        let token = body["registration_access_token"].as_str().unwrap();

        // RFC 7592 §2.1: the same metadata, without the secret.
        let read = manage(reqwest::Method::GET, uri, token, None).await;
        assert_eq!(read.status(), 200);
        let read: Value = read.json().await.unwrap();
        assert_eq!(read["client_name"], "Weather Widget");
        assert!(read.get("client_secret").is_none());
        let client = TestClient { id: id.into(), secret: None, redirect_uri: RP_REDIRECT.into() };
        let browser = app.browser();
        let (url, _) = app.authorize_url(&client, &[("scope", "openid email")]);
        let consent_html = consent_page(&browser, &url).await;
        assert!(consent_html.contains("Weather Widget"), "the consent page names the registered app");
    }

    async fn only_the_clients_own_registration_token_reads_replaces_or_deletes_it(app) {
        let first: Value = register(&app, None, &json!({"redirect_uris": [RP_REDIRECT]})).await.json().await.unwrap();
        let second: Value = register(&app, None, &json!({"redirect_uris": ["https://other.example.com/cb"]})).await.json().await.unwrap();
        let uri = first["registration_client_uri"].as_str().unwrap();
        let token = first["registration_access_token"].as_str().unwrap();
        assert_eq!(first["client_name"], "rp.example.com", "an unnamed app goes by its redirect host");

        for wrong in ["", "forged", second["registration_access_token"].as_str().unwrap()] {
            let response = manage(reqwest::Method::GET, uri, wrong, None).await;
            assert_eq!(response.status(), 401, "{wrong:?}");
            assert!(response.headers()["www-authenticate"].to_str().unwrap().contains("invalid_token"));
        }
        let removed = manage(reqwest::Method::DELETE, uri, second["registration_access_token"].as_str().unwrap(), None).await;
        assert_eq!(removed.status(), 401, "another client's token deletes nothing");

        // RFC 7592 §2.2: a replacement; what is left out goes back to its default.
        let with_logout = json!({
            "client_id": first["client_id"], "redirect_uris": [RP_REDIRECT],
            "backchannel_logout_uri": "https://rp.example.com/bcl",
        });
        let with_logout: Value = manage(reqwest::Method::PUT, uri, token, Some(&with_logout)).await.json().await.unwrap();
        assert_eq!(with_logout["backchannel_logout_uri"], "https://rp.example.com/bcl");
        let replacement = json!({
            "client_id": first["client_id"], "client_secret": first["client_secret"],
            "redirect_uris": ["https://rp.example.com/new-cb"], "client_name": "Renamed",
        });
        let replaced = manage(reqwest::Method::PUT, uri, token, Some(&replacement)).await;
        assert_eq!(replaced.status(), 200);
        let replaced: Value = replaced.json().await.unwrap();
        assert_eq!(replaced["redirect_uris"], json!(["https://rp.example.com/new-cb"]));
        assert_eq!(replaced["client_name"], "Renamed");
        assert!(replaced.get("backchannel_logout_uri").is_none(), "left out, so removed: {replaced}");
        let client = TestClient { id: first["client_id"].as_str().unwrap().into(), secret: None, redirect_uri: RP_REDIRECT.into() };
        let (old, _) = app.authorize_url(&client, &[]);
        let page = app.browser().follow(&old).await;
        assert_eq!(page.status(), 400, "the replaced redirect URI no longer works");

        let bad_secret = json!({"client_id": first["client_id"], "client_secret": "guess", "redirect_uris": [RP_REDIRECT]});
        assert_eq!(error_of(manage(reqwest::Method::PUT, uri, token, Some(&bad_secret)).await).await, (400, "invalid_request".into()));
        let other_id = json!({"client_id": second["client_id"], "redirect_uris": [RP_REDIRECT]});
        assert_eq!(error_of(manage(reqwest::Method::PUT, uri, token, Some(&other_id)).await).await, (400, "invalid_request".into()));
        let to_public = json!({"client_id": first["client_id"], "redirect_uris": [RP_REDIRECT], "token_endpoint_auth_method": "none"});
        assert_eq!(error_of(manage(reqwest::Method::PUT, uri, token, Some(&to_public)).await).await, (400, "invalid_client_metadata".into()));

        // RFC 7592 §2.3: gone, with its credentials.
        assert_eq!(manage(reqwest::Method::DELETE, uri, token, None).await.status(), 204);
        assert_eq!(manage(reqwest::Method::GET, uri, token, None).await.status(), 401);
        assert!(app.store.client(first["client_id"].as_str().unwrap()).await.unwrap().is_none());
        let secret = first["client_secret"].as_str().unwrap();
        let token_response = reqwest::Client::new()
            .post(app.url("/token"))
            .basic_auth(first["client_id"].as_str().unwrap(), Some(secret))
            .form(&[("grant_type", "authorization_code"), ("code", "x"), ("redirect_uri", RP_REDIRECT)])
            .send()
            .await
            .unwrap();
        assert_eq!(oauth_error(token_response).await, (401, "invalid_client".into()));
    }

    async fn a_replacement_without_scope_lifts_the_scope_restriction(app) {
        let first: Value = register(&app, None, &json!({"redirect_uris": [RP_REDIRECT], "scope": "openid email"})).await.json().await.unwrap();
        let id = first["client_id"].as_str().unwrap();
        let uri = first["registration_client_uri"].as_str().unwrap();
        let token = first["registration_access_token"].as_str().unwrap();
        assert_eq!(first["scope"], "openid email");
        let narrower = json!({"client_id": id, "redirect_uris": [RP_REDIRECT], "scope": "openid"});
        let narrower: Value = manage(reqwest::Method::PUT, uri, token, Some(&narrower)).await.json().await.unwrap();
        assert_eq!(narrower["scope"], "openid", "a scope given replaces the old one");
        // RFC 7592 §2.2: left out goes back to the default, which is no restriction at all.
        let without = json!({"client_id": id, "redirect_uris": [RP_REDIRECT]});
        let replaced = manage(reqwest::Method::PUT, uri, token, Some(&without)).await;
        assert_eq!(replaced.status(), 200);
        let replaced: Value = replaced.json().await.unwrap();
        assert!(replaced.get("scope").is_none(), "as at first registration: {replaced}");
        let read: Value = manage(reqwest::Method::GET, uri, token, None).await.json().await.unwrap();
        assert!(read.get("scope").is_none(), "{read}");
        let unregistered: Value = register(&app, None, &json!({"redirect_uris": [RP_REDIRECT]})).await.json().await.unwrap();
        assert!(unregistered.get("scope").is_none(), "{unregistered}");
        let stored = app.store.client(id).await.unwrap().unwrap();
        assert_eq!(stored.allowed_scopes, None);
    }

    async fn registrations_asking_for_what_gatehouse_cannot_do_get_the_rfc_7591_errors(app) {
        for (body, want) in [
            (json!({}), "invalid_redirect_uri"),
            (json!({"redirect_uris": ["https://rp.example.com/cb#fragment"]}), "invalid_redirect_uri"),
            (json!({"redirect_uris": ["http://rp.example.com/cb"]}), "invalid_redirect_uri"),
            (json!({"redirect_uris": [RP_REDIRECT], "post_logout_redirect_uris": ["not a uri"]}), "invalid_redirect_uri"),
            (json!({"redirect_uris": [RP_REDIRECT], "jwks_uri": "https://rp.example.com/jwks", "jwks": {"keys": []}}), "invalid_client_metadata"),
            (json!({"redirect_uris": [RP_REDIRECT], "jwks_uri": "http://rp.example.com/jwks"}), "invalid_client_metadata"),
            (json!({"redirect_uris": [RP_REDIRECT], "logo_uri": "javascript:alert(1)"}), "invalid_client_metadata"),
            (json!({"redirect_uris": [RP_REDIRECT], "request_uris": ["data:text/plain,x"]}), "invalid_client_metadata"),
            (json!({"redirect_uris": [RP_REDIRECT], "response_types": ["code id_token"]}), "invalid_client_metadata"),
            (json!({"redirect_uris": [RP_REDIRECT], "grant_types": ["client_credentials"]}), "invalid_client_metadata"),
            (json!({"redirect_uris": [RP_REDIRECT], "grant_types": ["implicit"]}), "invalid_client_metadata"),
            (json!({"redirect_uris": [RP_REDIRECT], "token_endpoint_auth_method": "private_key_jwt"}), "invalid_client_metadata"),
            (json!({"redirect_uris": [RP_REDIRECT], "token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}}), "invalid_client_metadata"),
            (json!({"redirect_uris": [RP_REDIRECT], "scope": "openid gatehouse:admin"}), "invalid_client_metadata"),
            (json!({"redirect_uris": [RP_REDIRECT], "userinfo_signed_response_alg": "HS256"}), "invalid_client_metadata"),
            (json!({"redirect_uris": [RP_REDIRECT], "id_token_signed_response_alg": "HS256"}), "invalid_client_metadata"),
            (json!({"redirect_uris": [RP_REDIRECT], "client_name": 7}), "invalid_client_metadata"),
            (json!({"redirect_uris": [RP_REDIRECT], "software_statement": "a.b.c"}), "invalid_software_statement"),
        ] {
            assert_eq!(error_of(register(&app, None, &body).await).await, (400, want.to_string()), "{body}");
        }
        let not_json = reqwest::Client::new().post(app.url("/register")).form(&[("redirect_uris", RP_REDIRECT)]).send().await.unwrap();
        assert_eq!(error_of(not_json).await, (400, "invalid_client_metadata".into()));
        let array = reqwest::Client::new().post(app.url("/register")).header("content-type", "application/json").body("[1]").send().await.unwrap();
        assert_eq!(error_of(array).await, (400, "invalid_client_metadata".into()));
        assert_eq!(app.store.clients().await.unwrap().len(), 3, "nothing was registered: only the test's own clients");
    }

    async fn registrations_changes_and_deletions_are_in_the_audit_trail(app) {
        let body: Value = register(&app, None, &json!({"redirect_uris": [RP_REDIRECT]})).await.json().await.unwrap();
        let id = body["client_id"].as_str().unwrap();
        let uri = body["registration_client_uri"].as_str().unwrap();
        let token = body["registration_access_token"].as_str().unwrap();
        let replacement = json!({"client_id": id, "redirect_uris": ["https://rp.example.com/new-cb"]});
        assert_eq!(manage(reqwest::Method::PUT, uri, token, Some(&replacement)).await.status(), 200);
        assert_eq!(manage(reqwest::Method::DELETE, uri, token, None).await.status(), 204);

        let admin = crate::admin_api::admin_token(&app).await;
        let (status, page) = crate::admin_api::call(&app, Some(&admin), "GET", "/audit?limit=10", None).await;
        assert_eq!(status, 200, "{page}");
        let events: Vec<(String, String)> = page["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["target"] == id)
            .map(|e| (e["action"].as_str().unwrap().to_string(), e["client_id"].as_str().unwrap_or_default().to_string()))
            .collect();
        let want: Vec<(String, String)> = ["client.registration_deleted", "client.registration_replaced", "client.registered"]
            .iter()
            .map(|a| (a.to_string(), id.to_string()))
            .collect();
        assert_eq!(events, want, "{page}");
        assert!(!page.to_string().contains(token), "the registration access token is never recorded");
    }

    async fn a3_script_and_data_uris_are_refused_at_dynamic_registration(app) {
        for uri in ["javascript:alert(1)", "JaVaScRiPt:alert(1)", "data:text/html,<script>alert(1)</script>"] {
            let as_redirect = register(&app, None, &json!({"redirect_uris": [uri]})).await;
            assert_eq!(error_of(as_redirect).await, (400, "invalid_redirect_uri".into()), "{uri}");
            let as_logout = register(&app, None, &json!({"redirect_uris": [RP_REDIRECT], "post_logout_redirect_uris": [uri]})).await;
            assert_eq!(error_of(as_logout).await, (400, "invalid_redirect_uri".into()), "{uri}");
            let as_backchannel = register(&app, None, &json!({"redirect_uris": [RP_REDIRECT], "backchannel_logout_uri": uri})).await;
            assert_eq!(error_of(as_backchannel).await, (400, "invalid_client_metadata".into()), "{uri}");
        }
        assert_eq!(app.store.clients().await.unwrap().len(), 3, "nothing was registered");
    }

    async fn public_and_private_key_jwt_clients_get_no_secret(app) {
        let public: Value = register(&app, None, &json!({"redirect_uris": ["http://127.0.0.1:7/cb"], "token_endpoint_auth_method": "none"})).await.json().await.unwrap();
        assert_eq!(public["token_endpoint_auth_method"], "none");
        assert!(public.get("client_secret").is_none() && public.get("client_secret_expires_at").is_none(), "{public}");

        let pair = josekit::jws::RS256.generate_key_pair(2048).unwrap();
        let jwk = serde_json::to_value(pair.to_jwk_public_key().as_ref()).unwrap();
        let keyed = register(&app, None, &json!({
            "redirect_uris": [RP_REDIRECT], "token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [jwk]},
        })).await;
        assert_eq!(keyed.status(), 201);
        let keyed: Value = keyed.json().await.unwrap();
        assert_eq!(keyed["token_endpoint_auth_method"], "private_key_jwt");
        assert!(keyed.get("client_secret").is_none());
        assert_eq!(keyed["jwks"]["keys"][0]["n"], jwk["n"]);
        // Without its key it cannot get tokens: no assertion, no entry.
        let bare = reqwest::Client::new()
            .post(app.url("/token"))
            .form(&[("grant_type", "authorization_code"), ("client_id", keyed["client_id"].as_str().unwrap()), ("code", "x")])
            .send()
            .await
            .unwrap();
        assert_eq!(oauth_error(bare).await, (401, "invalid_client".into()));
    }
}

on_both_backends_with! {
    gated;

    async fn gated_registration_needs_a_live_initial_access_token(app) {
        let body = json!({"redirect_uris": [RP_REDIRECT]});
        for token in [None, Some("forged")] {
            let response = register(&app, token, &body).await;
            assert_eq!(response.status(), 401, "{token:?}");
            assert!(response.headers()["www-authenticate"].to_str().unwrap().starts_with("Bearer"));
        }
        let now = app.clock.now();
        let token = gatehouse::oauth::registration::issue_initial_access_token(&app.store, now, 3600).await.unwrap();
        assert_eq!(register(&app, Some(&token), &body).await.status(), 201);
        assert_eq!(register(&app, Some(&token), &body).await.status(), 201, "usable until it expires");
        app.clock.advance(3600);
        assert_eq!(register(&app, Some(&token), &body).await.status(), 401, "expired");

        let discovery: Value = reqwest::get(app.url("/.well-known/openid-configuration")).await.unwrap().json().await.unwrap();
        assert_eq!(discovery["registration_endpoint"], app.url("/register"));
    }
}

crate::on_both_backends! {
    async fn registration_is_off_unless_configured(app) {
        let response = register(&app, None, &json!({"redirect_uris": [RP_REDIRECT]})).await;
        assert_eq!(response.status(), 404);
        let discovery: Value = reqwest::get(app.url("/.well-known/openid-configuration")).await.unwrap().json().await.unwrap();
        assert!(discovery.get("registration_endpoint").is_none(), "{discovery}");
    }
}
