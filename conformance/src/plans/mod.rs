//! The plans and the machinery their modules share: the OP's published metadata, one
//! module context (browser, log, variant), and the code flow broken into the steps the
//! modules recombine.

pub mod backchannel;
pub mod basic;
pub mod config;
pub mod dynamic;
pub mod dynamic_client;
pub mod dynamic_keys;
pub mod dynamic_registration;
pub mod dynamic_request_uri;
pub mod flow;
pub mod logout;

use crate::browser::Browser;
use crate::checks::{discovery, Log, Stop};
use crate::report::{ModuleResult, Report, Severity, Status};
use crate::target::Target;
use anyhow::Context;
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    Basic,
    Config,
    FormPostBasic,
    RpInitiatedLogout,
    BackchannelLogout,
    Dynamic,
}

impl Plan {
    pub const ALL: [Plan; 6] = [
        Plan::Basic,
        Plan::Config,
        Plan::FormPostBasic,
        Plan::RpInitiatedLogout,
        Plan::BackchannelLogout,
        Plan::Dynamic,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Plan::Basic => "oidcc-basic-certification-test-plan",
            Plan::Config => "oidcc-config-certification-test-plan",
            Plan::FormPostBasic => "oidcc-formpost-basic-certification-test-plan",
            Plan::RpInitiatedLogout => "oidcc-rp-initiated-logout-certification-test-plan",
            Plan::BackchannelLogout => "oidcc-backchannel-rp-initiated-logout-certification-test-plan",
            Plan::Dynamic => "oidcc-dynamic-certification-test-plan",
        }
    }

    pub fn from_name(name: &str) -> Option<Plan> {
        Plan::ALL
            .into_iter()
            .find(|p| p.name() == name || p.name().starts_with(&format!("oidcc-{name}-")))
    }

    pub fn variant(self) -> &'static str {
        match self {
            Plan::FormPostBasic => {
                "server_metadata=discovery, client_registration=static_client, response_mode=form_post"
            }
            // The plan's own choice for its client modules (OIDCCDynamicTestPlan): private_key_jwt,
            // which jwks-uri and the RP key rotation module need.
            Plan::Dynamic => {
                "server_metadata=discovery, client_registration=dynamic_client, client_auth_type=private_key_jwt, \
                 response_type=code, response_mode=default"
            }
            _ => "server_metadata=discovery, client_registration=static_client, response_mode=default",
        }
    }

    pub fn modules(self) -> &'static [&'static str] {
        match self {
            Plan::Basic | Plan::FormPostBasic => basic::MODULES,
            Plan::Config => config::MODULES,
            Plan::RpInitiatedLogout => logout::MODULES,
            Plan::BackchannelLogout => backchannel::MODULES,
            Plan::Dynamic => dynamic::MODULES,
        }
    }
}

/// The OP as the runner found it at the start: its discovery document and keys.
pub struct Op {
    pub target: Arc<Target>,
    pub roots: Vec<reqwest::Certificate>,
    /// For back-channel calls (token, UserInfo): no cookies, no redirects.
    pub api: reqwest::Client,
    pub discovery_url: String,
    pub discovery: Fetched,
    pub jwks: Fetched,
    /// Back-channel logout requests the callback listener received.
    pub inbox: crate::callback::Inbox,
    /// What the callback listener serves the OP (dynamic plan).
    pub documents: crate::callback::Documents,
    /// The OP's JWKS as last fetched again, after its keys changed during the run.
    latest_jwks: std::sync::Mutex<Option<Value>>,
}

/// A document the OP served, or why it could not be had.
pub struct Fetched {
    pub status: u16,
    pub content_type: String,
    pub json: Result<Value, String>,
}

