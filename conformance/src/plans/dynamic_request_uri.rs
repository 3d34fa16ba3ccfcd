//! Request objects passed by reference (OIDCC-6.2): the client pre-registers its
//! `request_uris`, the runner serves the request object there, and the OP fetches it.

use super::dynamic::{advertises, Here};
use super::flow::{AuthRequest, Reference};
use super::Ctx;
use crate::checks::Stop;
use serde_json::{json, Value};

/// oidcc-request-uri-unsigned and oidcc-ensure-request-object-with-redirect-uri send an
/// unsigned (alg none) request object; the suite skips them when discovery lists
/// request_object_signing_alg_values_supported without none (skipTestIfNoneUnsupported).
pub fn unsigned(ctx: &mut Ctx) -> Result<(), Stop> {
    let listed = ctx
        .op
        .metadata()
        .get("request_object_signing_alg_values_supported")
        .is_some();
    if listed && !advertises(ctx, "request_object_signing_alg_values_supported", "none") {
        return Err(Stop::Skipped(
            "'none' is not listed in request_object_signing_alg_values_supported; the official suite skips \
             this module too"
                .into(),
        ));
    }
    Err(Stop::Review(
        "the OP may take unsigned request objects; this runner does not reproduce the unsigned request \
         object modules: check them by hand"
            .into(),
    ))
}

/// oidcc-request-uri-signed-rs256: the whole flow with an RS256 request object by reference.
pub async fn signed_rs256(ctx: &mut Ctx, here: &Here) -> Result<(), Stop> {
    // OIDC Discovery §3: absent means true.
    let by_reference = ctx.op.metadata().get("request_uri_parameter_supported");
    ctx.log.expect(
        by_reference.is_none() || by_reference == Some(&Value::Bool(true)),
        "CheckDiscEndpointRequestUriParameterSupported",
        "OIDCD-3",
        format!("request_uri_parameter_supported is {by_reference:?}"),
    );
    ctx.log.expect(
        advertises(ctx, "request_object_signing_alg_values_supported", "RS256"),
        "CheckDiscEndpointRequestObjectSigningAlgValuesSupportedContainsRS256",
        "OIDCD-3",
        format!(
            "request_object_signing_alg_values_supported is {:?}",
            ctx.op.metadata().get("request_object_signing_alg_values_supported")
        ),
    );
    // CreateRandomRequestUri: a long random path on the RP's own host.
    let path = here.path(&format!("requesturi/{}", crate::jose::random_token(48)));
    let url = ctx.op.target.listener_url(&path);
    let mut registration = ctx.registration(&ctx.op.target.redirect_uri())?;
    registration
        .set("request_uris", json!([url]))
        .set("request_object_signing_alg", Value::String("RS256".into()));
    let which = ctx.register(registration).await?;
    let mut req = AuthRequest::new().client(which);
    req.by_reference = Some(Reference {
        url,
        path: path.clone(),
    });
    ctx.sign_in(&req).await?;
    Ok(())
}
