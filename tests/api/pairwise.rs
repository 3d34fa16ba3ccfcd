//! Pairwise subject identifiers (OIDC Core §8.1): each sector sees its own `sub` for a
//! user, the same in every token and answer, and hands it back in id_token_hint; a
//! `sector_identifier_uri` must list every redirect URI (OIDC Dynamic Client
//! Registration §5), whether the client registers itself or the operator adds it.

use crate::cli::{gatehouse, stderr, stdout};
use crate::helpers::*;
use crate::{on_both_backends, on_both_backends_with};
use axum::routing::{get, post};
use gatehouse::config::{RawConfig, RegistrationMode};
use serde_json::{json, Value};
use std::time::Duration;

fn open(raw: &mut RawConfig) {
    raw.registration.mode = RegistrationMode::Open;
}

fn open_and_guarded(raw: &mut RawConfig) {
    raw.registration.mode = RegistrationMode::Open;
    raw.outbound.allow_private_networks = false;
}

const RP_REDIRECT: &str = "https://rp.example.com/cb";
const RP_OTHER_REDIRECT: &str = "https://app.rp.example.net/cb";

/// A loopback server for sector documents: `path → body`. Returns its base URL.
async fn documents(routes: &[(&'static str, &'static str)]) -> String {
    let mut router = axum::Router::new();
    for (path, body) in routes {
        let body = *body;
        router = router.route(path, get(move || async move { body }));
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    base
}

/// A confidential first-party client whose subjects are pairwise for `sector`.
async fn pairwise_client(app: &TestApp, id: &str, sector: &str) -> TestClient {
    add_client(&app.store, id, true, app.clock.now(), |c| {
        c.redirect_uris = vec![CONFIDENTIAL_REDIRECT.into()];
        c.pairwise_sector = Some(sector.into());
        c.always_refresh = true;
    })
    .await
}

fn sub_of(jwt: &Value) -> String {
    jwt_claims(jwt.as_str().unwrap())["sub"].as_str().unwrap().to_string()
}

async fn introspect(app: &TestApp, client: &TestClient, token: &str) -> Value {
    reqwest::Client::new()
        .post(app.url("/introspect"))
        .basic_auth(&client.id, client.secret.as_deref())
        .form(&[("token", token)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn register(app: &TestApp, body: &Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(app.url("/register"))
        .json(body)
        .send()
        .await
        .unwrap()
}

/// Where a prompt=none authorization for `client` in `browser` goes.
async fn silent(app: &TestApp, browser: &Browser, client: &TestClient, extra: &[(&str, &str)]) -> String {
    let mut params = vec![("prompt", "none")];
    params.extend_from_slice(extra);
    let (url, _) = app.authorize_url(client, &params);
    location(browser.get(&url).await.headers()).unwrap()
}

/// The error code and description of a refused registration.
async fn refusal(response: reqwest::Response) -> (u16, String, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    let text = |k: &str| body[k].as_str().unwrap_or_default().to_string();
    (status, text("error"), text("error_description"))
}

on_both_backends! {
    /// Every place a client meets the user's sub says the same pairwise value: ID token,
    /// access token, UserInfo, introspection of both tokens, a refreshed ID token, a later
    /// sign-in. Another client of the sector sees it too; another sector, and a public
    /// client, do not.
    async fn each_sector_sees_one_sub_everywhere_and_only_its_own(app) {
        let a = pairwise_client(&app, "a", "a.example").await;
        let a_too = pairwise_client(&app, "a2", "a.example").await;
        let b = pairwise_client(&app, "b", "b.example").await;

        let tokens = app.tokens_with(&a, &[]).await;
        let sub = sub_of(&tokens["id_token"]);
        assert_ne!(sub, app.user.id, "a pairwise client never sees the user id");
        assert_eq!(sub_of(&tokens["access_token"]), sub);
        let access = tokens["access_token"].as_str().unwrap();
        assert_eq!(app.userinfo(access).await["sub"], sub.as_str());
        assert_eq!(app.userinfo(access).await["email"], app.user.email.as_str(), "the grant still names alice");
        let introspected = introspect(&app, &a, access).await;
        assert_eq!(introspected["active"], true);
        assert_eq!(introspected["sub"], sub.as_str());
        let refresh = tokens["refresh_token"].as_str().unwrap();
        assert_eq!(introspect(&app, &a, refresh).await["sub"], sub.as_str());
        let refreshed: Value = app.refresh(&a, refresh, &[]).await.json().await.unwrap();
        assert_eq!(sub_of(&refreshed["id_token"]), sub);
        assert_eq!(sub_of(&refreshed["access_token"]), sub);

        assert_eq!(sub_of(&app.tokens_with(&a, &[]).await["id_token"]), sub, "stable across sign-ins");
        assert_eq!(sub_of(&app.tokens_with(&a_too, &[]).await["id_token"]), sub, "one sector, one sub");
        let other = sub_of(&app.tokens_with(&b, &[]).await["id_token"]);
        assert_ne!(other, sub, "two sectors cannot link the user by sub");
        let public = app.tokens_with(&app.client, &[]).await;
        assert_eq!(sub_of(&public["id_token"]), app.user.id, "a public client sees the user id");
        assert_eq!(app.userinfo(public["access_token"].as_str().unwrap()).await["sub"], app.user.id.as_str());

        // Another user of the same sector gets another sub.
        create_user(&app.store, "bob", "bob@example.com", app.clock.now()).await;
        let (url, verifier) = app.authorize_url(&a, &[]);
        let to = app.browser().sign_in(&url, "bob", PASSWORD).await;
        let bobs: Value = app.redeem(&a, &query_param(&to, "code").unwrap(), &verifier).await.json().await.unwrap();
        assert_ne!(sub_of(&bobs["id_token"]), sub);
    }

    /// An RP hands its pairwise sub back: in id_token_hint and the `claims` parameter at
    /// /authorize (prompt=none answers at once), and in id_token_hint at /logout. The user
    /// id itself names nobody to a pairwise client.
    async fn a_pairwise_sub_handed_back_names_the_signed_in_user(app) {
        let a = pairwise_client(&app, "a", "a.example").await;
        let browser = app.browser();
        let (url, verifier) = app.authorize_url(&a, &[]);
        let to = browser.sign_in(&url, "alice", PASSWORD).await;
        let tokens: Value = app.redeem(&a, &query_param(&to, "code").unwrap(), &verifier).await.json().await.unwrap();
        let hint = tokens["id_token"].as_str().unwrap();
        let sub = sub_of(&tokens["id_token"]);

        let to = silent(&app, &browser, &a, &[("id_token_hint", hint)]).await;
        assert!(query_param(&to, "code").is_some(), "the hint names alice: {to}");
        let asked = |value: &str| json!({"id_token": {"sub": {"value": value}}}).to_string();
        let to = silent(&app, &browser, &a, &[("claims", &asked(&sub))]).await;
        assert!(query_param(&to, "code").is_some(), "claims sub names alice: {to}");
        let to = silent(&app, &browser, &a, &[("claims", &asked(&app.user.id))]).await;
        assert_eq!(query_param(&to, "error").as_deref(), Some("login_required"), "{to}");

        let logout = format!("{}/logout?{}", app.base, serde_urlencoded::to_string([("id_token_hint", hint)]).unwrap());
        let response = browser.get(&logout).await;
        assert_eq!(response.status(), 200);
        assert!(!response.text().await.unwrap().contains("Sign out?"), "the hint's sub is this user's: no question");
        let to = silent(&app, &browser, &a, &[]).await;
        assert_eq!(query_param(&to, "error").as_deref(), Some("login_required"), "the session ended: {to}");
    }

    /// Back-Channel Logout §2.4: the logout token's sub is the one the client knows.
    async fn the_back_channel_logout_token_carries_the_pairwise_sub(app) {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
        let receiver = axum::Router::new().route("/bc", post(move |body: String| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(body);
                axum::http::StatusCode::OK
            }
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let receiver_url = format!("http://{}/bc", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, receiver).await });
        let a = add_client(&app.store, "a", true, app.clock.now(), |c| {
            c.redirect_uris = vec![CONFIDENTIAL_REDIRECT.into()];
            c.pairwise_sector = Some("a.example".into());
            c.backchannel_logout_uri = Some(receiver_url);
        })
        .await;
        let browser = app.browser();
        let (url, verifier) = app.authorize_url(&a, &[]);
        let to = browser.sign_in(&url, "alice", PASSWORD).await;
        let tokens: Value = app.redeem(&a, &query_param(&to, "code").unwrap(), &verifier).await.json().await.unwrap();
        let hint = tokens["id_token"].as_str().unwrap();
        let logout = format!("{}/logout?{}", app.base, serde_urlencoded::to_string([("id_token_hint", hint)]).unwrap());
        assert_eq!(browser.get(&logout).await.status(), 200);
        let body = tokio::time::timeout(Duration::from_secs(15), rx.recv()).await.expect("delivered").unwrap();
        let token = form_urlencoded::parse(body.as_bytes())
            .find(|(k, _)| k == "logout_token")
            .map(|(_, v)| v.into_owned())
            .unwrap();
        let sub = jwt_claims(&token)["sub"].as_str().unwrap().to_string();
        assert_eq!(sub, sub_of(&tokens["id_token"]));
        assert_ne!(sub, app.user.id);
    }

    /// One salt per database, whoever asks first, however many ask at once: a restarted or
    /// second instance derives the same subs.
    async fn the_salt_is_made_once_and_kept(app) {
        let client = gatehouse::clients::Client {
            pairwise_sector: Some("a.example".into()),
            ..gatehouse::clients::Client::new("a", "A", None)
        };
        let now = app.clock.now();
        let first = app.store.pairwise_salt("candidate-that-loses", now).await.unwrap();
        assert_ne!(first, "candidate-that-loses", "the app stored its salt at startup");
        let racers: Vec<_> = (0..8)
            .map(|i| {
                let store = app.store.clone();
                tokio::spawn(async move { store.pairwise_salt(&format!("racer-{i}"), now).await.unwrap() })
            })
            .collect();
        for racer in racers {
            assert_eq!(racer.await.unwrap(), first);
        }
        let restarted = gatehouse::subject::Subjects::load(&app.store, now).await.unwrap();
        let sub = app.state.subjects.for_client(&client, &app.user.id);
        assert_eq!(restarted.for_client(&client, &app.user.id), sub);
        assert_ne!(sub, app.user.id);
    }

    /// The admin API finds a user's token's user through its grant: a first-party console
    /// with pairwise subjects still reaches it.
    async fn an_admin_token_from_a_pairwise_client_still_names_its_user(app) {
        app.store.set_admin(&app.user.username, true, app.clock.now()).await.unwrap();
        let console = add_client(&app.store, "console", true, app.clock.now(), |c| {
            c.redirect_uris = vec![CONFIDENTIAL_REDIRECT.into()];
            c.allowed_scopes = Some(["openid", "gatehouse:admin"].map(String::from).to_vec());
            c.pairwise_sector = Some("console.example".into());
        })
        .await;
        let tokens = app.tokens_with(&console, &[("scope", "openid gatehouse:admin")]).await;
        assert_eq!(tokens["scope"], "openid gatehouse:admin", "{tokens}");
        assert_ne!(sub_of(&tokens["access_token"]), app.user.id);
        let response = reqwest::Client::new()
            .get(app.url("/admin/api/v1/clients"))
            .bearer_auth(tokens["access_token"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }

    /// The admin API and the CLI check a sector document as registration does.
    async fn the_admin_api_and_the_cli_check_the_sector_document(app) {
        let docs = documents(&[("/sector.json", r#"["https://rp.example.com/cb"]"#)]).await;
        let sector = format!("{docs}/sector.json");
        let token = crate::admin_api::admin_token(&app).await;
        let (status, body) = crate::admin_api::call(&app, Some(&token), "POST", "/clients", Some(json!({
            "name": "RP",
            "redirect_uris": [RP_REDIRECT, RP_OTHER_REDIRECT],
            "subject_type": "pairwise",
            "sector_identifier_uri": sector,
        }))).await;
        assert_eq!(status, 422, "{body}");
        assert!(body.to_string().contains(RP_OTHER_REDIRECT), "names the missing URI: {body}");
        let (status, body) = crate::admin_api::call(&app, Some(&token), "POST", "/clients", Some(json!({
            "name": "RP",
            "redirect_uris": [RP_REDIRECT],
            "subject_type": "pairwise",
            "sector_identifier_uri": sector,
        }))).await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["subject_type"], "pairwise");
        let id = body["client_id"].as_str().unwrap().to_string();
        // A new redirect URI the document does not list is refused on update too.
        let (status, body) = crate::admin_api::call(&app, Some(&token), "PATCH", &format!("/clients/{id}"), Some(json!({
            "redirect_uris": [RP_REDIRECT, RP_OTHER_REDIRECT],
        }))).await;
        assert_eq!(status, 422, "{body}");

        use secrecy::ExposeSecret;
        let dir = tempfile::tempdir().unwrap();
        let database = app.state.config.database_url.expose_secret().to_string();
        let create = |env: &[(&str, &str)], uri: &str| {
            let mut all = vec![("GATEHOUSE_DATABASE_URL", database.as_str())];
            all.extend_from_slice(env);
            gatehouse(dir.path(), &[
                "client", "create", "--name", "CLI RP", "--redirect-uri", RP_REDIRECT,
                "--subject-type", "pairwise", "--sector-identifier-uri", uri, "--json",
            ], &all, None)
        };
        let guarded = create(&[], &sector);
        assert!(!guarded.status.success(), "the CLI keeps the outbound guard");
        assert!(stderr(&guarded).contains("sector_identifier_uri"), "{}", stderr(&guarded));
        let allowed = [("GATEHOUSE_OUTBOUND__ALLOW_PRIVATE_NETWORKS", "true")];
        let missing = create(&allowed, &format!("{docs}/missing.json"));
        assert!(!missing.status.success());
        assert!(stderr(&missing).contains("sector_identifier_uri"), "{}", stderr(&missing));
        let created = create(&allowed, &sector);
        assert!(created.status.success(), "{}", stderr(&created));
        let shown: Value = serde_json::from_str(&stdout(&created)).unwrap();
        assert_eq!(shown["subject_type"], "pairwise");
        assert_eq!(shown["sector_identifier_uri"], sector.as_str());
    }
}

on_both_backends_with! {
    open;

    /// OIDC Dynamic Client Registration §5: a sector document that does not list every
    /// redirect URI, is not a JSON array of strings, or cannot be fetched is refused.
    async fn registration_refuses_a_sector_document_that_does_not_vouch_for_the_client(app) {
        let docs = documents(&[
            ("/sector.json", r#"["https://rp.example.com/cb", "https://app.rp.example.net/cb"]"#),
            ("/short.json", r#"["https://rp.example.com/cb"]"#),
            ("/page.html", "<html>not JSON</html>"),
            ("/object.json", r#"{"redirect_uris": ["https://rp.example.com/cb"]}"#),
        ])
        .await;
        let both = [RP_REDIRECT, RP_OTHER_REDIRECT];
        let unreachable = format!("http://127.0.0.1:{}/sector.json", free_port());
        for (uri, says) in [
            (format!("{docs}/short.json"), RP_OTHER_REDIRECT),
            (format!("{docs}/page.html"), "JSON array"),
            (format!("{docs}/object.json"), "JSON array"),
            (format!("{docs}/gone.json"), "404"),
            (unreachable, "unreachable"),
        ] {
            let response = register(&app, &json!({
                "redirect_uris": both,
                "subject_type": "pairwise",
                "sector_identifier_uri": uri,
            })).await;
            let (status, error, description) = refusal(response).await;
            assert_eq!((status, error.as_str()), (400, "invalid_client_metadata"), "{uri}: {description}");
            assert!(description.contains(says), "{uri}: {description}");
        }
        // Redirect URIs on two hosts name no one sector without a document.
        let response = register(&app, &json!({"redirect_uris": both, "subject_type": "pairwise"})).await;
        let (status, error, description) = refusal(response).await;
        assert_eq!((status, error.as_str()), (400, "invalid_client_metadata"), "{description}");
        assert!(description.contains("sector_identifier_uri"), "{description}");

        let response = register(&app, &json!({
            "redirect_uris": both,
            "subject_type": "pairwise",
            "sector_identifier_uri": format!("{docs}/sector.json"),
        })).await;
        assert_eq!(response.status(), 201);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["subject_type"], "pairwise");
        assert_eq!(body["sector_identifier_uri"], format!("{docs}/sector.json"));
    }

    /// A registered pairwise client's sector is its document's host, so it shares subjects
    /// with the operator's clients of that host. Its own registration token cannot move it
    /// to another sector or back to public subjects (RFC 7592 §2.2 lets us refuse): every
    /// sub it knows would change.
    async fn a_registered_pairwise_client_keeps_its_sector(app) {
        let docs = documents(&[("/sector.json", r#"["http://127.0.0.1:9/callback"]"#)]).await;
        let response = register(&app, &json!({
            "redirect_uris": [CONFIDENTIAL_REDIRECT],
            "subject_type": "pairwise",
            "sector_identifier_uri": format!("{docs}/sector.json"),
            "client_name": "Registered RP",
        })).await;
        assert_eq!(response.status(), 201);
        let registered: Value = response.json().await.unwrap();
        let id = registered["client_id"].as_str().unwrap();
        let stored = app.store.client(id).await.unwrap().unwrap();
        assert_eq!(stored.pairwise_sector.as_deref(), Some("127.0.0.1"), "the document's host");

        let uri = registered["registration_client_uri"].as_str().unwrap();
        let token = registered["registration_access_token"].as_str().unwrap();
        let put = |body: Value| async move {
            reqwest::Client::new().put(uri).bearer_auth(token).json(&body).send().await.unwrap()
        };
        let mut same = json!({
            "client_id": id,
            "redirect_uris": [CONFIDENTIAL_REDIRECT],
            "subject_type": "pairwise",
            "sector_identifier_uri": format!("{docs}/sector.json"),
        });
        assert_eq!(put(same.clone()).await.status(), 200, "the same sector may be replaced as is");
        same["subject_type"] = json!("public");
        same.as_object_mut().unwrap().remove("sector_identifier_uri");
        let (status, error, description) = refusal(put(same).await).await;
        assert_eq!((status, error.as_str()), (400, "invalid_client_metadata"), "{description}");
        assert!(description.contains("register a new client"), "{description}");
        let still = app.store.client(id).await.unwrap().unwrap();
        assert_eq!(still.pairwise_sector.as_deref(), Some("127.0.0.1"));

        // The same user, seen by the operator's client of that sector: the same sub.
        let sibling = pairwise_client(&app, "sibling", "127.0.0.1").await;
        let sibling_sub = sub_of(&app.tokens_with(&sibling, &[]).await["id_token"]);
        assert_ne!(sibling_sub, app.user.id);
        let mut stored = still;
        stored.first_party = true;
        app.store.update_client(&stored).await.unwrap();
        app.state.clients.refresh(&app.store).await.unwrap();
        let client = TestClient {
            id: id.to_string(),
            secret: registered["client_secret"].as_str().map(str::to_string),
            redirect_uri: CONFIDENTIAL_REDIRECT.into(),
        };
        assert_eq!(sub_of(&app.tokens_with(&client, &[]).await["id_token"]), sibling_sub);
    }
}

on_both_backends_with! {
    open_and_guarded;

    /// With `[outbound] allow_private_networks = false` a sector document on a loopback or
    /// private address is never fetched (SSRF, RFC 7591 §5).
    async fn a_sector_document_on_a_private_address_is_refused(app) {
        let docs = documents(&[("/sector.json", r#"["https://rp.example.com/cb"]"#)]).await;
        let port = docs.rsplit(':').next().unwrap().to_string();
        for uri in [
            format!("{docs}/sector.json"),
            format!("https://127.0.0.1:{port}/sector.json"),
            "https://10.0.0.7/sector.json".to_string(),
        ] {
            let response = register(&app, &json!({
                "redirect_uris": [RP_REDIRECT],
                "subject_type": "pairwise",
                "sector_identifier_uri": uri,
            })).await;
            let (status, error, description) = refusal(response).await;
            assert_eq!((status, error.as_str()), (400, "invalid_client_metadata"), "{uri}: {description}");
            assert!(description.contains("sector_identifier_uri"), "{uri}: {description}");
        }
    }
}

/// The README's pairwise recipe, as written; the operator may go back to public subjects,
/// and redirect hosts that name no one sector are refused.
#[test]
fn the_readmes_pairwise_client_is_created_by_the_cli() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = &readme[readme.find("### Pairwise subjects").expect("the README section")..];
    let block = &section[section.find("```sh\n").unwrap() + 6..];
    let command = block[..block.find("\ngatehouse client update").unwrap()].replace("\\\n", " ");
    let args: Vec<&str> = command
        .split_whitespace()
        .skip(1)
        .chain(["--client-id", "shop", "--json"])
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let created = gatehouse(dir.path(), &args, &[], None);
    assert!(created.status.success(), "{command}: {}", stderr(&created));
    let shown: Value = serde_json::from_str(&stdout(&created)).unwrap();
    assert_eq!(shown["subject_type"], "pairwise");

    let public = gatehouse(
        dir.path(),
        &["client", "update", "shop", "--subject-type", "public"],
        &[],
        None,
    );
    assert!(public.status.success(), "{}", stderr(&public));
    let shown: Value = serde_json::from_str(&stdout(&gatehouse(
        dir.path(),
        &["client", "show", "shop", "--json"],
        &[],
        None,
    )))
    .unwrap();
    assert_eq!(shown["subject_type"], "public");

    let split = gatehouse(
        dir.path(),
        &[
            "client",
            "update",
            "shop",
            "--subject-type",
            "pairwise",
            "--redirect-uri",
            "https://shop.example.com/cb",
            "--redirect-uri",
            "https://other.example.net/cb",
        ],
        &[],
        None,
    );
    assert!(!split.status.success());
    assert!(stderr(&split).contains("sector_identifier_uri"), "{}", stderr(&split));
}
