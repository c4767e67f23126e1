//! Errors the caller branches on. `SpecError` is bad input (exit code 2); everything else that
//! stops a run is an `anyhow` error with context added at the edge.

use thiserror::Error;

/// Something wrong in what the user asked for: a spec file, a flag, a parameter.
#[derive(Debug, Error)]
pub enum SpecError {
    #[error("{path}:{line}:{column}: {message}")]
    Toml {
        path: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("cannot read spec file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("unknown workload kind '{kind}' (known kinds: {known})")]
    UnknownKind { kind: String, known: String },
    #[error("unknown parameter '{param}' for workload kind '{kind}' (accepted: {accepted})")]
    UnknownParam {
        kind: String,
        param: String,
        accepted: String,
    },
    #[error("parameter '{param}' of workload kind '{kind}': {why}")]
    BadParam {
        kind: String,
        param: String,
        why: String,
    },
    #[error("unknown backend '{name}' (known backends: {known})")]
    UnknownBackend { name: String, known: String },
    #[error("{0}")]
    Invalid(String),
}

impl SpecError {
    /// Bad input, said in one line.
    pub fn invalid(message: impl Into<String>) -> Self {
        SpecError::Invalid(message.into())
    }
}
