//! The per-shard breakdown of a merged run: for every point, what each shard ran and measured
//! (slots, items, goodput, p99, CPU, memory, timing), on the console and in `shards.md`.

use super::Exporter;
use crate::format::maybe;
use crate::results::shards::ShardPart;
use crate::results::SweepResult;

/// Per-shard lines for every merged point of a sweep; empty for a run that was not merged.
pub fn shard_lines(sweep: &SweepResult) -> Vec<String> {
    let mut lines = Vec::new();
    for p in sweep.points.iter().filter(|p| !p.shards.is_empty()) {
        lines.push(format!(
            "{} x{} (repetition {}), per shard:",
            p.backend, p.throttle, p.repetition
        ));
        lines.extend(p.shards.iter().map(shard_line));
        lines.push(format!(
            "  all     slots {}  items {}  {:.1} ok/s  p99 {} ms  cpu {:.3} s  peak {:.1} MB",
            p.throttle,
            p.items,
            p.goodput_per_s,
            maybe(p.lat_p99_ms, |x| format!("{x:.3}")),
            p.cpu_user_s + p.cpu_sys_s,
            p.peak_rss_mb
        ));
    }
    lines
}

/// `  1/2     slots 4  items 812  200.3 ok/s  p99 21.300 ms  cpu 0.120 s  peak 9.1 MB  late 2 ms`.
fn shard_line(part: &ShardPart) -> String {
    let mut line = format!(
        "  {:<7} slots {}  items {}  {:.1} ok/s  p99 {} ms  cpu {:.3} s  peak {:.1} MB",
        part.shard,
        part.slots,
        part.items,
        part.goodput_per_s,
        maybe(part.lat_p99_ms, |x| format!("{x:.3}")),
        part.cpu_s,
        part.peak_rss_mb
    );
    if let Some(late) = part.late_start_ms {
        line.push_str(&format!("  late {late:.0} ms"));
    }
    if part.overran {
        line.push_str("  OVERRAN its window");
    }
    line
}

/// `shards.md`: the breakdown as a text block, beside `summary.md`.
pub struct ShardsMarkdown;

impl Exporter for ShardsMarkdown {
    fn file_name(&self) -> &'static str {
        "shards.md"
    }

    fn serialize(&self, sweep: &SweepResult) -> anyhow::Result<Vec<u8>> {
        let mut out = format!("# {}: per shard\n\n```\n", sweep.spec.name);
        for line in shard_lines(sweep) {
            out.push_str(&line);
            out.push('\n');
        }
        out.push_str("```\n");
        Ok(out.into_bytes())
    }
}
