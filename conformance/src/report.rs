//! Results: one per module, with the conditions that did not pass, printed as a table and
//! written as JSON.

use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// A module's outcome, as the official suite names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    Passed,
    Warning,
    /// The suite's outcome for what a person must judge; here, a module this runner
    /// does not reproduce for the OP's configuration. Not a failure, but not a pass.
    Review,
    Skipped,
    Failed,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Passed => "PASSED",
            Status::Warning => "WARNING",
            Status::Review => "REVIEW",
            Status::Skipped => "SKIPPED",
            Status::Failed => "FAILED",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Severity {
    Failure,
    Warning,
}

/// A condition that did not hold.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Finding {
    pub severity: Severity,
    /// The official suite's condition class this reproduces, e.g. `ValidateIdToken`.
    pub condition: String,
    /// The spec section, e.g. `OIDCC-3.1.3.7`.
    pub reference: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModuleResult {
    pub plan: String,
    pub module: String,
    /// The variant the module ran in, e.g. `response_mode=form_post`.
    pub variant: String,
    pub status: Status,
    /// Why a module was skipped, or what needs review.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip_reason: Option<String>,
    pub findings: Vec<Finding>,
    pub millis: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub issuer: String,
    pub results: Vec<ModuleResult>,
}

impl Report {
    pub fn count(&self, status: Status) -> usize {
        self.results.iter().filter(|r| r.status == status).count()
    }

    pub fn failed(&self) -> bool {
        self.count(Status::Failed) > 0
    }

    /// The terminal table: one row per module, then one line per finding under it.
    pub fn table(&self) -> String {
        let width = self.results.iter().map(|r| r.module.len()).max().unwrap_or(10).max(6);
        let mut out = String::new();
        let mut plan = "";
        for r in &self.results {
            if r.plan != plan {
                plan = &r.plan;
                let _ = writeln!(out, "\n{plan} ({})", r.variant);
                let _ = writeln!(out, "  {:width$}  RESULT", "MODULE");
            }
            let _ = writeln!(out, "  {:width$}  {}", r.module, r.status.label());
            if let Some(reason) = &r.skip_reason {
                let _ = writeln!(out, "  {:width$}    skipped: {reason}", "");
            }
            for f in &r.findings {
                let tag = match f.severity {
                    Severity::Failure => "FAIL",
                    Severity::Warning => "WARN",
                };
                let _ = writeln!(
                    out,
                    "  {:width$}    {tag} {} [{}]: {}",
                    "", f.condition, f.reference, f.message
                );
            }
        }
        let _ = writeln!(
            out,
            "\n{} modules: {} passed, {} warnings, {} to review, {} skipped, {} failed",
            self.results.len(),
            self.count(Status::Passed),
            self.count(Status::Warning),
            self.count(Status::Review),
            self.count(Status::Skipped),
            self.count(Status::Failed)
        );
        out
    }

    /// A Markdown table of the outcomes, for the README.
    pub fn markdown(&self) -> String {
        let mut out = String::from("| plan | module | result | note |\n|---|---|---|---|\n");
        for r in &self.results {
            let note = r
                .skip_reason
                .clone()
                .or_else(|| r.findings.first().map(|f| format!("{}: {}", f.condition, f.message)))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                r.plan,
                r.module,
                r.status.label(),
                note.replace('|', "\\|")
            );
        }
        out
    }
}

/// Runs side by side (Gatehouse on each backend, a certified peer), as a Markdown table;
/// rows where the outcomes are not all the same are marked.
pub fn compare(runs: &[(String, Report)]) -> String {
    let Some((_, first)) = runs.first() else {
        return String::new();
    };
    let names: Vec<&str> = runs.iter().map(|(n, _)| n.as_str()).collect();
    let mut out = format!(
        "| plan | module | {} | |\n|---|---|{}---|\n",
        names.join(" | "),
        "---|".repeat(runs.len())
    );
    let short = |plan: &str| {
        plan.trim_start_matches("oidcc-")
            .trim_end_matches("-certification-test-plan")
            .to_string()
    };
    for row in &first.results {
        let cells: Vec<&str> = runs
            .iter()
            .map(|(_, report)| {
                report
                    .results
                    .iter()
                    .find(|r| r.plan == row.plan && r.module == row.module)
                    .map(|r| r.status.label())
                    .unwrap_or("-")
            })
            .collect();
        let mark = if cells.iter().all(|c| *c == cells[0]) {
            ""
        } else {
            "differs"
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {mark} |",
            short(&row.plan),
            row.module,
            cells.join(" | ")
        );
    }
    out
}
