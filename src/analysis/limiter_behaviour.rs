//! How a judged limiter's limit moved, in the words its users complain in (steady, oscillating,
//! drifting, slow to settle, held at its floor or ceiling), and, for a loss-based limiter that
//! grew past the level, the signal it never got. Descriptive: the verdict is `limiters::missed`.

use crate::backend::limiter::{Algorithm, LimitStep, LimiterSpec};
use crate::results::limited::Behaviour;
use crate::results::PointResult;

use super::limiters::{mean_and_variance, spans};

/// Over the second half, a limit whose least-squares line crosses the whole ±10 % band around
/// its level (and moves by at least two: one step either way is how every limiter probes) has
/// not settled in it: it is drifting.
const DRIFT_SHARE: f64 = 0.20;
/// A limit whose time-weighted sd is a quarter of its level (and at least one) oscillates.
const SWING_SHARE: f64 = 0.25;

/// What the judgement measured of a limit over a point of `wall_s` seconds.
pub struct Movement<'a> {
    pub steps: &'a [LimitStep],
    pub settled: f64,
    /// The lowest and highest limit the limiter may set on its point.
    pub bounds: (usize, usize),
    /// When it first came within 10 % of `settled`.
    pub settle_s: Option<f64>,
    pub swing_sd: f64,
    pub wall_s: f64,
}

/// Which one word describes `m`: the bounds first (a limit held there moved nothing), then the
/// second half's trend (a limit still moving along a line has not settled, however late it
/// first came near), then how late it came near, then the spread around it.
pub fn behaviour(m: &Movement) -> Behaviour {
    let (floor, ceiling) = m.bounds;
    if m.settled >= ceiling as f64 {
        return Behaviour::AtCeiling { ceiling };
    }
    if m.settled <= floor as f64 {
        return Behaviour::AtFloor { floor };
    }
    let Some(settle_s) = m.settle_s else {
        return Behaviour::Oscillating;
    };
    let wide = (SWING_SHARE * m.settled).max(1.0);
    let trend = Trend::of(m.steps, m.wall_s / 2.0, m.wall_s);
    // A saw-tooth has a trend over any window that cuts it: only a limit that follows its line
    // closely drifts.
    if trend.residual_sd >= wide {
        Behaviour::Oscillating
    } else if trend.by.abs() >= (DRIFT_SHARE * m.settled).max(2.0) {
        Behaviour::Drifting { by: trend.by }
    } else if settle_s > m.wall_s / 2.0 {
        Behaviour::SlowToSettle { after_s: settle_s }
    } else if m.swing_sd >= wide {
        Behaviour::Oscillating
    } else {
        Behaviour::Steady
    }
}

/// The least-squares line through the limit over a span of time.
struct Trend {
    /// How far the line moves across the span.
    by: f64,
    /// The limit's time-weighted sd around the line.
    residual_sd: f64,
}

impl Trend {
    /// Exact integrals over the step function: slope = cov(t, limit) / var(t), and the residual
    /// variance var(limit) − slope²·var(t).
    fn of(steps: &[LimitStep], from: f64, to: f64) -> Trend {
        let width = to - from;
        let held = spans(steps, from, to);
        if width <= 0.0 || held.is_empty() {
            return Trend {
                by: 0.0,
                residual_sd: 0.0,
            };
        }
        let mid = (from + to) / 2.0;
        let var_t = width.powi(2) / 12.0;
        // Each span's ∫ limit·(t − mid) dt / width; the mean limit drops out because
        // ∫ (t − mid) dt over the whole of [from, to] is 0.
        let cov: f64 = held
            .iter()
            .map(|h| h.limit as f64 * ((h.end - mid).powi(2) - (h.start - mid).powi(2)) / 2.0)
            .sum::<f64>()
            / width;
        let (_, var_limit) = mean_and_variance(&held);
        let slope = cov / var_t;
        Trend {
            by: slope * width,
            residual_sd: (var_limit - slope * slope * var_t).max(0.0).sqrt(),
        }
    }
}

/// A reference latency that rose by half or more followed the queue the limit built.
const REFERENCE_ROSE: f64 = 1.5;

