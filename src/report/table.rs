//! The results table — one row per (backend, throttle), repetitions folded into medians — as
//! aligned console text and as a markdown table (`summary.md`). Every count and cost column is
//! named for its basis: one repetition (the median) or all repetitions together, never mixed.

use super::Exporter;
use crate::backend::hosts::HostResult;
use crate::format::{maybe, number, percent};
use crate::results::{Summary, SweepResult};

/// The table's column headings.
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

/// The columns a file I/O workload (`disk`) adds, in its own units (MB = 2^20 bytes).
pub const DISK_HEADERS: [&str; 2] = ["MB/s", "IOPS"];

/// A row's disk cells.
pub fn disk_cells(s: &Summary) -> Vec<String> {
    vec![maybe(s.disk_mb_per_s, number), maybe(s.disk_iops, number)]
}

/// Whether the sweep's workload did file I/O: its table gets the disk columns.
pub fn has_disk(summaries: &[Summary]) -> bool {
    summaries.iter().any(|s| s.disk_mb_per_s.is_some())
}

/// What the disk columns count, under the table: `disk: 1 MiB (1048576 bytes) per item; …`.
pub fn disk_note(summaries: &[Summary]) -> Option<String> {
    let bytes = summaries.iter().find_map(|s| s.disk_bytes_per_item)?;
    Some(format!(
        "disk: {} ({bytes} bytes) per item; MB/s counts 2^20 bytes (fio's MiB/s), IOPS the read and write calls of successful items",
        size_text(bytes)
    ))
}

/// `1 MiB`, `64 KiB`, `1000 bytes`: the largest binary unit that divides the size.
fn size_text(bytes: u64) -> String {
    for (unit, size) in [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
        if bytes >= size && bytes % size == 0 {
            return format!("{} {unit}", bytes / size);
        }
    }
    format!("{bytes} bytes")
}

/// The table's headings for this sweep.
pub fn headers(sweep: &SweepResult) -> Vec<&'static str> {
    let mut headers = HEADERS.to_vec();
    if has_disk(&sweep.summaries()) {
        headers.extend(DISK_HEADERS);
    }
    headers
}

/// The table's rows as text, one per (backend, throttle).
pub fn rows(sweep: &SweepResult) -> Vec<Vec<String>> {
    let summaries = sweep.summaries();
    let disk = has_disk(&summaries);
    summaries
        .iter()
        .map(|s| {
            let mut row = cells(s);
            if disk {
                row.extend(disk_cells(s));
            }
            row
        })
        .collect()
}

/// Aligned plain text: text columns left, numbers right.
pub fn console(sweep: &SweepResult) -> String {
    let rows = rows(sweep);
    let headers = headers(sweep);
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
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
    let mut out = line(headers);
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
    if let Some(note) = disk_note(&sweep.summaries()) {
        out.push_str(&format!("{note}\n"));
    }
    out
}

/// Columns padded to width under a rule: the `text_columns` left-aligned, the rest (numbers)
/// right-aligned.
pub fn aligned(headers: &[&str], rows: &[Vec<String>], text_columns: &[usize]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[&str]| {
        let padded: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let pad = " ".repeat(widths[i].saturating_sub(c.chars().count()));
                if text_columns.contains(&i) {
                    format!("{c}{pad}")
                } else {
                    format!("{pad}{c}")
                }
            })
            .collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut out = line(headers);
    let rule: Vec<String> = widths.iter().map(|w| "─".repeat(*w)).collect();
    out.push_str(&format!("{}\n", rule.join("  ")));
    for row in rows {
        out.push_str(&line(&row.iter().map(String::as_str).collect::<Vec<_>>()));
    }
    out
}

/// A section of summary.md: `title` in bold, a markdown table of `rows`, then `legend`.
pub(crate) fn markdown_section(
    title: &str,
    headers: &[&str],
    rows: &[Vec<String>],
    legend: &str,
) -> String {
    let escape = |c: &str| c.replace('|', "\\|");
    let mut out = format!("\n**{title}**\n\n| {} |\n|", headers.join(" | "));
    out.push_str(&"---|".repeat(headers.len()));
    out.push('\n');
    for row in rows {
        let cells: Vec<String> = row.iter().map(|c| escape(c)).collect();
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    out.push_str(&format!("\n{legend}\n"));
    out
}

/// An HTML table of `rows`; with `text_columns`, the other cells are marked as numbers (right-
/// aligned by the page's style). `escape` makes the cells safe.
pub(crate) fn html_table(
    headers: &[&str],
    rows: &[Vec<String>],
    text_columns: Option<&[usize]>,
    escape: impl Fn(&str) -> String,
) -> String {
    let mut out = String::from("<table>\n<tr>");
    for h in headers {
        out.push_str(&format!("<th>{}</th>", escape(h)));
    }
    out.push_str("</tr>\n");
    for row in rows {
        out.push_str("<tr>");
        for (i, cell) in row.iter().enumerate() {
            let class = match text_columns {
                Some(text) if !text.contains(&i) => " class=\"n\"",
                _ => "",
            };
            out.push_str(&format!("<td{class}>{}</td>", escape(cell)));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
    out
}

/// A GitHub-flavoured markdown table.
pub fn markdown(sweep: &SweepResult) -> String {
    let escape = |c: &str| c.replace('|', "\\|");
    let headers = headers(sweep);
    let mut out = format!("| {} |\n", headers.join(" | "));
    out.push_str(&format!(
        "|{}\n",
        headers
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
    if let Some(note) = disk_note(&sweep.summaries()) {
        out.push_str(&format!("\n{note}\n"));
    }
    out
}

/// Per-host lines for every remote point of a sweep, for the console.
pub fn host_lines(sweep: &SweepResult) -> Vec<String> {
    let mut lines = Vec::new();
    for p in sweep.points.iter().filter(|p| !p.hosts.is_empty()) {
        lines.push(format!(
            "{} x{} (repetition {}), per host:",
            p.backend, p.throttle, p.repetition
        ));
        lines.extend(p.hosts.iter().map(host_line));
    }
    lines
}

/// One host's line: `  bench1:2222  slots 2  items 100  123.4 ok/s  p99 1.200 ms  errors: none`.
fn host_line(host: &HostResult) -> String {
    let errors = if host.errors.is_empty() {
        "none".to_string()
    } else {
        host.errors
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut line = format!(
        "  {}  slots {}  items {}  {:.1} ok/s  p99 {} ms  errors: {}",
        host.host,
        host.slots,
        host.items,
        host.goodput_per_s,
        maybe(host.lat_p99_ms, |x| format!("{x:.3}")),
        errors
    );
    if let Some(why) = &host.lost {
        line.push_str(&format!("  LOST: {why}"));
    }
    line
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
        if !sweep.points.is_empty() || sweep.open_loop.is_empty() {
            out.push_str(&markdown(sweep));
        }
        out.push_str(&super::costs::markdown(sweep));
        out.push_str(&super::open_loop::markdown(sweep));
        out.push_str(&super::limiters::markdown(sweep));
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
