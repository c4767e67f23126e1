//! Sweep progress for people: an indicatif bar with ETA on a terminal, one plain line per point
//! when output is not a terminal, nothing with `--quiet` (errors still go to stderr).

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::backend::{Budget, PointProgress};
use crate::format::{maybe, number, percent};
use crate::results::warning::Warning;
use crate::results::{PointResult, SweepResult};
use crate::spec::RunSpec;
use crate::sweep::{PlannedPoint, SweepListener};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressMode {
    Bar,
    Lines,
    Quiet,
}

impl ProgressMode {
    /// A bar on a terminal, lines otherwise, nothing when quiet.
    pub fn detect(quiet: bool) -> Self {
        if quiet {
            ProgressMode::Quiet
        } else if std::io::stderr().is_terminal() {
            ProgressMode::Bar
        } else {
            ProgressMode::Lines
        }
    }
}

pub struct ProgressListener {
    mode: ProgressMode,
    total_points: usize,
    done_points: usize,
    items_per_point: Option<u64>,
    bar: Option<ProgressBar>,
    /// Items of finished points, and the point now running.
    base: Arc<AtomicU64>,
    current: Arc<Mutex<Option<Arc<PointProgress>>>>,
    stop: Arc<AtomicBool>,
    ticker: Option<JoinHandle<()>>,
}

impl ProgressListener {
    pub fn new(mode: ProgressMode) -> Self {
        ProgressListener {
            mode,
            total_points: 0,
            done_points: 0,
            items_per_point: None,
            bar: None,
            base: Arc::new(AtomicU64::new(0)),
            current: Arc::new(Mutex::new(None)),
            stop: Arc::new(AtomicBool::new(false)),
            ticker: None,
        }
    }

    fn finish_bar(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.ticker.take() {
            let _ = t.join();
        }
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

impl SweepListener for ProgressListener {
    fn sweep_start(&mut self, plan: &[PlannedPoint], spec: &RunSpec) -> anyhow::Result<()> {
        self.total_points = plan.len();
        self.items_per_point = match spec.sweep.budget {
            Budget::Items(n) => Some(n),
            Budget::Duration(_) => None,
        };
        if self.mode != ProgressMode::Bar {
            return Ok(());
        }
        let (length, template) = match self.items_per_point {
            Some(n) => (
                n * plan.len() as u64,
                "{spinner} {elapsed_precise} [{bar:32}] {pos}/{len} items, ETA {eta}  {msg}",
            ),
            None => (
                plan.len() as u64,
                "{spinner} {elapsed_precise} [{bar:32}] {pos}/{len} points, ETA {eta}  {msg}",
            ),
        };
        let bar = ProgressBar::with_draw_target(Some(length), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(template)
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        if self.items_per_point.is_some() {
            let (bar2, base, current, stop) = (
                bar.clone(),
                self.base.clone(),
                self.current.clone(),
                self.stop.clone(),
            );
            self.ticker = std::thread::Builder::new()
                .name("tb-progress".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        let running = current
                            .lock()
                            .ok()
                            .and_then(|c| c.as_ref().map(|p| p.total()))
                            .unwrap_or(0);
                        bar2.set_position(base.load(Ordering::Relaxed) + running);
                        std::thread::sleep(Duration::from_millis(100));
                    }
                })
                .ok();
        }
        bar.enable_steady_tick(Duration::from_millis(120));
        self.bar = Some(bar);
        Ok(())
    }

    fn point_start(&mut self, _index: usize, point: &PlannedPoint, progress: &Arc<PointProgress>) {
        if let Ok(mut current) = self.current.lock() {
            *current = Some(progress.clone());
        }
        if let Some(bar) = &self.bar {
            bar.set_message(match point.rate {
                Some(rate) => format!(
                    "{} at {}/s offered (rep {})",
                    point.backend,
                    crate::format::rate(rate),
                    point.repetition
                ),
                None => format!(
                    "{} at throttle {} (rep {})",
                    point.backend, point.throttle, point.repetition
                ),
            });
        }
    }

    fn point_done(&mut self, p: &PointResult, _sweep: &SweepResult) -> anyhow::Result<()> {
        self.done_points += 1;
        if let Ok(mut current) = self.current.lock() {
            *current = None;
        }
        let figures = match p.offered_per_s {
            Some(offered) => format!(
                "{} at {}/s offered: {} ok/s, p99 {} ms from intended start ({} ms service), {} late",
                p.backend,
                crate::format::rate(offered),
                number(p.goodput_per_s),
                maybe(p.lat_p99_ms, number),
                maybe(p.svc_p99_ms, number),
                p.late
            ),
            None => format!(
                "{} at throttle {}: {} ok/s, speedup {}×, p99 {} ms",
                p.backend,
                p.throttle,
                number(p.goodput_per_s),
                maybe(p.speedup, |x| format!("{x:.2}")),
                maybe(p.lat_p99_ms, number),
            ),
        };
        let line = format!(
            "[{}/{}] {figures}{}",
            self.done_points,
            self.total_points,
            if p.failed + p.timed_out > 0 {
                format!(
                    ", {} failed ({}%)",
                    p.failed + p.timed_out,
                    maybe(p.error_pct, percent)
                )
            } else {
                String::new()
            }
        );
        match self.mode {
            ProgressMode::Bar => {
                if let Some(bar) = &self.bar {
                    match self.items_per_point {
                        Some(n) => {
                            self.base.fetch_add(n, Ordering::Relaxed);
                            bar.set_position(self.base.load(Ordering::Relaxed));
                        }
                        None => bar.inc(1),
                    }
                    bar.println(line);
                }
            }
            ProgressMode::Lines => eprintln!("{line}"),
            ProgressMode::Quiet => {}
        }
        Ok(())
    }

    fn limited_done(&mut self, p: &PointResult, _sweep: &SweepResult) -> anyhow::Result<()> {
        if let Ok(mut current) = self.current.lock() {
            *current = None;
        }
        let line = format!(
            "{} settled at {}: {} ok/s, p99 {} ms",
            p.backend_label(),
            p.limiter.as_ref().map_or(p.throttle as f64, |t| t.settled),
            number(p.goodput_per_s),
            maybe(p.lat_p99_ms, number),
        );
        match (&self.bar, self.mode) {
            (_, ProgressMode::Quiet) => {}
            (Some(bar), _) => bar.println(line),
            (None, _) => eprintln!("{line}"),
        }
        Ok(())
    }

    fn warning(&mut self, warning: &Warning) {
        match (&self.bar, self.mode) {
            (_, ProgressMode::Quiet) => {}
            (Some(bar), _) => bar.println(format!("warning: {warning}")),
            (None, _) => eprintln!("warning: {warning}"),
        }
    }

    fn sweep_done(&mut self, _sweep: &SweepResult) -> anyhow::Result<()> {
        self.finish_bar();
        Ok(())
    }
}

impl Drop for ProgressListener {
    fn drop(&mut self) {
        self.finish_bar();
    }
}
