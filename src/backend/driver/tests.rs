//! The driver's loop, on scripted attempts, and panics through the backends that use it.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::*;
use crate::backend::async_tokio::AsyncBackend;
use crate::backend::inflight::InflightTracker;
use crate::backend::retry::RetryPolicy;
use crate::backend::thread::ThreadBackend;
use crate::backend::{Backend, Budget, PointJob};
use crate::measure::WorkerStats;
use crate::workload::{BoxFuture, ItemResult, Registry, Runner, Workload, WorkloadSpec};

fn noop() -> (Arc<dyn Workload>, WorkloadSpec) {
    let spec = WorkloadSpec {
        kind: "noop".into(),
        params: Default::default(),
    };
    (Registry::builtin().build(&spec).unwrap(), spec)
}

/// Attempts that follow a script: `plan(item, attempt)` says how each one ends.
struct Scripted<F> {
    plan: F,
    item: Option<u64>,
    attempt: u32,
    ran_on: Option<u64>,
}

fn scripted<F: FnMut(u64, u32) -> ItemEnd>(plan: F) -> Scripted<F> {
    Scripted {
        plan,
        item: None,
        attempt: 0,
        ran_on: None,
    }
}

impl<F: FnMut(u64, u32) -> ItemEnd> Attempt for Scripted<F> {
    fn attempt(&mut self, item: u64, _deadline: Option<Instant>) -> ItemEnd {
        if self.item != Some(item) {
            self.item = Some(item);
            self.attempt = 0;
        }
        self.attempt += 1;
        (self.plan)(item, self.attempt)
    }

    fn ran_on(&self) -> Option<u64> {
        self.ran_on
    }
}

fn fail(kind: &'static str) -> ItemEnd {
    ItemEnd::Ran(Err(ItemError::new(kind, "scripted")))
}

fn retrying(retries: u32, backoff: Duration) -> RetryPolicy {
    RetryPolicy { retries, backoff }
}

/// Runs one lane, in progress slot `slot`, of the point `job` describes.
fn run_lane(
    job: &PointJob<'_>,
    slot: usize,
    attempts: &mut impl Attempt,
) -> (WorkerStats, LaneEnd) {
    let point = Point::new(job, InflightTracker::new(job.throttle));
    let mut stats = WorkerStats::new();
    let end = point
        .lane(slot)
        .run_blocking(&mut point.claims(), attempts, &mut stats);
    (stats, end)
}

/// (item, attempt, kind) of every failure noted, in order.
fn failures(stats: &WorkerStats) -> Vec<(u64, u32, String)> {
    stats
        .failures
        .iter()
        .map(|f| (f.item, f.attempt, f.kind.clone()))
        .collect()
}

#[test]
fn retries_until_an_attempt_succeeds_and_notes_the_failed_ones() {
    let (workload, spec) = noop();
    let job = PointJob {
        retry: retrying(3, Duration::from_millis(1)),
        ..PointJob::plain(&workload, &spec, 1, Budget::Items(3))
    };
    let (stats, end) = run_lane(
        &job,
        0,
        &mut scripted(|_, attempt| match attempt {
            1 | 2 => fail("flaky"),
            _ => ItemEnd::Ran(Ok(())),
        }),
    );
    assert_eq!(end, LaneEnd::Finished);
    assert_eq!((stats.ok, stats.failed, stats.retried), (3, 0, 3));
    let expected: Vec<_> = (0..3)
        .flat_map(|item| [1, 2].map(|a| (item, a, "flaky".to_string())))
        .collect();
    assert_eq!(failures(&stats), expected);
    assert_eq!(job.progress.total(), 3);
}

