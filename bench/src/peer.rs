//! Placeholder until the peer driver lands.
pub struct Peer {
    pub target: crate::target::Target,
}

impl Peer {
    pub async fn start(_users: usize) -> anyhow::Result<Peer> {
        anyhow::bail!("the peer driver is not merged yet")
    }
}
