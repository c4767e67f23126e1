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
pub enum Command {
    /// Run a sweep: the sequential baseline, then each backend at each throttle.
    Run(RunArgs),
    /// List workload kinds and their parameters with defaults.
    Workloads,
    /// Serve HTTP on 127.0.0.1 with a chosen latency, capacity and error rate (a test target).
    Serve(ServeArgs),
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

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0: any free port; the chosen one is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: String,
    /// Time to answer each request, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 0.0)]
    pub latency_ms: f64,
    /// Answers take the latency ± up to this many milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 0.0)]
    pub jitter_ms: f64,
    /// Serve at most C requests at once; the rest wait in a queue.
    #[arg(long, value_name = "C")]
    pub capacity: Option<usize>,
    /// Requests allowed to wait for capacity; past it, 503 at once.
    #[arg(long, value_name = "N", default_value_t = 1024)]
    pub queue: usize,
    /// Share of requests (0..1) answered with 503.
    #[arg(long, value_name = "P", default_value_t = 0.0)]
    pub error_rate: f64,
    /// Executor threads (default: one per core).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub threads: usize,
    /// Serve https with this PEM certificate chain (needs --tls-key).
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}
