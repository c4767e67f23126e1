//! What a job costs on each backend, measured the same way for all: the start of a job, the
//! memory one more job in flight adds, the memory the backend itself holds per slot (a worker
//! process), the CPU one successful item takes, the best goodput reached and what a crashing
//! item takes down. Users comparing backends choose by cost per
//! job as much as by throughput, so these sit beside the scaling table.

use crate::backend::BackendKind;
pub use crate::results::costs::BackendCost;
use crate::results::{median, median_of, PointResult, SweepResult};

/// A memory slope whose fit explains less than this share of the variance is said to be weak.
pub const WEAK_FIT_R2: f64 = 0.8;

/// The cost table: one row per swept backend that measured a point, in the sweep's order.
pub fn costs(sweep: &SweepResult) -> Vec<BackendCost> {
    sweep
        .spec
        .sweep
        .backends
        .iter()
        .filter_map(|&backend| {
            let points: Vec<&PointResult> = sweep
                .points
                .iter()
                .filter(|p| p.backend == backend)
                .collect();
            (!points.is_empty()).then(|| backend_cost(backend, &points))
        })
        .collect()
}

fn backend_cost(backend: BackendKind, points: &[&PointResult]) -> BackendCost {
    let mut throttles: Vec<usize> = points.iter().map(|p| p.throttle).collect();
    throttles.sort_unstable();
    throttles.dedup();
    let at = |t: usize| points.iter().filter(move |p| p.throttle == t);
    let goodput = |t: usize| median(&mut at(t).map(|p| p.goodput_per_s).collect::<Vec<_>>());
    let best_throttle = throttles
        .iter()
        .copied()
        .max_by(|a, b| {
            goodput(*a)
                .unwrap_or(0.0)
                .total_cmp(&goodput(*b).unwrap_or(0.0))
                // Of equal goodputs the smaller throttle: it costs less.
                .then(b.cmp(a))
        })
        .unwrap_or(1);
    // Where jobs run in processes of their own, this process is the backend's harness: its
    // growth per slot (a thread, buffers, a record) is the backend's cost, not a job's.
    let harness = |p: &PointResult| match jobs_run_elsewhere(backend) {
        true => p.own_peak_rss_mb,
        false => None,
    };
    let per_throttle = |value: &dyn Fn(&PointResult) -> Option<f64>| -> Vec<(f64, f64)> {
        throttles
            .iter()
            .filter_map(|&t| {
                let values = at(t).filter_map(|p| value(p)).collect::<Vec<_>>();
                median(&mut values.clone()).map(|m| (t as f64, m))
            })
            .collect()
    };
    // A job's memory is the tree's peak less what the backend holds: the slots' idle workers
    // and, where jobs run elsewhere, this process.
    let jobs = per_throttle(&|p| {
        Some(p.peak_rss_mb - p.worker_rss_mb.unwrap_or(0.0) - harness(p).unwrap_or(0.0))
    });
    let fit = slope(&jobs);
    let workers = median_of(
        points
            .iter()
            .map(|p| p.worker_rss_mb.map(|mb| mb / p.throttle.max(1) as f64)),
    );
    let harness_per_slot = slope(&per_throttle(&harness)).map(|(s, _)| s.max(0.0));
    let backend_mb_per_slot = match (workers, harness_per_slot) {
        (None, None) => None,
        (w, h) => Some(w.unwrap_or(0.0) + h.unwrap_or(0.0)),
    };
    let cpu_per_item_ms = median_of(
        at(best_throttle)
            .map(|p| (p.ok > 0).then(|| (p.cpu_user_s + p.cpu_sys_s) * 1000.0 / p.ok as f64)),
    );
    BackendCost {
        backend,
        startup_ms: median_of(points.iter().map(|p| p.startup_ms)),
        memory_per_job_mb: fit.map(|(s, _)| s),
        memory_fit_r2: fit.and_then(|(_, r2)| r2),
        backend_mb_per_slot,
        cpu_per_item_ms,
        best_goodput_per_s: goodput(best_throttle).unwrap_or(0.0),
        best_throttle,
        crash_takes: crash_takes(backend).to_string(),
    }
}

/// Whether `backend`'s jobs run outside this process (in workers or processes of their own) on
/// this machine, so that this process's own memory is all harness.
fn jobs_run_elsewhere(backend: BackendKind) -> bool {
    matches!(backend, BackendKind::Process | BackendKind::ProcessPerItem)
}

/// What a crash (a segfault, an abort, a kill) of one item takes down on `backend`.
pub fn crash_takes(backend: BackendKind) -> &'static str {
    match backend {
        BackendKind::Sequential | BackendKind::Thread | BackendKind::Async | BackendKind::Rayon => {
            "the run (a panic: the item)"
        }
        BackendKind::Process | BackendKind::Remote => "the item and its worker, which is replaced",
        BackendKind::ProcessPerItem => "the item",
    }
}