/// A response header as text, empty when absent or not text.
pub(crate) fn header_text(response: &reqwest::Response, name: reqwest::header::HeaderName) -> String {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

async fn fetch(api: &reqwest::Client, url: &str) -> Fetched {
    match api.get(url).send().await {
        Err(e) => Fetched {
            status: 0,
            content_type: String::new(),
            json: Err(format!("GET {url}: {e}")),
        },
        Ok(response) => {
            let status = response.status().as_u16();
            let content_type = header_text(&response, reqwest::header::CONTENT_TYPE);
            let json = response
                .json::<Value>()
                .await
                .map_err(|e| format!("GET {url}: not JSON: {e}"));
            Fetched {
                status,
                content_type,
                json,
            }
        }
    }
}

impl Op {
    pub async fn connect(target: Target) -> anyhow::Result<Op> {
        let mut roots = Vec::new();
        if let Some(path) = &target.ca_file {
            let pem = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            roots.push(reqwest::Certificate::from_pem(&pem).context("the CA file is not a PEM certificate")?);
        }
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .user_agent("gatehouse-conformance (relying party)");
        for root in &roots {
            builder = builder.add_root_certificate(root.clone());
        }
        let api = builder.build()?;
        let discovery_url = format!("{}/.well-known/openid-configuration", target.issuer());
        let discovery = fetch(&api, &discovery_url).await;
        let jwks_uri = discovery
            .json
            .as_ref()
            .ok()
            .and_then(|d| d.get("jwks_uri"))
            .and_then(Value::as_str);
        let jwks = match jwks_uri {
            Some(uri) => fetch(&api, uri).await,
            None => Fetched {
                status: 0,
                content_type: String::new(),
                json: Err("discovery has no jwks_uri".into()),
            },
        };
        Ok(Op {
            target: Arc::new(target),
            roots,
            api,
            discovery_url,
            discovery,
            jwks,
            inbox: crate::callback::Inbox::default(),
            documents: crate::callback::Documents::default(),
            latest_jwks: std::sync::Mutex::new(None),
        })
    }

    pub fn metadata(&self) -> &Value {
        static EMPTY: Value = Value::Null;
        self.discovery.json.as_ref().unwrap_or(&EMPTY)
    }

    pub fn keys(&self) -> &Value {
        static EMPTY: Value = Value::Null;
        self.jwks.json.as_ref().unwrap_or(&EMPTY)
    }

    /// The OP's JWKS with a key for `kid`: the one fetched at the start, or, when that has
    /// no such key (the OP rotated its keys meanwhile), the JWKS fetched again.
    pub async fn keys_for(&self, kid: Option<&str>) -> Value {
        let has = |jwks: &Value| {
            kid.is_none_or(|kid| {
                jwks.get("keys")
                    .and_then(Value::as_array)
                    .is_some_and(|keys| keys.iter().any(|k| k.get("kid").and_then(Value::as_str) == Some(kid)))
            })
        };
        if has(self.keys()) {
            return self.keys().clone();
        }
        if let Some(latest) = self.latest_jwks.lock().ok().and_then(|l| l.clone()) {
            if has(&latest) {
                return latest;
            }
        }
        let uri = self.metadata().get("jwks_uri").and_then(Value::as_str).unwrap_or("");
        match fetch(&self.api, uri).await.json {
            Ok(fresh) => {
                if let Ok(mut latest) = self.latest_jwks.lock() {
                    *latest = Some(fresh.clone());
                }
                fresh
            }
            Err(_) => self.keys().clone(),
        }
    }

    /// Fetches the OP's JWKS now, as it is (`oidcc-server-rotate-keys`).
    pub async fn fetch_keys(&self) -> Fetched {
        let uri = self.metadata().get("jwks_uri").and_then(Value::as_str).unwrap_or("");
        fetch(&self.api, uri).await
    }

    /// A list-valued discovery field.
    pub fn supports(&self, field: &str, value: &str) -> bool {
        discovery::strings(self.metadata(), field).iter().any(|v| v == value)
    }
}

/// One module's run: its browser (cookie jar), findings and variant.
pub struct Ctx {
    pub op: Arc<Op>,
    pub form_post: bool,
    pub log: Log,
    pub browser: Browser,
    /// The clients this module registered at the OP (dynamic plan), by `Which::Dynamic` index.
    pub dynamic: Vec<dynamic_client::DynClient>,
}

impl Ctx {
    /// Setup every module repeats: the discovery fields it needs and a sound JWKS.
    fn setup(&mut self) -> Result<(), Stop> {
        self.setup_server()?;
        // Absent, the field means client_secret_basic alone (OIDC Discovery §3).
        let methods = discovery::strings(self.op.metadata(), "token_endpoint_auth_methods_supported");
        self.log.expect(
            methods.is_empty() || methods.iter().any(|m| m == "client_secret_basic"),
            "EnsureServerConfigurationSupportsClientSecretBasic",
            "OIDCD-3",
            format!("token_endpoint_auth_methods_supported {methods:?} lacks client_secret_basic"),
        );
        Ok(())
    }

    /// The discovery document and the JWKS, as every module checks them first.
    pub(crate) fn setup_server(&mut self) -> Result<(), Stop> {
        if let Err(e) = &self.op.discovery.json {
            return Err(self.log.stop("FetchServerConfiguration", "OIDCD-4", e.clone()));
        }
        if !discovery::server_configuration(&mut self.log, self.op.metadata()) {
            return Err(Stop::Failed);
        }
        if let Err(e) = &self.op.jwks.json {
            return Err(self.log.stop("FetchServerKeys", "OIDCD-3", e.clone()));
        }
        discovery::server_jwks(&mut self.log, self.op.keys());
        Ok(())
    }
}

/// Runs the plans' modules (all of them, or those named in `only`) and reports.
pub async fn run_plans(target: Target, plans: &[Plan], only: &[String]) -> anyhow::Result<Report> {
    let listener = crate::callback::start(target.callback_port).await?;
    run_plans_with(target, listener, plans, only).await
}

/// As `run_plans`, with the callback listener already running on `target.callback_port`.
pub async fn run_plans_with(
    target: Target,
    listener: crate::callback::Listener,
    plans: &[Plan],
    only: &[String],
) -> anyhow::Result<Report> {
    // A misspelt module would otherwise run nothing and the run would report no failure.
    if let Some(unknown) = only
        .iter()
        .find(|o| !plans.iter().any(|p| p.modules().contains(&o.as_str())))
    {
        anyhow::bail!("{unknown:?} is not a module of the plans chosen");
    }
    let concurrency = target.concurrency.max(1);
    let mut op = Op::connect(target).await?;
    op.inbox = listener.inbox.clone();
    op.documents = listener.documents.clone();
    let op = Arc::new(op);
    let jobs: Vec<(Plan, &'static str)> = plans
        .iter()
        .flat_map(|p| p.modules().iter().map(move |m| (*p, *m)))
        .filter(|(_, m)| only.is_empty() || only.iter().any(|o| o == m))
        .collect();
    let gate = Arc::new(tokio::sync::Semaphore::new(concurrency));
    let mut handles = Vec::new();
    for (plan, module) in jobs {
        let op = op.clone();
        let gate = gate.clone();
        handles.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await;
            run_module(op, plan, module).await
        }));
    }
    let mut results = Vec::new();
    for handle in handles {
        results.push(handle.await.context("a module panicked")?);
    }
    Ok(Report {
        issuer: op.target.issuer().to_string(),
        results,
    })
}

