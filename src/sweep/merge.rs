//! `merge`: the shards of a sharded run added up into one ordinary sweep. Counts, goodput, CPU
//! and memory are sums; each point's latency histogram is the exact sum of the shards' (the
//! HdrHistogram V2 histograms in their results), so its percentiles are those of every item of
//! every shard; each point keeps a per-shard breakdown. The baseline is shard 1's.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use super::merge_checks::{check_shards, point_place, ShardInput};
use super::speedup::{set_speedup, update_baseline};
use crate::analysis;
use crate::measure::latency::{decode_histogram, encode_histogram, us_to_ms};
use crate::results::shards::ShardPart;
use crate::results::{error_pct, LagSummary, PointResult, SweepResult, FORMAT_VERSION};
use crate::spec::Shard;

/// A shard that starts a point later than this share of the point's duration after its window
/// opened loaded the target together with the others for noticeably less than the window.
const LATE_SHARE: f64 = 0.05;
/// Shards whose measured intervals overlap for less than this share of the longest one did not
/// load the target at the same time.
const OVERLAP_SHARE: f64 = 0.90;

/// Adds the shards up, or says in one line why they cannot be.
pub fn merge_shards(inputs: Vec<ShardInput>) -> Result<SweepResult, String> {
    let shards = check_shards(inputs)?;
    let first = &shards[0].1.sweep;
    let mut spec = first.spec.clone();
    spec.sweep.shard = None;
    let mut merged = SweepResult {
        format_version: FORMAT_VERSION,
        spec,
        environment: first.environment.clone(),
        started_at: shards
            .iter()
            .map(|(_, s)| s.sweep.started_at.clone())
            .min()
            .unwrap_or_default(),
        finished_at: shards
            .iter()
            .map(|(_, s)| s.sweep.finished_at.clone())
            .max()
            .flatten(),
        baseline_throughput_per_s: None,
        baseline_goodput_per_s: None,
        points: Vec::new(),
        open_loop: Vec::new(),
        // A limiter adapts to what its own process sees: shards' limits do not add up.
        limited: Vec::new(),
        warnings: Vec::new(),
        interrupted: shards.iter().any(|(_, s)| s.sweep.interrupted),
        stopped: first.stopped.clone(),
        analysis: None,
    };
    for (shard, input) in &shards {
        for warning in &input.sweep.warnings {
            merged.warnings.push(format!("shard {shard}: {warning}"));
        }
    }
    for point in &first.points {
        let parts: Vec<(Shard, &PointResult)> = if point.is_baseline() {
            vec![(shards[0].0, point)]
        } else {
            shards
                .iter()
                .filter_map(|(shard, input)| {
                    input
                        .sweep
                        .points
                        .iter()
                        .find(|p| same_place(p, point))
                        .map(|p| (*shard, p))
                })
                .collect()
        };
        let mut sum = add_up(&parts)?;
        merged.warnings.extend(timing_warnings(&sum, &merged));
        if sum.is_baseline() {
            update_baseline(&mut merged, &sum);
        }
        set_speedup(&mut sum, merged.baseline_goodput_per_s);
        merged.points.push(sum);
    }
    for point in &first.open_loop {
        let parts: Vec<(Shard, &PointResult)> = shards
            .iter()
            .filter_map(|(shard, input)| {
                let own = input.sweep.open_loop.iter().find(|p| same_place(p, point));
                own.map(|p| (*shard, p))
            })
            .collect();
        let sum = add_up(&parts)?;
        merged.warnings.extend(timing_warnings(&sum, &merged));
        merged.open_loop.push(sum);
    }
    merged.analysis = Some(analysis::analyze(&merged));
    Ok(merged)
}

/// Whether two shards' points are the same point of the plan.
fn same_place(a: &PointResult, b: &PointResult) -> bool {
    a.backend == b.backend
        && a.throttle == b.throttle
        && a.repetition == b.repetition
        && a.offered_per_s == b.offered_per_s
}