#[test]
fn a_setup_failure_is_not_retried() {
    let (workload, spec) = noop();
    let job = PointJob {
        retry: retrying(5, Duration::from_millis(1)),
        ..PointJob::plain(&workload, &spec, 1, Budget::Items(2))
    };
    let mut runner = LocalRunner::from_built(Err("no licence".to_string()));
    let (stats, _) = run_lane(&job, 0, &mut runner);
    assert_eq!((stats.failed, stats.retried), (2, 0));
    let expected = [(0, 1, "setup".to_string()), (1, 1, "setup".to_string())];
    assert_eq!(failures(&stats), expected);
    assert_eq!(stats.failures[0].message, "no licence");
}

#[test]
fn a_wait_that_would_end_past_the_timeout_ends_the_item_there() {
    let (workload, spec) = noop();
    // The first retry would wait at least 5 s; the item has 50 ms in all.
    let job = PointJob {
        retry: retrying(3, Duration::from_secs(10)),
        timeout: Some(Duration::from_millis(50)),
        ..PointJob::plain(&workload, &spec, 1, Budget::Items(1))
    };
    let began = Instant::now();
    let (stats, _) = run_lane(&job, 0, &mut scripted(|_, _| fail("down")));
    let took = began.elapsed();
    assert!(took >= Duration::from_millis(50), "{took:?}");
    assert!(
        took < Duration::from_secs(2),
        "waited the backoff: {took:?}"
    );
    assert_eq!((stats.timed_out, stats.failed), (1, 0));
    assert_eq!(
        failures(&stats),
        [(0, 1, "down".to_string()), (0, 1, "timeout".to_string())],
        "the failed attempt, then the timeout naming it"
    );
}

#[test]
fn ctrl_c_stops_a_lane_and_its_waits() {
    let (workload, spec) = noop();
    let job = PointJob {
        retry: retrying(1, Duration::from_secs(10)),
        ..PointJob::plain(&workload, &spec, 1, Budget::Items(100))
    };
    let stop = job.stop.clone();
    let began = Instant::now();
    // Items 0–2 succeed; item 3 fails, and Ctrl-C comes during the wait before its retry.
    let (stats, end) = run_lane(
        &job,
        0,
        &mut scripted(|item, _| {
            if item < 3 {
                return ItemEnd::Ran(Ok(()));
            }
            let stop = stop.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(20));
                stop.store(true, Ordering::Relaxed);
            });
            fail("down")
        }),
    );
    let took = began.elapsed();
    assert!(took < Duration::from_secs(3), "the wait ignored Ctrl-C");
    assert_eq!(end, LaneEnd::Finished);
    assert_eq!(stats.completed(), 3, "the interrupted item is not recorded");
}

#[test]
fn an_item_taken_from_the_lane_ends_it_unrecorded() {
    struct Taken(u32);
    impl Outcomes for Taken {
        fn failed_attempt(&mut self, _: u64, _: u32, _: &ItemError) {}
        fn ended(&mut self, _: Finished) -> Option<Outcome> {
            self.0 += 1;
            None
        }
    }
    let (workload, spec) = noop();
    let job = PointJob::plain(&workload, &spec, 1, Budget::Items(10));
    let point = Point::new(&job, InflightTracker::new(1));
    let mut taken = Taken(0);
    let end = point.lane(0).run_blocking(
        &mut point.claims(),
        &mut scripted(|_, _| ItemEnd::Ran(Ok(()))),
        &mut taken,
    );
    assert_eq!((end, taken.0), (LaneEnd::Abandoned, 1));
    assert_eq!(job.progress.total(), 0);
}

