//! Single use across nodes: many copies of one code or one refresh token sent at once,
//! spread over every node. The database must pick exactly one winner; every loser is
//! told `invalid_grant`, and none gets a 5xx.

use super::cluster::{futures_join_all, Cluster, Options};
use std::collections::BTreeMap;
use std::sync::Arc;

/// What each of `n` concurrent token requests (request `i` to node `i % nodes`) answered.
async fn race(cluster: &Arc<Cluster>, n: usize, form: Vec<(&'static str, String)>) -> Vec<(String, u16, String)> {
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let requests = (0..n).map(|i| {
        let (cluster, barrier, form) = (cluster.clone(), barrier.clone(), form.clone());
        async move {
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            barrier.wait().await;
            let node = cluster.node(i).name.to_string();
            match cluster.client_post(i, "/token", &form).await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let body = response.text().await.unwrap_or_default();
                    let error = serde_json::from_str::<serde_json::Value>(&body)
                        .ok()
                        .and_then(|v| v["error"].as_str().map(str::to_string))
                        .unwrap_or_else(|| body.chars().take(200).collect());
                    (node, status, error)
                }
                Err(e) => (node, 0, format!("no answer: {e}")),
            }
        }
    });
    futures_join_all(requests).await
}

/// Asserts exactly one 200 and otherwise only 400 invalid_grant, listing what else came.
fn assert_one_winner(what: &str, answers: &[(String, u16, String)], cluster: &Cluster) {
    let winners: Vec<&String> = answers
        .iter()
        .filter(|(_, s, _)| *s == 200)
        .map(|(n, _, _)| n)
        .collect();
    let mut others: BTreeMap<String, usize> = BTreeMap::new();
    for (node, status, error) in answers {
        if *status != 200 && !(*status == 400 && error == "invalid_grant") {
            *others.entry(format!("node {node}: {status} {error}")).or_default() += 1;
        }
    }
    assert!(
        winners.len() == 1 && others.is_empty(),
        "{what}: {} answered 200 (on nodes {winners:?}), expected exactly 1; answers other than 200 or 400 invalid_grant: {others:?}\n{}",
        winners.len(),
        cluster.logs()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_redemptions_of_one_code_over_all_nodes_have_one_winner() {
    let Some(cluster) = Cluster::start(Options::default()).await else {
        return;
    };
    let cluster = Arc::new(cluster);
    let visitor = cluster.visitor();
    let (code, verifier) = cluster.code(&visitor, "alice", 0).await;
    let form = vec![
        ("grant_type", "authorization_code".to_string()),
        ("code", code),
        ("redirect_uri", cluster.client.redirect_uri.clone()),
        ("code_verifier", verifier),
    ];
    let answers = race(&cluster, 50, form).await;
    assert_one_winner("50 concurrent redemptions of one code", &answers, &cluster);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_refreshes_of_one_token_over_all_nodes_have_one_winner() {
    let Some(cluster) = Cluster::start(Options::default()).await else {
        return;
    };
    let cluster = Arc::new(cluster);
    let visitor = cluster.visitor();
    let tokens = cluster.tokens(&visitor, 0, 1).await;
    let form = vec![
        ("grant_type", "refresh_token".to_string()),
        ("refresh_token", tokens["refresh_token"].as_str().unwrap().to_string()),
    ];
    let answers = race(&cluster, 20, form).await;
    assert_one_winner("20 concurrent refreshes of one refresh token", &answers, &cluster);
}
