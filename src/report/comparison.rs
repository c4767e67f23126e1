//! A baseline comparison as text: an aligned console table, markdown for a pull-request comment
//! (headline first, changed rows, then everything folded away), or JSON for scripts.

use crate::analysis::compare::{
    Comparison, Metric, MetricComparison, PointKey, Verdict, MIN_REPETITIONS,
    RECOMMENDED_REPETITIONS,
};
use crate::format::number;

const HEADERS: [&str; 10] = [
    "backend",
    "throttle",
    "metric",
    "baseline (mean)",
    "current (mean)",
    "change (%)",
    "95% CI (%)",
    "p",
    "excused by machine (%)",
    "verdict",
];

fn cells(r: &MetricComparison) -> Vec<String> {
    // The error rate changes in percentage points (a relative change from 0 % means nothing).
    let pp = if r.metric == Metric::ErrorRate {
        " pp"
    } else {
        ""
    };
    let ci = match (r.ci_low_pct, r.ci_high_pct) {
        (Some(lo), Some(hi)) => format!("{lo:+.1} … {hi:+.1}{pp}"),
        _ => "—".into(),
    };
    vec![
        r.backend.to_string(),
        r.throttle.to_string(),
        format!("{} ({})", r.metric.label(), r.unit),
        number(r.baseline_mean),
        number(r.current_mean),
        format!("{:+.1}{pp}", r.change_pct),
        ci,
        // 10 000 resamples resolve p to 0.0001: below 0.001 the digits say nothing more.
        r.p_value
            .map(|p| {
                if p < 0.001 {
                    "<0.001".to_string()
                } else {
                    format!("{p:.3}")
                }
            })
            .unwrap_or("—".into()),
        excused(r),
        r.verdict.label().to_string(),
    ]
}

/// How much of the change the machine's drift was allowed to explain, on the side the change
/// went: "—" when nothing was excused.
fn excused(r: &MetricComparison) -> String {
    let worse = if r.metric.bigger_is_better() {
        r.change_pct < 0.0
    } else {
        r.change_pct > 0.0
    };
    let allowance = if worse {
        r.machine_allowance_pct
    } else {
        r.machine_allowance_improved_pct
    };
    if allowance > 0.0 {
        format!("{allowance:.1}")
    } else {
        "—".into()
    }
}

