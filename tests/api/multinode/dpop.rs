//! DPoP across nodes (RFC 9449): a nonce one node hands out is good on another (§8), and
//! one proof sent to every node at once is accepted exactly once (§11.1), as the replay
//! cache is the shared database's primary key.

use super::cluster::{futures_join_all, Cluster, Options};
use crate::dpop::DpopKey;
use crate::helpers::add_client;
use serde_json::{json, Value};
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nonces_are_shared_and_a_proof_is_accepted_once_over_all_nodes() {
    let options = Options {
        env: vec![("GATEHOUSE_DPOP__REQUIRE_NONCE", "true".into())],
        ..Options::default()
    };
    let Some(cluster) = Cluster::start(options).await else {
        return;
    };
    let now = gatehouse::Clock::system().now();
    let service = add_client(&cluster.store, "service", true, now, |c| {
        c.grant_types = vec!["client_credentials".into()];
        c.audiences = vec!["https://api.example".into()];
    })
    .await;
    let htu = format!("{}/token", cluster.issuer);
    let key = DpopKey::es256();
    let post = |at: usize, proof: String| {
        let request = cluster
            .http
            .post(cluster.node(at).url("/token"))
            .basic_auth(&service.id, service.secret.as_deref())
            .header("DPoP", proof)
            .form(&[("grant_type", "client_credentials")]);
        async move { request.send().await.expect("token request") }
    };

    let first = post(0, key.proof_at(now, "POST", &htu, json!({}))).await;
    assert_eq!(first.status(), 400, "{}", cluster.logs());
    let nonce = first.headers()["dpop-nonce"].to_str().unwrap().to_string();
    let on_b = post(1, key.proof_at(now, "POST", &htu, json!({ "nonce": nonce }))).await;
    assert_eq!(on_b.status(), 200, "node A's nonce is good on node B");

    let proof = key.proof_at(now, "POST", &htu, json!({ "nonce": nonce }));
    let copies = 12;
    let barrier = Arc::new(tokio::sync::Barrier::new(copies));
    let answers = futures_join_all((0..copies).map(|i| {
        let (barrier, request) = (barrier.clone(), post(i, proof.clone()));
        async move {
            barrier.wait().await;
            let response = request.await;
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap_or_default();
            (status, body["error"].as_str().unwrap_or_default().to_string())
        }
    }))
    .await;
    let winners = answers.iter().filter(|(status, _)| *status == 200).count();
    let replays = answers
        .iter()
        .filter(|(status, error)| *status == 400 && error == "invalid_dpop_proof")
        .count();
    assert_eq!((winners, replays), (1, copies - 1), "{answers:?}\n{}", cluster.logs());
}
