//! Key rotation on a running server (OIDC Core §10.1.1): a new key is published at once,
//! signs only after the delay, old tokens keep verifying during the overlap, and a
//! retired key leaves the JWKS.

use crate::helpers::*;
use serde_json::Value;
use std::time::Duration;

async fn kids(app: &TestApp) -> Vec<String> {
    let jwks: Value = reqwest::get(app.url("/jwks")).await.unwrap().json().await.unwrap();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_string())
        .collect()
}

fn kid_of(jwt: &str) -> String {
    use base64::Engine;
    let header = jwt.split('.').next().unwrap();
    let header: Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
    header["kid"].as_str().unwrap().to_string()
}

async fn wait_for(app: &TestApp, what: impl Fn(&[String]) -> bool) -> Vec<String> {
    for _ in 0..80 {
        let now = kids(app).await;
        if what(&now) {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("the running server did not pick up the key change");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_and_retirement_reach_a_running_server() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let keys = &app.state.keys;
    let old = kids(&app).await;
    assert_eq!(old.len(), 1);
    let before = app.tokens_with(&app.client, &[]).await;
    assert_eq!(kid_of(before["id_token"].as_str().unwrap()), old[0]);

    // Rotate with a delay shorter than an access token's life, to see the overlap.
    let now = app.clock.now();
    let new = keys.rotate(2048, now, now + 600).await.unwrap();
    let published = wait_for(&app, |k| k.len() == 2).await;
    assert!(published.contains(&new.kid), "published at once");
    let during = app.tokens_with(&app.client, &[]).await;
    assert_eq!(
        kid_of(during["id_token"].as_str().unwrap()),
        old[0],
        "not signing before its time"
    );

    app.clock.advance(601);
    let after = app.tokens_with(&app.client, &[]).await;
    assert_eq!(
        kid_of(after["id_token"].as_str().unwrap()),
        new.kid,
        "signs once its time has come"
    );
    assert_eq!(kid_of(after["access_token"].as_str().unwrap()), new.kid);
    // Tokens from the old key still work during the overlap.
    assert_eq!(app.userinfo_status(during["access_token"].as_str().unwrap()).await, 200);

    // Retiring too early is refused; after the longest token lifetime it is allowed.
    let stored = keys.stored().await.unwrap();
    assert!(gatehouse::keys::retire_check(&stored, &old[0], app.clock.now(), 3600).is_err());
    app.clock.advance(3600);
    gatehouse::keys::retire_check(&stored, &old[0], app.clock.now(), 3600).unwrap();
    keys.retire(&old[0], app.clock.now()).await.unwrap();
    let remaining = wait_for(&app, |k| k.len() == 1).await;
    assert_eq!(remaining, vec![new.kid.clone()]);
    // A token signed by a retired key no longer verifies.
    let fresh = app.tokens_with(&app.client, &[]).await;
    let r = reqwest::Client::new()
        .get(app.url("/userinfo"))
        .bearer_auth(fresh["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{:?}", r.headers().get("www-authenticate"));
    app.clock.advance(-(601 + 3600));
    assert_eq!(app.userinfo_status(during["access_token"].as_str().unwrap()).await, 401);
}

/// An install from before the keys moved into the database: its `keys/<kid>.pem` (with
/// its metadata sidecar) is imported on the first start, keeps its kid and its times, and
/// tokens it signed before the upgrade still verify.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_of_an_older_install_are_imported_once_with_their_times() {
    use josekit::jws::RS256;
    use std::os::unix::fs::OpenOptionsExt;
    let old = tempfile::tempdir().unwrap();
    let pair = RS256.generate_key_pair(2048).unwrap();
    let public = pair.to_jwk_public_key();
    let (n, e) = (
        public.parameter("n").unwrap().as_str().unwrap().to_string(),
        public.parameter("e").unwrap().as_str().unwrap().to_string(),
    );
    let kid = gatehouse::keys::thumbprint(&n, &e);
    let write = |name: String, bytes: &[u8]| {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(old.path().join(name))
            .unwrap();
        file.write_all(bytes).unwrap();
    };
    write(format!("{kid}.pem"), &pair.to_pem_private_key());
    let sidecar = serde_json::json!({ "kid": kid, "created_at": 1000, "signing_from": 1000, "retired_at": null });
    write(format!("{kid}.json"), sidecar.to_string().as_bytes());
    let keys_dir = old.path().to_path_buf();
    let app = spawn_app_with(Backend::Sqlite, move |raw| raw.keys_dir = keys_dir)
        .await
        .unwrap();

    assert_eq!(kids(&app).await, vec![kid.clone()], "the old key, and no new one");
    let stored = app.state.keys.stored().await.unwrap();
    assert_eq!((stored[0].created_at, stored[0].signing_from), (1000, 1000));
    let tokens = app.tokens_with(&app.client, &[]).await;
    assert_eq!(kid_of(tokens["id_token"].as_str().unwrap()), kid, "it signs as before");
    // The database holds it sealed: removing the files changes nothing.
    std::fs::remove_file(old.path().join(format!("{kid}.pem"))).unwrap();
    let rows: Vec<String> = sqlx::query_scalar("SELECT sealed FROM signing_keys")
        .fetch_all(app.store.pool())
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert!(!rows[0].contains("PRIVATE KEY"), "sealed, not PEM");
    assert_eq!(app.userinfo_status(tokens["access_token"].as_str().unwrap()).await, 200);
}