/// The limiter's reference latency (`Limit::reference`, kept at each change of the limit): the
/// first it kept, and the median of those kept over the second half of a point of `wall_s`.
pub fn reference_early_late(steps: &[LimitStep], wall_s: f64) -> Option<(f64, f64)> {
    let early = steps.iter().find_map(|s| s.reference_ms)?;
    let mut late: Vec<f64> = steps
        .iter()
        .filter(|s| s.t_s >= wall_s / 2.0)
        .filter_map(|s| s.reference_ms)
        .collect();
    late.sort_by(f64::total_cmp);
    let median = match late.len() {
        0 => steps.iter().rev().find_map(|s| s.reference_ms)?,
        n if n % 2 == 1 => late[n / 2],
        n => (late[n / 2 - 1] + late[n / 2]) / 2.0,
    };
    Some((early, median))
}

/// For a limiter that went past the level with a reference latency that rose with it: its
/// "no queue" had become the queue it built.
pub fn reference_followed(early_late: Option<(f64, f64)>) -> Option<String> {
    let (early, late) = early_late?;
    (late >= REFERENCE_ROSE * early).then(|| {
        format!(
            "its reference latency rose from {early:.1} to {late:.1} ms, following the queue \
             its limit built"
        )
    })
}

/// For AIMD that went past the level: it lowers its limit only on a failed item or one slower
/// than its `timeout_ms`, so a target that only queues never tells it to stop. Said only when
/// the point shows it: no item failed and the slowest took less than the timeout.
pub fn unheard_signal(spec: &LimiterSpec, point: &PointResult) -> Option<String> {
    if spec.algorithm != Algorithm::Aimd || point.failed + point.timed_out > 0 {
        return None;
    }
    let timeout_ms = spec.param("timeout_ms")?;
    let slowest = point.lat_max_ms?;
    (slowest < timeout_ms).then(|| {
        format!(
            "AIMD lowers its limit only when an item fails or takes over {timeout_ms:.0} ms, \
             and none did (slowest {slowest:.0} ms)"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::super::limiters::steps;
    use super::*;

    fn moved(steps: &[LimitStep], settled: f64, settle_s: Option<f64>, sd: f64) -> Behaviour {
        behaviour(&Movement {
            steps,
            settled,
            bounds: (1, 64),
            settle_s,
            swing_sd: sd,
            wall_s: 4.0,
        })
    }

    #[test]
    fn a_flat_limit_has_no_drift_and_a_ramp_drifts_by_its_rise() {
        assert_eq!(Trend::of(&steps(&[(0.0, 12)]), 2.0, 4.0).by, 0.0);
        // One more every 0.1 s from 10 at 2 s: a staircase of n = 20 unit steps over the
        // second half, whose least-squares line rises n·(1 − 1/n²).
        let ramp: Vec<(f64, usize)> = (0..20).map(|i| (2.0 + 0.1 * i as f64, 10 + i)).collect();
        let by = Trend::of(&steps(&ramp), 2.0, 4.0).by;
        assert!((by - 20.0 * (1.0 - 1.0 / 400.0)).abs() < 1e-9, "{by}");
        // A single step from 10 to 14 halfway: the line through a step rises 1.5 times it.
        let jump = Trend::of(&steps(&[(0.0, 10), (3.0, 14)]), 2.0, 4.0).by;
        assert!((jump - 6.0).abs() < 1e-9, "{jump}");
        assert!(Trend::of(&steps(&[(0.0, 30), (3.0, 20)]), 2.0, 4.0).by < 0.0);
    }

    #[test]
    fn each_behaviour_is_named_from_the_measured_movement() {
        let flat = steps(&[(0.0, 20), (0.5, 13)]);
        assert_eq!(moved(&flat, 13.0, Some(0.5), 0.4), Behaviour::Steady);
        assert_eq!(moved(&flat, 13.0, Some(0.5), 5.0), Behaviour::Oscillating);
        assert_eq!(moved(&flat, 13.0, None, 0.4), Behaviour::Oscillating);
        assert_eq!(
            moved(&flat, 13.0, Some(2.5), 0.4),
            Behaviour::SlowToSettle { after_s: 2.5 }
        );
        assert_eq!(
            moved(&flat, 64.0, Some(0.5), 0.0),
            Behaviour::AtCeiling { ceiling: 64 }
        );
        assert_eq!(
            moved(&flat, 1.0, Some(0.5), 0.0),
            Behaviour::AtFloor { floor: 1 }
        );
        let creep = steps(&[(0.0, 12), (2.5, 14), (3.0, 16), (3.5, 18)]);
        let Behaviour::Drifting { by } = moved(&creep, 16.0, Some(0.0), 2.0) else {
            panic!("a creep from 12 to 18 over the second half drifts");
        };
        assert!(by > 4.0, "{by}");
        // Still creeping when it first came near, late: it has not settled, it drifts.
        let Behaviour::Drifting { .. } = moved(&creep, 16.0, Some(3.0), 2.0) else {
            panic!("a creep is a drift however late it came near");
        };
        // Vegas's saw-tooth: 7 → 55 and back twice over the second half. Its line leans
        // whichever way the window cuts it, but the limit does not follow the line.
        let saw: Vec<(f64, usize)> = (0..40)
            .map(|i| (2.0 + 0.05 * i as f64, 7 + (i % 20) * 48 / 19))
            .collect();
        assert_eq!(
            moved(&steps(&saw), 30.0, Some(0.0), 14.0),
            Behaviour::Oscillating
        );
        assert!(Trend::of(&steps(&saw), 2.0, 4.0).by.abs() > 7.5, "it leans");
        let Behaviour::Drifting { .. } = moved(&creep, 16.0, Some(0.0), 8.0) else {
            panic!("a creep's wide swing is its trend, not an oscillation");
        };
        // One step either way is how a limiter probes, not a drift.
        let probe = steps(&[(0.0, 8), (3.0, 9)]);
        assert_eq!(moved(&probe, 8.0, Some(0.0), 0.5), Behaviour::Steady);
    }

    #[test]
    fn a_reference_that_followed_the_queue_is_said() {
        let mut s = steps(&[
            (0.0, 20),
            (0.5, 30),
            (1.0, 40),
            (2.5, 50),
            (3.0, 60),
            (3.5, 64),
        ]);
        assert_eq!(reference_early_late(&s, 4.0), None, "AIMD keeps none");
        for (step, ms) in s.iter_mut().zip([
            None,
            Some(20.0),
            Some(40.0),
            Some(90.0),
            Some(150.0),
            Some(160.0),
        ]) {
            step.reference_ms = ms;
        }
        // The first kept, and the median of the three kept from 2 s on.
        assert_eq!(reference_early_late(&s, 4.0), Some((20.0, 150.0)));
        let said = reference_followed(reference_early_late(&s, 4.0)).unwrap();
        assert_eq!(
            said,
            "its reference latency rose from 20.0 to 150.0 ms, following the queue its limit built"
        );
        // Envoy's measured minRTT stays put: nothing to say.
        assert_eq!(reference_followed(Some((20.4, 20.9))), None);
    }

    #[test]
    fn aimd_is_told_what_it_never_heard_only_when_the_point_shows_it() {
        let aimd: LimiterSpec = "aimd".parse().unwrap();
        let mut point =
            super::super::fixture::point(crate::backend::BackendKind::Async, 8, 1, 20.0);
        point.lat_max_ms = Some(164.0);
        let said = unheard_signal(&aimd, &point).unwrap();
        assert!(
            said.contains("5000 ms") && said.contains("164 ms"),
            "{said}"
        );
        point.failed = 1;
        assert_eq!(
            unheard_signal(&aimd, &point),
            None,
            "a failure was a signal"
        );
        point.failed = 0;
        point.lat_max_ms = Some(6000.0);
        assert_eq!(unheard_signal(&aimd, &point), None, "a slow item was one");
        let vegas: LimiterSpec = "vegas".parse().unwrap();
        point.lat_max_ms = Some(164.0);
        assert_eq!(unheard_signal(&vegas, &point), None, "latency moves Vegas");
    }
}
