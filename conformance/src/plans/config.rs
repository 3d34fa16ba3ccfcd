//! oidcc-config-certification-test-plan: the discovery document and the keys it points to.

use super::Ctx;
use crate::checks::{discovery, Stop};

pub const MODULES: &[&str] = &["oidcc-discovery-endpoint-verification"];

pub async fn run(ctx: &mut Ctx, module: &str) -> Result<(), Stop> {
    if module != "oidcc-discovery-endpoint-verification" {
        return Err(Stop::Skipped(format!("unknown module {module}")));
    }
    verify_discovery(ctx)
}

/// The checks of oidcc-discovery-endpoint-verification, shared with the logout plan's.
pub fn verify_discovery(ctx: &mut Ctx) -> Result<(), Stop> {
    let op = ctx.op.clone();
    let fetched = &op.discovery;
    ctx.log.require(
        fetched.status == 200,
        "GetDynamicServerConfiguration",
        "OIDCD-4",
        format!("{} answered {}", op.discovery_url, fetched.status),
    )?;
    ctx.log.expect(
        fetched.content_type.starts_with("application/json"),
        "CheckDiscoveryEndpointReturnedJsonContentType",
        "OIDCD-4.2",
        format!("content type {:?}", fetched.content_type),
    );
    let doc = match &fetched.json {
        Ok(doc) => doc,
        Err(e) => return Err(ctx.log.stop("GetDynamicServerConfiguration", "OIDCD-4.2", e.clone())),
    };
    discovery::discovery_endpoint(&mut ctx.log, &op.discovery_url, doc);
    match &op.jwks.json {
        Err(e) => ctx.log.fail("FetchServerKeys", "OIDCD-3", e.clone()),
        Ok(jwks) => {
            ctx.log.expect(
                op.jwks.status == 200,
                "FetchServerKeys",
                "OIDCD-3",
                format!("jwks_uri answered {}", op.jwks.status),
            );
            discovery::server_jwks(&mut ctx.log, jwks);
        }
    }
    Ok(())
}
