//! The WebDriver commands fantoccini has no method for, on the same [`Chrome`] session:
//! the W3C WebAuthn extension's virtual authenticator (passkey tests) and running a
//! script in the page.

use crate::browser::Chrome;

/// A WebDriver command fantoccini has no method for, sent as a custom command to
/// `/session/{id}/{path}`: the W3C WebAuthn extension's `webauthn/…`
/// (<https://www.w3.org/TR/webauthn-3/#sctn-automation>) and chromedriver's `goog/cdp/execute`.
#[derive(Debug)]
struct SessionCommand {
    method: axum::http::Method,
    path: String,
    body: Option<serde_json::Value>,
}

impl fantoccini::wd::WebDriverCompatibleCommand for SessionCommand {
    fn endpoint(&self, base_url: &url::Url, session_id: Option<&str>) -> Result<url::Url, url::ParseError> {
        let session = session_id.unwrap_or_default();
        base_url.join(&format!("session/{session}/{}", self.path))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (axum::http::Method, Option<String>) {
        (self.method.clone(), self.body.as_ref().map(|b| b.to_string()))
    }
}

impl Chrome {
    /// Adds a virtual platform authenticator (CTAP2, resident keys, user verification that
    /// always succeeds, as a fingerprint would) to this browser; returns its id.
    pub async fn add_virtual_authenticator(&self) -> String {
        let answer = self
            .client
            .issue_cmd(SessionCommand {
                method: axum::http::Method::POST,
                path: "webauthn/authenticator".into(),
                body: Some(serde_json::json!({
                    "protocol": "ctap2",
                    "transport": "internal",
                    "hasResidentKey": true,
                    "hasUserVerification": true,
                    "isUserVerified": true,
                })),
            })
            .await
            .unwrap_or_else(|e| panic!("add a virtual authenticator: {e}"));
        answer
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| panic!("no authenticator id in {answer}"))
    }

    /// The credentials the virtual authenticator holds (WebDriver's Credential objects).
    pub async fn virtual_credentials(&self, authenticator: &str) -> Vec<serde_json::Value> {
        let answer = self
            .client
            .issue_cmd(SessionCommand {
                method: axum::http::Method::GET,
                path: format!("webauthn/authenticator/{authenticator}/credentials"),
                body: None,
            })
            .await
            .unwrap_or_else(|e| panic!("read the virtual authenticator's credentials: {e}"));
        answer.as_array().cloned().unwrap_or_default()
    }

    /// Makes every page from now on say it has no passkey autofill (conditional
    /// mediation). Chromium's virtual authenticator answers an autofill request at once,
    /// as if the user had picked the passkey, so a test that presses the button, or signs
    /// in with a password while holding a passkey, must turn autofill off first.
    pub async fn without_passkey_autofill(&self) {
        let source = "if (window.PublicKeyCredential) { \
                      PublicKeyCredential.isConditionalMediationAvailable = () => Promise.resolve(false); }";
        self.client
            .issue_cmd(SessionCommand {
                method: axum::http::Method::POST,
                path: "goog/cdp/execute".into(),
                body: Some(serde_json::json!({
                    "cmd": "Page.addScriptToEvaluateOnNewDocument",
                    "params": { "source": source },
                })),
            })
            .await
            .unwrap_or_else(|e| panic!("turn passkey autofill off: {e}"));
    }

    /// Runs `script` in the page (a `return`ed promise is awaited) and gives its value.
    pub async fn run(&self, script: &str) -> serde_json::Value {
        self.client
            .execute(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("run {script}: {e}"))
    }
}