#[test]
fn a_traced_lane_names_its_worker_and_how_each_item_ended() {
    let (workload, spec) = noop();
    let job = PointJob {
        trace: true,
        timeout: Some(Duration::from_secs(60)),
        ..PointJob::plain(&workload, &spec, 8, Budget::Items(3))
    };
    let (stats, _) = run_lane(
        &job,
        7,
        &mut scripted(|item, _| match item {
            0 => ItemEnd::Ran(Ok(())),
            1 => fail("http-503"),
            _ => ItemEnd::TimedOut,
        }),
    );
    let seen: Vec<_> = stats
        .trace
        .iter()
        .map(|e| (e.item, e.worker, e.outcome, e.error.as_deref()))
        .collect();
    let expected = [
        (0, 7, Outcome::Ok, None),
        (1, 7, Outcome::Failed, Some("http-503")),
        (2, 7, Outcome::TimedOut, Some("timeout")),
    ];
    assert_eq!(seen, expected);
    let ordered = |e: &TraceEvent| 0 <= e.start_us && e.start_us <= e.end_us;
    assert!(stats.trace.iter().all(ordered), "{:?}", stats.trace);

    // Attempts run elsewhere (a process) name their worker themselves.
    let mut elsewhere = scripted(|_, _| ItemEnd::Ran(Ok(())));
    elsewhere.ran_on = Some(4242);
    let (stats, _) = run_lane(&job, 0, &mut elsewhere);
    let workers: Vec<_> = stats.trace.iter().map(|e| e.worker).collect();
    assert_eq!(workers, [4242; 3]);
}

#[test]
fn an_untraced_lane_keeps_no_events() {
    let (workload, spec) = noop();
    let job = PointJob::plain(&workload, &spec, 1, Budget::Items(5));
    let (stats, _) = run_lane(&job, 0, &mut LocalRunner::build(workload.as_ref()));
    assert_eq!(stats.ok, 5);
    assert!(stats.trace.is_empty());
}

#[test]
fn a_timed_budget_stops_claiming_once_an_item_ends_past_it() {
    let (workload, spec) = noop();
    let job = PointJob::plain(
        &workload,
        &spec,
        1,
        Budget::Duration(Duration::from_millis(30)),
    );
    let point = Point::new(&job, InflightTracker::new(1));
    let mut stats = WorkerStats::new();
    let mut lane = point.lane(0);
    let started = point.start();
    lane.run_blocking(
        &mut point.claims(),
        &mut scripted(|_, _| {
            std::thread::sleep(Duration::from_millis(5));
            ItemEnd::Ran(Ok(()))
        }),
        &mut stats,
    );
    assert!(stats.ok >= 1);
    assert!(lane.last_end() >= started + Duration::from_millis(30));
    assert!(lane.last_end() < started + Duration::from_secs(5));
}

#[test]
fn an_async_timeout_cuts_the_attempt_under_way() {
    struct Slow;
    impl Runner for Slow {
        fn run(&mut self, _: u64) -> ItemResult {
            Ok(())
        }
        fn run_async(&mut self, _: u64) -> BoxFuture<'_, ItemResult> {
            Box::pin(async {
                tokio::time::sleep(Duration::from_secs(10)).await;
                Err(ItemError::new("late", "finished after all"))
            })
        }
    }
    let (workload, spec) = noop();
    let job = PointJob {
        timeout: Some(Duration::from_millis(30)),
        retry: retrying(2, Duration::from_millis(1)),
        ..PointJob::plain(&workload, &spec, 1, Budget::Items(2))
    };
    let point = Point::new(&job, InflightTracker::new(1));
    let mut stats = WorkerStats::new();
    let mut runner = LocalRunner::from_built(Ok(Box::new(Slow)));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let began = Instant::now();
    let mut lane = point.lane(0);
    runtime.block_on(lane.run_async(&mut point.claims(), &mut runner, &mut stats));
    let took = began.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "the 10 s attempts ran: {took:?}"
    );
    assert_eq!(stats.timed_out, 2);
    let expected = [(0, 1, "timeout".to_string()), (1, 1, "timeout".to_string())];
    assert_eq!(failures(&stats), expected, "each cut in its first attempt");
}

/// Panics at items 3 (with a formatted message), 5 (a static one) and 6 (no message at all).
struct Panicky;

impl Workload for Panicky {
    fn runner(&self) -> Result<Box<dyn Runner>, ItemError> {
        Ok(Box::new(Panicky))
    }
}

