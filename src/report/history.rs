//! A history as text: an aligned console table of the latest run against the runs before it,
//! markdown for a pull-request comment or a job summary, or JSON for scripts, each with the
//! sentences of `history_lines` around the table.

use super::history_lines::{
    describe, headline, judgement_lines, recommendation_line, remarks, step_lines,
};
use super::table::aligned;
use crate::analysis::history::{History, HistoryRow, Series};
use crate::analysis::metric::{Metric, Verdict};
use crate::format::number;

pub const HEADERS: [&str; 11] = [
    "backend",
    "throttle",
    "metric",
    "runs",
    "median",
    "latest",
    "change (%)",
    "95% CI (%)",
    "p",
    "verdict",
    "step",
];
/// Columns read as text (left-aligned); the rest are numbers.
const TEXT_COLUMNS: [usize; 4] = [0, 2, 9, 10];

fn series_of<'a>(h: &'a History, row: &HistoryRow) -> Option<&'a Series> {
    let c = &row.comparison;
    h.series
        .iter()
        .find(|s| s.backend == c.backend && s.throttle == c.throttle && s.metric == c.metric)
}

fn signed(x: f64, pp: &str) -> String {
    format!("{x:+.1}{pp}")
}

fn cells(h: &History, row: &HistoryRow) -> Vec<String> {
    let c = &row.comparison;
    let pp = if c.metric == Metric::ErrorRate {
        " pp"
    } else {
        ""
    };
    let ci = match (c.ci_low_pct, c.ci_high_pct) {
        (Some(lo), Some(hi)) => format!("{} … {}", signed(lo, ""), signed(hi, pp)),
        _ => "—".into(),
    };
    let p = c.p_value.map_or("—".into(), |p| {
        if p < 0.001 {
            "<0.001".into()
        } else {
            format!("{p:.3}")
        }
    });
    let step = series_of(h, row)
        .and_then(|s| s.steps.last())
        .map_or("—".into(), |s| {
            format!("#{} {}", s.run, signed(s.change_pct, pp))
        });
    let runs = if row.first_run == row.last_run {
        format!("#{}", row.first_run)
    } else {
        format!("#{}–#{}", row.first_run, row.last_run)
    };
    vec![
        c.backend.to_string(),
        c.throttle.to_string(),
        format!("{} ({})", c.metric.label(), c.unit),
        runs,
        row.history_median.map_or("—".into(), number),
        row.run_value.map_or("—".into(), number),
        signed(c.change_pct, pp),
        ci,
        p,
        c.verdict.label().into(),
        step,
    ]
}

/// The rows of the latest run's judgement as table cells.
pub fn rows(h: &History) -> Vec<Vec<String>> {
    h.latest()
        .map(|j| j.rows.iter().map(|r| cells(h, r)).collect())
        .unwrap_or_default()
}

/// Aligned plain text.
pub fn console(h: &History) -> String {
    let mut out = format!("{}\n{}\n", headline(h), describe(h));
    let rows = rows(h);
    if !rows.is_empty() {
        out.push('\n');
        out.push_str(&aligned(&HEADERS, &rows, &TEXT_COLUMNS));
    }
    out.push('\n');
    for line in step_lines(h) {
        out.push_str(&format!("{line}\n"));
    }
    out.push_str(&format!("{}\n", recommendation_line(h)));
    let judged = judgement_lines(h);
    if !judged.is_empty() {
        out.push_str("\nEach run against the runs before it:\n");
        for line in judged {
            out.push_str(&format!("  {line}\n"));
        }
    }
    let remarks = remarks(h);
    if !remarks.is_empty() {
        out.push('\n');
        for line in remarks {
            out.push_str(&format!("{line}\n"));
        }
    }
    out
}

fn markdown_table(rows: &[Vec<String>]) -> String {
    let mut out = format!("| {} |\n|", HEADERS.join(" | "));
    for i in 0..HEADERS.len() {
        out.push_str(if TEXT_COLUMNS.contains(&i) {
            ":---|"
        } else {
            "---:|"
        });
    }
    out.push('\n');
    for row in rows {
        let mut row = row.clone();
        if matches!(row[9].as_str(), "regressed" | "improved") {
            row[9] = format!("**{}**", row[9]);
        }
        out.push_str(&format!("| {} |\n", row.join(" | ").replace('<', "&lt;")));
    }
    out
}