/// Least-squares slope of y on x, and R² when y varies at all. `None` below two distinct x.
pub fn slope(points: &[(f64, f64)]) -> Option<(f64, Option<f64>)> {
    let n = points.len() as f64;
    if points.len() < 2 {
        return None;
    }
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let syy: f64 = points.iter().map(|p| (p.1 - my).powi(2)).sum();
    if sxx <= 0.0 {
        return None;
    }
    let b = sxy / sxx;
    let r2 = (syy > 0.0).then(|| (sxy * sxy / (sxx * syy)).clamp(0.0, 1.0));
    Some((b, r2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sweeps_costs_are_per_backend_on_one_basis() {
        use crate::analysis::fixture;
        let mut sweep = fixture::sweep(10.0, 3);
        // Repetitions of thread ×4 with different CPU and items: the cost is each repetition's
        // CPU over its own successful items, then the median, never a sum over a median.
        for (i, p) in sweep
            .points
            .iter_mut()
            .filter(|p| p.backend == BackendKind::Thread && p.throttle == 4)
            .enumerate()
        {
            p.ok = 100 * (i as u64 + 1);
            p.cpu_user_s = 0.2;
            p.cpu_sys_s = 0.0;
        }
        let costs = costs(&sweep);
        let backends: Vec<BackendKind> = costs.iter().map(|c| c.backend).collect();
        assert_eq!(backends, [BackendKind::Thread, BackendKind::Async]);
        let thread = &costs[0];
        assert_eq!(thread.best_throttle, 4);
        // 2, 1 and 0.67 ms per item: the median is 1 (median CPU over all items would be 0.33).
        assert!(
            (thread.cpu_per_item_ms.unwrap() - 1.0).abs() < 1e-9,
            "{thread:?}"
        );
        // The fixture's peak grows 0.1 MB per throttle step.
        assert!(
            (thread.memory_per_job_mb.unwrap() - 0.1).abs() < 1e-9,
            "{thread:?}"
        );
        assert_eq!(thread.startup_ms, None);
        assert_eq!(thread.backend_mb_per_slot, None);
        // One throttle only: no slope to fit.
        assert_eq!(costs[1].memory_per_job_mb, None);
        assert_eq!(costs[1].crash_takes, crash_takes(BackendKind::Async));
    }

    #[test]
    fn a_worker_per_slot_is_the_backends_memory_not_the_jobs() {
        use crate::analysis::fixture;
        let mut sweep = fixture::sweep(10.0, 1);
        // Each slot holds a 5.5 MB worker and each job 1.8 MB more: the tree grows 7.3 MB per
        // throttle step, of which 1.8 is the job's.
        for p in sweep.points.iter_mut() {
            let slots = p.throttle as f64;
            p.worker_rss_mb = Some(5.5 * slots);
            p.peak_rss_mb = 9.0 + 7.3 * slots;
        }
        let thread = &costs(&sweep)[0];
        assert!(
            (thread.memory_per_job_mb.unwrap() - 1.8).abs() < 1e-9,
            "{thread:?}"
        );
        assert!(
            (thread.backend_mb_per_slot.unwrap() - 5.5).abs() < 1e-9,
            "{thread:?}"
        );
    }

    #[test]
    fn where_jobs_run_elsewhere_this_processs_growth_is_the_backends() {
        use crate::analysis::fixture;
        let mut sweep = fixture::sweep(10.0, 1);
        sweep.spec.sweep.backends = vec![BackendKind::Process];
        // Each slot: a 4.9 MB worker, 0.3 MB more here (a thread, buffers) and a 1.8 MB job.
        for p in sweep.points.iter_mut() {
            let slots = p.throttle as f64;
            p.backend = BackendKind::Process;
            p.worker_rss_mb = Some(4.9 * slots);
            p.own_peak_rss_mb = Some(7.0 + 0.3 * slots);
            p.peak_rss_mb = 7.0 + (4.9 + 0.3 + 1.8) * slots;
        }
        let process = &costs(&sweep)[0];
        assert!(
            (process.memory_per_job_mb.unwrap() - 1.8).abs() < 1e-9,
            "{process:?}"
        );
        assert!(
            (process.backend_mb_per_slot.unwrap() - 5.2).abs() < 1e-9,
            "{process:?}"
        );
        // On thread the same growth of this process is the jobs' own: nothing is taken off.
        for p in sweep.points.iter_mut() {
            p.backend = BackendKind::Thread;
            p.worker_rss_mb = None;
        }
        sweep.spec.sweep.backends = vec![BackendKind::Thread];
        let thread = &costs(&sweep)[0];
        assert!(
            (thread.memory_per_job_mb.unwrap() - 7.0).abs() < 1e-9,
            "{thread:?}"
        );
        assert_eq!(thread.backend_mb_per_slot, None);
    }

    #[test]
    fn the_slope_of_a_line_is_its_cost_per_step_with_a_perfect_fit() {
        let line: Vec<(f64, f64)> = [1.0, 2.0, 4.0, 8.0]
            .iter()
            .map(|&x| (x, 7.0 + 1.8 * x))
            .collect();
        let (b, r2) = slope(&line).unwrap();
        assert!((b - 1.8).abs() < 1e-9, "{b}");
        assert!((r2.unwrap() - 1.0).abs() < 1e-9);
    }

    #[test]
    fn flat_memory_costs_nothing_per_job_and_scatter_is_a_weak_fit() {
        let flat = [(1.0, 7.0), (2.0, 7.0), (4.0, 7.0)];
        assert_eq!(slope(&flat), Some((0.0, None)));
        let scatter = [(1.0, 7.0), (2.0, 9.0), (4.0, 6.5), (8.0, 8.0)];
        let (_, r2) = slope(&scatter).unwrap();
        assert!(r2.unwrap() < WEAK_FIT_R2, "{r2:?}");
        assert_eq!(slope(&[(4.0, 1.0)]), None);
        assert_eq!(slope(&[(4.0, 1.0), (4.0, 2.0)]), None);
    }
}
