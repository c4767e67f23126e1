//! The results table — one row per (backend, throttle), repetitions folded into medians — as
//! aligned console text and as a markdown table (`summary.md`). Every count and cost column is
//! named for its basis: one repetition (the median) or all repetitions together, never mixed.

use super::Exporter;
use crate::results::{Summary, SweepResult};

pub const HEADERS: [&str; 13] = [
    "backend",
    "throttle",
    "items/rep",
    "goodput (ok/s)",
    "errors (%)",
    "speedup (×)",
    "efficiency (%)",
    "p50 (ms)",
    "p99 (ms)",
    "CPU/rep (s)",
    "Δmem (MB)",
    "peak RSS (MB)",
    "failed (all reps)",
];

/// What a table shows where a figure does not exist (no successful item): never 0.
pub const NO_DATA: &str = "–";

/// A figure, or `NO_DATA` when there is none.
pub fn maybe(x: Option<f64>, show: impl Fn(f64) -> String) -> String {
    x.map(show).unwrap_or_else(|| NO_DATA.to_string())
}

/// One row of the table.
pub fn cells(s: &Summary) -> Vec<String> {
    vec![
        s.backend.to_string(),
        s.throttle.to_string(),
        s.items_per_rep.to_string(),
        number(s.goodput_per_s),
        maybe(s.error_pct, percent),
        maybe(s.speedup, |x| format!("{x:.2}")),
        maybe(s.efficiency, |x| format!("{:.0}", x * 100.0)),
        maybe(s.lat_p50_ms, number),
        maybe(s.lat_p99_ms, number),
        format!("{:.2}", s.cpu_s),
        format!("{:+.1}", s.mem_delta_mb),
        format!("{:.1}", s.peak_rss_mb),
        failed_cell(s),
    ]
}

/// Failed items, with timed-out and retried ones when there were any.
fn failed_cell(s: &Summary) -> String {
    let mut cell = s.failed.to_string();
    if s.timed_out > 0 {
        cell.push_str(&format!(" (+{} timed out)", s.timed_out));
    }
    if s.retried > 0 {
        cell.push_str(&format!(", {} retried", s.retried));
    }
    cell
}

/// A percentage with the precision it needs: 0, 1, 0.25, 3.1, 42.
pub fn percent(x: f64) -> String {
    if x.fract() == 0.0 {
        format!("{x:.0}")
    } else if x < 1.0 {
        format!("{x:.2}")
    } else if x < 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.0}")
    }
}

/// Three significant figures, without scientific notation.
pub fn number(x: f64) -> String {
    let a = x.abs();
    if a >= 100.0 || a == 0.0 {
        format!("{x:.0}")
    } else if a >= 10.0 {
        format!("{x:.1}")
    } else if a >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

pub fn rows(sweep: &SweepResult) -> Vec<Vec<String>> {
    sweep.summaries().iter().map(cells).collect()
}

/// Aligned plain text: text columns left, numbers right.
pub fn console(sweep: &SweepResult) -> String {
    let rows = rows(sweep);
    let mut widths: Vec<usize> = HEADERS.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let pad = " ".repeat(widths[i] - c.chars().count());
                if i == 0 {
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
    let mut out = line(HEADERS.to_vec());
    out.push('\n');
    out.push_str(
        &widths
            .iter()
            .map(|w| "─".repeat(*w))
            .collect::<Vec<_>>()
            .join("  "),
    );
    out.push('\n');
    for row in &rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
        out.push('\n');
    }
    out
}

/// A GitHub-flavoured markdown table.
pub fn markdown(sweep: &SweepResult) -> String {
    let escape = |c: &str| c.replace('|', "\\|");
    let mut out = format!("| {} |\n", HEADERS.join(" | "));
    out.push_str(&format!(
        "|{}\n",
        HEADERS
            .iter()
            .enumerate()
            .map(|(i, _)| if i == 0 { ":---|" } else { "---:|" })
            .collect::<String>()
    ));
    for row in rows(sweep) {
        out.push_str(&format!(
            "| {} |\n",
            row.iter()
                .map(|c| escape(c))
                .collect::<Vec<_>>()
                .join(" | ")
        ));
    }
    out
}

/// `summary.md`: a heading, the table, and the warnings, ready to paste into a pull request.
pub struct SummaryMarkdown;

impl Exporter for SummaryMarkdown {
    fn file_name(&self) -> &'static str {
        "summary.md"
    }

    fn serialize(&self, sweep: &SweepResult) -> anyhow::Result<Vec<u8>> {
        let s = &sweep.spec;
        let mut out = format!("### throttlebench: {}\n\n", s.name.replace(['<', '>'], ""));
        let baseline = sweep
            .baseline_goodput_per_s
            .map(|b| format!("{} successful items/s", number(b)))
            .unwrap_or_else(|| "– (no successful item)".into());
        out.push_str(&format!(
            "Workload `{}` · sequential baseline {} · {} · {} cores\n\n",
            s.workload.kind, baseline, sweep.environment.cpu_model, sweep.environment.cores
        ));
        out.push_str(&markdown(sweep));
        out.push_str(&super::costs::markdown(sweep));
        if let Some(analysis) = &sweep.analysis {
            out.push_str("\n**Analysis**\n\n");
            for line in analysis.lines() {
                out.push_str(&format!("- {}\n", line.replace(['<', '>'], "")));
            }
        }
        if !sweep.warnings.is_empty() {
            out.push_str("\n**Warnings**\n\n");
            for w in &sweep.warnings {
                out.push_str(&format!("- {w}\n"));
            }
        }
        Ok(out.into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_three_figures() {
        assert_eq!(number(1234.5), "1234");
        assert_eq!(number(12.345), "12.3");
        assert_eq!(number(1.2345), "1.23");
        assert_eq!(number(0.012345), "0.012");
        assert_eq!(number(0.0), "0");
    }

    #[test]
    fn percentages_keep_what_matters() {
        assert_eq!(percent(0.0), "0");
        assert_eq!(percent(1.0), "1");
        assert_eq!(percent(0.25), "0.25");
        assert_eq!(percent(3.04), "3.0");
        assert_eq!(percent(96.4), "96");
    }
}