/// For a pull-request comment or a CI job summary: the headline, the rows that changed, all
/// rows folded away, then steps and remarks.
pub fn markdown(h: &History) -> String {
    let regressed = h.latest().is_some_and(|j| j.count(Verdict::Regressed) > 0);
    let icon = if regressed { "🔴" } else { "🟢" };
    let mut out = format!(
        "### {icon} throttlebench history: {}\n\n{}\n\n",
        headline(h),
        describe(h)
    );
    let rows = rows(h);
    let changed = |row: &Vec<String>| matches!(row[9].as_str(), "regressed" | "improved");
    let moved: Vec<Vec<String>> = rows.iter().filter(|r| changed(r)).cloned().collect();
    if !moved.is_empty() {
        out.push_str(&markdown_table(&moved));
        out.push('\n');
    }
    if !rows.is_empty() {
        out.push_str(&format!(
            "<details><summary>All {} rows of the latest run</summary>\n\n{}\n</details>\n\n",
            rows.len(),
            markdown_table(&rows)
        ));
    }
    for line in step_lines(h)
        .into_iter()
        .chain([recommendation_line(h)])
        .chain(judgement_lines(h))
        .chain(remarks(h))
    {
        out.push_str(&format!("- {line}\n"));
    }
    out
}

/// Everything, for scripts: the history plus its headline and the latest run's counts.
pub fn json(h: &History) -> anyhow::Result<String> {
    let mut value = serde_json::to_value(h)?;
    if let Some(map) = value.as_object_mut() {
        map.insert("headline".into(), headline(h).into());
        let counts = h.latest().map_or((0, 0), |j| {
            (j.count(Verdict::Regressed), j.count(Verdict::Improved))
        });
        map.insert("regressions".into(), counts.0.into());
        map.insert("improvements".into(), counts.1.into());
    }
    let mut text = serde_json::to_string_pretty(&value)?;
    text.push('\n');
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::history::tests::{history, stepped_and_judged_all};
    use crate::analysis::history::{analyse, Options};

    #[test]
    fn the_console_names_the_run_that_stepped_and_what_moved() {
        let h = analyse(
            &history(&[20.0, 20.0, 20.0, 20.0, 26.0]),
            &Options::default(),
        )
        .unwrap();
        let text = console(&h);
        assert!(
            text.starts_with("12 regressions in the latest run, #5 2026-01-05 03:00 0c0fff2, "),
            "{text}"
        );
        assert!(
            text.contains("Step at #5 2026-01-05 03:00 0c0fff2, the latest run"),
            "{text}"
        );
        assert!(text.contains("; 8 more in the table."), "{text}");
        // The fixture runs carry no analysis: each run's is made when the history is read.
        assert!(
            text.contains("Recommended throttle: thread ×4 in #1–#5."),
            "{text}"
        );
        let md = markdown(&h);
        assert!(
            md.starts_with("### 🔴 throttlebench history: 12 regressions"),
            "{md}"
        );
        assert!(md.contains("<details><summary>All 16 rows of the latest run</summary>"));
        let v: serde_json::Value = serde_json::from_str(&json(&h).unwrap()).unwrap();
        assert_eq!(v["regressions"], 12);
        assert_eq!(
            v["judgements"][0]["rows"][0]["variation"]["from"],
            "two_run_model"
        );
    }

    #[test]
    fn every_run_in_a_line_with_all_and_steps_grouped_by_metric() {
        let h = stepped_and_judged_all();
        let text = console(&h);
        assert!(
            text.contains("\nEach run against the runs before it:\n  #2 "),
            "{text}"
        );
        let step = text.lines().find(|l| l.starts_with("Step at #7 ")).unwrap();
        assert!(
            step.contains(": goodput -13.0% at sequential ×1, "),
            "{step}"
        );
        assert!(
            step.contains("(regressed); p50 +15.0% at sequential ×1"),
            "{step}"
        );
    }
}
