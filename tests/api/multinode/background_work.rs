//! Exactly-once background work while every node runs its workers: each mail reaches the
//! SMTP server once, each back-channel logout token reaches the app once, counted where
//! they arrive.

use super::cluster::{futures_join_all, Cluster, Options, Visitor};
use crate::helpers::{hidden_input, jwt_claims};
use axum::routing::post;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Users who each ask for a password reset, three on each node, all at once.
const RESETS: usize = 9;
/// Sessions signed out at once, spread over the nodes.
const LOGOUTS: usize = 6;

/// Asks node `at` for a reset link for `identifier`, as the forgot page does.
async fn forgot(cluster: &Cluster, at: usize, identifier: &str) -> Result<(), String> {
    let visitor = Visitor::new(&cluster.issuer);
    let node = cluster.node(at);
    let page = visitor.get(node, "/forgot").await.map_err(|e| e.to_string())?;
    let html = page.text().await.unwrap_or_default();
    let csrf = hidden_input(&html, "csrf_token").ok_or("no csrf_token on /forgot")?;
    let response = visitor
        .post(
            node,
            "/forgot",
            &[("identifier", identifier.to_string()), ("csrf_token", csrf)],
        )
        .await
        .map_err(|e| e.to_string())?;
    match response.status().as_u16() {
        200 => Ok(()),
        other => Err(format!("POST /forgot at node {}: {other}", node.name)),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_mail_is_delivered_exactly_once_while_every_node_runs_its_mail_worker() {
    let Some(cluster) = Cluster::start(Options::default()).await else {
        return;
    };
    let cluster = Arc::new(cluster);
    let mut users = Vec::new();
    for i in 0..RESETS {
        users.push(cluster.add_user(&format!("reset{i}")).await);
    }
    let asks = users.iter().enumerate().map(|(i, user)| {
        let (cluster, username) = (cluster.clone(), user.username.clone());
        async move { forgot(&cluster, i, &username).await }
    });
    for outcome in futures_join_all(asks).await {
        outcome.unwrap();
    }
    for user in &users {
        cluster.mail.wait_for(&user.email, "Reset your").await;
    }
    // Nothing left to send; a duplicate in flight has a moment to land.
    cluster.drained("mail_outbox").await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let counts: BTreeMap<String, usize> = users
        .iter()
        .map(|u| (u.email.clone(), cluster.mail.count_to(&u.email)))
        .collect();
    assert!(
        counts.values().all(|n| *n == 1),
        "each of {RESETS} reset mails (asked for on nodes A, B, C in turn) must reach the SMTP server once; received per recipient: {counts:?}\n{}",
        cluster.logs()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_back_channel_logout_is_delivered_exactly_once_while_every_node_runs_its_worker() {
    // The app's receiver: counts the logout tokens it gets, per session id.
    let received: Arc<Mutex<BTreeMap<String, usize>>> = Arc::default();
    let receiver = {
        let received = received.clone();
        axum::Router::new().route(
            "/backchannel",
            post(move |body: String| {
                let received = received.clone();
                async move {
                    let token = form_urlencoded::parse(body.as_bytes())
                        .find(|(k, _)| k == "logout_token")
                        .map(|(_, v)| v.into_owned())
                        .unwrap_or_default();
                    let sid = jwt_claims(&token)["sid"].as_str().unwrap_or("(no sid)").to_string();
                    *received.lock().unwrap().entry(sid).or_default() += 1;
                    axum::http::StatusCode::OK
                }
            }),
        )
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let uri = format!("http://{}/backchannel", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, receiver).await });

    let options = Options {
        backchannel_uri: Some(uri),
        ..Options::default()
    };
    let Some(cluster) = Cluster::start(options).await else {
        return;
    };
    let cluster = Arc::new(cluster);
    // Sessions that each got the app's tokens, signed in through different nodes.
    let mut visitors = Vec::new();
    let mut sids = Vec::new();
    for i in 0..LOGOUTS {
        let visitor = cluster.visitor();
        let tokens = cluster.tokens(&visitor, i, i + 1).await;
        sids.push(
            jwt_claims(tokens["id_token"].as_str().unwrap())["sid"]
                .as_str()
                .unwrap()
                .to_string(),
        );
        visitors.push(visitor);
    }
    // All signed out at once, each on another node.
    let logouts = visitors.into_iter().enumerate().map(|(i, visitor)| {
        let cluster = cluster.clone();
        async move { visitor.log_out(cluster.node(i)).await }
    });
    for outcome in futures_join_all(logouts).await {
        outcome.unwrap();
    }
    for _ in 0..200 {
        if received.lock().unwrap().len() >= LOGOUTS {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    cluster.drained("logout_deliveries").await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let received = received.lock().unwrap().clone();
    let counts: Vec<(String, usize)> = sids
        .iter()
        .map(|sid| (sid.clone(), received.get(sid).copied().unwrap_or(0)))
        .collect();
    assert!(
        counts.iter().all(|(_, n)| *n == 1) && received.len() == LOGOUTS,
        "each of {LOGOUTS} signed-out sessions must be announced to the app once; logout tokens received per sid: {received:?} (expected once each for {sids:?})\n{}",
        cluster.logs()
    );
}
