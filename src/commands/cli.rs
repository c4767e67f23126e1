//! Command-line definitions (clap). Parsing only; the commands live in `commands/`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::spec::{parse_count, parse_positive, FitWeights, Overrides};

mod history;
mod parse_error;
mod shard;
pub use history::{HistoryArgs, HistoryFormat, HistoryOrder};
pub use parse_error::one_line;
pub use shard::{MergeArgs, ShardArgs};

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

// Parsed once per process: the size of the largest variant costs nothing worth boxing for.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a sweep: the sequential baseline, then each backend at each throttle.
    Run(Box<RunArgs>),
    /// List workload kinds and their parameters with defaults.
    Workloads,
    /// Re-render the charts, index.html and tables of a run folder from its results.json.
    Report(ReportArgs),
    /// Find the throttle `run` would recommend, adaptively: a doubling ramp, then only the
    /// throttles that can change the answer, in far fewer runs than a full sweep.
    Tune(TuneArgs),
    /// Compare a run with a baseline: change per point and metric, with a confidence interval
    /// and a verdict. Exit 1 on regression (see --fail-on).
    Compare(CompareArgs),
    /// Follow a sweep across runs (days, commits): per-point trends, steps and where they
    /// began, the latest run judged against the runs before it. Exit 1 on regression with
    /// --fail-on-change.
    History(HistoryArgs),
    /// Serve HTTP on 127.0.0.1 with a chosen latency, capacity and error rate (a test target).
    #[command(after_help = "Paths:\n  \
        /redirect/N     301 to /redirect/N-1; /redirect/1 to /\n  \
        /redirect/loop  302 to itself\n  \
        /status/CODE    answers CODE (200-599; a 3xx with Location: /)\n  \
        anything else   200 with the body (--body-size)\n\
        Every request goes through the same latency, capacity and error rate.")]
    Serve(ServeArgs),
    /// Fit the Universal Scalability Law to throughput against load from a file (a CSV, or a
    /// run's results): σ, κ, λ and N* with 95% confidence intervals.
    Fit(FitArgs),
    /// Add up the shards of a sharded run (`run --shard K/N`) into one ordinary run folder:
    /// counts and goodput summed, latency histograms added exactly, a per-shard breakdown.
    Merge(MergeArgs),
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
    #[command(flatten)]
    pub overrides: Overrides,
    /// Output folder (default: reports/<name>-<timestamp>).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Replace the run already in the --out folder.
    #[arg(long)]
    pub force: bool,
    /// Continue an interrupted run in this folder, skipping the points it already holds.
    #[arg(long, value_name = "RUN_DIR", conflicts_with_all = ["spec", "kind", "params", "backends", "limits", "items", "duration", "repeat", "warmup", "timeout", "trace", "name", "out", "force", "retries", "retry_backoff", "limiter"])]
    pub resume: Option<PathBuf>,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
    /// Exit with code 1 when no throttle meets the SLO.
    #[arg(long)]
    pub fail_on_slo: bool,
    /// Save this run as a named baseline (baselines/NAME.json), or at a path ending in .json.
    #[arg(long, value_name = "NAME")]
    pub save_baseline: Option<String>,
    /// Also append this run to a history folder (one file per run, never replaced), for
    /// `throttlebench history DIR`.
    #[arg(long, value_name = "DIR")]
    pub history: Option<PathBuf>,
    /// Compare this run with a saved baseline (name, run folder or results file) at the end.
    #[arg(long, value_name = "NAME")]
    pub baseline: Option<String>,
    #[command(flatten)]
    pub check: CheckArgs,
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
    #[command(flatten)]
    pub usl: UslArgs,
    #[command(flatten)]
    pub shard: ShardArgs,
    /// Adaptive limiters to judge against the sweep, comma-separated, each with its own
    /// parameters: aimd,vegas:alpha=3,beta=6,gradient2,envoy,vector. One point per limiter on
    /// thread, async and process, whose row reads async+vegas (async+vegas:alpha=3,beta=6 with
    /// parameters); one algorithm may come several times with other parameters.
    #[arg(long = "limiter", value_name = "LIST")]
    pub limiter: Option<String>,
}

