//! One module per subcommand: each takes its parsed arguments and returns the exit code.

pub mod compare;
pub mod fit;
pub mod history;
pub mod report;
pub mod run;
pub mod serve;
pub mod tune;
pub mod workloads;

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
