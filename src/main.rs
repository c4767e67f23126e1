//! The `throttlebench` binary: parse the command line, call the library, map the outcome to an
//! exit code (0 ok, 1 regression/SLO failure, 2 bad input or error, 130 interrupted).

use std::process::ExitCode;

use clap::Parser;
use throttlebench::cli::{Cli, Command};
use throttlebench::commands::{self, Exit};
use throttlebench::workload::Registry;

fn main() -> ExitCode {
    if let Some(code) = throttlebench::backend::worker::run_if_worker() {
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
            let text = e.to_string();
            let first = text.lines().next().unwrap_or("invalid arguments");
            eprintln!("{first} (see --help)");
            return ExitCode::from(2);
        }
    };
    let registry = Registry::builtin();
    let outcome = match cli.command {
        Command::Run(args) => commands::run::run(*args, &registry),
        Command::Report(args) => commands::report::run(args),
        Command::Tune(args) => commands::tune::run(args, &registry),
        Command::Serve(args) => commands::serve::run(args),
        Command::Workloads => {
            print!("{}", commands::workloads::render(&registry));
            Ok(Exit::Ok)
        }
        Command::Compare(args) => commands::compare::run(args),
        Command::History(args) => commands::history::run(args),
        Command::Fit(args) => commands::fit::run(args),
        Command::Worker(args) => {
            throttlebench::backend::worker::run(args.one, args.spec.as_deref(), &registry)
                .map(|()| Exit::Ok)
        }
    };
    match outcome {
        Ok(exit) => ExitCode::from(exit as u8),
        Err(e) => {
            eprintln!("error: {}", format!("{e:#}").replace('\n', " "));
            ExitCode::from(2)
        }
    }
}

/// A panic inside a workload item is recorded as a failed item; it must not also spray a
/// message and a backtrace over the terminal. Anywhere else, one line says what happened.
fn quiet_panics() {
    std::panic::set_hook(Box::new(|info| {
        let worker = std::thread::current()
            .name()
            .is_some_and(|n| n.starts_with("tb-"));
        if !worker {
            let message = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_default();
            eprintln!("error: internal error: {message}");
        }
    }));
}