#[derive(Debug, Args, Default)]
pub struct TuneArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// Highest throttle the search may try.
    #[arg(long, value_name = "N", default_value_t = 256, allow_negative_numbers = true, value_parser = parse_positive::<usize>)]
    pub max_limit: usize,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The baseline: a run folder, a results.json file or a saved baseline name.
    pub baseline: String,
    /// The run to judge, in the same forms.
    pub current: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = CompareFormat::Console)]
    pub format: CompareFormat,
    #[command(flatten)]
    pub check: CheckArgs,
}

/// How a comparison judges and what it leaves behind (shared by `run --baseline` and `compare`).
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Noise threshold: a change must clearly exceed it to count (e.g. 5%).
    #[arg(long, value_name = "PERCENT", default_value = "2%", value_parser = parse_threshold)]
    pub threshold: f64,
    /// Which verdicts make the exit code 1.
    #[arg(long, value_enum, value_name = "WHAT", default_value_t = FailOn::Regressed)]
    pub fail_on: FailOn,
    /// Compare even when workload parameters differ (the difference is still reported).
    #[arg(long)]
    pub allow_param_change: bool,
    /// Write a CI tracking file, repeatable: github-bigger=FILE, github-smaller=FILE, bencher=FILE.
    #[arg(long = "export", value_name = "FORMAT=FILE")]
    pub exports: Vec<crate::report::ci::ExportTarget>,
    /// Folder of named baselines.
    #[arg(long, value_name = "DIR", default_value = crate::report::baseline::DEFAULT_DIR)]
    pub baseline_dir: PathBuf,
}

/// `--threshold`: a percentage with its `%` ("5%", "2.5%"), from 0% to 1000%. A bare number is
/// refused: `0.1` could mean 0.1% or a share of 10%, and a gate must not guess which.
pub fn parse_threshold(text: &str) -> Result<f64, String> {
    let trimmed = text.trim();
    let (number, has_unit) = match trimmed.strip_suffix('%') {
        Some(n) => (n.trim(), true),
        None => (trimmed, false),
    };
    let value = match number.parse::<f64>() {
        Ok(x) if (0.0..=1000.0).contains(&x) => x,
        _ => {
            return Err(format!(
                "'{text}' is not a threshold (a percentage from 0% to 1000%, e.g. 5%)"
            ))
        }
    };
    if has_unit || value == 0.0 {
        return Ok(value);
    }
    Err(if value < 1.0 {
        format!(
            "'{text}' is ambiguous: write {number}% for {number} percent, or {}% for a share of {number}",
            (value * 100.0 * 1e6).round() / 1e6
        )
    } else {
        format!("'{text}' needs its unit: write {number}% (thresholds are percentages)")
    })
}

