use clap::Parser;
use gatehouse_example_resource_server::{router, warm_up, AppState, Config};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let config = Config::parse();
    let listen = config.listen;
    let (issuer, audience) = (config.issuer.clone(), config.audience.clone());
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let state = AppState::new(config.with_bound_address(listener.local_addr()?))?;
    warm_up(&state).await;
    tracing::info!(listen = %listener.local_addr()?, %issuer, %audience, "resource server listening");
    axum::serve(listener, router(state))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