impl Runner for Panicky {
    fn run(&mut self, item: u64) -> ItemResult {
        match item {
            3 => panic!("item {item} blew up"),
            5 => panic!("a static message"),
            6 => std::panic::panic_any(6u8),
            _ => Ok(()),
        }
    }

    fn run_async(&mut self, item: u64) -> BoxFuture<'_, ItemResult> {
        Box::pin(async move {
            tokio::task::yield_now().await;
            self.run(item)
        })
    }
}

#[test]
fn a_panic_keeps_its_message_on_thread_and_async() {
    let (_, spec) = noop();
    let workload: Arc<dyn Workload> = Arc::new(Panicky);
    let backends: [(&str, Box<dyn Backend>); 3] = [
        ("sequential", Box::new(ThreadBackend::sequential())),
        ("thread", Box::new(ThreadBackend::pool())),
        ("async", Box::new(AsyncBackend::new().unwrap())),
    ];
    for (name, backend) in backends {
        let job = PointJob::plain(&workload, &spec, 2, Budget::Items(8));
        let stats = backend.execute(&job).unwrap().stats;
        assert_eq!((stats.ok, stats.failed), (5, 3), "{name}");
        let mut said: Vec<_> = stats
            .failures
            .iter()
            .map(|f| (f.item, f.kind.as_str(), f.message.as_str()))
            .collect();
        said.sort_unstable();
        assert_eq!(
            said,
            [
                (3, "panic", "item 3 blew up"),
                (5, "panic", "a static message"),
                (6, "panic", "panicked without a message"),
            ],
            "{name}"
        );
    }
}

#[test]
fn a_stopped_point_hands_out_no_item() {
    let (workload, spec) = noop();
    let job = PointJob::plain(&workload, &spec, 1, Budget::Items(10));
    job.stop.store(true, Ordering::Relaxed);
    let (stats, _) = run_lane(&job, 0, &mut LocalRunner::build(workload.as_ref()));
    assert_eq!(stats.completed(), 0);
}

#[test]
fn a_worker_process_runner_keeps_the_panic_message_too() {
    let mut runner = LocalRunner::from_built(Ok(Box::new(Panicky)));
    let outcome = runner.attempt(3, None).into_result(3);
    assert_eq!(
        outcome,
        Err(ItemError::new("panic", "item 3 blew up")),
        "the worker runs its items through the same guard"
    );
}

/// Fails every attempt at once.
struct Down;

impl Workload for Down {
    fn runner(&self) -> Result<Box<dyn Runner>, ItemError> {
        Ok(Box::new(Down))
    }
}

impl Runner for Down {
    fn run(&mut self, _: u64) -> ItemResult {
        Err(ItemError::new("down", "refused"))
    }
}

#[test]
fn a_watched_thread_item_out_of_time_in_a_wait_is_recorded_once() {
    // The wait before each retry (at least 5 s) would end past the 50 ms limit: the lane and
    // the watchdog both see the item out of time, and exactly one of them records it.
    let (_, spec) = noop();
    let workload: Arc<dyn Workload> = Arc::new(Down);
    let job = PointJob {
        retry: retrying(3, Duration::from_secs(10)),
        timeout: Some(Duration::from_millis(50)),
        ..PointJob::plain(&workload, &spec, 2, Budget::Items(4))
    };
    let began = Instant::now();
    let stats = ThreadBackend::pool().execute(&job).unwrap().stats;
    assert!(
        began.elapsed() < Duration::from_secs(4),
        "{:?}",
        began.elapsed()
    );
    assert_eq!((stats.timed_out, stats.failed, stats.ok), (4, 0, 0));
    let mut listed = failures(&stats);
    listed.sort();
    let expected: Vec<_> = (0..4)
        .flat_map(|item| {
            [
                (item, 1, "down".to_string()),
                (item, 1, "timeout".to_string()),
            ]
        })
        .collect();
    assert_eq!(listed, expected);
}
