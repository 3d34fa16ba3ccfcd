//! Server-rendered HTML. Templates come from `templates/` (embedded in the binary) and
//! can be overridden one by one from `templates_dir`. Autoescape is on for every `.html`
//! template and nothing user-provided is marked safe. Every page is sent with a strict
//! Content-Security-Policy and anti-framing headers.

use crate::config::Config;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use minijinja::{AutoEscape, Environment, Value};
use std::path::PathBuf;
use std::sync::Arc;

const EMBEDDED: &[(&str, &str)] = &[
    ("base.html", include_str!("../templates/base.html")),
    ("login.html", include_str!("../templates/login.html")),
    ("error.html", include_str!("../templates/error.html")),
    ("home.html", include_str!("../templates/home.html")),
    ("logout.html", include_str!("../templates/logout.html")),
    ("form_post.html", include_str!("../templates/form_post.html")),
    ("consent.html", include_str!("../templates/consent.html")),
    ("consents.html", include_str!("../templates/consents.html")),
    ("signup.html", include_str!("../templates/signup.html")),
    ("message.html", include_str!("../templates/message.html")),
    ("forgot.html", include_str!("../templates/forgot.html")),
    ("reset.html", include_str!("../templates/reset.html")),
    ("confirm.html", include_str!("../templates/confirm.html")),
    ("account.html", include_str!("../templates/account.html")),
    (
        "upstream_buttons.html",
        include_str!("../templates/upstream_buttons.html"),
    ),
    (
        "upstream_username.html",
        include_str!("../templates/upstream_username.html"),
    ),
    ("upstream_link.html", include_str!("../templates/upstream_link.html")),
    ("second_factor.html", include_str!("../templates/second_factor.html")),
    ("device.html", include_str!("../templates/device.html")),
    ("device_confirm.html", include_str!("../templates/device_confirm.html")),
    ("two_factor.html", include_str!("../templates/two_factor.html")),
    ("totp_setup.html", include_str!("../templates/totp_setup.html")),
    ("recovery_codes.html", include_str!("../templates/recovery_codes.html")),
    ("passkeys_login.html", include_str!("../templates/passkeys_login.html")),
    (
        "passkeys_second_factor.html",
        include_str!("../templates/passkeys_second_factor.html"),
    ),
    (
        "passkeys_account.html",
        include_str!("../templates/passkeys_account.html"),
    ),
    ("admin/layout.html", include_str!("../templates/admin/layout.html")),
    ("admin/denied.html", include_str!("../templates/admin/denied.html")),
    ("admin/message.html", include_str!("../templates/admin/message.html")),
    ("admin/reauth.html", include_str!("../templates/admin/reauth.html")),
    (
        "admin/dashboard.html",
        include_str!("../templates/admin/dashboard.html"),
    ),
    ("admin/clients.html", include_str!("../templates/admin/clients.html")),
    (
        "admin/client_new.html",
        include_str!("../templates/admin/client_new.html"),
    ),
    ("admin/client.html", include_str!("../templates/admin/client.html")),
    (
        "admin/client_fields.html",
        include_str!("../templates/admin/client_fields.html"),
    ),
    (
        "admin/client_secret.html",
        include_str!("../templates/admin/client_secret.html"),
    ),
    ("admin/users.html", include_str!("../templates/admin/users.html")),
    ("admin/user.html", include_str!("../templates/admin/user.html")),
    ("admin/keys.html", include_str!("../templates/admin/keys.html")),
    ("admin/audit.html", include_str!("../templates/admin/audit.html")),
    (
        "email/factor_added.txt",
        include_str!("../templates/email/factor_added.txt"),
    ),
    (
        "email/factor_removed.txt",
        include_str!("../templates/email/factor_removed.txt"),
    ),
    (
        "email/recovery_code_used.txt",
        include_str!("../templates/email/recovery_code_used.txt"),
    ),
    (
        "email/link_identity.txt",
        include_str!("../templates/email/link_identity.txt"),
    ),
    (
        "email/identity_linked.txt",
        include_str!("../templates/email/identity_linked.txt"),
    ),
    (
        "email/identity_unlinked.txt",
        include_str!("../templates/email/identity_unlinked.txt"),
    ),
    ("email/layout.html", include_str!("../templates/email/layout.html")),
    ("email/confirm.txt", include_str!("../templates/email/confirm.txt")),
    (
        "email/already_registered.txt",
        include_str!("../templates/email/already_registered.txt"),
    ),
    ("email/reset.txt", include_str!("../templates/email/reset.txt")),
    (
        "email/password_changed.txt",
        include_str!("../templates/email/password_changed.txt"),
    ),
    (
        "email/email_change.txt",
        include_str!("../templates/email/email_change.txt"),
    ),
    (
        "email/email_change_notice.txt",
        include_str!("../templates/email/email_change_notice.txt"),
    ),
    (
        "email/email_changed_revert.txt",
        include_str!("../templates/email/email_changed_revert.txt"),
    ),
    (
        "email/account_deleted.txt",
        include_str!("../templates/email/account_deleted.txt"),
    ),
];

