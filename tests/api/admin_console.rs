//! The admin console at `/admin` as an admin's browser sees it: signed-out visitors sent
//! to sign in and back, non-admins refused with a page, the hosted pages' headers, and
//! every change (clients, users, keys) through forms carrying the session's CSRF token,
//! answered with a page saying what happened or exactly what was wrong; destructive ones
//! need a recent sign-in; each change lands in the audit log with the admin named.

use crate::helpers::*;
use crate::on_both_backends;
use gatehouse::store::audit::{AuditEventRow, AuditFilter};
use reqwest::StatusCode;

/// Makes alice an admin and signs her in.
async fn admin(app: &TestApp) -> Browser {
    app.store
        .set_admin(&app.user.username, true, app.clock.now())
        .await
        .unwrap();
    signed_in_browser(app, &app.user.username, PASSWORD).await
}

/// Opens `page`, then posts `fields` with its CSRF token to `action`: the status and page.
async fn submit(browser: &Browser, page: &str, action: &str, fields: &[(&str, &str)]) -> (StatusCode, String) {
    let html = browser.get(page).await.text().await.unwrap();
    let csrf = hidden_input(&html, "csrf_token").unwrap_or_else(|| panic!("a form on {page}: {html}"));
    let mut form = vec![("csrf_token", csrf.as_str())];
    form.extend_from_slice(fields);
    let response = browser.post_form(action, &form).await;
    let status = response.status();
    (status, response.text().await.unwrap())
}

async fn page(browser: &Browser, path: &str) -> (StatusCode, String) {
    let response = browser.get(path).await;
    let status = response.status();
    (status, response.text().await.unwrap())
}

/// The audit events of `action`, newest first.
async fn events_of(app: &TestApp, action: &str) -> Vec<AuditEventRow> {
    let filter = AuditFilter {
        action: Some(action.into()),
        limit: 100,
        ..AuditFilter::default()
    };
    app.store.audit_events(&filter).await.unwrap()
}

/// Asserts the newest `action` event is alice's, on `target`, with `outcome`.
async fn assert_audited(app: &TestApp, action: &str, target: &str, outcome: &str) {
    let events = events_of(app, action).await;
    let event = events.first().unwrap_or_else(|| panic!("no {action} event"));
    assert_eq!(
        (
            event.actor_user_id.as_deref(),
            event.target.as_deref(),
            event.outcome.as_str(),
            event.ip.as_str()
        ),
        (Some(app.user.id.as_str()), Some(target), outcome, "127.0.0.1"),
        "{event:?}"
    );
}

/// The link in `html` whose address contains `part`, as a browser would follow it.
fn link_containing(html: &str, part: &str) -> Option<String> {
    html.split("href=\"")
        .filter_map(|s| s.split('"').next())
        .map(|h| h.replace("&#x2f;", "/").replace("&amp;", "&"))
        .find(|h| h.contains(part))
}

/// The text of the secret shown on a "client created" page.
fn shown_secret(html: &str) -> String {
    let element = html.find("id=\"client-secret\"").expect("a secret on the page");
    let start = element + html[element..].find('>').unwrap() + 1;
    let end = html[start..].find('<').unwrap();
    html[start..start + end].to_string()
}

