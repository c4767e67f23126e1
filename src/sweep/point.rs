//! One point, measured: the backend runs it inside CPU and memory measurement, and what it
//! recorded becomes a result row (goodput, latency of successes and of failures apart, the CPU
//! of the timed window only).

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use crate::backend::driver::OpenLoopJob;
use crate::backend::limiter::LimitGate;
use crate::backend::{Backend, Execution, PointJob, PointProgress, WindowStart};
use crate::measure::cpu::CpuTimes;
use crate::measure::latency::{encode_histogram, us_to_ms, WorkerStats};
use crate::measure::memory::{bytes_to_mb, rss_bytes, PeakMethod, PeakWatch};
use crate::results::{LagSummary, PointResult};
use crate::spec::RunSpec;
use crate::workload::Workload;

use super::shard::{shard_rate, PointLoad};
use super::PlannedPoint;

/// Warm-up items for the first point of a run when the spec asks for none. Every later point
/// runs in a process that earlier points warmed (code paged in, allocator grown, caches and
/// connections filled); without this the first point, the sequential baseline, pays for all of
/// that alone and every speedup is flattered.
pub const FIRST_POINT_WARMUP: u64 = 1;

/// The warm-up a point gets: the spec's, and at least `FIRST_POINT_WARMUP` for the first one.
pub(crate) fn warmup_for(spec: &RunSpec, first: bool) -> u64 {
    if first {
        spec.sweep.warmup.max(FIRST_POINT_WARMUP)
    } else {
        spec.sweep.warmup
    }
}

/// Runs one point inside CPU and memory measurement and turns it into a result row: this
/// process's `load` of it, held to a limiter's `limit` when it has one.
pub(crate) fn measure_point(
    backend: &dyn Backend,
    spec: &RunSpec,
    workload: &Arc<dyn Workload>,
    point: &PlannedPoint,
    (load, limit): (PointLoad, Option<Arc<LimitGate>>),
    (progress, warmup): (Arc<PointProgress>, u64),
    stop: Arc<AtomicBool>,
) -> anyhow::Result<(PointResult, PeakMethod)> {
    let job = PointJob {
        workload,
        spec: &spec.workload,
        throttle: load.slots,
        budget: load.budget,
        warmup,
        timeout: spec.sweep.timeout,
        retry: spec.sweep.retry,
        trace: spec.sweep.trace,
        progress,
        stop,
        window: Arc::new(WindowStart::default()),
        open_loop: open_loop_job(spec, point),
        limit,
    };
    let rss_before = rss_bytes().unwrap_or(0);
    let cpu_before = CpuTimes::of_self().plus(CpuTimes::of_children());
    let peak = PeakWatch::start();
    crate::workload::child_peak::take();
    let execution = backend.execute(&job)?;
    // The programs `command` items started here (thread, async, sequential) peak beside us.
    let programs_peak = crate::workload::child_peak::take();
    // Children count too: worker processes, per-item processes and `command` items are reaped
    // within the point, and their CPU is part of what the point cost. What was spent before
    // the timed window opened (starting workers, warming up) is set apart, as is the workers'
    // own start-up, which reaches our rusage only when they are reaped after the window.
    let cpu_after = CpuTimes::of_self().plus(CpuTimes::of_children());
    let opened = job.window.cpu_at_open().unwrap_or(cpu_before);
    let workers_setup = job.window.workers_setup();
    let cpu = take_out(cpu_after.since(opened), workers_setup);
    let setup_cpu = opened.since(cpu_before).plus(workers_setup);
    let (peak_rss, method) = peak.finish();
    let rss_after = rss_bytes().unwrap_or(0);
    // Worker processes' and programs' memory counts too: their peaks add to ours, unless the
    // kernel's account already holds the whole tree.
    let tree_peak = match method.covers_tree() {
        true => peak_rss.unwrap_or(rss_after),
        false => {
            peak_rss.unwrap_or(rss_after) + programs_peak + execution.children_peak_rss.unwrap_or(0)
        }
    };
    let mut result = point_result(
        spec,
        point,
        execution,
        cpu,
        (rss_before, rss_after, tree_peak),
    );
    result.setup_cpu_s = Some((setup_cpu.user + setup_cpu.sys).as_secs_f64());
    if let Some(io) = workload.disk_io_per_item() {
        result.set_disk_io(io.bytes, io.calls);
    }
    result.worker_rss_mb = job.window.workers_resident().map(bytes_to_mb);
    result.own_peak_rss_mb =
        (!method.covers_tree()).then(|| bytes_to_mb(peak_rss.unwrap_or(rss_after)));
    result.hosts = backend.take_hosts();
    Ok((result, method))
}

/// What makes `point` open loop, if it is: its rate, and a seed of its own so repetitions draw
/// different Poisson arrivals while the same spec always draws the same ones.
fn open_loop_job(spec: &RunSpec, point: &PlannedPoint) -> Option<OpenLoopJob> {
    let open = spec.sweep.open_loop.as_ref()?;
    let rate = point.rate?;
    // Shards draw arrivals of their own: the same times on every shard would arrive in bursts.
    let shard = spec.sweep.shard.map_or(0, |s| u64::from(s.index));
    let seed = open
        .seed
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(rate.to_bits())
        .rotate_left(17)
        .wrapping_add(u64::from(point.repetition))
        .wrapping_add(shard << 32);
    let mut stages = open.stages.clone();
    for stage in &mut stages {
        stage.rate = shard_rate(&spec.sweep, stage.rate);
    }
    Some(OpenLoopJob {
        rate: shard_rate(&spec.sweep, rate),
        arrival: open.arrival,
        seed,
        stages,
    })
}

