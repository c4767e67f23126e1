//! Command-line definitions (clap). Parsing only; the commands live in `commands/`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "throttlebench",
    version,
    about = "How many at once? Measures a workload at a sweep of throttle limits on several backends and says which limit to use.",
    long_about = None
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
// Parsed once per process: the size of the largest variant costs nothing worth boxing for.
#[allow(clippy::large_enum_variant)]
pub enum Command {
    /// Run a sweep: the sequential baseline, then each backend at each throttle.
    Run(RunArgs),
    /// List workload kinds and their parameters with defaults.
    Workloads,
    /// Re-render the charts, index.html and tables of a run folder from its results.json.
    Report(ReportArgs),
}

#[derive(Debug, Args, Default)]
pub struct ReportArgs {
    /// The run folder (holding results.json).
    pub run_dir: PathBuf,
    /// The traced point the timeline shows, as BACKEND:THROTTLE (default: the highest traced
    /// throttle of the first backend).
    #[arg(long, value_name = "BACKEND:THROTTLE")]
    pub timeline: Option<String>,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args, Default)]
pub struct RunArgs {
    /// Spec file (TOML). Without it, give --kind.
    pub spec: Option<PathBuf>,
    /// Workload kind (ad-hoc run, or replace the spec's kind).
    #[arg(long)]
    pub kind: Option<String>,
    /// Workload parameter, repeatable: --param ms=100 --param distribution=uniform
    #[arg(long = "param", value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    /// Backends to compare, comma-separated: thread,async
    #[arg(long = "backend", value_name = "LIST")]
    pub backends: Option<String>,
    /// Throttle limits: a list (1,2,4,8) or a doubling range (1..64).
    #[arg(long, value_name = "LIMITS")]
    pub limits: Option<String>,
    /// Items per point.
    #[arg(long, value_name = "N", conflicts_with = "duration")]
    pub items: Option<u64>,
    /// Run each point for this long instead of a fixed item count (e.g. 10s).
    #[arg(long, value_name = "TIME")]
    pub duration: Option<String>,
    /// Repetitions of every point (interleaved).
    #[arg(long, value_name = "R")]
    pub repeat: Option<u32>,
    /// Unmeasured items run before each point, at its throttle.
    #[arg(long, value_name = "W")]
    pub warmup: Option<u64>,
    /// Per-item timeout (e.g. 5s); an item past it is recorded as timed out.
    #[arg(long, value_name = "TIME")]
    pub timeout: Option<String>,
    /// Record every item's start and end in items.jsonl.
    #[arg(long)]
    pub trace: bool,
    /// Name of the run (default: the spec's name or file name).
    #[arg(long)]
    pub name: Option<String>,
    /// Output folder (default: reports/<name>-<timestamp>).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
}
