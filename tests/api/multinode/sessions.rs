//! A user's sign-in, an app's code and a sign-out, each hop on another node.

use super::cluster::{Cluster, Options};
use crate::helpers::{location, query_param, PASSWORD};

/// Logged in on node A, the browser's session cookie works on every node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_started_on_one_node_is_signed_in_on_every_node() {
    let Some(cluster) = Cluster::start(Options::default()).await else {
        return;
    };
    let visitor = cluster.visitor();
    let a = cluster.node(0);
    let status = visitor.log_in(a, a, "alice", PASSWORD).await.unwrap();
    assert_eq!(status, 303, "login on node A\n{}", cluster.logs());
    for node in &cluster.nodes {
        let page = visitor.get(node, "/account").await.unwrap();
        let status = page.status();
        let html = page.text().await.unwrap_or_default();
        assert_eq!(
            status, 200,
            "GET /account on node {} with the session cookie node A set: {status}, not the account page",
            node.name
        );
        assert!(
            html.contains("alice@example.com"),
            "node {}'s account page does not show alice's account",
            node.name
        );
    }
}

/// The authorize request parked by node A, its login page served by B, the login posted to
/// C, resumed on A: the code is redeemed at B, and B's tokens work at every node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_issued_by_one_node_is_redeemed_at_another() {
    let Some(cluster) = Cluster::start(Options::default()).await else {
        return;
    };
    let visitor = cluster.visitor();
    let (code, verifier) = cluster.code(&visitor, "alice", 0).await;
    let response = cluster.redeem(1, &code, &verifier).await.unwrap();
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    assert_eq!(
        status,
        200,
        "node B redeeming node A's code: {body}\n{}",
        cluster.logs()
    );
    let tokens: serde_json::Value = serde_json::from_str(&body).unwrap();
    for name in ["access_token", "id_token", "refresh_token"] {
        assert!(tokens[name].is_string(), "no {name} in node B's answer: {body}");
    }
    // The refresh token B issued rotates at C (the database is the only state).
    let refreshed = cluster
        .refresh(2, tokens["refresh_token"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(
        refreshed.status(),
        200,
        "node C refreshing node B's refresh token: {}",
        refreshed.text().await.unwrap_or_default()
    );
}

/// Signed out on node A (through the confirmation page): node B no longer knows the
/// session, and the app's tokens from that session stop working there too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_on_one_node_ends_the_session_on_every_node() {
    let Some(cluster) = Cluster::start(Options::default()).await else {
        return;
    };
    let visitor = cluster.visitor();
    // Signed in for the app; the tokens come from node B (so B can verify its own).
    let tokens = cluster.tokens(&visitor, 0, 1).await;
    let access = tokens["access_token"].as_str().unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let (b, c) = (cluster.node(1), cluster.node(2));
    assert_eq!(
        visitor.account_status(b).await.unwrap(),
        200,
        "signed in on B before the logout"
    );
    assert_eq!(
        userinfo_status(&cluster, 1, access).await,
        200,
        "B's userinfo before the logout"
    );

    visitor.log_out(cluster.node(0)).await.unwrap();

    let mut wrong = Vec::new();
    for node in &cluster.nodes {
        let status = visitor.account_status(node).await.unwrap();
        if status == 200 {
            wrong.push(format!(
                "node {}: GET /account still shows the account (200)",
                node.name
            ));
        }
    }
    // prompt=none at B: no session, so login_required back to the app.
    let (path, _) = cluster.authorize_path(&[("prompt", "none")]);
    let response = visitor.get(b, &path).await.unwrap();
    let to = location(response.headers()).unwrap_or_default();
    if query_param(&to, "error").as_deref() != Some("login_required") {
        wrong.push(format!(
            "node B: prompt=none after the logout answered {to:?}, not error=login_required"
        ));
    }
    let status = userinfo_status(&cluster, 1, access).await;
    if status != 401 {
        wrong.push(format!(
            "node B: userinfo with the session's access token answered {status}, not 401"
        ));
    }
    let response = cluster.refresh(2, refresh).await.unwrap();
    let status = response.status();
    if status != 400 {
        wrong.push(format!(
            "node {}: the session's refresh token still refreshes after the logout: {status} {}",
            c.name,
            response.text().await.unwrap_or_default()
        ));
    }
    assert!(
        wrong.is_empty(),
        "after logging out on node A:\n{}\n{}",
        wrong.join("\n"),
        cluster.logs()
    );
}

pub async fn userinfo_status(cluster: &Cluster, at: usize, access_token: &str) -> u16 {
    cluster
        .http
        .get(cluster.node(at).url("/userinfo"))
        .bearer_auth(access_token)
        .send()
        .await
        .expect("userinfo")
        .status()
        .as_u16()
}