/// What a path segment must encode: everything but RFC 3986's unreserved characters.
const PATH_SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

pub const STYLESHEET: &str = include_str!("../templates/assets/gatehouse.css");
/// Submits the form_post page's form; an external file, so CSP needs no unsafe-inline.
pub const FORM_POST_SCRIPT: &str = include_str!("../templates/assets/form_post.js");

/// No inline script or style anywhere; `form-action` is left out on purpose: Chrome applies
/// it to the redirects after a form post, which would block the hop back to the app.
/// The policy for every page. Images may also come from the configured logo's origin,
/// and on a page that shows a client's logo, from that logo's origin.
/// With passkeys, pages run our own `passkeys.js`, which fetches ceremony options from us.
fn content_security_policy(image_origins: &[&str], passkeys: bool) -> String {
    let mut images = "'self' data:".to_string();
    for origin in image_origins {
        images.push(' ');
        images.push_str(origin);
    }
    let scripts = if passkeys {
        " script-src 'self'; connect-src 'self';"
    } else {
        ""
    };
    format!("default-src 'none';{scripts} style-src 'self'; img-src {images}; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
}

#[derive(Clone)]
pub struct Pages {
    env: Arc<Environment<'static>>,
    product_name: String,
    logo_url: Option<String>,
    csp: HeaderValue,
    logo_origin: Option<String>,
    passkeys: bool,
    /// CSS that applies the configured accent colour, served at /assets/theme.css.
    pub theme_css: String,
    hsts: bool,
}

impl Pages {
    pub fn new(config: &Config) -> anyhow::Result<Pages> {
        let logo_origin = match &config.branding.logo_url {
            Some(url) if url.starts_with('/') => None,
            Some(url) => {
                let parsed =
                    url::Url::parse(url).map_err(|_| anyhow::anyhow!("invalid `branding.logo_url` {url:?}"))?;
                if parsed.scheme() != "https" {
                    anyhow::bail!("invalid `branding.logo_url` {url:?}: use https or a path on Gatehouse");
                }
                Some(parsed.origin().ascii_serialization())
            }
            None => None,
        };
        let mut env = Environment::new();
        let overrides: Option<PathBuf> = config.templates_dir.clone();
        env.set_loader(move |name| {
            if let Some(dir) = &overrides {
                // Names are ours (never user input), but stay inside the directory anyway.
                if !name.contains("..") {
                    match std::fs::read_to_string(dir.join(name)) {
                        Ok(text) => return Ok(Some(text)),
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => {
                            return Err(minijinja::Error::new(
                                minijinja::ErrorKind::InvalidOperation,
                                format!("cannot read template override {name}: {e}"),
                            ))
                        }
                    }
                }
            }
            Ok(EMBEDDED.iter().find(|(n, _)| *n == name).map(|(_, t)| t.to_string()))
        });
        // `segment`: a value put into a URL path (a client id may hold `/` or `:`).
        env.add_filter("segment", |value: String| {
            percent_encoding::utf8_percent_encode(&value, PATH_SEGMENT).to_string()
        });
        // HTML is escaped everywhere; plain-text email bodies are not HTML.
        env.set_auto_escape_callback(|name| {
            if name.ends_with(".txt") {
                AutoEscape::None
            } else {
                AutoEscape::Html
            }
        });
        // Fail at startup, not on a user's request, if an override does not compile.
        for (name, _) in EMBEDDED {
            env.get_template(name)
                .map_err(|e| anyhow::anyhow!("template {name}: {e}"))?;
        }
        // Passkeys exist exactly when the issuer's host is a name (see passkeys::relying_party).
        let passkeys = matches!(config.issuer.host(), Some(url::Host::Domain(_)));
        Ok(Pages {
            env: Arc::new(env),
            product_name: config.product_name.clone(),
            logo_url: config.branding.logo_url.clone(),
            csp: HeaderValue::from_str(&content_security_policy(
                &logo_origin.iter().map(String::as_str).collect::<Vec<_>>(),
                passkeys,
            ))
            .map_err(|_| anyhow::anyhow!("invalid `branding.logo_url`"))?,
            logo_origin,
            passkeys,
            theme_css: match &config.branding.accent_color {
                Some(color) => format!(":root {{ --accent: {color}; }}\n"),
                None => String::new(),
            },
            hsts: config.is_https(),
        })
    }

    /// Renders `template` with `ctx` (plus `product_name`) as a complete page response.
    pub fn render(&self, status: StatusCode, template: &str, ctx: Value) -> Response {
        let ctx = minijinja::context! { product_name => self.product_name, logo_url => self.logo_url, ..ctx };
        let html = self.env.get_template(template).and_then(|t| t.render(ctx));
        match html {
            Ok(html) => self.page(status, html),
            Err(e) => {
                tracing::error!(error = %e, template, "template rendering failed");
                self.page(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "<!doctype html><title>Error</title><p>Something went wrong on our side.</p>".into(),
                )
            }
        }
    }

    /// As [`Pages::render`], for a page showing an image from `image_url` (a client's
    /// logo): the policy lets images come from that URL's origin, and from no other. The
    /// origin is re-serialised by the URL parser, so nothing of the stored value but a
    /// scheme, host and port reaches the header.
    pub fn render_with_image(&self, status: StatusCode, template: &str, ctx: Value, image_url: &str) -> Response {
        let mut response = self.render(status, template, ctx);
        let origin = url::Url::parse(image_url)
            .ok()
            .map(|u| u.origin())
            .filter(|o| o.is_tuple())
            .map(|o| o.ascii_serialization());
        let Some(origin) = origin else {
            return response;
        };
        let mut origins: Vec<&str> = self.logo_origin.iter().map(String::as_str).collect();
        origins.push(&origin);
        if let Ok(csp) = HeaderValue::from_str(&content_security_policy(&origins, self.passkeys)) {
            response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, csp);
        }
        response
    }

    /// The form_post response (OAuth 2.0 Form Post Response Mode §2): a form that submits
    /// itself with a script from our origin, and offers a button when scripts are off.
    pub fn form_post(&self, action: &str, fields: Vec<Value>) -> Response {
        let mut response = self.render(StatusCode::OK, "form_post.html", minijinja::context! { action, fields });
        response.headers_mut().insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'none'; script-src 'self'; style-src 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
            ),
        );
        response
    }

    /// An email: `email/<name>.txt` gives the subject (its first line, `Subject: …`) and the
    /// text part; the HTML part is the same paragraphs in `email/layout.html`, with the
    /// context's `link` as a button labelled `link_label`.
    pub fn email(&self, name: &str, ctx: Value) -> anyhow::Result<(String, String, String)> {
        let ctx = minijinja::context! { product_name => self.product_name, ..ctx };
        let text = self
            .env
            .get_template(&format!("email/{name}.txt"))
            .and_then(|t| t.render(&ctx))
            .map_err(|e| anyhow::anyhow!("email template {name}: {e}"))?;
        let (first, body) = text.split_once('\n').unwrap_or((&text, ""));
        let subject = first.strip_prefix("Subject:").unwrap_or(first).trim().to_string();
        let body = body.trim().to_string();
        let paragraphs: Vec<&str> = body.split("\n\n").map(str::trim).filter(|p| !p.is_empty()).collect();
        let link = ctx.get_attr("link").ok().filter(|v| !v.is_undefined() && !v.is_none());
        let html = self
            .env
            .get_template("email/layout.html")
            .and_then(|t| t.render(minijinja::context! { subject, paragraphs, link, ..ctx.clone() }))
            .map_err(|e| anyhow::anyhow!("email layout: {e}"))?;
        let text = match &link {
            Some(link) => format!(
                "{body}\n\n{}: {link}\n",
                ctx.get_attr("link_label").map(|v| v.to_string()).unwrap_or_default()
            ),
            None => format!("{body}\n"),
        };
        Ok((subject, text, html))
    }

    /// The error page shown when we cannot (or must not) send the user back to an app.
    pub fn error(&self, status: StatusCode, title: &str, message: &str) -> Response {
        self.render(status, "error.html", minijinja::context! { title, message })
    }

    fn page(&self, status: StatusCode, html: String) -> Response {
        let mut response = (status, html).into_response();
        let h = response.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        h.insert(header::CONTENT_SECURITY_POLICY, self.csp.clone());
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if self.hsts {
            h.insert(
                header::STRICT_TRANSPORT_SECURITY,
                HeaderValue::from_static("max-age=31536000; includeSubDomains"),
            );
        }
        response
    }
}
