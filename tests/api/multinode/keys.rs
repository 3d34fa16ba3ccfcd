//! One signing key set for the whole cluster: every node publishes the same JWKS, a token
//! signed by one node is good at every other (signature, userinfo, introspection,
//! `id_token_hint`), a key rotated in reaches every node's JWKS within seconds, and no
//! node signs with a key another node does not publish.

use super::cluster::{Cluster, Options, PLRU};
use super::sessions::userinfo_status;
use crate::helpers::location;
use base64::Engine;
use serde_json::Value;
use std::time::Duration;

/// The kids a JWKS publishes, sorted.
fn kids(jwks: &Value) -> Vec<String> {
    let mut kids: Vec<String> = jwks["keys"]
        .as_array()
        .map(|keys| {
            keys.iter()
                .filter_map(|k| k["kid"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    kids.sort();
    kids
}

/// The `kid` in a JWT's header.
fn kid_of(jwt: &str) -> String {
    let header = jwt.split('.').next().unwrap_or_default();
    let header: Value = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .ok()
        .and_then(|h| serde_json::from_slice(&h).ok())
        .unwrap_or_default();
    header["kid"].as_str().unwrap_or("(none)").to_string()
}

/// Verifies `jwt`'s RS256 signature as a relying party would: the key of its `kid` in `jwks`.
fn verify_with(jwks: &Value, jwt: &str) -> Result<(), String> {
    let kid = kid_of(jwt);
    let jwk = jwks["keys"]
        .as_array()
        .and_then(|keys| keys.iter().find(|k| k["kid"] == kid.as_str()))
        .ok_or_else(|| format!("its kid {kid} is not in the JWKS (which has {:?})", kids(jwks)))?;
    let jwk = josekit::jwk::Jwk::from_map(jwk.as_object().cloned().unwrap_or_default()).map_err(|e| e.to_string())?;
    let verifier = josekit::jws::RS256.verifier_from_jwk(&jwk).map_err(|e| e.to_string())?;
    josekit::jwt::decode_with_verifier(jwt, &verifier)
        .map(|_| ())
        .map_err(|e| format!("the signature does not verify: {e}"))
}

/// Each node's published kids, as a line per node.
async fn published(cluster: &Cluster) -> Vec<Vec<String>> {
    let mut all = Vec::new();
    for i in 0..cluster.nodes.len() {
        all.push(kids(&cluster.jwks(i).await));
    }
    all
}

fn describe(cluster: &Cluster, published: &[Vec<String>]) -> String {
    published
        .iter()
        .enumerate()
        .map(|(i, kids)| format!("node {} publishes {kids:?}", cluster.node(i).name))
        .collect::<Vec<_>>()
        .join("; ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_node_publishes_and_accepts_the_same_signing_keys() {
    let Some(cluster) = Cluster::start(Options::default()).await else {
        return;
    };
    let mut wrong: Vec<String> = Vec::new();

    // 1. The same JWKS everywhere (nodes started together on an empty database agree on
    //    one first key).
    let before = published(&cluster).await;
    if before.iter().any(|k| *k != before[0]) {
        wrong.push(format!(
            "the nodes publish different JWKS: {}",
            describe(&cluster, &before)
        ));
    }

    // 2. Tokens signed by node A work at B and C.
    let visitor = cluster.visitor();
    let tokens = cluster.tokens(&visitor, 0, 0).await;
    let id_token = tokens["id_token"].as_str().unwrap();
    let access = tokens["access_token"].as_str().unwrap();
    for at in 1..cluster.nodes.len() {
        let name = cluster.node(at).name;
        if let Err(why) = verify_with(&cluster.jwks(at).await, id_token) {
            wrong.push(format!("node A's ID token against node {name}'s JWKS: {why}"));
        }
        let status = userinfo_status(&cluster, at, access).await;
        if status != 200 {
            wrong.push(format!(
                "node {name}'s /userinfo refuses node A's access token: {status} (expected 200)"
            ));
        }
        match cluster.active(at, access).await {
            Ok(true) => {}
            Ok(false) => wrong.push(format!(
                "node {name}'s /introspect calls node A's access token inactive"
            )),
            Err(e) => wrong.push(e),
        }
    }

    // 3. A key rotated in on one node (`gatehouse keys rotate`) is published by every
    //    node within seconds, before any signs with it.
    let output = cluster.cli(0, &["keys", "rotate"]);
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(
        output.status.success(),
        "gatehouse keys rotate: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let new_kid = stdout
        .split_whitespace()
        .skip_while(|w| *w != "key")
        .nth(1)
        .unwrap_or_default()
        .to_string();
    let mut after = published(&cluster).await;
    // Bounded: the issue allows 5 s; give it 12.
    for _ in 0..24 {
        if after.iter().all(|k| k.contains(&new_kid) && *k == after[0]) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        after = published(&cluster).await;
    }
    let missing: Vec<&str> = (0..cluster.nodes.len())
        .filter(|i| !after[*i].contains(&new_kid))
        .map(|i| cluster.node(i).name)
        .collect();
    if !missing.is_empty() {
        wrong.push(format!(
            "12 s after `gatehouse keys rotate` (on node A's host) added key {new_kid}, nodes {missing:?} do not publish it: {}",
            describe(&cluster, &after)
        ));
    }
    // What each node signs with now is published by every node.
    let mut refresh = tokens["refresh_token"].as_str().unwrap().to_string();
    for at in 0..cluster.nodes.len() {
        let response = cluster.refresh(at, &refresh).await.unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap_or_default();
        if status != 200 {
            wrong.push(format!("refresh at node {}: {status} {body}", cluster.node(at).name));
            break;
        }
        refresh = body["refresh_token"].as_str().unwrap_or_default().to_string();
        let kid = kid_of(body["id_token"].as_str().unwrap_or_default());
        let not_publishing: Vec<&str> = (0..cluster.nodes.len())
            .filter(|i| !after[*i].contains(&kid))
            .map(|i| cluster.node(i).name)
            .collect();
        if !not_publishing.is_empty() {
            wrong.push(format!(
                "node {} signs with key {kid}, which nodes {not_publishing:?} do not publish",
                cluster.node(at).name
            ));
        }
    }

    // 4. Node A's ID token as id_token_hint at node B: B signs the user out without asking.
    let b = cluster.node(1);
    let query = serde_urlencoded::to_string([
        ("id_token_hint", id_token),
        ("post_logout_redirect_uri", PLRU),
        ("state", "bye"),
    ])
    .unwrap();
    let response = visitor.get(b, &format!("/logout?{query}")).await.unwrap();
    let status = response.status();
    let to = location(response.headers());
    let expected = format!("{PLRU}?state=bye");
    if to.as_deref() != Some(expected.as_str()) {
        let text = response.text().await.unwrap_or_default();
        let asked = if text.contains("Sign out?") {
            " (the \"Sign out?\" confirmation page: B could not verify the hint)"
        } else {
            ""
        };
        wrong.push(format!(
            "node B's /logout with node A's ID token as id_token_hint answered {status}{asked}, not a redirect to {expected}"
        ));
    }

    assert!(
        wrong.is_empty(),
        "signing keys across the cluster:\n- {}\n{}",
        wrong.join("\n- "),
        cluster.logs()
    );
}

/// An instance given another key-encryption key than the rest cannot open the shared
/// signing keys: it refuses to start and says why, instead of making keys of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_with_another_key_encryption_key_refuses_to_start() {
    let Some(cluster) = Cluster::start(Options::default()).await else {
        return;
    };
    let before = published(&cluster).await;
    let other = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 32]>())
    };
    let env: Vec<(&str, &str)> = cluster
        .env
        .iter()
        .filter(|(k, _)| *k != "GATEHOUSE_KEYS__ENCRYPTION_KEY")
        .map(|(k, v)| (*k, v.as_str()))
        .chain([("GATEHOUSE_KEYS__ENCRYPTION_KEY", other.as_str())])
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let output = crate::cli::gatehouse(dir.path(), &["keys", "list"], &env, None);
    assert!(!output.status.success(), "it must not run with keys it cannot open");
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains("another key-encryption key"), "{err}");
    assert_eq!(published(&cluster).await, before, "nothing changed for the others");
    let keys: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM signing_keys")
        .fetch_one(cluster.store.pool())
        .await
        .unwrap();
    assert_eq!(keys, 1, "no key of its own was added");
}
