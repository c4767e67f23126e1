//! The flags of a sharded run (`run --shard K/N --start-at TIME`) and of `merge`, which adds
//! the shards' results up.

use std::path::PathBuf;

use clap::Args;

use crate::spec::ShardFlags;

/// Flattened into `run`: which shard this process is, and the shared schedule.
#[derive(Debug, Args, Default)]
pub struct ShardArgs {
    /// Run shard K of N of every point: throttle T is split over the N shards (shard K takes
    /// ⌊T/N⌋ slots, plus one when K ≤ T mod N), --items the same way over the shards with a
    /// slot; the baseline runs on shard 1 only.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,
    /// Read which shard this is from an environment variable holding a 0-based index
    /// (JOB_COMPLETION_INDEX in a Kubernetes Indexed Job); needs --shard-count.
    #[arg(long, value_name = "VAR")]
    pub shard_index_env: Option<String>,
    /// How many shards there are, with --shard-index-env.
    #[arg(long, value_name = "N", value_parser = crate::spec::parse_positive::<u32>)]
    pub shard_count: Option<u32>,
    /// Open point i at TIME + i × (duration + gap) by the wall clock: an RFC 3339 time
    /// (2026-12-03T16:00:00Z) or an offset (+30s). Needs --duration.
    #[arg(long, value_name = "TIME")]
    pub start_at: Option<String>,
    /// Time between one point's window and the next, with --start-at [default: 2s].
    #[arg(long, value_name = "TIME")]
    pub gap: Option<String>,
    /// At the end, print the whole results.json as one line on stdout, for a job whose log is
    /// all that is kept (`merge` reads such lines from a log file).
    #[arg(long)]
    pub results_line: bool,
}

impl ShardArgs {
    /// The flags as given, with the index variable's value read from the environment.
    pub fn flags<'a>(&'a self, env_value: Option<&'a str>) -> ShardFlags<'a> {
        ShardFlags {
            shard: self.shard.as_deref(),
            index_env: self.shard_index_env.as_deref().map(|var| (var, env_value)),
            count: self.shard_count,
            start_at: self.start_at.as_deref(),
            gap: self.gap.as_deref(),
        }
    }

    pub fn any(&self) -> bool {
        self.shard.is_some()
            || self.shard_index_env.is_some()
            || self.shard_count.is_some()
            || self.start_at.is_some()
            || self.gap.is_some()
    }
}

/// `throttlebench merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The shards' run folders, results.json files, or logs holding their --results-line
    /// lines (one log may hold several shards), every shard once.
    #[arg(required = true, value_name = "DIR")]
    pub shards: Vec<PathBuf>,
    /// The folder of the merged run.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Replace a run already in the --out folder.
    #[arg(long)]
    pub force: bool,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
}
