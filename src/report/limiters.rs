//! The limiter table — per `backend+limiter`, where its limit settled against the swept knee and
//! N*, how soon and how steadily, and its goodput and p99 against the best static throttle — as
//! console text, a markdown table (`summary.md`) and an HTML section. A limiter that missed the
//! level says so in its last column.

use crate::analysis::limiter_choice::choices as choices_of;
use crate::format::{maybe, number, percent, NO_DATA};
use crate::results::limited::LimiterJudgement;
use crate::results::SweepResult;

pub const HEADERS: [&str; 9] = [
    "limiter",
    "settled at",
    "knee / N*",
    "within 10 % after (s)",
    "then swung",
    "goodput (ok/s, % of best static)",
    "failed (% of items)",
    "p99 (ms) vs recommended static",
    "verdict",
];

/// What the columns mean, in one line under the table.
pub const LEGEND: &str = "settled: the median limit over the second half of the point; \
swung: lowest–highest limit after first coming within 10 % of it (time-weighted sd), and how \
it moved: steady; oscillating (sd at least a quarter of its level, or never within 10 % of \
it); drifting (its least-squares line over the second half moved by a fifth of its level: \
across the ±10 % band); slow to settle (first near it past half of the point); held at its \
floor or ceiling. Best static: the same backend's highest-goodput throttle; recommended \
static: the throttle the analysis recommends on that backend, at its p99. A limiter found the \
level when it settled between half and twice the knee, below its ceiling of lanes, with at \
least 90 % of the best static goodput and no more failed items than the error budget (1 % \
unless the SLO sets `errors=`).";

/// One row of the table.
pub fn cells(j: &LimiterJudgement) -> Vec<String> {
    let share = match j.best_goodput_per_s {
        Some(best) if best > 0.0 => format!(" ({:.0} %)", j.goodput_per_s / best * 100.0),
        _ => String::new(),
    };
    vec![
        j.label.clone(),
        format!("{:.1}", j.settled),
        format!("{} / {}", whole(j.knee), whole(j.n_star)),
        maybe(j.settle_s, |t| format!("{t:.2}")),
        format!(
            "{}–{} (sd {:.1}){}",
            j.swing_min,
            j.swing_max,
            j.swing_sd,
            j.behaviour.map_or_else(String::new, |b| format!(": {b}"))
        ),
        format!("{}{share}", number(j.goodput_per_s)),
        percent(j.failed_share * 100.0),
        format!(
            "{} vs {}{}",
            maybe(j.p99_ms, number),
            maybe(j.recommended_p99_ms, number),
            j.recommended_throttle
                .map_or_else(String::new, |t| format!(" at {t}"))
        ),
        match &j.missed {
            None => "found the level".to_string(),
            Some(why) => format!("missed: {why}"),
        },
    ]
}

fn whole(n: Option<usize>) -> String {
    n.map_or_else(|| NO_DATA.to_string(), |n| n.to_string())
}

fn rows(sweep: &SweepResult) -> Vec<Vec<String>> {
    sweep
        .analysis
        .as_ref()
        .map(|a| a.limiters.iter().map(cells).collect())
        .unwrap_or_default()
}

/// Per backend, which limiter to copy, or that the static throttle is the one to use.
fn choices(sweep: &SweepResult) -> Vec<String> {
    sweep
        .analysis
        .as_ref()
        .map(|a| choices_of(&a.limiters))
        .unwrap_or_default()
}

/// Aligned plain text, or nothing when no limiter ran.
pub fn console(sweep: &SweepResult) -> String {
    let rows = rows(sweep);
    if rows.is_empty() {
        return String::new();
    }
    format!(
        "Adaptive limiters\n{}{LEGEND}\n{}\n",
        super::table::aligned(&HEADERS, &rows, &[0, 4, 8]),
        choices(sweep).join("\n")
    )
}

/// A markdown section, or nothing.
pub fn markdown(sweep: &SweepResult) -> String {
    let rows = rows(sweep);
    if rows.is_empty() {
        return String::new();
    }
    let mut out = super::table::markdown_section("Adaptive limiters", &HEADERS, &rows, LEGEND);
    out.push('\n');
    for choice in choices(sweep) {
        out.push_str(&format!("- {choice}\n"));
    }
    out.push('\n');
    out
}

/// An HTML section, or nothing; `escape` makes the cells safe.
pub fn html(sweep: &SweepResult, escape: impl Fn(&str) -> String) -> String {
    let rows = rows(sweep);
    if rows.is_empty() {
        return String::new();
    }
    let mut out = String::from("<h2>Adaptive limiters</h2>\n");
    out.push_str(&super::table::html_table(&HEADERS, &rows, None, &escape));
    out.push_str(&format!("<p class=\"muted\">{}</p>\n", escape(LEGEND)));
    for choice in choices(sweep) {
        out.push_str(&format!("<p>{}</p>\n", escape(&choice)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::BackendKind;
    use crate::results::limited::Behaviour;

    #[test]
    fn a_row_shows_the_figures_and_what_was_missed() {
        let j = LimiterJudgement {
            label: "async+aimd".into(),
            backend: BackendKind::Async,
            limiter: "aimd".into(),
            settled: 32.0,
            lanes: 32,
            settle_s: Some(0.07),
            swing_sd: 0.1,
            swing_min: 29,
            swing_max: 32,
            goodput_per_s: 391.0,
            failed_share: 0.0,
            p99_ms: Some(83.3),
            best_throttle: Some(16),
            best_goodput_per_s: Some(391.0),
            recommended_throttle: None,
            recommended_p99_ms: None,
            knee: Some(8),
            n_star: None,
            reference_ms: None,
            behaviour: Some(Behaviour::AtCeiling { ceiling: 32 }),
            missed: Some("pinned at its ceiling of 32 lanes".into()),
            summary: String::new(),
        };
        let row = cells(&j);
        assert_eq!(row[1], "32.0");
        assert_eq!(row[2], format!("8 / {NO_DATA}"));
        assert_eq!(row[4], "29–32 (sd 0.1): held at its ceiling of 32");
        assert_eq!(row[5], "391 (100 %)");
        assert_eq!(row[6], "0");
        assert!(row[7].ends_with(NO_DATA), "{}", row[7]);
        assert_eq!(row[8], "missed: pinned at its ceiling of 32 lanes");
    }
}
