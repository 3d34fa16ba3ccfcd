//! Limits that protect one account or one inbox hold for the cluster, not per node: the
//! failed-login lockout and the per-recipient cap on link mails.

use super::cluster::{Cluster, Options, Visitor};
use crate::helpers::{hidden_input, PASSWORD};
use std::time::Duration;

/// Failures before the lockout starts (`accounts::lockout`).
const FREE_FAILURES: usize = 5;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_spread_over_the_nodes_lock_the_account_on_every_node() {
    let Some(cluster) = Cluster::start(Options::default()).await else {
        return;
    };
    // Wrong passwords, one node after another (each node sees fewer than would lock).
    for i in 0..FREE_FAILURES {
        let visitor = cluster.visitor();
        let status = visitor
            .log_in(cluster.node(i), cluster.node(i), "alice", "not the password at all")
            .await
            .unwrap();
        assert_eq!(
            status,
            401,
            "wrong password #{} at node {}",
            i + 1,
            cluster.node(i).name
        );
    }
    // Now even the right password waits, wherever it is tried.
    let mut let_in = Vec::new();
    for node in &cluster.nodes {
        let status = Visitor::new(&cluster.issuer)
            .log_in(node, node, "alice", PASSWORD)
            .await
            .unwrap();
        if status != 429 {
            let_in.push(format!("node {} answered {status}", node.name));
        }
    }
    assert!(
        let_in.is_empty(),
        "after {FREE_FAILURES} failed logins for alice spread over nodes A, B, C, the right password must meet the lockout (429) on every node: {}",
        let_in.join(", ")
    );
}

/// With a cap of 3 link mails an hour per recipient, six reset requests for one address
/// (two on each node) deliver three mails, not three per node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_per_recipient_mail_cap_holds_across_nodes() {
    const CAP: usize = 3;
    let options = Options {
        env: vec![("GATEHOUSE_ACCOUNTS__MAIL_PER_RECIPIENT_PER_HOUR", CAP.to_string())],
        ..Options::default()
    };
    let Some(cluster) = Cluster::start(options).await else {
        return;
    };
    let asks = 2 * cluster.nodes.len();
    for i in 0..asks {
        let visitor = cluster.visitor();
        let node = cluster.node(i);
        let html = visitor.get(node, "/forgot").await.unwrap().text().await.unwrap();
        let form = [
            ("identifier", "alice".to_string()),
            ("csrf_token", hidden_input(&html, "csrf_token").unwrap()),
        ];
        let response = visitor.post(node, "/forgot", &form).await.unwrap();
        assert_eq!(response.status(), 200, "POST /forgot #{} at node {}", i + 1, node.name);
        // The mail is queued just after the answer; one at a time keeps the count exact.
        cluster.drained("mail_outbox").await.unwrap();
    }
    // The last request's mail, if it was admitted, is queued after its answer.
    tokio::time::sleep(Duration::from_millis(500)).await;
    cluster.drained("mail_outbox").await.unwrap();
    let delivered = cluster.mail.count_to("alice@example.com");
    assert_eq!(
        delivered, CAP,
        "{asks} reset requests for alice spread over nodes A, B, C with mail_per_recipient_per_hour = {CAP}: alice received {delivered} mails"
    );
}
