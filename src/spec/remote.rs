//! The remote backend's flags (`--hosts`, `--hosts-file`, `--remote-binary`, `--ssh-option`) in
//! the sweep settings, and the backend a sweep's settings call for.

use std::path::Path;

use anyhow::Context;

use super::SweepSettings;
use crate::backend::hosts::{parse_file, parse_list, RemoteSettings};
use crate::backend::{remote::RemoteBackend, Backend, BackendKind};

/// The remote flags of `run`, before they are checked.
#[derive(Debug, Default, Clone)]
pub struct RemoteFlags<'a> {
    pub hosts: Option<&'a str>,
    pub hosts_file: Option<&'a Path>,
    pub binary: Option<&'a str>,
    pub ssh_options: &'a [String],
}

/// Puts the remote flags into the sweep settings, refusing flags the sweep would not use and a
/// `remote` backend without hosts.
pub fn apply_remote_flags(
    sweep: &mut SweepSettings,
    flags: &RemoteFlags<'_>,
) -> anyhow::Result<()> {
    let hosts = match (flags.hosts, flags.hosts_file) {
        (Some(list), _) => Some(parse_list(list)?),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read hosts file {}", path.display()))?;
            Some(parse_file(&text).with_context(|| format!("hosts file {}", path.display()))?)
        }
        (None, None) => None,
    };
    match hosts {
        Some(hosts) => {
            sweep.remote = Some(RemoteSettings {
                hosts,
                binary: flags.binary.unwrap_or("throttlebench").to_string(),
                ssh_options: flags.ssh_options.to_vec(),
            });
        }
        None if flags.binary.is_some() || !flags.ssh_options.is_empty() => {
            anyhow::bail!("--remote-binary and --ssh-option need --hosts or --hosts-file")
        }
        None => {}
    }
    let wants_remote = sweep.backends.contains(&BackendKind::Remote);
    match (&sweep.remote, wants_remote) {
        (None, true) => anyhow::bail!(
            "the remote backend needs hosts (--hosts host1,host2 or --hosts-file FILE)"
        ),
        (Some(_), false) => {
            anyhow::bail!("--hosts is only used by the remote backend (add --backend remote)")
        }
        _ => Ok(()),
    }
}

impl BackendKind {
    /// Builds the backend for a sweep; `remote` connects to (and checks) the sweep's hosts.
    pub fn create_for(self, sweep: &SweepSettings) -> anyhow::Result<Box<dyn Backend>> {
        match (self, &sweep.remote) {
            (BackendKind::Remote, Some(settings)) => {
                Ok(Box::new(RemoteBackend::connect(settings)?))
            }
            _ => self.create(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_need_the_remote_backend_and_hosts() {
        let mut sweep = SweepSettings::default();
        let flags = RemoteFlags {
            hosts: Some("a,b:2222"),
            ..RemoteFlags::default()
        };
        let err = apply_remote_flags(&mut sweep, &flags)
            .unwrap_err()
            .to_string();
        assert!(err.contains("--backend remote"), "{err}");
        sweep.backends = vec![BackendKind::Remote];
        apply_remote_flags(&mut sweep, &flags).unwrap();
        let settings = sweep.remote.clone().unwrap();
        assert_eq!(settings.hosts, vec!["a", "b:2222"]);
        assert_eq!(settings.binary, "throttlebench");
        let mut bare = SweepSettings {
            backends: vec![BackendKind::Remote],
            ..SweepSettings::default()
        };
        let err = apply_remote_flags(&mut bare, &RemoteFlags::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("needs hosts"), "{err}");
        let lonely = RemoteFlags {
            binary: Some("/x"),
            ..RemoteFlags::default()
        };
        assert!(apply_remote_flags(&mut SweepSettings::default(), &lonely).is_err());
    }
}
