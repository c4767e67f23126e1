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

// Parsed once per process: the size of the `run` arguments does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a sweep: the sequential baseline, then each backend at each throttle.
    Run(RunArgs),
    /// List workload kinds and their parameters with defaults.
    Workloads,
    /// Internal: the child side of the process backends.
    #[command(hide = true)]
    Worker(WorkerArgs),
}

/// Arguments of the hidden `worker` subcommand (started by the process backends).
#[derive(Debug, Args, Default)]
pub struct WorkerArgs {
    /// Run this one item and exit (process-per-item), instead of serving items from stdin.
    #[arg(long, value_name = "ITEM")]
    pub one: Option<u64>,
    /// The workload spec as JSON (with --one).
    #[arg(long, value_name = "JSON")]
    pub spec: Option<String>,
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
    /// Hosts of the remote backend, comma-separated: [user@]host[:port],…
    #[arg(long, value_name = "LIST", conflicts_with = "hosts_file")]
    pub hosts: Option<String>,
    /// A file of remote hosts, one per line (# comments).
    #[arg(long, value_name = "FILE")]
    pub hosts_file: Option<PathBuf>,
    /// The throttlebench executable on the remote hosts (default: throttlebench on PATH).
    #[arg(long, value_name = "PATH")]
    pub remote_binary: Option<String>,
    /// Extra ssh option for the remote backend, repeatable: --ssh-option IdentityFile=~/.ssh/k
    #[arg(long = "ssh-option", value_name = "OPTION")]
    pub ssh_options: Vec<String>,
}