/// One point of every shard, as one point of the whole run.
fn add_up(parts: &[(Shard, &PointResult)]) -> Result<PointResult, String> {
    let points: Vec<&PointResult> = parts.iter().map(|(_, p)| *p).collect();
    let first = points[0];
    let label = format!(
        "{} at {}, repetition {}",
        first.backend,
        point_place(first),
        first.repetition
    );
    let ok_latency = add_histograms(points.iter().map(|p| p.histogram.as_str()), &label)?;
    // Open loop: `histogram` runs from the intended start, service time has its own.
    let service = match first.is_open_loop() {
        true => add_histograms(points.iter().map(|p| p.svc_histogram.as_str()), &label)?,
        false => ok_latency.clone(),
    };
    let failed_latency =
        add_histograms(points.iter().map(|p| p.failed_histogram.as_str()), &label)?;
    let count = |f: fn(&PointResult) -> u64| points.iter().map(|p| f(p)).sum::<u64>();
    let total = |f: fn(&PointResult) -> f64| points.iter().map(|p| f(p)).sum::<f64>();
    let some_total = |f: fn(&PointResult) -> Option<f64>| {
        points.iter().filter_map(|p| f(p)).reduce(|a, b| a + b)
    };
    let some_count = |f: fn(&PointResult) -> Option<u64>| {
        points.iter().filter_map(|p| f(p)).reduce(|a, b| a + b)
    };
    let (ok, failed, timed_out) = (count(|p| p.ok), count(|p| p.failed), count(|p| p.timed_out));
    let q = |h: &Histogram<u64>, quantile: f64| {
        (!h.is_empty()).then(|| us_to_ms(h.value_at_quantile(quantile)))
    };
    let mut errors: BTreeMap<String, u64> = BTreeMap::new();
    for p in &points {
        for (kind, n) in &p.errors {
            *errors.entry(kind.clone()).or_default() += n;
        }
    }
    Ok(PointResult {
        workload: first.workload.clone(),
        backend: first.backend,
        throttle: first.throttle,
        repetition: first.repetition,
        items: count(|p| p.items),
        ok,
        failed,
        timed_out,
        // The shards measured side by side: the run's time is the longest of theirs, and its
        // rates the sum of their rates over the window they shared.
        wall_s: points.iter().map(|p| p.wall_s).fold(0.0, f64::max),
        throughput_per_s: total(|p| p.throughput_per_s),
        speedup: None,
        efficiency: None,
        lat_mean_ms: (!ok_latency.is_empty()).then(|| ok_latency.mean() / 1000.0),
        lat_p50_ms: q(&ok_latency, 0.50),
        lat_p90_ms: q(&ok_latency, 0.90),
        lat_p99_ms: q(&ok_latency, 0.99),
        lat_p999_ms: q(&ok_latency, 0.999),
        lat_max_ms: (!ok_latency.is_empty()).then(|| us_to_ms(ok_latency.max())),
        cpu_user_s: total(|p| p.cpu_user_s),
        cpu_sys_s: total(|p| p.cpu_sys_s),
        rss_before_mb: total(|p| p.rss_before_mb),
        rss_after_mb: total(|p| p.rss_after_mb),
        mem_delta_mb: total(|p| p.mem_delta_mb),
        peak_rss_mb: total(|p| p.peak_rss_mb),
        max_inflight: points.iter().map(|p| p.max_inflight).sum(),
        startup_ms: points.iter().filter_map(|p| p.startup_ms).reduce(f64::max),
        retried: count(|p| p.retried),
        goodput_per_s: total(|p| p.goodput_per_s),
        error_pct: error_pct(ok, failed + timed_out),
        rx_bytes: some_count(|p| p.rx_bytes),
        tx_bytes: some_count(|p| p.tx_bytes),
        rx_mb_per_s: some_total(|p| p.rx_mb_per_s),
        failed_lat_p50_ms: q(&failed_latency, 0.50),
        failed_lat_p99_ms: q(&failed_latency, 0.99),
        failed_lat_max_ms: (!failed_latency.is_empty()).then(|| us_to_ms(failed_latency.max())),
        setup_cpu_s: some_total(|p| p.setup_cpu_s),
        errors,
        failures: points.iter().flat_map(|p| p.failures.clone()).collect(),
        achieved_concurrency: total(|p| p.achieved_concurrency),
        histogram: encode_histogram(&ok_latency),
        failed_histogram: if failed_latency.is_empty() {
            String::new()
        } else {
            encode_histogram(&failed_latency)
        },
        hosts: points.iter().flat_map(|p| p.hosts.clone()).collect(),
        disk_bytes_per_item: points.iter().find_map(|p| p.disk_bytes_per_item),
        disk_mb_per_s: some_total(|p| p.disk_mb_per_s),
        disk_iops: some_total(|p| p.disk_iops),
        offered_per_s: some_total(|p| p.offered_per_s),
        late: count(|p| p.late),
        svc_p50_ms: q(&service, 0.50),
        svc_p90_ms: q(&service, 0.90),
        svc_p99_ms: q(&service, 0.99),
        svc_histogram: match first.is_open_loop() {
            true => encode_histogram(&service),
            false => String::new(),
        },
        // Lags are kept as figures, not histograms: the merged lag is the worst shard's.
        lag: points
            .iter()
            .filter_map(|p| p.lag)
            .reduce(|a, b| LagSummary {
                p50_ms: a.p50_ms.max(b.p50_ms),
                p99_ms: a.p99_ms.max(b.p99_ms),
                max_ms: a.max_ms.max(b.max_ms),
            }),
        worker_rss_mb: some_total(|p| p.worker_rss_mb),
        own_peak_rss_mb: some_total(|p| p.own_peak_rss_mb),
        limiter: None,
        slots: None,
        late_start_ms: points
            .iter()
            .filter_map(|p| p.late_start_ms)
            .reduce(f64::max),
        overran: points
            .iter()
            .filter_map(|p| p.overran)
            .reduce(|a, b| a || b),
        shards: parts.iter().map(|(shard, p)| part_of(shard, p)).collect(),
        trace: Vec::new(),
    })
}

