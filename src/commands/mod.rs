//! The command line: the arguments (`cli`), and one module per subcommand, each taking its
//! parsed arguments and returning the exit code.

pub mod cli;
pub mod compare;
pub mod fit;
pub mod history;
pub mod merge;
pub mod report;
pub mod run;
pub mod serve;
pub mod tune;
pub mod workloads;

use std::process::ExitCode;

use clap::Parser;

use crate::backend::{driver, worker};
use crate::workload::Registry;
use cli::{Cli, Command};

/// Parses the command line, runs the subcommand, and maps the outcome to an exit code (0 ok,
/// 1 regression/SLO failure, 2 bad input or error, 130 interrupted).
pub fn main() -> ExitCode {
    if let Some(code) = worker::run_if_worker() {
        return code;
    }
    quiet_panics();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("{}", cli::one_line(&e));
            return ExitCode::from(2);
        }
    };
    let registry = Registry::builtin();
    let outcome = match cli.command {
        Command::Run(args) => run::run(*args, &registry),
        Command::Report(args) => report::run(args),
        Command::Tune(args) => tune::run(args, &registry),
        Command::Serve(args) => serve::run(args),
        Command::Workloads => {
            print!("{}", workloads::render(&registry));
            Ok(Exit::Ok)
        }
        Command::Compare(args) => compare::run(args),
        Command::Fit(args) => fit::run(args),
        Command::History(args) => history::run(args),
        Command::Merge(args) => merge::run(args),
        Command::Worker(args) => {
            worker::run(args.one, args.spec.as_deref(), &registry).map(|()| Exit::Ok)
        }
    };
    match outcome {
        Ok(exit) => ExitCode::from(exit as u8),
        Err(e) => {
            eprintln!("error: {}", error_line(&e));
            ExitCode::from(2)
        }
    }
}

/// An error and its causes as one line, each cause once: an error whose own message already
/// quotes its cause (`cannot read x: No such file…`) must not have that cause repeated after it.
pub fn error_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string().replace('\n', " ");
        if line.contains(text.trim()) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

/// A panic inside a workload item is recorded as a failed item; it must not also spray a
/// message and a backtrace over the terminal. Anywhere else, one line says what happened.
fn quiet_panics() {
    std::panic::set_hook(Box::new(|info| {
        let worker = std::thread::current()
            .name()
            .is_some_and(|n| n.starts_with("tb-"));
        if !worker {
            let message = driver::panic_message(info.payload());
            eprintln!("error: internal error: {message}");
        }
    }));
}

/// How a command ended, as the process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Ok = 0,
    /// A regression was found, or an SLO was violated where asked to fail.
    Failed = 1,
    /// Stopped by Ctrl-C or SIGTERM.
    Interrupted = 130,
}

/// Ctrl-C and SIGTERM set the returned flag (the sweep stops claiming items, writes what it has
/// and exits 130); a second signal exits at once.
pub fn install_interrupt() -> anyhow::Result<std::sync::Arc<std::sync::atomic::AtomicBool>> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    for signal in [SIGINT, SIGTERM] {
        signal_hook::flag::register_conditional_shutdown(signal, 130, stop.clone())?;
        signal_hook::flag::register(signal, stop.clone())?;
    }
    Ok(stop)
}
