//! `index.html`: the whole run in one self-contained page — summary, recommendation, results
//! table, every chart as inline SVG, environment, warnings and failures. Inline CSS, no script,
//! nothing fetched from the network. Every text taken from the run is HTML-escaped.

use std::fmt::Write;

use super::charts::ChartFile;
use super::table::{self, HEADERS};
use super::Exporter;
use crate::analysis::scaling::{Estimate, Scaling};
use crate::analysis::UslFit;
use crate::format::{maybe, number};
use crate::results::SweepResult;

/// Failure rows shown at most; `failures.csv` holds them all.
const MAX_FAILURE_ROWS: usize = 200;

pub(crate) const CSS: &str = "body{font-family:'DejaVu Sans',Verdana,sans-serif;margin:2rem auto;max-width:1100px;padding:0 1rem;color:#222;line-height:1.45}
h1{font-size:1.7rem;margin-bottom:.2rem}h2{border-bottom:1px solid #ddd;padding-bottom:.2rem;margin-top:2.2rem}
table{border-collapse:collapse;font-size:.9rem;margin:.5rem 0}th,td{padding:.25rem .6rem;border-bottom:1px solid #e3e3e3}
th{background:#f4f4f4;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}
.muted{color:#666}.rec{background:#eef6ee;border-left:4px solid #2ca02c;padding:.6rem 1rem}
.none{background:#f6f6f6;border-left:4px solid #999;padding:.6rem 1rem}.warn li{color:#8a4b00}
figure{margin:1.5rem 0}figure svg{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.85rem;color:#555}code{background:#f4f4f4;padding:0 .25rem}
";

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The page, drawn from a sweep and its rendered charts.
pub struct HtmlReport<'a> {
    pub charts: &'a [ChartFile],
    /// Why there is no timeline chart, when there is none.
    pub timeline_note: Option<String>,
}

impl Exporter for HtmlReport<'_> {
    fn file_name(&self) -> &'static str {
        "index.html"
    }

    fn serialize(&self, sweep: &SweepResult) -> anyhow::Result<Vec<u8>> {
        let mut page = String::with_capacity(64 * 1024);
        let name = escape(&sweep.spec.name);
        let _ = write!(
            page,
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <title>throttlebench: {name}</title>\n<style>\n{CSS}</style>\n</head>\n<body>\n\
             <h1>throttlebench: {name}</h1>\n"
        );
        summary(&mut page, sweep);
        recommendation(&mut page, sweep);
        results_table(&mut page, sweep);
        page.push_str(&super::open_loop::html(sweep, escape));
        page.push_str(&super::costs::html(sweep, escape));
        page.push_str(&super::limiters::html(sweep, escape));
        charts(&mut page, self.charts, self.timeline_note.as_deref());
        environment(&mut page, sweep);
        warnings(&mut page, sweep);
        failures(&mut page, sweep);
        let _ = write!(
            page,
            "<p class=\"muted\">Written by throttlebench {}. Every number on this page was measured in this run; \
             <code>results.json</code> holds them all.</p>\n</body>\n</html>\n",
            escape(&sweep.environment.throttlebench_version)
        );
        Ok(page.into_bytes())
    }
}

fn summary(page: &mut String, sweep: &SweepResult) {
    let s = &sweep.spec;
    if let Some(d) = &s.description {
        let _ = writeln!(page, "<p>{}</p>", escape(d));
    }
    let params = serde_json::to_string(&s.workload.params).unwrap_or_default();
    let budget = match s.sweep.budget {
        crate::backend::Budget::Items(n) => format!("{n} items per point"),
        crate::backend::Budget::Duration(d) => format!("{:.1} s per point", d.as_secs_f64()),
    };
    let backends: Vec<&str> = s.sweep.backends.iter().map(|b| b.name()).collect();
    let limits: Vec<String> = s.sweep.limits.iter().map(|l| l.to_string()).collect();
    let baseline = sweep
        .baseline_goodput_per_s
        .map(|b| format!("{} successful items/s", number(b)))
        .unwrap_or_else(|| "no successful item".into());
    let _ = writeln!(
        page,
        "<h2>Summary</h2>\n<table>\n<tr><th>workload</th><td><code>{}</code> {}</td></tr>\n\
         <tr><th>backends</th><td>{}</td></tr>\n<tr><th>throttles</th><td>{}</td></tr>\n\
         <tr><th>budget</th><td>{} × {} repetition(s), {} warm-up item(s)</td></tr>\n\
         <tr><th>sequential baseline</th><td>{}</td></tr>\n\
         <tr><th>started</th><td>{}</td></tr>\n<tr><th>finished</th><td>{}</td></tr>\n</table>",
        escape(&s.workload.kind),
        escape(&params),
        escape(&backends.join(", ")),
        escape(&limits.join(", ")),
        escape(&budget),
        s.sweep.repeat,
        s.sweep.warmup,
        escape(&baseline),
        escape(&sweep.started_at),
        escape(sweep.finished_at.as_deref().unwrap_or("not finished")),
    );
    if sweep.interrupted {
        let _ = writeln!(
            page,
            "<p class=\"none\">The run was interrupted: {} points were measured and are shown here.</p>",
            sweep.points.len()
        );
    }
}

fn recommendation(page: &mut String, sweep: &SweepResult) {
    page.push_str("<h2>Recommendation</h2>\n");
    let analysis = sweep.analysis.as_ref();
    match analysis.and_then(|a| a.recommendation.as_ref()) {
        Some(r) => {
            let _ = writeln!(
                page,
                "<p class=\"rec\"><strong>Throttle {} on {}.</strong> {}</p>",
                r.throttle,
                escape(r.backend.name()),
                escape(&r.summary)
            );
            let slo = if sweep.spec.sweep.slo.is_some() {
                "; the SLO is the red line on the latency charts"
            } else {
                ""
            };
            let _ = writeln!(
                page,
                "<p class=\"muted\">Throttle {} is the green line on the <a href=\"#throughput\">goodput</a>, \
                 <a href=\"#speedup\">speedup</a> and <a href=\"#latency\">latency</a> charts{slo}.</p>",
                r.throttle
            );
        }
        None => {
            let why = match analysis {
                Some(a) => a.no_recommendation.clone().unwrap_or_else(|| {
                    "No recommendation: the analysis found no throttle it could recommend from \
                     these points"
                        .into()
                }),
                None => "No recommendation: this run holds no analysis".into(),
            };
            let _ = writeln!(
                page,
                "<p class=\"none\">{}. Read the goodput and latency charts below.</p>",
                escape(&why)
            );
        }
    }
    if let Some(a) = analysis {
        let knees: Vec<String> = a
            .backends
            .iter()
            .filter_map(|b| b.knee.map(|k| format!("{}: {k}", b.backend)))
            .collect();
        if !knees.is_empty() {
            let _ = writeln!(
                page,
                "<p>Knee (smallest throttle within 95% of peak throughput): {}</p>",
                escape(&knees.join(", "))
            );
        }
        for b in &a.backends {
            if let (Some(fit), Some(s)) = (b.usl, &b.scaling) {
                let _ = writeln!(
                    page,
                    "<p class=\"muted\">{} scalability fit: {}</p>",
                    escape(b.backend.name()),
                    escape(&fit_detail(&fit, s))
                );
            } else if let Some(fit) = b.usl {
                let _ = writeln!(
                    page,
                    "<p class=\"muted\">{} scalability fit: σ (contention) = {:.4}, κ (coherency) = {:.5}, λ = {} items/s</p>",
                    escape(b.backend.name()),
                    fit.sigma,
                    fit.kappa,
                    number(fit.lambda)
                );
            }
        }
        list(page, "ul", &a.notes);
    }
}

/// The fit with its weighting, 95% intervals and any point left out, for the recommendation.
fn fit_detail(fit: &UslFit, s: &Scaling) -> String {
    let with = |value: String, e: Option<Estimate>, show: fn(f64) -> String| match e {
        Some(e) => format!("{value} [{}, {}]", show(e.lo), show(e.hi)),
        None => value,
    };
    let ci = s.intervals;
    let mut text = format!(
        "{}; σ (contention) = {}, κ (coherency) = {}, λ = {} items/s",
        s.weights.describe(),
        with(
            format!("{:.4}", fit.sigma),
            ci.map(|c| c.sigma),
            |x| format!("{x:.4}")
        ),
        with(
            format!("{:.3e}", fit.kappa),
            ci.map(|c| c.kappa),
            |x| format!("{x:.3e}")
        ),
        with(number(fit.lambda), ci.map(|c| c.lambda), number),
    );
    if let Some(n) = ci.and_then(|c| c.n_star) {
        text.push_str(&format!(
            ", N* = {}",
            with(format!("{:.1}", n.value), Some(n), |x| format!("{x:.1}"))
        ));
    }
    if ci.is_some() {
        text.push_str(" (95% confidence intervals in brackets)");
    }
    for left in &s.left_out {
        text.push_str(&format!(
            ". Left out of the fit, drawn hollow in the speedup chart: throttle {} ({} items/s), {}",
            left.throttle,
            number(left.throughput_per_s),
            left.reason
        ));
    }
    text
}

fn results_table(page: &mut String, sweep: &SweepResult) {
    page.push_str("<h2>Results</h2>\n<p class=\"muted\">Repetitions folded into medians; failed counts are summed.</p>\n<table>\n<tr>");
    // Workloads that move bytes over the network (http) get their transfer rate too.
    let summaries = sweep.summaries();
    let transfer = summaries.iter().any(|s| s.rx_mb_per_s.is_some());
    for h in HEADERS {
        let _ = write!(page, "<th>{}</th>", escape(h));
    }
    if transfer {
        page.push_str("<th>received (MB/s)</th>");
    }
    let disk = table::has_disk(&summaries);
    if disk {
        for h in table::DISK_HEADERS {
            let _ = write!(page, "<th>{}</th>", escape(h));
        }
    }
    page.push_str("</tr>\n");
    for summary in &summaries {
        let mut row = table::cells(summary);
        if transfer {
            row.push(maybe(summary.rx_mb_per_s, number));
        }
        if disk {
            row.extend(table::disk_cells(summary));
        }
        page.push_str("<tr>");
        for (i, cell) in row.iter().enumerate() {
            let class = if i == 0 { "" } else { " class=\"n\"" };
            let _ = write!(page, "<td{class}>{}</td>", escape(cell));
        }
        page.push_str("</tr>\n");
    }
    page.push_str("</table>\n");
    if let Some(note) = table::disk_note(&summaries) {
        let _ = writeln!(page, "<p class=\"muted\">{}</p>", escape(&note));
    }
}

fn charts(page: &mut String, charts: &[ChartFile], timeline_note: Option<&str>) {
    page.push_str("<h2>Charts</h2>\n");
    for chart in charts {
        let _ = writeln!(
            page,
            "<figure id=\"{}\">\n{}\n<figcaption>{} — <code>charts/{}.svg</code>, <code>charts/{}.png</code></figcaption>\n</figure>",
            escape(&chart.stem),
            chart.svg.trim(),
            escape(&chart.title),
            escape(&chart.stem),
            escape(&chart.stem),
        );
    }
    if let Some(note) = timeline_note {
        let _ = writeln!(page, "<p class=\"muted\">{}</p>", escape(note));
    }
}

fn environment(page: &mut String, sweep: &SweepResult) {
    let e = &sweep.environment;
    page.push_str("<h2>Environment</h2>\n<table>\n");
    let rows = [
        ("CPU", e.cpu_model.clone()),
        ("cores", e.cores.to_string()),
        ("OS", e.os.clone()),
        ("kernel", e.kernel.clone()),
        ("host", e.hostname.clone()),
        ("throttlebench", e.throttlebench_version.clone()),
        (
            "git commit",
            e.git_commit.clone().unwrap_or_else(|| "—".into()),
        ),
        ("peak RSS measured by", e.peak_rss_method.clone()),
    ];
    for (k, v) in rows {
        let _ = writeln!(page, "<tr><th>{}</th><td>{}</td></tr>", k, escape(&v));
    }
    page.push_str("</table>\n");
}

fn warnings(page: &mut String, sweep: &SweepResult) {
    page.push_str("<h2>Warnings</h2>\n");
    if sweep.warnings.is_empty() {
        page.push_str("<p>None.</p>\n");
    } else {
        list(page, "ul class=\"warn\"", &sweep.warnings);
    }
}

fn failures(page: &mut String, sweep: &SweepResult) {
    page.push_str("<h2>Failures</h2>\n");
    let failing: Vec<_> = sweep
        .points
        .iter()
        .filter(|p| p.failed + p.timed_out > 0)
        .collect();
    if failing.is_empty() {
        page.push_str("<p>No item failed or timed out.</p>\n");
        return;
    }
    page.push_str("<table>\n<tr><th>backend</th><th>throttle</th><th>repetition</th><th>failed</th><th>timed out</th><th>by kind</th></tr>\n");
    for p in &failing {
        let kinds: Vec<String> = p.errors.iter().map(|(k, n)| format!("{k}: {n}")).collect();
        let _ = writeln!(
            page,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
            escape(p.backend.name()),
            p.throttle,
            p.repetition,
            p.failed,
            p.timed_out,
            escape(&kinds.join(", "))
        );
    }
    page.push_str("</table>\n<h3>Examples</h3>\n<table>\n<tr><th>backend</th><th>throttle</th><th>item</th><th>kind</th><th>message</th></tr>\n");
    let examples = failing
        .iter()
        .flat_map(|p| p.failures.iter().map(move |f| (p, f)))
        .take(MAX_FAILURE_ROWS);
    for (p, f) in examples {
        let _ = writeln!(
            page,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td><td>{}</td></tr>",
            escape(p.backend.name()),
            p.throttle,
            f.item,
            escape(&f.kind),
            escape(&f.message)
        );
    }
    page.push_str(
        "</table>\n<p class=\"muted\">All sampled failures are in <code>failures.csv</code>.</p>\n",
    );
}

fn list(page: &mut String, tag: &str, items: &[String]) {
    if items.is_empty() {
        return;
    }
    let close = tag.split(' ').next().unwrap_or(tag);
    let _ = writeln!(page, "<{tag}>");
    for item in items {
        let _ = writeln!(page, "<li>{}</li>", escape(item));
    }
    let _ = writeln!(page, "</{close}>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_characters_are_escaped() {
        assert_eq!(
            escape(r#"<a href="x">Tom & 'Jerry'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;"
        );
    }
}
