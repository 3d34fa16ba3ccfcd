//! Nodes started at the same moment on an empty database: one migrates it (under
//! PostgreSQL's advisory lock) while the others wait, every node comes up, and the
//! database ends up with each migration applied once.

use super::cluster::{Cluster, Options};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_started_together_on_an_empty_database_migrate_it_once() {
    // `Cluster::start` starts every node at once and fails if one does not come up.
    let Some(cluster) = Cluster::start(Options::default()).await else {
        return;
    };
    let shipped = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres"))
        .expect("migrations/postgres")
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "sql"))
        .count() as i64;
    let (applied, failed): (i64, i64) =
        sqlx::query_as("SELECT COUNT(*), COUNT(*) FILTER (WHERE NOT success) FROM _sqlx_migrations")
            .fetch_one(cluster.store.pool())
            .await
            .expect("the migrations table");
    assert_eq!(
        (applied, failed),
        (shipped, 0),
        "after {} nodes started together: {applied} migrations recorded ({failed} failed), {shipped} shipped",
        cluster.nodes.len()
    );
    // A deploy pipeline's check, from another node's host, finds nothing pending.
    let output = cluster.cli(1, &["migrate", "--check"]);
    assert!(
        output.status.success(),
        "`gatehouse migrate --check` on node B's host after the nodes migrated: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