impl Default for CheckArgs {
    fn default() -> Self {
        CheckArgs {
            threshold: crate::analysis::compare::DEFAULT_THRESHOLD * 100.0,
            fail_on: FailOn::Regressed,
            allow_param_change: false,
            exports: Vec::new(),
            baseline_dir: PathBuf::from(crate::report::baseline::DEFAULT_DIR),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CompareFormat {
    Console,
    Markdown,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FailOn {
    /// Exit 1 when anything regressed.
    Regressed,
    /// Exit 1 when anything improved (e.g. to force a baseline update).
    Improved,
    /// Exit 1 on any change beyond noise.
    Any,
    /// Always exit 0.
    Never,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0: any free port; the chosen one is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: String,
    /// Time to answer each request, in milliseconds.
    #[arg(
        long,
        value_name = "MS",
        default_value_t = 0.0,
        allow_negative_numbers = true
    )]
    pub latency_ms: f64,
    /// Answers take the latency ± up to this many milliseconds.
    #[arg(
        long,
        value_name = "MS",
        default_value_t = 0.0,
        allow_negative_numbers = true
    )]
    pub jitter_ms: f64,
    /// Serve at most C requests at once; the rest wait in a queue.
    #[arg(long, value_name = "C", allow_negative_numbers = true, value_parser = parse_positive::<usize>)]
    pub capacity: Option<usize>,
    /// Requests allowed to wait for capacity; past it, 503 at once.
    #[arg(long, value_name = "N", default_value_t = 1024, allow_negative_numbers = true, value_parser = parse_count::<usize>)]
    pub queue: usize,
    /// Share of requests (0..1) answered with 503.
    #[arg(
        long,
        value_name = "P",
        default_value_t = 0.0,
        allow_negative_numbers = true
    )]
    pub error_rate: f64,
    /// Executor threads (default: one per core).
    #[arg(long, value_name = "N", default_value_t = 0, allow_negative_numbers = true, value_parser = parse_count::<usize>)]
    pub threads: usize,
    /// Bytes in each ok answer's body, e.g. 1MiB (default: "ok\n", 3 bytes).
    #[arg(long, value_name = "SIZE", value_parser = crate::workload::params::parse_size)]
    pub body_size: Option<u64>,
    /// Pause the whole server this long in every --stall-every-ms (as a GC pause): nothing
    /// arriving or in progress is answered until it ends.
    #[arg(
        long,
        value_name = "MS",
        default_value_t = 0.0,
        requires = "stall_every_ms"
    )]
    pub stall_ms: f64,
    /// The period of the stalls (--stall-ms), the first one period after the start.
    #[arg(long, value_name = "MS", default_value_t = 0.0)]
    pub stall_every_ms: f64,
    /// Serve https with this PEM certificate chain (needs --tls-key).
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Internal: die with this process (set by a run that starts its built-in server).
    #[arg(long, value_name = "PID", hide = true)]
    pub parent_pid: Option<i32>,
}

/// How the scalability (USL) fit is made: shared by `run`, `tune` and `fit`.
#[derive(Debug, Args, Default, Clone)]
pub struct UslArgs {
    /// Weighting of the USL least-squares fit: equal (plain least squares, the reference; the
    /// default) or relative (each point by 1/X²).
    #[arg(long, value_enum, value_name = "WEIGHTS")]
    pub usl_weights: Option<FitWeights>,
    /// Keep every point in the USL fit: never leave a stalled-looking point out.
    #[arg(long)]
    pub usl_keep_all: bool,
}

#[derive(Debug, Args)]
pub struct FitArgs {
    /// The data: a CSV file with a header row, a run's results.csv or results.json, or a run
    /// folder.
    pub file: PathBuf,
    /// The load column (concurrency, users, throttle): a header name or a 1-based column
    /// number [default: the first numeric column; throttle in a run's results.csv].
    #[arg(long = "n", visible_alias = "load", value_name = "COLUMN")]
    pub load: Option<String>,
    /// The throughput column: a header name or a 1-based column number [default: the next
    /// numeric column; goodput_per_s in a run's results.csv].
    #[arg(long = "x", visible_alias = "throughput", value_name = "COLUMN")]
    pub throughput: Option<String>,
    /// Fit only this backend of a run's results.
    #[arg(long, value_name = "BACKEND")]
    pub backend: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = FitFormat::Console)]
    pub format: FitFormat,
    /// Also write the fitted curve as a chart (scalability.svg, scalability.png) and the fit
    /// (fit.json) into this folder.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub usl: UslArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FitFormat {
    Console,
    Json,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_read_as_percentages() {
        assert_eq!(parse_threshold("5%"), Ok(5.0));
        assert_eq!(parse_threshold("2.5%"), Ok(2.5));
        assert_eq!(parse_threshold(" 0 % "), Ok(0.0));
        assert_eq!(parse_threshold("0"), Ok(0.0));
        assert!(parse_threshold("-1%").is_err());
        assert!(parse_threshold("five").is_err());
    }

    #[test]
    fn a_threshold_without_its_percent_sign_is_refused() {
        let ambiguous = parse_threshold("0.1").unwrap_err();
        assert!(
            ambiguous.contains("0.1%") && ambiguous.contains("10%"),
            "{ambiguous}"
        );
        let bare = parse_threshold("5").unwrap_err();
        assert!(bare.contains("write 5%"), "{bare}");
    }
}
