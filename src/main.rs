//! The `gatehouse` binary: parse the command line, run it, and turn any failure into a
//! one-line message and a non-zero exit rather than a panic.

use clap::Parser;
use gatehouse::cli::{run, Cli};
use std::process::ExitCode;

/// mimalloc's per-thread heaps instead of glibc's arenas: allocation and free on the hot
/// path stop contending between worker threads (see bench/results/REPORT.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gatehouse: {e:#}");
            ExitCode::FAILURE
        }
    }
}
