//! Hosts for the `remote` backend: `[user@]host[:port]` lists (from `--hosts` or a hosts file),
//! the `ssh` command line that starts `throttlebench worker` on one of them, and what each host
//! did during a remote point.
//!
//! ssh runs with `BatchMode=yes` (a password or passphrase prompt would hang a sweep, so it is
//! an error instead) and `ConnectTimeout`; everything else comes from the user's ssh config
//! and the `--ssh-option` flags.

use std::collections::BTreeMap;
use std::process::Command;

use serde::{Deserialize, Serialize};

use crate::error::SpecError;

/// Seconds ssh waits for a host to answer before it counts as unreachable.
pub const CONNECT_TIMEOUT_S: u32 = 10;

/// How a sweep reaches its remote workers (`--hosts`, `--remote-binary`, `--ssh-option`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteSettings {
    /// `[user@]host[:port]`, in slot order: slot i runs on host i mod len.
    pub hosts: Vec<String>,
    /// The throttlebench executable on the hosts (a name looked up on PATH, or a path).
    pub binary: String,
    /// Extra `ssh -o` options, e.g. `IdentityFile=~/.ssh/bench`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ssh_options: Vec<String>,
}

/// One host: where ssh connects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    pub user: Option<String>,
    pub name: String,
    pub port: Option<u16>,
}

impl Host {
    /// `host`, `user@host`, `host:2222`, `user@[::1]:2222`.
    pub fn parse(text: &str) -> Result<Host, SpecError> {
        let text = text.trim();
        let bad = |why: &str| SpecError::invalid(format!("bad host '{text}': {why}"));
        let (user, rest) = match text.rsplit_once('@') {
            Some((u, r)) if !u.is_empty() => (Some(u.to_string()), r),
            Some(_) => return Err(bad("empty user name")),
            None => (None, text),
        };
        let (name, port) = if let Some(inner) = rest.strip_prefix('[') {
            let (name, after) = inner.split_once(']').ok_or_else(|| bad("missing ']'"))?;
            match after.strip_prefix(':') {
                Some(p) => (name, Some(p)),
                None if after.is_empty() => (name, None),
                None => return Err(bad("expected ':port' after ']'")),
            }
        } else {
            match rest.split_once(':') {
                Some((n, p)) => (n, Some(p)),
                None => (rest, None),
            }
        };
        let port = port
            .map(|p| {
                p.parse::<u16>()
                    .ok()
                    .filter(|&p| p > 0)
                    .ok_or_else(|| bad("the port must be a number from 1 to 65535"))
            })
            .transpose()?;
        if name.is_empty() {
            return Err(bad("empty host name"));
        }
        // A leading '-' would reach ssh as an option.
        if name.starts_with('-') || user.as_deref().is_some_and(|u| u.starts_with('-')) {
            return Err(bad("a host or user may not start with '-'"));
        }
        if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad("whitespace in a host"));
        }
        Ok(Host {
            user,
            name: name.to_string(),
            port,
        })
    }

    /// The destination argument of ssh: `user@host` or `host`.
    pub fn destination(&self) -> String {
        match &self.user {
            Some(u) => format!("{u}@{}", self.name),
            None => self.name.clone(),
        }
    }
}

/// `a,b,user@c:2222` → hosts; at least one.
pub fn parse_list(text: &str) -> Result<Vec<String>, SpecError> {
    collect(text.split(','))
}

/// A hosts file: one host per line (or comma-separated); blank lines and `#` comments skipped.
pub fn parse_file(text: &str) -> Result<Vec<String>, SpecError> {
    collect(
        text.lines()
            .map(|l| l.split('#').next().unwrap_or(""))
            .flat_map(|l| l.split(',')),
    )
}

fn collect<'a>(parts: impl Iterator<Item = &'a str>) -> Result<Vec<String>, SpecError> {
    let mut hosts = Vec::new();
    for part in parts.map(str::trim).filter(|p| !p.is_empty()) {
        Host::parse(part)?;
        hosts.push(part.to_string());
    }
    if hosts.is_empty() {
        return Err(SpecError::invalid(
            "no host given (e.g. --hosts bench1,bench2)",
        ));
    }
    Ok(hosts)
}

