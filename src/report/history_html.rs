//! The history as one self-contained page (`index.html` of `history --out DIR`): the steps and
//! the recommended throttle over the runs, every chart inline, the latest run against the runs
//! before it, and the runs themselves. The same look as a run's report; every text taken
//! from the runs is HTML-escaped.

use std::fmt::Write;

use super::charts::ChartFile;
use super::history::{rows, HEADERS};
use super::history_lines as text;
use super::html::{escape, CSS};
use crate::analysis::history::History;

/// The page, from a history and its rendered charts.
pub fn page(h: &History, charts: &[ChartFile]) -> String {
    let mut page = String::with_capacity(128 * 1024);
    let name = escape(&h.name);
    let regressed = h
        .latest()
        .is_some_and(|j| j.count(crate::analysis::metric::Verdict::Regressed) > 0);
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>throttlebench history: {name}</title>\n<style>\n{CSS}\
         .bad{{background:#fbeeee;border-left:4px solid #d62728;padding:.6rem 1rem}}\n\
         </style>\n</head>\n<body>\n<h1>throttlebench history: {name}</h1>\n\
         <p class=\"{}\"><strong>{}</strong></p>\n<p class=\"muted\">{}</p>\n",
        if regressed { "bad" } else { "rec" },
        escape(&text::headline(h)),
        escape(&text::describe(h)),
    );
    page.push_str("<h2>Steps and the recommended throttle</h2>\n<ul>\n");
    for line in text::step_lines(h)
        .into_iter()
        .chain([text::recommendation_line(h)])
    {
        let _ = writeln!(page, "<li>{}</li>", escape(&line));
    }
    page.push_str("</ul>\n");
    let judged = text::judgement_lines(h);
    if !judged.is_empty() {
        page.push_str("<h2>Each run against the runs before it</h2>\n<ul>\n");
        for line in judged {
            let _ = writeln!(page, "<li>{}</li>", escape(&line));
        }
        page.push_str("</ul>\n");
    }
    page.push_str("<h2>Charts</h2>\n");
    for chart in charts {
        let _ = writeln!(
            page,
            "<figure id=\"{}\">\n{}\n<figcaption>{} — <code>{}.svg</code>, <code>{}.png</code></figcaption>\n</figure>",
            escape(&chart.stem),
            chart.svg.trim(),
            escape(&chart.title),
            escape(&chart.stem),
            escape(&chart.stem),
        );
    }
    latest_table(&mut page, h);
    runs_table(&mut page, h);
    let remarks = text::remarks(h);
    if !remarks.is_empty() {
        page.push_str("<h2>Notes</h2>\n<ul class=\"warn\">\n");
        for line in remarks {
            let _ = writeln!(page, "<li>{}</li>", escape(&line));
        }
        page.push_str("</ul>\n");
    }
    page.push_str(
        "<p class=\"muted\">Written by throttlebench from the runs' own results files; \
         <code>history.json</code> holds every number.</p>\n</body>\n</html>\n",
    );
    page
}

fn latest_table(page: &mut String, h: &History) {
    let rows = rows(h);
    if rows.is_empty() {
        return;
    }
    page.push_str("<h2>The latest run against the runs before it</h2>\n<table>\n<tr>");
    for header in HEADERS {
        let _ = write!(page, "<th>{}</th>", escape(header));
    }
    page.push_str("</tr>\n");
    for row in rows {
        page.push_str("<tr>");
        for (i, cell) in row.iter().enumerate() {
            let numeric = !matches!(i, 0 | 2 | 9 | 10);
            let strong = i == 9 && matches!(cell.as_str(), "regressed" | "improved");
            let content = if strong {
                format!("<strong>{}</strong>", escape(cell))
            } else {
                escape(cell)
            };
            let class = if numeric { " class=\"n\"" } else { "" };
            let _ = write!(page, "<td{class}>{content}</td>");
        }
        page.push_str("</tr>\n");
    }
    page.push_str("</table>\n");
}

fn runs_table(page: &mut String, h: &History) {
    page.push_str(
        "<h2>Runs</h2>\n<table>\n<tr><th>run</th><th>started</th><th>commit</th>\
         <th>recommended</th><th>read from</th></tr>\n",
    );
    for run in &h.runs {
        let recommended = run
            .recommended
            .map_or("none".into(), |k| format!("{} ×{}", k.backend, k.throttle));
        let interrupted = if run.interrupted {
            " (interrupted)"
        } else {
            ""
        };
        let _ = writeln!(
            page,
            "<tr><td class=\"n\">#{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td><code>{}</code>{}</td></tr>",
            run.number,
            escape(&run.started_at),
            escape(run.git_commit.as_deref().unwrap_or("—")),
            escape(&recommended),
            escape(&run.source),
            interrupted
        );
    }
    page.push_str("</table>\n");
}