/// The exact sum of encoded histograms (empty ones stand for no item).
fn add_histograms<'a>(
    encoded: impl Iterator<Item = &'a str>,
    label: &str,
) -> Result<Histogram<u64>, String> {
    let mut total: Option<Histogram<u64>> = None;
    for text in encoded.filter(|t| !t.is_empty()) {
        let h = decode_histogram(text)
            .ok_or_else(|| format!("the latency histogram of {label} is not readable"))?;
        match total.as_mut() {
            None => {
                let mut sum = Histogram::new_from(&h);
                sum.auto(true);
                sum.add(&h)
                    .map_err(|e| format!("cannot add the histograms of {label}: {e:?}"))?;
                total = Some(sum);
            }
            Some(sum) => sum
                .add(&h)
                .map_err(|e| format!("cannot add the histograms of {label}: {e:?}"))?,
        }
    }
    match total {
        Some(h) => Ok(h),
        None => Histogram::new(3).map_err(|e| format!("{e:?}")),
    }
}

fn part_of(shard: &Shard, p: &PointResult) -> ShardPart {
    ShardPart {
        shard: shard.to_string(),
        slots: p.slots.unwrap_or(p.throttle),
        items: p.items,
        ok: p.ok,
        failed: p.failed,
        timed_out: p.timed_out,
        wall_s: p.wall_s,
        goodput_per_s: p.goodput_per_s,
        lat_p99_ms: p.lat_p99_ms,
        cpu_s: p.cpu_user_s + p.cpu_sys_s,
        peak_rss_mb: p.peak_rss_mb,
        late_start_ms: p.late_start_ms,
        overran: p.overran.unwrap_or(false),
    }
}

/// What the merged report says about a point's shards that did not keep to the schedule: a
/// point that overran its window, a late start, shards that barely overlapped.
fn timing_warnings(point: &PointResult, merged: &SweepResult) -> Vec<String> {
    let Some(schedule) = &merged.spec.sweep.schedule else {
        return Vec::new();
    };
    let at = format!(
        "{} at {} (repetition {})",
        point.backend,
        point_place(point),
        point.repetition
    );
    let duration_ms = schedule.duration.as_secs_f64() * 1000.0;
    let mut warnings = Vec::new();
    for part in &point.shards {
        if part.overran {
            warnings.push(format!(
                "shard {} overran its window at {at}: it ran into the next point's window; widen --gap",
                part.shard
            ));
        }
        if let Some(late) = part
            .late_start_ms
            .filter(|ms| *ms > LATE_SHARE * duration_ms)
        {
            warnings.push(format!(
                "shard {} started {at} {late:.0} ms late: it loaded the target with the others for less of the window",
                part.shard
            ));
        }
    }
    // Each shard's measured interval, from its window's opening.
    let intervals: Vec<(f64, f64)> = point
        .shards
        .iter()
        .filter_map(|s| s.late_start_ms.map(|late| (late, late + s.wall_s * 1000.0)))
        .collect();
    if intervals.len() > 1 {
        let from = intervals.iter().map(|i| i.0).fold(0.0, f64::max);
        let to = intervals.iter().map(|i| i.1).fold(f64::INFINITY, f64::min);
        let longest = intervals.iter().map(|i| i.1 - i.0).fold(0.0, f64::max);
        let shared = (to - from).max(0.0);
        if longest > 0.0 && shared < OVERLAP_SHARE * longest {
            warnings.push(format!(
                "the shards ran {at} together for only {:.0}% of it: its sums mix load levels",
                shared / longest * 100.0
            ));
        }
    }
    warnings
}