/// A loopback server with one sector document, `body`, at `/sector.json`: its URL.
async fn sector_document(body: &'static str) -> String {
    let router = axum::Router::new().route("/sector.json", axum::routing::get(move || async move { body }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/sector.json", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    url
}

on_both_backends! {
    /// Signed out: to the login page, coming back afterwards. Signed in without the role:
    /// a 403 page. With it: the dashboard's counts, under the hosted pages' headers.
    async fn admin_console_needs_a_signed_in_admin(app) {
        let stranger = app.browser();
        let response = stranger.get("/admin/users?q=bob").await;
        assert_eq!(response.status(), 302);
        assert_eq!(location(response.headers()).unwrap(), "/login?return_to=%2Fadmin%2Fusers%3Fq%3Dbob");

        let browser = app.browser();
        let login = browser.get("/login?return_to=%2Fadmin").await.text().await.unwrap();
        let signed_in = browser.submit_login(&login, &app.user.username, PASSWORD).await;
        assert_eq!(location(signed_in.headers()).as_deref(), Some("/admin"));
        let refused = browser.get("/admin").await;
        assert_eq!(refused.status(), 403);
        let text = refused.text().await.unwrap();
        assert!(text.contains("Admins only") && text.contains("does not have the admin role"), "{text}");
        let (status, _) = page(&browser, "/admin/clients").await;
        assert_eq!(status, 403);

        app.store.set_admin(&app.user.username, true, app.clock.now()).await.unwrap();
        let response = browser.get("/admin").await;
        assert_eq!(response.status(), 200);
        let headers = response.headers().clone();
        assert!(headers["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
        assert_eq!(headers["x-frame-options"], "DENY");
        assert_eq!(headers["cache-control"], "no-store");
        let html = response.text().await.unwrap();
        assert!(html.contains("<strong id=\"count-users\">1</strong>"), "{html}");
        assert!(html.contains("<strong id=\"count-clients\">3</strong>"), "{html}");
        assert!(html.contains("<strong id=\"count-sessions\">1</strong>"), "{html}");
        let sign_in = format!("<a href=\"/admin/users/{}\">alice</a>", app.user.id);
        assert!(html.contains(&sign_in), "the sign-in is listed by name: {html}");
        assert!(html.contains("No failed sign-ins."), "{html}");

        // Taking the role away takes effect on the next page.
        app.store.set_admin(&app.user.username, false, app.clock.now()).await.unwrap();
        assert_eq!(browser.get("/admin/keys").await.status(), 403);
    }

    /// Create (a refused form comes back as typed with the precise message; the secret is
    /// shown once), edit, rotate the secret, delete; each audited with alice as the actor.
    async fn admin_console_client_lifecycle(app) {
        let browser = admin(&app).await;
        let form = [
            ("name", "Billing"),
            ("client_id", "billing"),
            ("redirect_uris", "not a uri"),
            ("grant:authorization_code", "on"),
            ("first_party", "on"),
        ];
        let (status, html) = submit(&browser, "/admin/clients/new", "/admin/clients", &form).await;
        assert_eq!(status, 422, "{html}");
        assert!(html.contains("invalid redirect URI"), "{html}");
        assert!(html.contains("value=\"Billing\""), "the form keeps what was typed: {html}");
        assert_audited(&app, "admin.client_created", "billing", "failure").await;
        let (status, html) = submit(&browser, "/admin/clients/new", "/admin/clients", &[("name", "x"), ("access_token_ttl_secs", "soon")]).await;
        assert_eq!(status, 422);
        assert!(html.contains("whole number of seconds"), "{html}");

        let form = [
            ("name", "Billing"),
            ("client_id", "billing"),
            ("redirect_uris", "https://billing.example/cb\r\nhttps://billing.example/cb2"),
            ("grant:authorization_code", "on"),
            ("first_party", "on"),
        ];
        let (status, html) = submit(&browser, "/admin/clients/new", "/admin/clients", &form).await;
        assert_eq!(status, 200, "{html}");
        assert!(html.contains("shown this once"), "{html}");
        let secret = shown_secret(&html);
        let stored = app.store.client("billing").await.unwrap().expect("created");
        assert_eq!(stored.secret_hash.as_deref(), Some(gatehouse::secrets::digest(&secret).as_str()));
        assert_eq!(stored.redirect_uris.len(), 2);
        assert_audited(&app, "admin.client_created", "billing", "success").await;
        let (status, html) = submit(&browser, "/admin/clients/new", "/admin/clients", &form).await;
        assert_eq!(status, 409);
        assert!(html.contains("already exists"), "{html}");

        let (status, shown) = page(&browser, "/admin/clients/billing").await;
        assert_eq!(status, 200);
        assert!(shown.contains("billing.example&#x2f;cb2"), "{shown}");
        assert!(!shown.contains(&secret), "never the secret again");
        let (_, list) = page(&browser, "/admin/clients").await;
        assert!(list.contains("/admin/clients/billing") && !list.contains(&secret));

        let edit = [
            ("name", "Billing Portal"),
            ("redirect_uris", "https://billing.example/cb"),
            ("grant:authorization_code", "on"),
            ("require_mfa", "on"),
            ("require_dpop", "on"),
            ("signed_userinfo", "on"),
            ("logo_uri", "https://billing.example/logo.png"),
            ("policy_uri", "https://billing.example/privacy"),
            ("tos_uri", "https://billing.example/terms"),
        ];
        let (status, html) = submit(&browser, "/admin/clients/billing", "/admin/clients/billing", &edit).await;
        assert_eq!(status, 200, "{html}");
        assert!(html.contains("Client saved."), "{html}");
        let stored = app.store.client("billing").await.unwrap().unwrap();
        assert_eq!((stored.name.as_str(), stored.require_mfa, stored.first_party), ("Billing Portal", true, false));
        assert!(stored.require_dpop);
        assert_eq!(stored.userinfo_signed_response_alg.as_deref(), Some("RS256"));
        assert_eq!(
            (stored.logo_uri.as_deref(), stored.policy_uri.as_deref(), stored.tos_uri.as_deref()),
            (Some("https://billing.example/logo.png"), Some("https://billing.example/privacy"), Some("https://billing.example/terms"))
        );
        let (_, shown) = page(&browser, "/admin/clients/billing").await;
        for ticked in ["require_dpop", "signed_userinfo"] {
            assert!(shown.contains(&format!(r#"id="{ticked}" name="{ticked}" type="checkbox" checked"#)), "{ticked}: {shown}");
        }
        assert!(shown.contains(r#"value="https:&#x2f;&#x2f;billing.example&#x2f;logo.png""#), "{shown}");
        // The service's rules decide: a logo that is not https comes back with its message.
        let insecure = [("name", "Billing Portal"), ("redirect_uris", "https://billing.example/cb"), ("grant:authorization_code", "on"), ("logo_uri", "http://billing.example/logo.png")];
        let (status, html) = submit(&browser, "/admin/clients/billing", "/admin/clients/billing", &insecure).await;
        assert_eq!(status, 422, "{html}");
        assert!(html.contains("invalid logo_uri"), "{html}");
        assert!(html.contains(r#"value="http:&#x2f;&#x2f;billing.example&#x2f;logo.png""#), "kept as typed: {html}");
        // Blank fields and unticked boxes clear them again.
        let (status, html) = submit(&browser, "/admin/clients/billing", "/admin/clients/billing", &edit[..4]).await;
        assert_eq!(status, 200, "{html}");
        let stored = app.store.client("billing").await.unwrap().unwrap();
        assert!(!stored.require_dpop && stored.userinfo_signed_response_alg.is_none() && stored.logo_uri.is_none() && stored.tos_uri.is_none());
        assert_audited(&app, "admin.client_updated", "billing", "success").await;
        let (status, html) = submit(&browser, "/admin/clients/billing", "/admin/clients/billing", &[("name", "Billing"), ("grant:authorization_code", "on")]).await;
        assert_eq!(status, 422);
        assert!(html.contains("needs at least one --redirect-uri"), "{html}");

        let (status, html) = submit(&browser, "/admin/clients/billing", "/admin/clients/billing/secret", &[]).await;
        assert_eq!(status, 200, "{html}");
        let rotated = shown_secret(&html);
        assert_ne!(rotated, secret);
        let stored = app.store.client("billing").await.unwrap().unwrap();
        assert_eq!(stored.secret_hash.as_deref(), Some(gatehouse::secrets::digest(&rotated).as_str()));
        assert_audited(&app, "admin.client_secret_rotated", "billing", "success").await;

        let (status, html) = submit(&browser, "/admin/clients/billing", "/admin/clients/billing/delete", &[]).await;
        assert_eq!(status, 200, "{html}");
        assert!(html.contains("Client billing deleted"), "{html}");
        assert!(app.store.client("billing").await.unwrap().is_none());
        assert_audited(&app, "admin.client_deleted", "billing", "success").await;
        let (status, html) = page(&browser, "/admin/clients/billing").await;
        assert_eq!(status, 404);
        assert!(html.contains("No such client"), "{html}");

        // A client id may be a URI; its pages still open and save.
        add_client(&app.store, "https://reports.example/api", true, app.clock.now(), |c| {
            c.name = "Reports API".into();
            c.grant_types = vec!["client_credentials".into()];
            c.audiences = vec!["https://reports.example/api".into()];
        })
        .await;
        let (_, list) = page(&browser, "/admin/clients").await;
        let link = link_containing(&list, "reports.example").expect("a link to the client");
        assert_eq!(link, "/admin/clients/https%3A%2F%2Freports.example%2Fapi");
        let edit = [("name", "Reports"), ("grant:client_credentials", "on"), ("audiences", "https://reports.example/api")];
        let (status, html) = submit(&browser, &link, &link, &edit).await;
        assert_eq!(status, 200, "{html}");
        assert_eq!(app.store.client("https://reports.example/api").await.unwrap().unwrap().name, "Reports");

        let trail = format!("{:?}", events_of(&app, "admin.client_secret_rotated").await);
        assert!(!trail.contains(&rotated) && !trail.contains(&secret));
    }

    /// A form without the session's CSRF token, or from another site, changes nothing; a
    /// destructive change after a stale sign-in asks to sign in again and come back.
    async fn admin_console_forms_need_csrf_and_destructive_ones_a_fresh_sign_in(app) {
        let browser = admin(&app).await;
        let bob = create_user(&app.store, "bob", "bob@example.com", app.clock.now()).await;
        let disable = format!("/admin/users/{}/disable", bob.id);
        let forged = browser.post_form(&disable, &[("csrf_token", "guess")]).await;
        assert_eq!(forged.status(), 403);
        assert!(forged.text().await.unwrap().contains("Request not accepted"));
        let html = browser.get(&format!("/admin/users/{}", bob.id)).await.text().await.unwrap();
        let csrf = hidden_input(&html, "csrf_token").unwrap();
        let cross_site = browser
            .http
            .post(app.url(&disable))
            .header("origin", "https://evil.example")
            .form(&[("csrf_token", csrf.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(cross_site.status(), 403);
        assert!(app.store.account_by_id(&bob.id).await.unwrap().unwrap().disabled_at.is_none());

        app.clock.advance(16 * 60);
        let page_path = format!("/admin/users/{}", bob.id);
        let (status, html) = submit(&browser, &page_path, &disable, &[]).await;
        assert_eq!(status, 403, "{html}");
        assert!(html.contains("needs a sign-in from the last 15 minutes"), "{html}");
        let again = format!("/login?return_to=%2Fadmin%2Fusers%2F{}", bob.id);
        assert!(html.contains(&again.replace('/', "&#x2f;")) || html.contains(&again), "{html}");
        assert!(app.store.account_by_id(&bob.id).await.unwrap().unwrap().disabled_at.is_none());
        // Not destructive: ending sessions needs no fresh sign-in.
        let (status, html) = submit(&browser, &page_path, &format!("/admin/users/{}/sessions/end", bob.id), &[]).await;
        assert_eq!(status, 200, "{html}");

        let login = browser.get(&again).await.text().await.unwrap();
        let signed_in = browser.submit_login(&login, &app.user.username, PASSWORD).await;
        assert_eq!(location(signed_in.headers()), Some(page_path.clone()));
        let (status, html) = submit(&browser, &page_path, &disable, &[]).await;
        assert_eq!(status, 200, "{html}");
        assert!(html.contains("Account disabled"), "{html}");
        assert!(app.store.account_by_id(&bob.id).await.unwrap().unwrap().disabled_at.is_some());
        assert_audited(&app, "admin.user_disabled", &bob.id, "success").await;
    }

    /// A user's page shows their identities, second factors and grants; each change there
    /// says what it did and is audited; one's own account cannot be disabled or deleted.
    async fn admin_console_user_page_and_its_changes(app) {
        let browser = admin(&app).await;
        let bob = create_user(&app.store, "bob", "bob@example.com", app.clock.now()).await;
        app.store
            .link_identity(
                &gatehouse::store::federation::NewIdentity {
                    id: "ident-1",
                    issuer: "https://accounts.example.com",
                    subject: "1234",
                    user_id: &bob.id,
                    upstream_id: "example",
                    email: "bob@elsewhere.example",
                },
                app.clock.now(),
            )
            .await
            .unwrap();
        let bobs = app.browser();
        let (url, verifier) = app.authorize_url(&app.client, &[("scope", "openid offline_access")]);
        let to = bobs.sign_in(&url, "bob", PASSWORD).await;
        let tokens: serde_json::Value = app
            .redeem(&app.client, &query_param(&to, "code").unwrap(), &verifier)
            .await
            .json()
            .await
            .unwrap();
        let access = tokens["access_token"].as_str().unwrap();
        let path = format!("/admin/users/{}", bob.id);
        let (status, html) = page(&browser, &path).await;
        assert_eq!(status, 200);
        for seen in ["bob@example.com", "bob@elsewhere.example", "Authenticator app: off", "Passkeys: none", "<strong>client</strong>", "offline", "1 active session"] {
            assert!(html.contains(seen), "{seen}: {html}");
        }

        let grant = app.store.user_grants(&bob.id).await.unwrap().remove(0).id;
        let (status, html) = submit(&browser, &path, &format!("{path}/grants/{grant}/revoke"), &[]).await;
        assert_eq!(status, 200);
        assert!(html.contains("Grant revoked") && html.contains("No live grants."), "{html}");
        assert_eq!(app.userinfo_status(access).await, 401);
        assert_audited(&app, "admin.grant_revoked", &bob.id, "success").await;
        let (status, html) = submit(&browser, &path, &format!("{path}/grants/{grant}/revoke"), &[]).await;
        assert_eq!(status, 404);
        assert!(html.contains("That grant has already ended."), "{html}");

        let (status, html) = submit(&browser, &path, &format!("{path}/identities/ident-1/unlink"), &[]).await;
        assert_eq!(status, 200);
        assert!(html.contains("Identity unlinked"), "{html}");
        assert_audited(&app, "admin.identity_unlinked", &bob.id, "success").await;

        let (status, html) = submit(&browser, &path, &format!("{path}/password-reset"), &[]).await;
        assert_eq!(status, 200);
        assert!(html.contains("password-reset link is on its way"), "{html}");
        app.mail.wait_for("bob@example.com", "Reset your").await;
        assert_audited(&app, "admin.password_reset_sent", &bob.id, "success").await;

        let (status, html) = submit(&browser, &path, &format!("{path}/sessions/end"), &[]).await;
        assert_eq!(status, 200);
        assert!(html.contains("Signed out of 1 session(s)"), "{html}");
        assert_eq!(bobs.get("/session/whoami").await.status(), 401);
        assert_audited(&app, "admin.sessions_ended", &bob.id, "success").await;

        let (status, html) = submit(&browser, &path, &format!("{path}/disable"), &[]).await;
        assert_eq!(status, 200);
        assert!(html.contains("<strong id=\"user-state\">Disabled</strong>"), "{html}");
        let (status, html) = submit(&browser, &path, &format!("{path}/enable"), &[]).await;
        assert_eq!(status, 200);
        assert!(html.contains("Account enabled") && html.contains("<span id=\"user-state\">Enabled</span>"), "{html}");
        assert_audited(&app, "admin.user_enabled", &bob.id, "success").await;

        let own = format!("/admin/users/{}", app.user.id);
        let (status, html) = submit(&browser, &own, &format!("{own}/disable"), &[]).await;
        assert_eq!(status, 409);
        assert!(html.contains("You cannot disable your own account."), "{html}");
        let (status, _) = submit(&browser, &own, &format!("{own}/delete"), &[]).await;
        assert_eq!(status, 409);

        let (status, html) = submit(&browser, &path, &format!("{path}/delete"), &[]).await;
        assert_eq!(status, 200);
        assert!(html.contains("User deleted"), "{html}");
        assert!(app.store.account_by_id(&bob.id).await.unwrap().is_none());
        assert_audited(&app, "admin.user_deleted", &bob.id, "success").await;
        let (status, html) = page(&browser, &path).await;
        assert_eq!(status, 404);
        assert!(html.contains("No such user"), "{html}");
    }

    /// Users search a page at a time; keys are added and retired (a risky retirement is
    /// refused with the reason, then done "even so"); the audit log filters and pages.
    async fn admin_console_search_keys_and_audit_log(app) {
        let browser = admin(&app).await;
        for n in 0..26 {
            create_user(&app.store, &format!("member{n:02}"), &format!("member{n:02}@example.com"), app.clock.now()).await;
        }
        let (status, first) = page(&browser, "/admin/users?q=member").await;
        assert_eq!(status, 200);
        assert_eq!(first.matches("<li><a href=\"/admin/users/").count(), 25, "{first}");
        let next = link_containing(&first, "cursor=").expect("a next page");
        let (_, second) = page(&browser, &next).await;
        assert_eq!(second.matches("<li><a href=\"/admin/users/").count(), 1, "{second}");
        assert!(!second.contains("id=\"next-page\""));

        let (status, html) = submit(&browser, "/admin/keys", "/admin/keys/rotate", &[]).await;
        assert_eq!(status, 200, "{html}");
        assert!(html.contains("added: published now"), "{html}");
        let kid = events_of(&app, "admin.key_rotated").await[0].target.clone().unwrap();
        let retire = format!("/admin/keys/{kid}/retire");
        let (status, html) = submit(&browser, "/admin/keys", &retire, &[]).await;
        assert_eq!(status, 409, "{html}");
        assert!(html.contains(&format!("Refusing to retire {kid}")) && html.contains("even so"), "{html}");
        assert_audited(&app, "admin.key_retired", &kid, "failure").await;
        let (status, html) = submit(&browser, "/admin/keys", &retire, &[("force", "on")]).await;
        assert_eq!(status, 200, "{html}");
        assert!(html.contains(&format!("Key {kid} retired")), "{html}");
        assert_audited(&app, "admin.key_retired", &kid, "success").await;

        let (status, html) = page(&browser, "/admin/audit?action=admin.key_retired").await;
        assert_eq!(status, 200);
        assert_eq!(html.matches("Admin: signing key retired").count(), 2 + 1, "two rows and the option: {html}");
        assert!(html.contains("<td class=\"failure\">failure</td>"), "{html}");
        let (_, html) = page(&browser, &format!("/admin/audit?user_id={}&outcome=success&action=", app.user.id)).await;
        assert!(html.contains("Admin: signing key added") && !html.contains("<td class=\"failure\">"), "{html}");
        let (status, html) = page(&browser, "/admin/audit?action=nonsense").await;
        assert_eq!(status, 400);
        assert!(html.contains("unknown action"), "{html}");
        let (status, _) = page(&browser, "/admin/audit?before=soon").await;
        assert_eq!(status, 400);
        for address in ["/admin/audit?action=sign_in&action=sign_up", "/admin/users?q=%FF"] {
            let (status, html) = page(&browser, address).await;
            assert_eq!(status, 400, "{address}");
            assert!(html.contains("This address cannot be read"), "{address}: {html}");
        }

        for _ in 0..60 {
            let event = gatehouse::store::audit::NewAuditEvent {
                at: app.clock.now(),
                actor_user_id: Some(&app.user.id),
                action: "sign_in",
                outcome: "success",
                target: None,
                client_id: None,
                ip: "192.0.2.7",
                user_agent: "",
                detail: Some("pwd"),
            };
            app.store.insert_audit_event(&event).await.unwrap();
        }
        let (_, newest) = page(&browser, "/admin/audit?action=sign_in").await;
        assert_eq!(newest.matches("192.0.2.7").count(), 50, "a page of 50");
        let older = link_containing(&newest, "before=").expect("older events");
        assert!(older.contains("action=sign_in"), "the filter stays: {older}");
        let (_, rest) = page(&browser, &older).await;
        assert_eq!(rest.matches("192.0.2.7").count(), 10, "{rest}");
    }

    /// Keys by URL, request URIs and pairwise subjects: set through the form and shown on
    /// the client's page, removed by a blank; a value the service refuses comes back with
    /// its message, as typed (escaped), and changes nothing.
    async fn admin_console_client_keys_request_uris_and_subjects(app) {
        let browser = admin(&app).await;
        add_client(&app.store, "reports", true, app.clock.now(), |c| {
            c.name = "Reports".into();
            c.redirect_uris = vec!["https://reports.example/cb".into()];
        })
        .await;
        let path = "/admin/clients/reports";
        let base = [("name", "Reports"), ("redirect_uris", "https://reports.example/cb"), ("grant:authorization_code", "on")];
        let with = |extra: &[(&'static str, &'static str)]| base.iter().chain(extra).copied().collect::<Vec<_>>();
        let stored = || async { app.store.client("reports").await.unwrap().unwrap() };

        let set = with(&[
            ("jwks_uri", "https://reports.example/jwks.json"),
            ("request_uris", "https://reports.example/req/1\r\nhttps://reports.example/req/2"),
            ("subject_type", "pairwise"),
        ]);
        let (status, html) = submit(&browser, path, path, &set).await;
        assert_eq!(status, 200, "{html}");
        assert!(html.contains("Client saved."), "{html}");
        let client = stored().await;
        assert_eq!(client.jwks_uri.as_deref(), Some("https://reports.example/jwks.json"));
        assert_eq!(client.request_uris, ["https://reports.example/req/1", "https://reports.example/req/2"]);
        assert_eq!(client.pairwise_sector.as_deref(), Some("reports.example"), "the redirect URIs' one host");
        assert_audited(&app, "admin.client_updated", "reports", "success").await;
        let (_, shown) = page(&browser, path).await;
        assert!(shown.contains(r#"id="jwks_uri" name="jwks_uri" type="text" value="https:&#x2f;&#x2f;reports.example&#x2f;jwks.json""#), "{shown}");
        assert!(shown.contains("reports.example&#x2f;req&#x2f;1\nhttps:&#x2f;&#x2f;reports.example&#x2f;req&#x2f;2</textarea>"), "{shown}");
        assert!(shown.contains(r#"id="subject_pairwise" name="subject_type" type="radio" value="pairwise" checked"#), "{shown}");
        assert!(!shown.contains(r#"value="public" checked"#), "{shown}");
        assert!(shown.contains("(keys by URL)") && shown.contains("pairwise subjects") && shown.contains("2 request URI(s)"), "{shown}");

        // Each refusal names the field's rule, keeps the form as typed, and stores nothing.
        let before = format!("{:?}", stored().await);
        let hostile = r#"javascript:"><script>alert(1)</script>"#;
        let refused: [(Vec<(&str, &str)>, &str); 4] = [
            (with(&[("jwks_uri", hostile), ("subject_type", "pairwise")]), "invalid jwks_uri"),
            (with(&[("request_uris", "javascript:alert(1)"), ("subject_type", "pairwise")]), "invalid request_uris"),
            (with(&[("sector_identifier_uri", "javascript:alert(1)"), ("subject_type", "pairwise")]), "invalid sector_identifier_uri"),
            (
                vec![
                    ("name", "Reports"),
                    ("redirect_uris", "https://reports.example/cb\r\nhttps://app.reports.example.net/cb"),
                    ("grant:authorization_code", "on"),
                    ("subject_type", "pairwise"),
                ],
                "redirect URIs on several hosts need a sector_identifier_uri",
            ),
        ];
        for (form, message) in &refused {
            let (status, html) = submit(&browser, path, path, form).await;
            assert_eq!(status, 422, "{message}: {html}");
            assert!(html.contains(message), "{message}: {html}");
            assert!(html.contains(r#"value="pairwise" checked"#), "the choice is kept: {html}");
            assert_eq!(format!("{:?}", stored().await), before, "{message}: nothing changed");
        }
        assert_audited(&app, "admin.client_updated", "reports", "failure").await;
        let (_, html) = submit(&browser, path, path, &refused[0].0).await;
        assert!(html.contains(r#"value="javascript:&quot;&gt;&lt;script&gt;alert(1)&lt;&#x2f;script&gt;""#), "escaped as typed: {html}");
        assert!(!html.contains("<script>alert"), "{html}");

        // Two hosts are one sector when a sector document lists every redirect URI.
        let two_hosts = "https://reports.example/cb\r\nhttps://app.reports.example.net/cb";
        let sector = sector_document(r#"["https://reports.example/cb", "https://app.reports.example.net/cb"]"#).await;
        let form = [("name", "Reports"), ("redirect_uris", two_hosts), ("grant:authorization_code", "on"), ("subject_type", "pairwise"), ("sector_identifier_uri", sector.as_str())];
        let (status, html) = submit(&browser, path, path, &form).await;
        assert_eq!(status, 200, "{html}");
        let client = stored().await;
        assert_eq!((client.sector_identifier_uri.as_deref(), client.pairwise_sector.as_deref()), (Some(sector.as_str()), Some("127.0.0.1")));
        assert!(client.jwks_uri.is_none() && client.request_uris.is_empty(), "blank fields removed them");
        let (_, shown) = page(&browser, path).await;
        assert!(shown.contains(&format!(r#"value="{}""#, sector.replace('/', "&#x2f;"))), "{shown}");
        let unlisted = sector_document(r#"["https://reports.example/cb"]"#).await;
        let form = [("name", "Reports"), ("redirect_uris", two_hosts), ("grant:authorization_code", "on"), ("subject_type", "pairwise"), ("sector_identifier_uri", unlisted.as_str())];
        let (status, html) = submit(&browser, path, path, &form).await;
        assert_eq!(status, 422, "{html}");
        assert!(html.contains("does not list the redirect URI https:&#x2f;&#x2f;app.reports.example.net&#x2f;cb"), "{html}");
        assert_eq!(stored().await.sector_identifier_uri.as_deref(), Some(sector.as_str()));

        // Back to public subjects, the sector URL blank: both gone.
        let (status, html) = submit(&browser, path, path, &with(&[("subject_type", "public")])).await;
        assert_eq!(status, 200, "{html}");
        let client = stored().await;
        assert!(client.pairwise_sector.is_none() && client.sector_identifier_uri.is_none(), "{client:?}");
        let (_, shown) = page(&browser, path).await;
        assert!(shown.contains(r#"value="public" checked"#) && shown.contains("public subjects"), "{shown}");

        // Inline keys (set elsewhere) and a URL cannot both be given; the page says so.
        add_client(&app.store, "signed", true, app.clock.now(), |c| {
            c.name = "Signed".into();
            c.redirect_uris = vec!["https://signed.example/cb".into()];
            c.jwks = Some(r#"{"keys":[]}"#.into());
        })
        .await;
        let (_, shown) = page(&browser, "/admin/clients/signed").await;
        assert!(shown.contains("(inline keys)") && shown.contains("It has an inline JWK Set"), "{shown}");
        let form = [("name", "Signed"), ("redirect_uris", "https://signed.example/cb"), ("grant:authorization_code", "on"), ("jwks_uri", "https://signed.example/jwks.json")];
        let (status, html) = submit(&browser, "/admin/clients/signed", "/admin/clients/signed", &form).await;
        assert_eq!(status, 422, "{html}");
        assert!(html.contains("not both"), "{html}");
        let signed = app.store.client("signed").await.unwrap().unwrap();
        assert!(signed.jwks_uri.is_none() && signed.jwks.is_some());

        // The new-client form takes them too.
        let form = [
            ("name", "Fresh"),
            ("client_id", "fresh"),
            ("redirect_uris", "https://fresh.example/cb"),
            ("grant:authorization_code", "on"),
            ("subject_type", "pairwise"),
            ("request_uris", "https://fresh.example/req"),
        ];
        let (status, html) = submit(&browser, "/admin/clients/new", "/admin/clients", &form).await;
        assert_eq!(status, 200, "{html}");
        let fresh = app.store.client("fresh").await.unwrap().unwrap();
        assert_eq!((fresh.pairwise_sector.as_deref(), fresh.request_uris.len()), (Some("fresh.example"), 1));
    }
}