/// A module gets this long before it counts as failed (the slowest waits 60 s, the RP
/// key rotation module's wait).
const MODULE_TIMEOUT: Duration = Duration::from_secs(150);

async fn run_module(op: Arc<Op>, plan: Plan, module: &'static str) -> ModuleResult {
    let started = Instant::now();
    let mut log = Log::default();
    let outcome = match Browser::new(op.target.clone(), &op.roots) {
        Err(e) => Err(Stop::from(e)),
        Ok(browser) => {
            let mut ctx = Ctx {
                op: op.clone(),
                form_post: plan == Plan::FormPostBasic,
                log: Log::default(),
                browser,
                dynamic: Vec::new(),
            };
            let run = async {
                match plan {
                    Plan::Config => config::run(&mut ctx, module).await,
                    Plan::Dynamic => dynamic::run(&mut ctx, module).await,
                    _ => {
                        ctx.setup()?;
                        match plan {
                            Plan::RpInitiatedLogout => logout::run(&mut ctx, module).await,
                            Plan::BackchannelLogout => backchannel::run(&mut ctx, module).await,
                            _ => basic::run(&mut ctx, module).await,
                        }
                    }
                }
            };
            let outcome = match tokio::time::timeout(MODULE_TIMEOUT, run).await {
                Ok(outcome) => outcome,
                Err(_) => Err(ctx
                    .log
                    .stop("ModuleTimeout", "-", "the module did not finish within 150 s")),
            };
            log = std::mem::take(&mut ctx.log);
            outcome
        }
    };
    let mut skip_reason = None;
    let mut review = false;
    match outcome {
        Ok(()) | Err(Stop::Failed) => {}
        Err(Stop::Error(e)) => log.fail("HttpRequest", "-", e),
        Err(Stop::Skipped(reason)) => skip_reason = Some(reason),
        Err(Stop::Review(reason)) => {
            review = true;
            skip_reason = Some(reason);
        }
    }
    // A failure found before a module skipped still fails it: skipping must not hide it.
    let status = if log.findings.iter().any(|f| f.severity == Severity::Failure) {
        Status::Failed
    } else if review {
        Status::Review
    } else if skip_reason.is_some() {
        Status::Skipped
    } else if log.findings.is_empty() {
        Status::Passed
    } else {
        Status::Warning
    };
    ModuleResult {
        plan: plan.name().into(),
        module: module.into(),
        variant: plan.variant().into(),
        status,
        skip_reason,
        findings: log.findings,
        millis: started.elapsed().as_millis() as u64,
    }
}
