//! `command`: runs a program per item, `{item}` replaced by the item number in the program and
//! its arguments. No shell unless `shell = true`. A non-zero exit is a failed item of kind
//! `exit-N`, death by a signal one of kind `signal-N`. Output is discarded, or appended to
//! the file named by `log`.

use std::fs::{File, OpenOptions};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::Arc;

use super::{ItemError, ItemResult, ParamDef, ParamType, Params, Runner, Workload, WorkloadKind};
use crate::error::SpecError;

const PARAMS: &[ParamDef] = &[
    ParamDef::new(
        "program",
        ParamType::Str,
        None,
        "program to run (a command line for sh -c when shell = true)",
    ),
    ParamDef::new(
        "args",
        ParamType::StrList,
        None,
        "arguments (default: none); {item} becomes the item number",
    ),
    ParamDef::new(
        "shell",
        ParamType::Bool,
        Some("false"),
        "run `program` through /bin/sh -c (args become $1, $2, …)",
    ),
    ParamDef::new(
        "log",
        ParamType::Str,
        None,
        "file that collects the items' stdout and stderr (default: discarded)",
    ),
];

/// A validated command line, before `{item}` is substituted.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandLine {
    pub program: String,
    pub args: Vec<String>,
    pub shell: bool,
    pub log: Option<String>,
}

impl CommandLine {
    pub fn from_params(p: &Params) -> Result<CommandLine, SpecError> {
        let program = p.str("program")?.to_string();
        if program.trim().is_empty() {
            return Err(p.invalid("program", "must not be empty"));
        }
        Ok(CommandLine {
            program,
            args: p.str_list("args"),
            shell: p.bool("shell")?,
            log: p.opt_str("log").map(str::to_string),
        })
    }

    /// Reads the command line out of a `command` workload spec.
    pub fn from_spec(spec: &super::WorkloadSpec) -> Result<CommandLine, SpecError> {
        CommandLine::from_params(&Params::validate("command", PARAMS, &spec.params)?)
    }

    /// The process for one item: stdin closed, output discarded or sent to the log.
    pub fn command(&self, item: u64) -> Result<Command, ItemError> {
        let number = item.to_string();
        let fill = |s: &String| s.replace("{item}", &number);
        let mut cmd = if self.shell {
            let mut c = Command::new("/bin/sh");
            c.arg("-c")
                .arg(fill(&self.program))
                .arg("throttlebench")
                .args(self.args.iter().map(fill));
            c
        } else {
            let mut c = Command::new(fill(&self.program));
            c.args(self.args.iter().map(fill));
            c
        };
        cmd.stdin(Stdio::null());
        match &self.log {
            None => {
                cmd.stdout(Stdio::null()).stderr(Stdio::null());
            }
            Some(path) => {
                let file = open_log(path)?;
                let copy = file.try_clone().map_err(|e| ItemError::io(&e))?;
                cmd.stdout(file).stderr(copy);
            }
        }
        Ok(cmd)
    }
}

fn open_log(path: &str) -> Result<File, ItemError> {
    // O_APPEND: items from several processes interleave whole writes instead of overwriting.
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| ItemError::new("log", format!("cannot open log {path}: {e}")))
}

/// Turns a finished process's status into an item outcome.
pub fn outcome(status: ExitStatus) -> ItemResult {
    if status.success() {
        return Ok(());
    }
    if let Some(code) = status.code() {
        return Err(ItemError::new(
            format!("exit-{code}"),
            format!("exited with code {code}"),
        ));
    }
    match status.signal() {
        Some(signal) => Err(ItemError::new(
            format!("signal-{signal}"),
            format!("killed by signal {signal}"),
        )),
        None => Err(ItemError::new("exit", format!("ended with {status}"))),
    }
}

/// The error for a program that could not be started.
pub fn spawn_error(program: &str, err: &std::io::Error) -> ItemError {
    let mut e = ItemError::io(err);
    e.message = format!("cannot run {program}: {err}");
    e
}

struct CommandWorkload {
    line: Arc<CommandLine>,
}

impl Workload for CommandWorkload {
    fn runner(&self) -> Result<Box<dyn Runner>, ItemError> {
        Ok(Box::new(CommandRunner {
            line: self.line.clone(),
            peak: Default::default(),
        }))
    }
}

struct CommandRunner {
    line: Arc<CommandLine>,
    /// The programs' memory counts as the item's: see `child_peak`.
    peak: super::child_peak::ChildPeak,
}

impl Runner for CommandRunner {
    fn run(&mut self, item: u64) -> ItemResult {
        let mut cmd = self.line.command(item)?;
        let mut child = cmd
            .spawn()
            .map_err(|e| spawn_error(&self.line.program, &e))?;
        match self.peak.wait(&mut child) {
            Ok(status) => outcome(status),
            Err(e) => Err(ItemError::io(&e)),
        }
    }
}

/// The `command` kind, to register under its name.
pub fn kind() -> WorkloadKind {
    WorkloadKind::new(
        "command",
        "runs a program per item ({item} substituted); non-zero exit or a signal fails the item",
        PARAMS,
        |p| {
            Ok(Arc::new(CommandWorkload {
                line: Arc::new(CommandLine::from_params(p)?),
            }))
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::{Registry, WorkloadSpec};
    use serde_json::json;

    fn build(params: serde_json::Value) -> Result<Box<dyn Runner>, String> {
        let spec: WorkloadSpec =
            serde_json::from_value(json!({"kind": "command", "params": params})).unwrap();
        let workload = Registry::builtin()
            .build(&spec)
            .map_err(|e| e.to_string())?;
        workload.runner().map_err(|e| e.to_string())
    }

    #[test]
    fn exit_codes_and_signals_are_failures_with_their_number() {
        let mut ok = build(json!({"program": "true"})).unwrap();
        assert_eq!(ok.run(1), Ok(()));
        let mut code = build(json!({"program": "exit 3", "shell": true})).unwrap();
        assert_eq!(code.run(1).unwrap_err().kind, "exit-3");
        let mut signal = build(json!({"program": "kill -9 $$", "shell": true})).unwrap();
        assert_eq!(signal.run(1).unwrap_err().kind, "signal-9");
    }

    #[test]
    fn item_number_is_substituted_and_output_can_be_logged() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("out.log");
        let mut r = build(json!({
            "program": "echo",
            "args": ["item={item}"],
            "log": log.to_str().unwrap(),
        }))
        .unwrap();
        r.run(7).unwrap();
        r.run(8).unwrap();
        let text = std::fs::read_to_string(&log).unwrap();
        assert_eq!(text, "item=7\nitem=8\n");
        let mut shell = build(json!({
            "program": "test \"$1\" = 5",
            "args": ["{item}"],
            "shell": true,
        }))
        .unwrap();
        assert_eq!(shell.run(5), Ok(()));
        assert!(shell.run(6).is_err());
    }

    #[test]
    fn missing_program_is_refused_and_unknown_program_fails_the_item() {
        let Err(err) = build(json!({})) else {
            panic!("a command without a program was accepted")
        };
        assert!(err.contains("program"), "{err}");
        let mut r = build(json!({"program": "/no/such/program"})).unwrap();
        let e = r.run(1).unwrap_err();
        assert_eq!(e.kind, "not-found");
        assert!(e.message.contains("/no/such/program"), "{}", e.message);
    }
}
