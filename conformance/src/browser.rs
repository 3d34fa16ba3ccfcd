//! The user agent: one cookie jar per module, redirects followed by hand so each hop is
//! seen, the OP's pages got through as the target describes them, and form_post pages
//! submitted as their script would.

use crate::callback::Arrival;
use crate::html::{self, Form};
use crate::target::{InteractionKind, Target};
use anyhow::{bail, Context};
use reqwest::{Method, StatusCode};
use std::sync::Arc;
use url::Url;

/// Which of the OP's pages the user is willing to get through in one navigation.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub login: bool,
    pub consent: bool,
    pub confirm_logout: bool,
}

impl Policy {
    /// A user who signs in, consents and confirms whatever the OP asks.
    pub const USER: Policy = Policy {
        login: true,
        consent: true,
        confirm_logout: true,
    };
    /// Nobody at the keyboard: any page is where the navigation ends.
    pub const NOBODY: Policy = Policy {
        login: false,
        consent: false,
        confirm_logout: false,
    };
}

/// A page the navigation ended on.
#[derive(Debug, Clone)]
pub struct Page {
    pub url: Url,
    pub status: StatusCode,
    pub body: String,
}

impl Page {
    /// An error page: a non-2xx answer, or a page that says "error" (what the suite's
    /// reviewer looks for in the screenshot).
    pub fn shows_error(&self) -> bool {
        !self.status.is_success() || html::text(&self.body).contains("error")
    }
}

#[derive(Debug, Clone)]
pub enum Landing {
    /// The browser arrived at the RP's callback listener.
    Callback(Arrival),
    Page(Page),
}

#[derive(Debug, Clone)]
pub struct Visit {
    pub landing: Landing,
    /// The OP pages met on the way, in order, whether or not they were got through.
    pub shown: Vec<InteractionKind>,
    /// Those pages as they were shown (for modules that look at what a page displays).
    pub seen: Vec<Page>,
}

impl Visit {
    pub fn saw(&self, kind: InteractionKind) -> bool {
        self.shown.contains(&kind)
    }

    pub fn callback(&self) -> Option<&Arrival> {
        match &self.landing {
            Landing::Callback(a) => Some(a),
            Landing::Page(_) => None,
        }
    }

    pub fn page(&self) -> Option<&Page> {
        match &self.landing {
            Landing::Page(p) => Some(p),
            Landing::Callback(_) => None,
        }
    }
}

pub struct Browser {
    http: reqwest::Client,
    target: Arc<Target>,
}

const MAX_HOPS: usize = 25;

impl Browser {
    pub fn new(target: Arc<Target>, roots: &[reqwest::Certificate]) -> anyhow::Result<Browser> {
        let mut builder = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(30))
            .user_agent("gatehouse-conformance (browser)")
            .default_headers(reqwest::header::HeaderMap::from_iter([(
                reqwest::header::ACCEPT,
                reqwest::header::HeaderValue::from_static("text/html,application/xhtml+xml,*/*;q=0.8"),
            )]));
        for root in roots {
            builder = builder.add_root_certificate(root.clone());
        }
        Ok(Browser {
            http: builder.build()?,
            target,
        })
    }

    pub async fn get(&self, url: Url, policy: Policy) -> anyhow::Result<Visit> {
        self.navigate(Method::GET, url, None, policy).await
    }

    pub async fn post(&self, url: Url, form: Vec<(String, String)>, policy: Policy) -> anyhow::Result<Visit> {
        self.navigate(Method::POST, url, Some(form), policy).await
    }

    async fn navigate(
        &self,
        mut method: Method,
        mut url: Url,
        mut form: Option<Vec<(String, String)>>,
        policy: Policy,
    ) -> anyhow::Result<Visit> {
        let callback_base = self.target.callback_base();
        let mut shown = Vec::new();
        let mut seen = Vec::new();
        let mut submitted = 0usize;
        for _ in 0..MAX_HOPS {
            let mut request = self.http.request(method.clone(), url.clone());
            if let Some(data) = &form {
                request = request.form(data);
            }
            let response = request.send().await.with_context(|| format!("{method} {url}"))?;
            let status = response.status();
            if url.as_str().starts_with(&callback_base) {
                let arrival: Arrival = response
                    .json()
                    .await
                    .context("reading the callback listener's answer")?;
                return Ok(Visit {
                    landing: Landing::Callback(arrival),
                    shown,
                    seen,
                });
            }
            if status.is_redirection() {
                if let Some(location) = response.headers().get(reqwest::header::LOCATION) {
                    let next = url.join(location.to_str().context("Location is not text")?)?;
                    // 307 and 308 repeat the request; the others turn it into a GET.
                    if !matches!(status, StatusCode::TEMPORARY_REDIRECT | StatusCode::PERMANENT_REDIRECT) {
                        method = Method::GET;
                        form = None;
                    }
                    url = next;
                    continue;
                }
            }
            let body = response.text().await.unwrap_or_default();
            let forms = html::forms(&url, &body);
            // A form_post response: its script would submit the form to the RP at once.
            if let Some(f) = forms.iter().find(|f| f.action.as_str().starts_with(&callback_base)) {
                (method, url, form) = submission(f, f.fields.clone());
                continue;
            }
            if let Some((kind, f, fill, button)) = self.interaction(&url, &forms) {
                shown.push(kind);
                seen.push(Page {
                    url: url.clone(),
                    status,
                    body: body.clone(),
                });
                let allowed = match kind {
                    InteractionKind::Login => policy.login,
                    InteractionKind::Consent => policy.consent,
                    InteractionKind::LogoutConfirm => policy.confirm_logout,
                };
                // A page that keeps coming back (a login that fails) ends the navigation.
                if allowed && submitted < 6 {
                    submitted += 1;
                    (method, url, form) = submission(f, f.submission(&fill, button.as_deref()));
                    continue;
                }
            }
            return Ok(Visit {
                landing: Landing::Page(Page { url, status, body }),
                shown,
                seen,
            });
        }
        bail!("more than {MAX_HOPS} redirects or pages without reaching an end")
    }

    /// The first described interaction this page is, with the form to submit.
    #[allow(clippy::type_complexity)]
    fn interaction<'f>(
        &self,
        url: &Url,
        forms: &'f [Form],
    ) -> Option<(InteractionKind, &'f Form, Vec<(String, String)>, Option<String>)> {
        for i in &self.target.interaction {
            let Some(form) = forms
                .iter()
                .enumerate()
                .find(|(n, f)| i.matches(url, f, *n == 0))
                .map(|(_, f)| f)
            else {
                continue;
            };
            let fill = i
                .fields
                .iter()
                .map(|(name, value)| {
                    let v = value
                        .replace("{username}", &self.target.user.username)
                        .replace("{password}", &self.target.user.password);
                    (name.clone(), v)
                })
                .collect();
            return Some((i.kind, form, fill, i.submit.clone()));
        }
        None
    }
}

fn submission(f: &Form, data: Vec<(String, String)>) -> (Method, Url, Option<Vec<(String, String)>>) {
    if f.method == "POST" {
        (Method::POST, f.action.clone(), Some(data))
    } else {
        let mut url = f.action.clone();
        url.query_pairs_mut().clear().extend_pairs(data);
        (Method::GET, url, None)
    }
}