/// Quotes a word for the remote shell, which ssh hands the command line to.
pub fn shell_quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// `ssh -o BatchMode=yes … host -- exec 'binary' args…`. `exec` makes the worker the child
/// of sshd itself, so it dies with the connection (its parent-death signal fires).
pub fn ssh_command(host: &Host, settings: &RemoteSettings, args: &[&str]) -> Command {
    let mut cmd = Command::new("ssh");
    cmd.arg("-o")
        .arg("BatchMode=yes")
        .arg("-o")
        .arg(format!("ConnectTimeout={CONNECT_TIMEOUT_S}"));
    for option in &settings.ssh_options {
        cmd.arg("-o").arg(option);
    }
    if let Some(port) = host.port {
        cmd.arg("-p").arg(port.to_string());
    }
    let mut remote = format!("exec {}", shell_quote(&settings.binary));
    for arg in args {
        remote.push(' ');
        remote.push_str(&shell_quote(arg));
    }
    cmd.arg(host.destination()).arg("--").arg(remote);
    cmd
}

/// What one host did during a remote point (`hosts` in results.json).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostResult {
    pub host: String,
    /// Worker slots this host ran (the throttle spread round-robin).
    pub slots: usize,
    pub items: u64,
    pub ok: u64,
    pub failed: u64,
    pub timed_out: u64,
    /// This host's items over the point's wall time: the hosts' figures add up to the point's.
    pub throughput_per_s: f64,
    /// This host's successful items over the point's wall time.
    #[serde(default)]
    pub goodput_per_s: f64,
    /// p99 of this host's successful items; `None` when none succeeded.
    pub lat_p99_ms: Option<f64>,
    #[serde(default)]
    pub errors: BTreeMap<String, u64>,
    /// The host's latency histogram (µs), encoded like the point's; the point's is their merge.
    #[serde(default)]
    pub histogram: String,
    /// Why the host's slots were given up during the point, if they were.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lost: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_user_host_and_port() {
        let h = Host::parse("bench@10.0.0.5:2222").unwrap();
        assert_eq!(h.user.as_deref(), Some("bench"));
        assert_eq!(h.name, "10.0.0.5");
        assert_eq!(h.port, Some(2222));
        assert_eq!(h.destination(), "bench@10.0.0.5");
        let h = Host::parse("[::1]:22").unwrap();
        assert_eq!((h.name.as_str(), h.port), ("::1", Some(22)));
        assert_eq!(Host::parse("box").unwrap().port, None);
    }

    #[test]
    fn refuses_bad_hosts() {
        for bad in [
            "",
            "a:0",
            "a:x",
            "-oProxyCommand=x",
            "@a",
            "a b",
            "[::1",
            "a:70000",
        ] {
            assert!(Host::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn lists_and_files() {
        assert_eq!(parse_list("a, b:22 ,").unwrap(), vec!["a", "b:22"]);
        let file = "# bench fleet\nbench1\n\nbench2:2222  # spare\nx,y\n";
        assert_eq!(
            parse_file(file).unwrap(),
            vec!["bench1", "bench2:2222", "x", "y"]
        );
        assert!(parse_list(" , ").is_err());
        assert!(parse_file("# nothing\n").is_err());
    }

    #[test]
    fn ssh_command_is_batch_mode_and_quoted() {
        let settings = RemoteSettings {
            hosts: vec![],
            binary: "/opt/tb it's/throttlebench".into(),
            ssh_options: vec!["IdentityFile=/k".into()],
        };
        let cmd = ssh_command(&Host::parse("u@h:2200").unwrap(), &settings, &["worker"]);
        let args: Vec<String> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            args,
            vec![
                "-o",
                "BatchMode=yes",
                "-o",
                "ConnectTimeout=10",
                "-o",
                "IdentityFile=/k",
                "-p",
                "2200",
                "u@h",
                "--",
                r"exec '/opt/tb it'\''s/throttlebench' 'worker'"
            ]
        );
    }
}
