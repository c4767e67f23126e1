//! The backend cost table — per backend, what a job costs: its start, the memory one more job
//! in flight adds, the memory the backend holds per slot apart from it, the CPU of one
//! successful item, the best goodput and what a crash takes down — as console text, a markdown table (`summary.md`) and an HTML table. It follows the
//! main table, where a reader comparing backends looks next.

use crate::analysis::costs::{BackendCost, WEAK_FIT_R2};
use crate::format::{maybe, number, NO_DATA};
use crate::results::SweepResult;

pub const HEADERS: [&str; 7] = [
    "backend",
    "startup/job (µs)",
    "memory/job (MB)",
    "backend memory/slot (MB)",
    "CPU/item (ms)",
    "best goodput (ok/s @ throttle)",
    "a crash takes",
];

/// One row of the table.
pub fn cells(c: &BackendCost) -> Vec<String> {
    vec![
        c.backend.to_string(),
        maybe(c.startup_ms, startup_us),
        memory_cell(c),
        maybe(c.backend_mb_per_slot, number),
        maybe(c.cpu_per_item_ms, number),
        format!("{} @ {}", number(c.best_goodput_per_s), c.best_throttle),
        c.crash_takes.clone(),
    ]
}

/// The slope with its fit: a weak fit is flagged, since memory that does not grow in steps of
/// jobs (a pool reused, an allocator's arenas) has no honest "per job" figure.
fn memory_cell(c: &BackendCost) -> String {
    match (c.memory_per_job_mb, c.memory_fit_r2) {
        (None, _) => NO_DATA.to_string(),
        (Some(mb), Some(r2)) if r2 < WEAK_FIT_R2 => {
            format!("{} (weak fit, R² {r2:.2})", signed(mb))
        }
        (Some(mb), Some(r2)) => format!("{} (R² {r2:.2})", signed(mb)),
        (Some(mb), None) => format!("{} (flat)", signed(mb)),
    }
}

/// A startup given in ms, shown in µs to three significant figures: a thread's is a tenth of a
/// microsecond, a process's most of a millisecond, and both must read as more than zero.
fn startup_us(ms: f64) -> String {
    let us = ms * 1000.0;
    if us >= 1.0 || us <= 0.0 {
        return number(us);
    }
    let decimals = (2.0 - us.log10().floor()) as usize;
    format!("{us:.decimals$}")
}

fn signed(mb: f64) -> String {
    if mb < 0.0 {
        format!("-{}", number(-mb))
    } else {
        number(mb)
    }
}

/// What the columns mean, in one line under the table.
pub const LEGEND: &str = "startup: item handed out (claimed, written to an idle worker, or its \
process spawned) → its workload starts, median; memory/job: growth of the process tree's peak \
per extra item in flight, fitted over the throttles, less what the backend holds; backend \
memory/slot: what a slot holds whatever its jobs do (a worker's own peak, and throttlebench's \
own growth per slot where jobs run in processes of their own); CPU: user + system of the whole \
process tree over the timed window, per successful item, at the best throttle (median of \
repetitions).";

fn rows(sweep: &SweepResult) -> Vec<Vec<String>> {
    sweep
        .analysis
        .as_ref()
        .map(|a| a.costs.iter().map(cells).collect())
        .unwrap_or_default()
}

/// Aligned plain text, or nothing when no backend was measured.
pub fn console(sweep: &SweepResult) -> String {
    let rows = rows(sweep);
    if rows.is_empty() {
        return String::new();
    }
    let mut widths: Vec<usize> = HEADERS.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let last = HEADERS.len() - 1;
    let line = |cells: &[String]| {
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let pad = " ".repeat(widths[i] - c.chars().count());
                // Text columns (the first and the last) align left, figures right.
                if i == 0 || i == last {
                    format!("{c}{pad}")
                } else {
                    format!("{pad}{c}")
                }
            })
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let headers: Vec<String> = HEADERS.iter().map(|h| h.to_string()).collect();
    let mut out = format!("Cost per job\n{}\n", line(&headers));
    for row in &rows {
        out.push_str(&line(row));
        out.push('\n');
    }
    out.push_str(LEGEND);
    out.push('\n');
    out
}

/// A markdown section, or nothing.
pub fn markdown(sweep: &SweepResult) -> String {
    let rows = rows(sweep);
    if rows.is_empty() {
        return String::new();
    }
    super::table::markdown_section("Cost per job", &HEADERS, &rows, LEGEND)
}

/// An HTML section, or nothing; `escape` makes the cells safe.
pub fn html(sweep: &SweepResult, escape: impl Fn(&str) -> String) -> String {
    let rows = rows(sweep);
    if rows.is_empty() {
        return String::new();
    }
    let mut out = String::from("<h2>Cost per job</h2>\n");
    out.push_str(&super::table::html_table(&HEADERS, &rows, None, &escape));
    out.push_str(&format!("<p class=\"muted\">{}</p>\n", escape(LEGEND)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::BackendKind;

    fn cost(mb: Option<f64>, r2: Option<f64>) -> BackendCost {
        BackendCost {
            backend: BackendKind::ProcessPerItem,
            startup_ms: Some(1.25),
            memory_per_job_mb: mb,
            memory_fit_r2: r2,
            backend_mb_per_slot: None,
            cpu_per_item_ms: None,
            best_goodput_per_s: 1018.4,
            best_throttle: 4,
            crash_takes: "the item".into(),
        }
    }

    #[test]
    fn a_row_shows_each_cost_and_no_zero_for_what_was_not_measured() {
        let row = cells(&cost(Some(1.8), Some(0.97)));
        assert_eq!(
            row,
            [
                "process-per-item",
                "1250",
                "1.80 (R² 0.97)",
                NO_DATA,
                NO_DATA,
                "1018 @ 4",
                "the item"
            ]
        );
    }

    #[test]
    fn a_startup_keeps_three_figures_however_small() {
        assert_eq!(startup_us(0.0000955), "0.0955");
        assert_eq!(startup_us(0.0072755), "7.28");
        assert_eq!(startup_us(0.626389), "626");
        assert_eq!(startup_us(1.25), "1250");
    }

    #[test]
    fn a_weak_or_flat_memory_fit_says_so() {
        assert_eq!(
            memory_cell(&cost(Some(0.4), Some(0.3))),
            "0.400 (weak fit, R² 0.30)"
        );
        assert_eq!(memory_cell(&cost(Some(0.0), None)), "0 (flat)");
        assert_eq!(
            memory_cell(&cost(Some(-0.2), Some(0.9))),
            "-0.200 (R² 0.90)"
        );
        assert_eq!(memory_cell(&cost(None, None)), NO_DATA);
    }
}