fn keys(keys: &[PointKey]) -> String {
    keys.iter()
        .map(|k| format!("{} ×{}", k.backend, k.throttle))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The lines under the table: unmatched points, caveats, the repetition advice.
fn remarks(c: &Comparison) -> Vec<String> {
    let mut out = Vec::new();
    if !c.missing_in_current.is_empty() {
        out.push(format!(
            "Missing in the current run: {}.",
            keys(&c.missing_in_current)
        ));
    }
    if !c.missing_in_baseline.is_empty() {
        out.push(format!(
            "New in the current run (no baseline): {}.",
            keys(&c.missing_in_baseline)
        ));
    }
    if !c.tested {
        out.push(format!(
            "Fewer than {MIN_REPETITIONS} repetitions on a side: no statistical test is possible, \
             so verdicts compare the change with the {}% threshold alone and may be noise. \
             Run with --repeat {RECOMMENDED_REPETITIONS} or more.",
            c.threshold_pct
        ));
    }
    if c.tested {
        if let Some(line) = run_to_run_line(c) {
            out.push(line);
        }
    }
    out.extend(c.notes.iter().cloned());
    out
}

/// "Allowed for run-to-run variation (…): goodput 0.5% (the floor; …), p50 1.2% (estimated
/// from 7 points)."
fn run_to_run_line(c: &Comparison) -> Option<String> {
    use crate::analysis::run_to_run::Source;
    let tested: Vec<String> = c
        .run_to_run
        .iter()
        .filter(|m| {
            c.rows
                .iter()
                .any(|r| r.metric == m.metric && r.run_to_run_pct.is_some())
        })
        .map(|m| {
            let v = &m.variation;
            let how = match v.source {
                Source::Estimated => format!("estimated from {} points", v.points),
                Source::Floor => "the floor; the points moved together".to_string(),
                Source::Assumed => {
                    format!("assumed: {} points are too few to estimate it", v.points)
                }
            };
            format!("{} {:.1}% ({how})", m.metric.label(), v.cv * 100.0)
        })
        .collect();
    (!tested.is_empty()).then(|| {
        format!(
            "Allowed for run-to-run variation (how far a second run of the same code lands, \
             beyond the scatter of its repetitions): {}.",
            tested.join(", ")
        )
    })
}

fn describe(c: &Comparison) -> String {
    let side = |l: &crate::analysis::compare::RunLabel| {
        let commit = l
            .git_commit
            .as_deref()
            .map(|g| format!(" @ {g}"))
            .unwrap_or_default();
        format!(
            "{} ({}{commit}, ×{} reps)",
            l.name, l.started_at, l.repetitions
        )
    };
    format!(
        "Baseline {} vs current {}; threshold {}%, significance {}.",
        side(&c.baseline),
        side(&c.current),
        c.threshold_pct,
        c.significance
    )
}

/// Columns padded to width: text left (backend, metric, verdict), numbers right.
fn align(rows: &[Vec<String>]) -> String {
    super::table::aligned(&HEADERS, rows, &[0, 2, 9])
}

/// Aligned plain text.
pub fn console(c: &Comparison) -> String {
    let rows: Vec<Vec<String>> = c.rows.iter().map(cells).collect();
    let mut out = format!("{}\n{}\n\n", c.headline(), describe(c));
    out.push_str(&align(&rows));
    for line in remarks(c) {
        out.push_str(&format!("\n{line}"));
    }
    out.push('\n');
    out
}

fn markdown_table(rows: &[&MetricComparison]) -> String {
    let mut out = format!("| {} |\n|", HEADERS.join(" | "));
    for i in 0..HEADERS.len() {
        out.push_str(if i < 3 || i == 9 { ":---|" } else { "---:|" });
    }
    out.push('\n');
    for r in rows {
        let mut cells = cells(r);
        if matches!(r.verdict, Verdict::Regressed | Verdict::Improved) {
            cells[9] = format!("**{}**", cells[9]);
        }
        out.push_str(&format!("| {} |\n", cells.join(" | ").replace('<', "&lt;")));
    }
    out
}

/// For a pull-request comment: the headline, the rows that changed, all rows folded away.
pub fn markdown(c: &Comparison) -> String {
    let icon = if c.count(Verdict::Regressed) > 0 {
        "🔴"
    } else {
        "🟢"
    };
    let mut out = format!(
        "### {icon} throttlebench: {}\n\n{}\n\n",
        c.headline(),
        describe(c)
    );
    let changed: Vec<&MetricComparison> = c
        .rows
        .iter()
        .filter(|r| matches!(r.verdict, Verdict::Regressed | Verdict::Improved))
        .collect();
    if !changed.is_empty() {
        out.push_str(&markdown_table(&changed));
        out.push('\n');
    }
    let all: Vec<&MetricComparison> = c.rows.iter().collect();
    out.push_str(&format!(
        "<details><summary>All {} comparisons</summary>\n\n{}\n</details>\n",
        all.len(),
        markdown_table(&all)
    ));
    let remarks = remarks(c);
    if !remarks.is_empty() {
        out.push('\n');
        for line in remarks {
            out.push_str(&format!("- {line}\n"));
        }
    }
    out
}

/// Everything, for scripts: the comparison as JSON plus its headline.
pub fn json(c: &Comparison) -> anyhow::Result<String> {
    let mut value = serde_json::to_value(c)?;
    if let Some(map) = value.as_object_mut() {
        map.insert("headline".into(), c.headline().into());
        map.insert("regressions".into(), c.count(Verdict::Regressed).into());
        map.insert("improvements".into(), c.count(Verdict::Improved).into());
    }
    let mut text = serde_json::to_string_pretty(&value)?;
    text.push('\n');
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::compare::{compare, Options};
    use crate::analysis::fixture;

    #[test]
    fn markdown_leads_with_the_headline_and_bolds_changes() {
        let c = compare(
            &fixture::sweep(20.0, 5),
            &fixture::sweep(24.0, 5),
            &Options::default(),
        )
        .unwrap();
        let md = markdown(&c);
        assert!(
            md.starts_with("### 🔴 throttlebench: 12 regressions\n"),
            "{md}"
        );
        assert!(
            md.contains("| thread | 4 | goodput (ok/s) | 200 | 167 | -16.7 |"),
            "{md}"
        );
        assert!(md.contains("**regressed**"));
        assert!(md.contains("<details><summary>All 16 comparisons</summary>"));
    }

    #[test]
    fn few_repetitions_are_called_out() {
        let c = compare(
            &fixture::sweep(20.0, 1),
            &fixture::sweep(20.0, 1),
            &Options::default(),
        )
        .unwrap();
        let text = console(&c);
        assert!(text.contains("no statistical test is possible"), "{text}");
        assert!(text.contains("--repeat 5 or more"), "{text}");
    }

    #[test]
    fn json_carries_counts_and_rows() {
        let c = compare(
            &fixture::sweep(20.0, 3),
            &fixture::sweep(20.0, 3),
            &Options::default(),
        )
        .unwrap();
        let v: serde_json::Value = serde_json::from_str(&json(&c).unwrap()).unwrap();
        assert_eq!(v["regressions"], 0);
        assert_eq!(v["rows"].as_array().unwrap().len(), 16);
        assert_eq!(v["rows"][0]["verdict"], "unchanged");
        assert_eq!(v["rows"][0]["metric"], "goodput");
    }
}
