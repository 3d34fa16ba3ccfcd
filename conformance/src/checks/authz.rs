//! The authorization response at the RP's redirect URI (RFC 6749 §4.1.2, RFC 9207,
//! OAuth 2.0 Form Post Response Mode).

use super::{strong_secret, Log, Stop};
use crate::callback::Arrival;

/// What the RP expects the response to match.
pub struct Expect<'a> {
    pub state: &'a str,
    pub issuer: &'a str,
    pub form_post: bool,
}

/// Checks common to success and error responses: state echoed, `iss` if present, and
/// for form_post a urlencoded POST with nothing in the query.
fn common(log: &mut Log, arrival: &Arrival, expect: &Expect<'_>) {
    log.expect(
        arrival.param("state") == Some(expect.state),
        "CheckMatchingStateParameter",
        "OIDCC-3.1.2.5",
        format!(
            "state {:?} was sent, {:?} came back",
            expect.state,
            arrival.param("state")
        ),
    );
    if let Some(iss) = arrival.param("iss") {
        log.expect(
            iss == expect.issuer,
            "ValidateIssIfPresentInAuthorizationResponse",
            "RFC9207-2.4",
            format!("iss {iss:?} is not the issuer"),
        );
    }
    if expect.form_post {
        log.expect(
            arrival.method == "POST",
            "CheckCallbackHttpMethodIsPost",
            "OAuth2-FP-2",
            "the response did not arrive as a POST",
        );
        log.expect(
            arrival
                .content_type
                .as_deref()
                .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded")),
            "CheckCallbackContentTypeIsFormUrlEncoded",
            "OAuth2-FP-2",
            format!("the response's content type is {:?}", arrival.content_type),
        );
        for (name, condition) in [("code", "RejectAuthCodeInUrlQuery"), ("error", "RejectErrorInUrlQuery")] {
            log.expect(
                !arrival.in_query(name),
                condition,
                "OAuth2-FP-2",
                format!("{name} was in the URL query of a form_post response"),
            );
        }
    }
}

/// A successful response: returns the code.
pub fn success(log: &mut Log, arrival: &Arrival, expect: &Expect<'_>) -> Result<String, Stop> {
    if let Some(error) = arrival.param("error") {
        return Err(log.stop(
            "CheckIfAuthorizationEndpointError",
            "OIDCC-3.1.2.6",
            format!(
                "the authorization endpoint answered error={error} ({})",
                arrival.param("error_description").unwrap_or("")
            ),
        ));
    }
    common(log, arrival, expect);
    let code = arrival.param("code").map(str::to_string);
    let Some(code) = code else {
        return Err(log.stop(
            "ExtractAuthorizationCodeFromAuthorizationResponse",
            "OIDCC-3.1.2.5",
            "no code in the response",
        ));
    };
    strong_secret(log, "authorization code", &code, true);
    Ok(code)
}

/// An error response: `error` is one of `allowed`, no code, state echoed, a well-formed
/// description, nothing unexpected.
pub fn error(log: &mut Log, arrival: &Arrival, expect: &Expect<'_>, allowed: &[&str]) -> Result<(), Stop> {
    let Some(error) = arrival.param("error") else {
        return Err(log.stop(
            "EnsureErrorFromAuthorizationEndpointResponse",
            "OIDCC-3.1.2.6",
            format!(
                "expected an error in {allowed:?}, the OP answered with {:?}",
                arrival.names()
            ),
        ));
    };
    common(log, arrival, expect);
    log.expect(
        !arrival.names().contains(&"code"),
        "EnsureNoCodeInErrorResponse",
        "RFC6749-4.1.2.1",
        "an error response carried a code",
    );
    log.expect(
        allowed.contains(&error),
        "CheckErrorFromAuthorizationEndpointErrorInExpectedSet",
        "OIDCC-3.1.2.6",
        format!("error={error}; expected one of {allowed:?}"),
    );
    if let Some(description) = arrival.param("error_description") {
        log.expect(
            description
                .bytes()
                .all(|b| b == 0x20 || b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b)),
            "ValidateErrorDescriptionFromAuthorizationEndpointResponseError",
            "RFC6749-4.1.2.1",
            format!("error_description {description:?} has characters RFC 6749 does not allow"),
        );
    }
    for name in arrival.names() {
        log.advise(
            [
                "error",
                "error_description",
                "error_uri",
                "state",
                "iss",
                "session_state",
            ]
            .contains(&name),
            "CheckForUnexpectedParametersInErrorResponseFromAuthorizationEndpoint",
            "RFC6749-4.1.2.1",
            format!("unexpected parameter {name:?} in the error response"),
        );
    }
    Ok(())
}