/// The point of a shard whose part of it is nothing (`PointLoad::is_idle`): no item, no
/// latency, the time it waited as its wall time.
pub(crate) fn idle_point(spec: &RunSpec, point: &PlannedPoint, waited: Duration) -> PointResult {
    let rss = rss_bytes().unwrap_or(0);
    let execution = Execution {
        stats: WorkerStats::new(),
        wall: waited,
        max_inflight: 0,
        startup: None,
        children_peak_rss: None,
    };
    point_result(spec, point, execution, CpuTimes::default(), (rss, rss, rss))
}

fn point_result(
    spec: &RunSpec,
    point: &PlannedPoint,
    ex: Execution,
    cpu: CpuTimes,
    (rss_before, rss_after, peak): (u64, u64, u64),
) -> PointResult {
    let s = &ex.stats;
    let items = s.completed();
    let wall_s = ex.wall.as_secs_f64();
    // Open loop: latency runs from the intended start; service time is the closed loop's figure.
    let service = &s.latency;
    let sq = |quantile: f64| {
        (!service.is_empty()).then(|| us_to_ms(service.value_at_quantile(quantile)))
    };
    let open = point.rate.and(s.scheduling.as_deref());
    let h = open.map_or(&s.latency, |o| &o.intended);
    let q = |quantile: f64| (!h.is_empty()).then(|| us_to_ms(h.value_at_quantile(quantile)));
    let f = &s.failed_latency;
    let fq = |quantile: f64| (!f.is_empty()).then(|| us_to_ms(f.value_at_quantile(quantile)));
    let per_s = |n: u64| if wall_s > 0.0 { n as f64 / wall_s } else { 0.0 };
    PointResult {
        workload: spec.name.clone(),
        backend: point.backend,
        throttle: point.throttle,
        repetition: point.repetition,
        items,
        ok: s.ok,
        failed: s.failed,
        timed_out: s.timed_out,
        wall_s,
        throughput_per_s: per_s(items),
        speedup: None,
        efficiency: None,
        lat_mean_ms: (!h.is_empty()).then(|| h.mean() / 1000.0),
        lat_p50_ms: q(0.50),
        lat_p90_ms: q(0.90),
        lat_p99_ms: q(0.99),
        lat_p999_ms: q(0.999),
        lat_max_ms: (!h.is_empty()).then(|| us_to_ms(h.max())),
        goodput_per_s: per_s(s.ok),
        error_pct: crate::results::error_pct(s.ok, s.failed + s.timed_out),
        rx_bytes: s.transfer.map(|t| t.rx),
        tx_bytes: s.transfer.map(|t| t.tx),
        disk_bytes_per_item: None,
        disk_mb_per_s: None,
        disk_iops: None,
        rx_mb_per_s: s.transfer.map(|t| {
            if wall_s > 0.0 {
                bytes_to_mb(t.rx) / wall_s
            } else {
                0.0
            }
        }),
        failed_lat_p50_ms: fq(0.50),
        failed_lat_p99_ms: fq(0.99),
        failed_lat_max_ms: (!f.is_empty()).then(|| us_to_ms(f.max())),
        setup_cpu_s: None,
        cpu_user_s: cpu.user.as_secs_f64(),
        cpu_sys_s: cpu.sys.as_secs_f64(),
        rss_before_mb: bytes_to_mb(rss_before),
        rss_after_mb: bytes_to_mb(rss_after),
        mem_delta_mb: bytes_to_mb(rss_after) - bytes_to_mb(rss_before),
        peak_rss_mb: bytes_to_mb(peak),
        max_inflight: ex.max_inflight,
        startup_ms: ex.startup.map(|d| d.as_secs_f64() * 1000.0),
        errors: s.errors.clone(),
        failures: s.failures.clone(),
        achieved_concurrency: if wall_s > 0.0 {
            s.busy.as_secs_f64() / wall_s
        } else {
            0.0
        },
        histogram: encode_histogram(h),
        failed_histogram: if f.is_empty() {
            String::new()
        } else {
            encode_histogram(f)
        },
        retried: s.retried,
        offered_per_s: point.rate.map(|rate| shard_rate(&spec.sweep, rate)),
        late: open.map_or(0, |o| o.late),
        svc_p50_ms: sq(0.50),
        svc_p90_ms: sq(0.90),
        svc_p99_ms: sq(0.99),
        svc_histogram: match open {
            Some(_) => encode_histogram(service),
            None => String::new(),
        },
        lag: open.filter(|o| !o.lag.is_empty()).map(|o| LagSummary {
            p50_ms: us_to_ms(o.lag.value_at_quantile(0.50)),
            p99_ms: us_to_ms(o.lag.value_at_quantile(0.99)),
            max_ms: us_to_ms(o.lag.max()),
        }),
        hosts: Vec::new(),
        slots: None,
        late_start_ms: None,
        overran: None,
        shards: Vec::new(),
        trace: ex.stats.trace,
        worker_rss_mb: None,
        own_peak_rss_mb: None,
        limiter: None,
    }
}

/// `cpu` less `setup` (a total, user then system), never below zero.
fn take_out(cpu: CpuTimes, setup: CpuTimes) -> CpuTimes {
    let total = setup.user + setup.sys;
    let from_user = total.min(cpu.user);
    CpuTimes {
        user: cpu.user - from_user,
        sys: cpu.sys.saturating_sub(total - from_user),
    }
}

pub(crate) fn peak_method_name(method: PeakMethod) -> &'static str {
    match method {
        PeakMethod::CgroupPeak => "cgroup-peak",
        PeakMethod::ClearRefs => "clear-refs",
        PeakMethod::Sampled => "sampled",
        PeakMethod::Unavailable => "unavailable",
    }
}
