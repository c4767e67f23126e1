//! `throttlebench workloads`: every kind with its parameters, types and defaults.

use std::fmt::Write;

use crate::workload::Registry;

pub fn render(registry: &Registry) -> String {
    let mut out = String::new();
    for kind in registry.kinds() {
        let _ = writeln!(out, "{} — {}", kind.name, kind.about);
        let width = kind.params.iter().map(|p| p.name.len()).max().unwrap_or(0);
        for p in kind.params {
            let default = p
                .default
                .map(|d| format!(" (default {d})"))
                .unwrap_or_default();
            let _ = writeln!(out, "    {:width$}  {}{default}: {}", p.name, p.ty, p.help);
        }
        if kind.params.is_empty() {
            let _ = writeln!(out, "    (no parameters)");
        }
        out.push('\n');
    }
    out.push_str("Set parameters in a spec's [workload] table or with --param NAME=VALUE.\n");
    out
}
