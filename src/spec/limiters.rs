//! `--limiter aimd,vegas:alpha=3,beta=6` and `limiters = […]`: which adaptive limiters a sweep
//! judges, and the backends that can run one.

use super::SweepSettings;
use crate::backend::limiter::{check_distinct, parse_limiters, LimiterSpec};
use crate::backend::BackendKind;
use crate::error::SpecError;

/// How many lanes a limiter's point starts, per the sweep's largest throttle: room for a
/// limiter to overshoot the swept range and be seen doing it.
pub const LANES_PER_LARGEST_THROTTLE: usize = 2;

/// Whether `backend` runs its items in lanes a limiter can hold back.
pub fn takes_limiter(backend: BackendKind) -> bool {
    matches!(
        backend,
        BackendKind::Thread | BackendKind::Async | BackendKind::Process
    )
}

/// The lanes of a limiter's point in this sweep.
pub fn limiter_lanes(sweep: &SweepSettings) -> usize {
    let largest = sweep.limits.iter().copied().max().unwrap_or(1);
    (largest * LANES_PER_LARGEST_THROTTLE).clamp(2, super::MAX_THROTTLE)
}

/// Lays `--limiter` over the spec's limiters and checks that some backend can run them.
pub fn apply_limiter_flag(sweep: &mut SweepSettings, flag: Option<&str>) -> Result<(), SpecError> {
    if let Some(text) = flag {
        sweep.limiters = parse_limiters(text)?;
    }
    check_limiters(sweep)
}

/// Limiters from a spec file's list, each entry as the flag takes one.
pub fn limiters_from_list(entries: &[String]) -> Result<Vec<LimiterSpec>, SpecError> {
    let limiters = entries
        .iter()
        .map(|entry| entry.parse())
        .collect::<Result<Vec<LimiterSpec>, _>>()?;
    check_distinct(&limiters)?;
    Ok(limiters)
}

/// A limiter needs a backend whose in-flight count it can move.
pub fn check_limiters(sweep: &SweepSettings) -> Result<(), SpecError> {
    if !sweep.limiters.is_empty() && sweep.shard.is_some() {
        // Each shard's limiter would adapt to its own part of the load: limits that add up to
        // no one's.
        return Err(SpecError::invalid(
            "--limiter cannot run in a sharded run (--shard): a limiter adapts to what its one process sees",
        ));
    }
    if !sweep.limiters.is_empty() && sweep.limits.is_empty() {
        return Err(SpecError::invalid(
            "--limiter needs --limits: a limiter is judged against the swept throttles, and --rates alone sweeps none",
        ));
    }
    if sweep.limiters.is_empty() || sweep.backends.iter().any(|b| takes_limiter(*b)) {
        return Ok(());
    }
    // `--backend sequential` leaves only the baseline, which is not in the list.
    let mut names: Vec<&str> = sweep.backends.iter().map(|b| b.name()).collect();
    if names.is_empty() {
        names.push(BackendKind::Sequential.name());
    }
    Err(SpecError::invalid(format!(
        "a limiter needs a backend it can hold to a limit (thread, async or process); {} cannot take one",
        names.join(", ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_limiter_in_a_sharded_run_is_refused() {
        let mut sweep = SweepSettings {
            shard: Some(crate::spec::Shard { index: 1, count: 2 }),
            ..SweepSettings::default()
        };
        let err = apply_limiter_flag(&mut sweep, Some("vegas")).unwrap_err();
        assert!(err.to_string().contains("--shard"), "{err}");
    }

    #[test]
    fn a_limiter_without_throttles_to_judge_it_by_is_refused() {
        let mut sweep = SweepSettings {
            limits: Vec::new(),
            ..SweepSettings::default()
        };
        let err = apply_limiter_flag(&mut sweep, Some("vegas")).unwrap_err();
        assert!(
            err.to_string().contains("--limiter needs --limits"),
            "{err}"
        );
    }

    #[test]
    fn a_limiter_on_sequential_alone_is_refused() {
        let mut sweep = SweepSettings {
            backends: Vec::new(),
            ..SweepSettings::default()
        };
        let err = apply_limiter_flag(&mut sweep, Some("vegas"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("sequential cannot take one"), "{err}");
        sweep.backends = vec![BackendKind::Sequential, BackendKind::Async];
        apply_limiter_flag(&mut sweep, Some("vegas")).unwrap();
        assert_eq!(sweep.limiters.len(), 1);
    }

    #[test]
    fn lanes_are_twice_the_largest_throttle() {
        let sweep = SweepSettings {
            limits: vec![1, 4, 16],
            ..SweepSettings::default()
        };
        assert_eq!(limiter_lanes(&sweep), 32);
    }
}
