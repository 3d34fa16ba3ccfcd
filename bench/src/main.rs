//! gatehouse-bench: load scenarios against a release Gatehouse and the peer.
mod peer;
mod target;

fn main() {
    println!("gatehouse-bench: not wired yet");
}
