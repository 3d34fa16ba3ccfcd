//! gatehouse-conformance: runs the OpenID Foundation OP certification plans against an
//! OpenID provider, or makes the throwaway CA a run serves https with.

use anyhow::Context;
use clap::{Parser, Subcommand};
use gatehouse_conformance::{ca, run_plans, Plan, Target};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs plans against the OP a target file describes; exits 1 when a module fails.
    Run {
        /// The target: issuer, clients, user, pages (see conformance/README.md).
        #[arg(long)]
        target: PathBuf,
        /// Plans to run (basic, config, formpost, rp-initiated-logout, or full names); all by default.
        #[arg(long = "plan")]
        plans: Vec<String>,
        /// Run only these modules.
        #[arg(long = "module")]
        modules: Vec<String>,
        /// Write the JSON report here.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Write a Markdown results table here.
        #[arg(long)]
        markdown: Option<PathBuf>,
    },
    /// Prints JSON reports side by side as a Markdown table.
    Compare {
        /// `name=report.json`, one per column.
        #[arg(required = true)]
        runs: Vec<String>,
    },
    /// Makes a throwaway CA and a server certificate for loopback: ca.pem, server.pem, server.key.
    Ca {
        #[arg(long)]
        out: PathBuf,
        /// Names the certificate is for.
        #[arg(long = "name", default_values = ["localhost", "127.0.0.1", "::1"])]
        names: Vec<String>,
    },
}

fn plan(name: &str) -> anyhow::Result<Plan> {
    let wanted = match name {
        "formpost" | "formpost-basic" => "oidcc-formpost-basic-certification-test-plan",
        "logout" => "oidcc-rp-initiated-logout-certification-test-plan",
        other => other,
    };
    Plan::from_name(wanted).with_context(|| format!("unknown plan {name:?}"))
}

#[tokio::main]
async fn main() -> ExitCode {
    match real_main().await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn real_main() -> anyhow::Result<ExitCode> {
    match Cli::parse().command {
        Command::Ca { out, names } => {
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            ca::write(&out, &ca::issue(&names)?)?;
            println!("wrote {0}/ca.pem, {0}/server.pem, {0}/server.key", out.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Compare { runs } => {
            let mut loaded = Vec::new();
            for arg in &runs {
                let (name, path) = arg.split_once('=').context("give name=report.json")?;
                let text = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
                loaded.push((
                    name.to_string(),
                    serde_json::from_str(&text).with_context(|| format!("parsing {path}"))?,
                ));
            }
            print!("{}", gatehouse_conformance::report::compare(&loaded));
            Ok(ExitCode::SUCCESS)
        }
        Command::Run {
            target,
            plans,
            modules,
            json,
            markdown,
        } => {
            let target = Target::load(&target)?;
            let plans: Vec<Plan> = if plans.is_empty() {
                Plan::ALL.to_vec()
            } else {
                plans.iter().map(|p| plan(p)).collect::<Result<_, _>>()?
            };
            let report = run_plans(target, &plans, &modules).await?;
            print!("{}", report.table());
            if let Some(path) = json {
                std::fs::write(&path, serde_json::to_string_pretty(&report)?)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            if let Some(path) = markdown {
                std::fs::write(&path, report.markdown()).with_context(|| format!("writing {}", path.display()))?;
            }
            Ok(if report.failed() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}
