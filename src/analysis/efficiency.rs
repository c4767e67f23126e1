//! Efficiency above 100%: speedup greater than the throttle, which parallel work alone cannot
//! give. Where it appears the analysis says what it means, so nobody reads it as a gain.

use crate::results::SweepResult;

/// Efficiency above this (speedup / throttle) is called out; a little above 1 is noise.
const ABOVE: f64 = 1.05;

/// One note naming every point whose median efficiency exceeds 100%, or none.
pub fn notes(sweep: &SweepResult) -> Vec<String> {
    let over: Vec<String> = sweep
        .summaries()
        .iter()
        .filter(|s| !s.backend.eq(&crate::backend::BackendKind::Sequential))
        .filter_map(|s| {
            s.efficiency
                .filter(|&e| e > ABOVE)
                .map(|e| format!("{} {:.0}% at {}", s.backend, e * 100.0, s.throttle))
        })
        .collect();
    if over.is_empty() {
        return Vec::new();
    }
    vec![format!(
        "efficiency above 100% ({}): these points ran an item in less time than the sequential \
         baseline did, so speedup exceeds the throttle. That is not parallel gain: the backend \
         is cheaper per item than the baseline (e.g. a small worker process starts programs \
         faster than a large parent), or the baseline was slowed by noise; compare a backend's \
         throttles with its own throttle 1",
        over.join(", ")
    )]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::fixture;
    use crate::backend::BackendKind;

    #[test]
    fn efficiency_above_100_percent_is_named_and_explained() {
        let mut sweep = fixture::sweep(10.0, 3);
        assert!(notes(&sweep).is_empty(), "{:?}", notes(&sweep));
        for p in sweep
            .points
            .iter_mut()
            .filter(|p| p.backend == BackendKind::Async)
        {
            p.efficiency = Some(1.46);
        }
        let notes = notes(&sweep);
        assert_eq!(notes.len(), 1);
        assert!(notes[0].contains("async 146% at 4"), "{}", notes[0]);
        assert!(notes[0].contains("not parallel gain"), "{}", notes[0]);
    }
}
