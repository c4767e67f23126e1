//! The open-loop table: per backend and offered rate, what was achieved, the two latencies side
//! by side (from the intended start, and service time from the actual start), late items and
//! whether the rate was sustained — as console text, a markdown section (`summary.md`) and an
//! HTML section. Empty when the run measured no rate.

use crate::format::{maybe, number, percent};
use crate::results::findings::OpenLoopAnalysis;
use crate::results::SweepResult;

const HEADERS: [&str; 10] = [
    "backend",
    "offered (/s)",
    "goodput (ok/s)",
    "achieved (%)",
    "errors (%)",
    "p50 intended (ms)",
    "p99 intended (ms)",
    "p99 service (ms)",
    "late",
    "sustained",
];

const LEGEND: &str = "Latency \"intended\" runs from each item's intended start, so a stall counts for every item due during it (what coordinated omission hides); \"service\" runs from the item's actual start. Late: started more than 1 ms after its time. Sustained: goodput ≥ 99% of offered, errors within budget, SLO met from the intended start.";

fn analyses(sweep: &SweepResult) -> &[OpenLoopAnalysis] {
    sweep.analysis.as_ref().map_or(&[], |a| &a.open_loop)
}

/// The table's rows as text.
pub fn rows(sweep: &SweepResult) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for backend in analyses(sweep) {
        for r in &backend.rates {
            rows.push(vec![
                backend.backend.to_string(),
                crate::format::rate(r.offered_per_s),
                number(r.goodput_per_s),
                number(r.goodput_per_s / r.offered_per_s * 100.0),
                maybe(r.error_pct, percent),
                maybe(r.lat_p50_ms, number),
                maybe(r.lat_p99_ms, number),
                maybe(r.svc_p99_ms, number),
                r.late.to_string(),
                if r.sustained { "yes" } else { "no" }.to_string(),
            ]);
        }
    }
    rows
}

/// Aligned plain text with its heading, or nothing.
pub fn console(sweep: &SweepResult) -> String {
    let rows = rows(sweep);
    if rows.is_empty() {
        return String::new();
    }
    format!(
        "Open loop (offered rates)\n{}{LEGEND}\n",
        super::table::aligned(&HEADERS, &rows, &[0, 9])
    )
}

/// A markdown section, or nothing.
pub fn markdown(sweep: &SweepResult) -> String {
    let rows = rows(sweep);
    if rows.is_empty() {
        return String::new();
    }
    super::table::markdown_section("Open loop", &HEADERS, &rows, LEGEND)
}

/// An HTML section, or nothing; `escape` makes the cells safe.
pub fn html(sweep: &SweepResult, escape: impl Fn(&str) -> String) -> String {
    let rows = rows(sweep);
    if rows.is_empty() {
        return String::new();
    }
    let mut out = String::from("<h2>Open loop</h2>\n");
    for backend in analyses(sweep) {
        out.push_str(&format!("<p>{}</p>\n", escape(&backend.summary)));
    }
    out.push_str(&super::table::html_table(
        &HEADERS,
        &rows,
        Some(&[0, 9]),
        &escape,
    ));
    out.push_str(&format!("<p class=\"muted\">{}</p>\n", escape(LEGEND)));
    out
}
