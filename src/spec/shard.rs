//! One run split into N shards that load the target at the same time from several machines
//! (a Kubernetes Indexed Job, a CI matrix, an array job), and the shared wall-clock schedule
//! that lines their points up without a coordinator: which share of a point's load a shard
//! takes, and when each point's window opens.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use super::values::parse_duration;
use super::SweepSettings;
use crate::backend::Budget;
use crate::error::SpecError;

/// Most shards one run may be split into.
pub const MAX_SHARDS: u32 = 1024;

/// Which shard of how many this process runs; `index` counts from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// `K/N`, K from 1 to N.
    pub fn parse(text: &str) -> Result<Shard, SpecError> {
        let bad = || {
            SpecError::invalid(format!(
                "--shard '{text}' is not K/N with 1 ≤ K ≤ N ≤ {MAX_SHARDS} (e.g. 1/2)"
            ))
        };
        let (k, n) = text.trim().split_once('/').ok_or_else(bad)?;
        let index: u32 = k.trim().parse().map_err(|_| bad())?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        if index == 0 || index > count || count > MAX_SHARDS {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    /// The shard whose 0-based index is in an environment variable's value (Kubernetes sets
    /// `JOB_COMPLETION_INDEX` so in an Indexed Job), of `count`.
    pub fn from_index_env(var: &str, value: Option<&str>, count: u32) -> Result<Shard, SpecError> {
        let value = value
            .ok_or_else(|| SpecError::invalid(format!("--shard-index-env: {var} is not set")))?;
        let zero_based: u32 = value.trim().parse().map_err(|_| {
            SpecError::invalid(format!(
                "--shard-index-env: {var}='{value}' is not a shard index (0 to {})",
                count.saturating_sub(1)
            ))
        })?;
        Shard::parse(&format!("{}/{count}", zero_based.saturating_add(1))).map_err(|_| {
            SpecError::invalid(format!(
                "--shard-index-env: {var}={zero_based} is not below --shard-count {count}"
            ))
        })
    }

    /// This shard's part of `total` (throttle slots, items): ⌊total/N⌋, plus one for the first
    /// `total mod N` shards, so the shards' parts add up to `total` exactly. A part may be 0
    /// (throttle 2 over 4 shards): that shard then runs nothing in the point and waits its window
    /// out, recording an empty point.
    pub fn share(&self, total: u64) -> u64 {
        let (n, k) = (u64::from(self.count), u64::from(self.index));
        total / n + u64::from(k <= total % n)
    }

    /// This shard's part of a rate (items per second, open loop): an even N-th.
    pub fn share_rate(&self, rate: f64) -> f64 {
        rate / f64::from(self.count)
    }

    /// Only shard 1 measures the sequential baseline: it is a property of the workload, not of
    /// the load, and N copies of it would only disturb each other.
    pub fn runs_baseline(&self) -> bool {
        self.index == 1
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Point i of the plan opens at `start_at + i × (duration + gap)` by the wall clock, the same
/// for every shard, so the target sees every shard's part of a point at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    /// RFC 3339, UTC, to the millisecond.
    pub start_at: String,
    /// Each point's measuring time (the run's `--duration`).
    #[serde(with = "humantime_serde")]
    pub duration: Duration,
    /// Between the end of one point's window and the start of the next: room for warm-up,
    /// starting workers and clock skew.
    #[serde(with = "humantime_serde")]
    pub gap: Duration,
}

/// The gap between points when none is given.
pub const DEFAULT_GAP: Duration = Duration::from_secs(2);

impl Schedule {
    /// A schedule starting at `start` (RFC 3339, or `+30s` from `now`).
    pub fn new(
        start: &str,
        duration: Duration,
        gap: Duration,
        now: SystemTime,
    ) -> Result<Schedule, SpecError> {
        let at = parse_start(start, now)?;
        Ok(Schedule {
            start_at: at.to_rfc3339_opts(SecondsFormat::Millis, true),
            duration,
            gap,
        })
    }

    /// When point `index` (its place in the whole plan, baseline included) opens.
    pub fn window_start(&self, index: usize) -> SystemTime {
        let start = DateTime::parse_from_rfc3339(&self.start_at)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default();
        let start = UNIX_EPOCH + Duration::from_millis(start.timestamp_millis().max(0) as u64);
        start + (self.duration + self.gap) * index as u32
    }
}

/// The sharding and schedule flags of `run`, as given.
#[derive(Debug, Default, Clone, Copy)]
pub struct ShardFlags<'a> {
    /// `--shard K/N`.
    pub shard: Option<&'a str>,
    /// `--shard-index-env VAR` with the variable's value, and `--shard-count N`.
    pub index_env: Option<(&'a str, Option<&'a str>)>,
    pub count: Option<u32>,
    /// `--start-at TIME` and `--gap TIME`.
    pub start_at: Option<&'a str>,
    pub gap: Option<&'a str>,
}

/// Lays the sharding and schedule flags over a sweep's settings, refusing what cannot work.
pub fn apply_shard_flags(
    sweep: &mut SweepSettings,
    flags: &ShardFlags<'_>,
    now: SystemTime,
) -> Result<(), SpecError> {
    sweep.shard = match (flags.shard, flags.index_env, flags.count) {
        (Some(_), Some(_), _) => {
            return Err(SpecError::invalid(
                "give --shard K/N or --shard-index-env VAR, not both",
            ))
        }
        (Some(text), None, None) => Some(Shard::parse(text)?),
        (Some(_), None, Some(_)) => {
            return Err(SpecError::invalid(
                "--shard-count goes with --shard-index-env; --shard K/N names N already",
            ))
        }
        (None, Some((var, value)), Some(count)) => Some(Shard::from_index_env(var, value, count)?),
        (None, Some(_), None) => {
            return Err(SpecError::invalid(
                "--shard-index-env needs --shard-count N (how many shards there are)",
            ))
        }
        (None, None, Some(_)) => {
            return Err(SpecError::invalid(
                "--shard-count needs --shard-index-env VAR (which shard this is)",
            ))
        }
        (None, None, None) => None,
    };
    let gap = flags
        .gap
        .map(|text| parse_duration(text, "--gap"))
        .transpose()?;
    sweep.schedule = match flags.start_at {
        None if gap.is_some() => {
            return Err(SpecError::invalid(
                "--gap needs --start-at (the schedule it spaces)",
            ))
        }
        None => None,
        Some(start) => {
            let Budget::Duration(duration) = sweep.budget else {
                return Err(SpecError::invalid(
                    "--start-at needs --duration: a schedule gives every point a window of that length, an item count has none",
                ));
            };
            Some(Schedule::new(
                start,
                duration,
                gap.unwrap_or(DEFAULT_GAP),
                now,
            )?)
        }
    };
    Ok(())
}

/// `--start-at`: an RFC 3339 time (`2026-12-03T16:00:00Z`) or an offset from now (`+30s`).
fn parse_start(text: &str, now: SystemTime) -> Result<DateTime<Utc>, SpecError> {
    let text = text.trim();
    if let Some(offset) = text.strip_prefix('+') {
        let offset = parse_duration(offset, "--start-at offset")?;
        return Ok(DateTime::<Utc>::from(now + offset));
    }
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            SpecError::invalid(format!(
                "--start-at '{text}' is neither an RFC 3339 time (2026-12-03T16:00:00Z) nor an offset such as +30s"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_add_up_to_the_whole() {
        for n in 1..=5u32 {
            for total in 0..=17u64 {
                let parts: Vec<u64> = (1..=n)
                    .map(|index| Shard { index, count: n }.share(total))
                    .collect();
                assert_eq!(parts.iter().sum::<u64>(), total, "{total} over {n}");
                let (lo, hi) = (parts.iter().min().unwrap(), parts.iter().max().unwrap());
                assert!(hi - lo <= 1, "{parts:?}");
            }
        }
        let third = Shard { index: 3, count: 4 };
        assert_eq!(third.share(2), 0);
        assert_eq!(Shard { index: 1, count: 4 }.share(2), 1);
        assert_eq!(Shard { index: 4, count: 4 }.share_rate(100.0), 25.0);
    }

    #[test]
    fn shard_flags_are_checked() {
        assert_eq!(Shard::parse("2/4").unwrap(), Shard { index: 2, count: 4 });
        for bad in ["0/2", "3/2", "2", "a/b", "1/0", "1/5000"] {
            assert!(Shard::parse(bad).is_err(), "{bad} accepted");
        }
        let from_env = Shard::from_index_env("I", Some("0"), 3).unwrap();
        assert_eq!(from_env, Shard { index: 1, count: 3 });
        assert!(Shard::from_index_env("I", Some("3"), 3).is_err());
        assert!(Shard::from_index_env("I", None, 3).is_err());
    }

    #[test]
    fn windows_follow_the_start_by_duration_and_gap() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000);
        let s = Schedule::new("+30s", Duration::from_secs(5), Duration::from_secs(2), now).unwrap();
        assert_eq!(s.window_start(0), UNIX_EPOCH + Duration::from_secs(1_030));
        assert_eq!(s.window_start(3), UNIX_EPOCH + Duration::from_secs(1_051));
        let fixed = Schedule::new("2026-12-03T16:00:00+01:00", s.duration, s.gap, now).unwrap();
        assert_eq!(fixed.start_at, "2026-12-03T15:00:00.000Z");
        assert!(Schedule::new("noon", s.duration, s.gap, now).is_err());
    }
}
