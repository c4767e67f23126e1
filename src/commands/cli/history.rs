//! Arguments of `throttlebench history`.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// The runs: run folders, results.json files or saved baselines, or folders holding them
    /// (a history folder, the reports/ or baselines/ folder).
    #[arg(required = true, value_name = "RUN")]
    pub runs: Vec<PathBuf>,
    /// Order of the runs: by start time, or by the git commit each recorded (oldest first,
    /// as the checkout here orders them; runs of one commit by start time).
    #[arg(long, value_enum, default_value_t = HistoryOrder::Time)]
    pub order: HistoryOrder,
    /// Judge every run against the runs before it, not only the latest.
    #[arg(long)]
    pub all: bool,
    /// Exit with code 1 when the latest run is a regression against the history.
    #[arg(long)]
    pub fail_on_change: bool,
    /// Noise threshold: a change must clearly exceed it to count (e.g. 5%).
    #[arg(long, value_name = "PERCENT", default_value = "2%", value_parser = crate::commands::cli::parse_threshold)]
    pub threshold: f64,
    /// Accept runs whose workload parameters differ (each difference is reported).
    #[arg(long)]
    pub allow_param_change: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = HistoryFormat::Console)]
    pub format: HistoryFormat,
    /// Also write an HTML page, the charts (SVG + PNG) and history.json into this folder.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HistoryOrder {
    /// By the time each run started.
    Time,
    /// By the commit recorded in each run (needs the git checkout the runs were made in).
    Git,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HistoryFormat {
    Console,
    Markdown,
    Json,
}
