//! A command-line mistake as one line: clap's own message, with what clap knows besides it — the
//! values a flag accepts, the flag or value that was probably meant — folded into that line
//! instead of the usage block clap would print below it.

use clap::error::{ContextKind, ContextValue, ErrorKind};

/// `error: invalid value 'regression' for '--fail-on <WHAT>' (possible values: regressed,
/// improved, any, never; did you mean 'regressed'?) (see --help)`.
pub fn one_line(e: &clap::Error) -> String {
    let rendered = e.render().to_string();
    let first = rendered
        .lines()
        .next()
        .unwrap_or("error: invalid arguments");
    let mut extras = Vec::new();
    if let Some(ContextValue::Strings(values)) = e.get(ContextKind::ValidValue) {
        if !values.is_empty() && e.kind() != ErrorKind::MissingSubcommand {
            extras.push(format!("possible values: {}", values.join(", ")));
        }
    }
    let meant: Vec<String> = [
        ContextKind::SuggestedArg,
        ContextKind::SuggestedValue,
        ContextKind::SuggestedSubcommand,
    ]
    .into_iter()
    .filter_map(|kind| e.get(kind))
    .flat_map(|value| match value {
        ContextValue::String(s) => vec![s.clone()],
        ContextValue::Strings(v) => v.clone(),
        _ => Vec::new(),
    })
    .map(|s| format!("'{s}'"))
    .collect();
    if !meant.is_empty() {
        extras.push(format!("did you mean {}?", meant.join(" or ")));
    } else if e.kind() == ErrorKind::InvalidSubcommand {
        extras.push(format!("subcommands: {}", subcommands().join(", ")));
    }
    let mut line = first.trim_end().to_string();
    if !extras.is_empty() {
        line.push_str(&format!(" ({})", extras.join("; ")));
    }
    line.push_str(" (see --help)");
    line
}

/// The subcommands `--help` lists.
fn subcommands() -> Vec<String> {
    use clap::CommandFactory;
    super::Cli::command()
        .get_subcommands()
        .filter(|c| !c.is_hide_set())
        .map(|c| c.get_name().to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::cli::Cli;
    use clap::Parser;

    fn line_for(args: &[&str]) -> String {
        let e = Cli::try_parse_from(std::iter::once("throttlebench").chain(args.iter().copied()))
            .unwrap_err();
        one_line(&e)
    }

    #[test]
    fn a_misspelt_flag_names_the_one_meant() {
        let line = line_for(&["run", "--kind", "sleep", "--limit", "2"]);
        assert!(line.contains("'--limit'"), "{line}");
        assert!(line.contains("did you mean '--limits'?"), "{line}");
        assert_eq!(line.lines().count(), 1);
    }

    #[test]
    fn a_wrong_choice_lists_every_allowed_value() {
        let line = line_for(&["compare", "a", "b", "--fail-on", "regression"]);
        assert!(
            line.contains("possible values: regressed, improved, any, never"),
            "{line}"
        );
        assert!(line.contains("did you mean 'regressed'?"), "{line}");
    }

    #[test]
    fn a_misspelt_subcommand_names_the_one_meant() {
        let line = line_for(&["compar"]);
        assert!(line.contains("did you mean 'compare'?"), "{line}");
        let line = line_for(&["rnu"]);
        assert!(
            line.contains("subcommands: run, workloads, report"),
            "{line}"
        );
        assert!(!line.contains("worker"), "{line}");
    }
}
