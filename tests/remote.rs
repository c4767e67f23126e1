//! The remote backend end to end, against real OpenSSH servers on 127.0.0.1 (started by
//! `scripts/ci-sshd.sh`, which `.ci/run` calls): two hosts merge into one point, bad hosts are
//! named before the sweep, a host lost mid-run costs only its queued items, an open-loop point
//! (`--rates`) runs on the hosts' workers, and no ssh process is left behind. Without sshd (no
//! TB_TEST_SSH_PORT) these tests say so by name and pass; with TB_REQUIRE_SSH=1 a missing sshd
//! fails them.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::cargo::CommandCargoExt;
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::Histogram;
use serde_json::Value;

const BIN: &str = "throttlebench";
const MARK: &str = "TB_REMOTE_TEST_MARK";

/// What `scripts/ci-sshd.sh` exported.
struct Sshd {
    port: u16,
    port2: u16,
    key: PathBuf,
    known_hosts: PathBuf,
    dir: PathBuf,
}

/// The test sshd, or `None` after printing why the test is skipped.
fn sshd(test: &str) -> Option<Sshd> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let found = (|| {
        let port = var("TB_TEST_SSH_PORT")?.parse().ok()?;
        let port2 = var("TB_TEST_SSH_PORT2")?.parse().ok()?;
        TcpStream::connect(("127.0.0.1", port)).ok()?;
        TcpStream::connect(("127.0.0.1", port2)).ok()?;
        Some(Sshd {
            port,
            port2,
            key: var("TB_TEST_SSH_KEY")?.into(),
            known_hosts: var("TB_TEST_SSH_KNOWN_HOSTS")?.into(),
            dir: var("TB_TEST_SSH_DIR")?.into(),
        })
    })();
    if found.is_none() {
        if var("TB_REQUIRE_SSH").as_deref() == Some("1") {
            panic!("{test}: TB_REQUIRE_SSH=1 but no sshd answers on TB_TEST_SSH_PORT/PORT2");
        }
        // Straight to stderr: the test harness captures eprintln! of passing tests.
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "skipped: {test}: no sshd (set TB_TEST_SSH_PORT, TB_TEST_SSH_PORT2, TB_TEST_SSH_KEY, \
             TB_TEST_SSH_KNOWN_HOSTS, TB_TEST_SSH_DIR: `scripts/ci-sshd.sh start DIR` writes them)"
        );
    }
    found
}

/// `--remote-binary` and the ssh options of a test; `known_hosts` is the test's own copy.
fn remote_args(s: &Sshd, known_hosts: &Path) -> Vec<String> {
    with_key(s, known_hosts, &s.key)
}

fn with_key(s: &Sshd, known_hosts: &Path, key: &Path) -> Vec<String> {
    let _ = s;
    vec![
        "--remote-binary".into(),
        env!("CARGO_BIN_EXE_throttlebench").into(),
        "--ssh-option".into(),
        format!("IdentityFile={}", key.display()),
        "--ssh-option".into(),
        "IdentitiesOnly=yes".into(),
        "--ssh-option".into(),
        format!("UserKnownHostsFile={}", known_hosts.display()),
    ]
}

fn own_known_hosts(s: &Sshd, dir: &Path) -> PathBuf {
    let path = dir.join("known_hosts");
    std::fs::copy(&s.known_hosts, &path).unwrap();
    path
}

/// The full command line of a run on both test hosts: `args`, then `--hosts` (both), `--out`
/// (returned, inside `dir`) and the remote arguments.
fn on_both_hosts(s: &Sshd, dir: &Path, args: &[&str]) -> (Vec<String>, PathBuf) {
    let known = own_known_hosts(s, dir);
    let out = dir.join("out");
    let hosts = format!("127.0.0.1:{},127.0.0.1:{}", s.port, s.port2);
    let mut full: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    full.extend([
        "--hosts".into(),
        hosts,
        "--out".into(),
        out.display().to_string(),
    ]);
    full.extend(remote_args(s, &known));
    (full, out)
}

/// Runs the binary with a marker in its environment (ssh children inherit it).
fn spawn(args: &[String], mark: &str) -> Child {
    Command::cargo_bin(BIN)
        .unwrap()
        .args(args)
        .env(MARK, mark)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn finish(child: Child) -> (i32, String, String) {
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn points(out: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(out.join("results.json")).unwrap();
    let json: Value = serde_json::from_str(&text).unwrap();
    json["points"].as_array().unwrap().clone()
}

fn histogram(encoded: &Value) -> Histogram<u64> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded.as_str().unwrap())
        .unwrap();
    Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .unwrap()
}

/// Live processes carrying `MARK=mark` in their environment.
fn marked(mark: &str) -> Vec<String> {
    let needle = format!("{MARK}={mark}");
    let mut found = Vec::new();
    let until = Instant::now() + Duration::from_secs(3);
    loop {
        found.clear();
        for (pid, _) in processes() {
            let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else {
                continue;
            };
            if environ.split(|b| *b == 0).any(|v| v == needle.as_bytes()) && !zombie(pid) {
                found.push(cmdline(pid));
            }
        }
        if found.is_empty() || Instant::now() > until {
            return found;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// (pid, parent pid) of every process.
fn processes() -> Vec<(u32, u32)> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let fields: Vec<&str> = stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .collect();
        if let Some(ppid) = fields.get(1).and_then(|p| p.parse().ok()) {
            all.push((pid, ppid));
        }
    }
    all
}

fn zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
        .unwrap_or(true)
}

fn cmdline(pid: u32) -> String {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    format!(
        "{pid}: {}",
        String::from_utf8_lossy(&raw).replace('\0', " ")
    )
}

/// Every live descendant of `root`.
fn descendants(root: u32) -> Vec<u32> {
    let all = processes();
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(all.iter().filter(|(_, pp)| *pp == parent).map(|(p, _)| *p));
        i += 1;
    }
    found.remove(0);
    found.retain(|&p| !zombie(p));
    found
}

#[test]
fn two_hosts_merge_into_one_point() {
    let Some(s) = sshd("two_hosts_merge_into_one_point") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (args, out) = on_both_hosts(
        &s,
        dir.path(),
        &[
            "run",
            "--kind",
            "sleep",
            "--param",
            "ms=2",
            "--backend",
            "remote,process",
            "--limits",
            "2,3",
            "--items",
            "120",
        ],
    );
    let (code, stdout, stderr) = finish(spawn(&args, "merge"));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("remote x3 (repetition 1), per host:"),
        "{stdout}"
    );
    let points = points(&out);
    for p in points.iter() {
        assert_eq!(p["items"], 120, "every backend runs the same items: {p}");
        assert_eq!(p["ok"], 120);
    }
    let remote: Vec<&Value> = points.iter().filter(|p| p["backend"] == "remote").collect();
    assert_eq!(remote.len(), 2);
    for p in remote {
        let hosts = p["hosts"].as_array().unwrap();
        assert_eq!(hosts.len(), 2, "both hosts ran: {p}");
        // Round-robin: throttle 3 puts slots 0 and 2 on the first host.
        let slots: Vec<u64> = hosts.iter().map(|h| h["slots"].as_u64().unwrap()).collect();
        let expected = if p["throttle"] == 3 {
            vec![2, 1]
        } else {
            vec![1, 1]
        };
        assert_eq!(slots, expected);
        let items: u64 = hosts.iter().map(|h| h["items"].as_u64().unwrap()).sum();
        assert_eq!(items, 120);
        let mut sum = Histogram::<u64>::new(3).unwrap();
        for h in hosts {
            assert!(h["items"].as_u64().unwrap() > 0);
            sum.add(histogram(&h["histogram"])).unwrap();
        }
        let merged = histogram(&p["histogram"]);
        assert_eq!(merged.len(), 120);
        assert_eq!(
            merged, sum,
            "the point's histogram is the sum of the hosts'"
        );
        let host_rate: f64 = hosts
            .iter()
            .map(|h| h["throughput_per_s"].as_f64().unwrap())
            .sum();
        let rate = p["throughput_per_s"].as_f64().unwrap();
        assert!(
            (host_rate - rate).abs() <= rate * 1e-6,
            "{host_rate} vs {rate}"
        );
        assert!(p.get("hosts").is_some());
    }
    assert!(
        marked("merge").is_empty(),
        "ssh left behind: {:?}",
        marked("merge")
    );
}

#[test]
fn bad_hosts_are_named_before_the_sweep() {
    let Some(s) = sshd("bad_hosts_are_named_before_the_sweep") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let known = own_known_hosts(&s, dir.path());
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let good = format!("127.0.0.1:{}", s.port);
    let wrong_key = Path::new("/nonexistent/key");
    let no_known_hosts = dir.path().join("empty_known_hosts");
    std::fs::write(&no_known_hosts, "").unwrap();
    let cases: Vec<(String, &Path, &Path, Vec<String>, String)> = vec![
        (
            format!("127.0.0.1:{closed}"),
            &s.key,
            &known,
            vec![],
            format!("host 127.0.0.1:{closed} is unreachable"),
        ),
        (
            good.clone(),
            wrong_key,
            &known,
            vec![],
            format!("host {good} refused the key"),
        ),
        (
            good.clone(),
            &s.key,
            &no_known_hosts,
            vec![],
            format!("host {good}: its host key is not trusted"),
        ),
        (
            good.clone(),
            &s.key,
            &known,
            vec![
                "--remote-binary".into(),
                "/nonexistent/throttlebench".into(),
            ],
            format!("host {good} has no throttlebench at '/nonexistent/throttlebench'"),
        ),
    ];
    for (i, (host, key, known, extra, expected)) in cases.into_iter().enumerate() {
        let out = dir.path().join(format!("out{i}"));
        let mut args: Vec<String> = vec![
            "run".into(),
            "--kind".into(),
            "sleep".into(),
            "--param".into(),
            "ms=200".into(),
            "--backend".into(),
            "remote".into(),
            "--limits".into(),
            "2".into(),
            "--items".into(),
            "20".into(),
            "--hosts".into(),
            format!("{good},{host}"),
            "--out".into(),
            out.display().to_string(),
        ];
        let mut base = with_key(&s, known, key);
        if !extra.is_empty() {
            base.drain(0..2); // the case brings its own --remote-binary
        }
        args.extend(base);
        args.extend(extra);
        let started = Instant::now();
        let (code, _, stderr) = finish(spawn(&args, "bad"));
        assert_eq!(code, 2, "{stderr}");
        assert!(stderr.contains(&expected), "want '{expected}' in: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
        // Refused before the 4 s baseline of 20 × 200 ms.
        assert!(started.elapsed() < Duration::from_secs(4), "{stderr}");
        assert!(marked("bad").is_empty());
    }
}

/// `examples/custom_workload.rs`, built beside the binary by `cargo test`.
fn custom_workload_example() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_throttlebench"))
        .with_file_name("examples")
        .join("custom_workload")
}

#[test]
fn a_programs_own_kinds_run_on_remote_hosts() {
    let Some(s) = sshd("a_programs_own_kinds_run_on_remote_hosts") else {
        return;
    };
    let example = custom_workload_example();
    let dir = tempfile::tempdir().unwrap();
    let known = own_known_hosts(&s, dir.path());
    // The hosts run the example itself as their worker: it registers `collatz`, which no
    // throttlebench binary knows, and hands `worker` to run_if_worker_with.
    let out = Command::new(&example)
        .arg("remote")
        .arg(format!("127.0.0.1:{},127.0.0.1:{}", s.port, s.port2))
        .arg(&example)
        .arg(format!("IdentityFile={}", s.key.display()))
        .arg("IdentitiesOnly=yes")
        .arg(format!("UserKnownHostsFile={}", known.display()))
        .env(MARK, "own-kinds")
        .output()
        .expect("run the example");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let remote: Vec<Vec<&str>> = stdout
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|r| r.first() == Some(&"remote"))
        .collect();
    assert_eq!(remote.len(), 3, "{stdout}");
    for row in remote {
        assert_eq!((row[2], row[3]), ("64", "0"), "{stdout}");
    }
    assert!(marked("own-kinds").is_empty());
}

#[test]
fn a_remote_program_that_is_no_worker_is_named_before_the_sweep() {
    let Some(s) = sshd("a_remote_program_that_is_no_worker_is_named_before_the_sweep") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let known = own_known_hosts(&s, dir.path());
    let host = format!("127.0.0.1:{}", s.port);
    let mut args: Vec<String> = [
        "run",
        "--kind",
        "sleep",
        "--param",
        "ms=200",
        "--backend",
        "remote",
        "--limits",
        "2",
        "--items",
        "20",
        "--hosts",
        &host,
        "--out",
    ]
    .map(String::from)
    .to_vec();
    args.push(dir.path().join("out").display().to_string());
    let mut ssh = remote_args(&s, &known);
    ssh[1] = "/bin/echo".into(); // a program that prints where the protocol's frames go
    args.extend(ssh);
    let started = Instant::now();
    let (code, _, stderr) = finish(spawn(&args, "no-worker"));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains(&format!("host {host}")), "{stderr}");
    assert!(stderr.contains("run_if_worker_with"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    assert!(started.elapsed() < Duration::from_secs(4), "{stderr}");
    assert!(marked("no-worker").is_empty());
}

/// Starts an sshd of the test's own (so it can be killed) with the CI host and client keys.
fn own_sshd(s: &Sshd, dir: &Path, name: &str) -> (Child, u16) {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = dir.join(format!("sshd_config-{name}"));
    std::fs::write(
        &config,
        format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_ed25519\n\
             AuthorizedKeysFile {d}/client_ed25519.pub\nPidFile {own}/sshd-{name}.pid\n\
             StrictModes no\nUsePAM no\nPasswordAuthentication no\n\
             KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n\
             MaxStartups 200\nLogLevel ERROR\n",
            d = s.dir.display(),
            own = dir.display()
        ),
    )
    .unwrap();
    let child = Command::new("/usr/sbin/sshd")
        .arg("-D")
        .arg("-f")
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let until = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < until, "own sshd did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    (child, port)
}

fn kill_tree(child: &mut Child) {
    let pids = descendants(child.id());
    let _ = child.kill();
    for pid in pids {
        // SAFETY-free: the kill command, to keep the test free of unsafe code.
        let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
    }
    let _ = child.wait();
}

#[test]
fn a_host_lost_mid_run_costs_its_queued_items() {
    let Some(s) = sshd("a_host_lost_mid_run_costs_its_queued_items") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let known = own_known_hosts(&s, dir.path());
    let (mut stays, port_a) = own_sshd(&s, dir.path(), "stays");
    let (mut goes, port_b) = own_sshd(&s, dir.path(), "goes");
    let key = std::fs::read_to_string(s.dir.join("host_ed25519.pub")).unwrap();
    let key: Vec<&str> = key.split_whitespace().take(2).collect();
    let mut lines = std::fs::read_to_string(&known).unwrap();
    for port in [port_a, port_b] {
        lines.push_str(&format!("[127.0.0.1]:{port} {}\n", key.join(" ")));
    }
    std::fs::write(&known, lines).unwrap();
    let out = dir.path().join("out");
    let mut args: Vec<String> = vec![
        "run".into(),
        "--kind".into(),
        "sleep".into(),
        "--param".into(),
        "ms=20".into(),
        "--backend".into(),
        "remote".into(),
        "--limits".into(),
        "2".into(),
        "--items".into(),
        "100".into(),
        "--hosts".into(),
        format!("127.0.0.1:{port_a},127.0.0.1:{port_b}"),
        "--out".into(),
        out.display().to_string(),
    ];
    args.extend(remote_args(&s, &known));
    let run = spawn(&args, "lost");
    // Once host b runs a worker of the point (the check before the sweep started one too, but
    // before the baseline, which is on disk first), let it work a little, then take the whole
    // host away.
    let until = Instant::now() + Duration::from_secs(30);
    let baseline_written =
        || std::fs::read_to_string(out.join("results.csv")).is_ok_and(|t| t.lines().count() >= 2);
    while !baseline_written() {
        assert!(Instant::now() < until, "the baseline never ended");
        std::thread::sleep(Duration::from_millis(10));
    }
    loop {
        let workers = descendants(goes.id())
            .into_iter()
            .filter(|&p| cmdline(p).ends_with(" worker "))
            .count();
        if workers > 0 {
            break;
        }
        assert!(Instant::now() < until, "host b never ran a worker");
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(200));
    kill_tree(&mut goes);
    let (code, stdout, stderr) = finish(run);
    let leftovers = marked("lost");
    let remote_workers = descendants(stays.id());
    kill_tree(&mut stays);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("LOST"), "{stdout}");
    let points = points(&out);
    let p = points.iter().find(|p| p["backend"] == "remote").unwrap();
    assert_eq!(p["items"], 100, "every item is accounted for: {p}");
    let lost = p["errors"]["host-lost"].as_u64().unwrap_or(0);
    assert!(lost >= 1, "{p}");
    assert_eq!(p["ok"].as_u64().unwrap() + lost, 100);
    let hosts = p["hosts"].as_array().unwrap();
    assert!(hosts[0]["lost"].is_null());
    assert_eq!(hosts[0]["errors"]["host-lost"], Value::Null);
    assert!(hosts[1]["lost"]
        .as_str()
        .unwrap()
        .contains(&port_b.to_string()));
    assert_eq!(hosts[1]["errors"]["host-lost"].as_u64(), Some(lost));
    assert!(leftovers.is_empty(), "ssh left behind: {leftovers:?}");
    let live: Vec<String> = remote_workers.iter().map(|&p| cmdline(p)).collect();
    assert!(live.is_empty(), "remote workers left behind: {live:?}");
}

#[test]
fn remote_workers_retry_flaky_items_and_report_every_attempt() {
    let Some(s) = sshd("remote_workers_retry_flaky_items_and_report_every_attempt") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (args, out) = on_both_hosts(
        &s,
        dir.path(),
        &[
            "run",
            "--kind",
            "sleep",
            "--param",
            "ms=1",
            "--param",
            "flaky_rate=0.4",
            "--retries",
            "20",
            "--retry-backoff",
            "1ms",
            "--backend",
            "remote",
            "--limits",
            "2",
            "--items",
            "60",
        ],
    );
    let (code, _, stderr) = finish(spawn(&args, "retries"));
    assert_eq!(code, 0, "{stderr}");
    let points = points(&out);
    let p = points.iter().find(|p| p["backend"] == "remote").unwrap();
    assert_eq!(
        p["ok"], 60,
        "20 retries at 40% flakiness leave nothing failed (odds 0.4^21 per item): {p}"
    );
    assert!(p["retried"].as_u64().unwrap() > 5, "{p}");
    let failures = p["failures"].as_array().unwrap();
    assert!(
        failures.iter().all(|f| f["kind"] == "simulated"),
        "{failures:?}"
    );
    assert!(
        failures.iter().any(|f| f["attempt"] == 2),
        "a second attempt is listed: {failures:?}"
    );
    assert!(marked("retries").is_empty(), "ssh left behind");
}

#[test]
fn remote_flags_are_checked_without_sshd() {
    let out = tempfile::tempdir().unwrap();
    let run = |extra: &[&str]| {
        let mut cmd = Command::cargo_bin(BIN).unwrap();
        cmd.args([
            "run", "--kind", "noop", "--items", "5", "--limits", "1", "--out",
        ])
        .arg(out.path())
        .args(extra);
        let o = cmd.output().unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let (code, err) = run(&["--backend", "remote"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("the remote backend needs hosts"), "{err}");
    let (code, err) = run(&["--backend", "thread", "--hosts", "a"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--backend remote"), "{err}");
    let (code, err) = run(&["--backend", "remote", "--hosts=-oProxyCommand=x"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("may not start with '-'"), "{err}");
    let (code, err) = run(&["--backend", "remote", "--hosts-file", "/nonexistent/hosts"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("cannot read hosts file"), "{err}");
}

#[test]
fn an_open_loop_point_runs_on_remote_hosts() {
    let Some(s) = sshd("an_open_loop_point_runs_on_remote_hosts") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (args, out) = on_both_hosts(
        &s,
        dir.path(),
        &[
            "run",
            "--kind",
            "sleep",
            "--param",
            "ms=2",
            "--backend",
            "remote",
            "--rates",
            "50",
            "--duration",
            "2s",
            "--max-inflight",
            "4",
        ],
    );
    let (code, _, stderr) = finish(spawn(&args, "open-loop"));
    assert_eq!(code, 0, "{stderr}");
    let text = std::fs::read_to_string(out.join("results.json")).unwrap();
    let json: Value = serde_json::from_str(&text).unwrap();
    let p = &json["open_loop"][0];
    assert_eq!(p["backend"], "remote", "{p}");
    assert_eq!(p["throttle"], 4, "{p}");
    // Every arrival inside the 2 s is issued and answered.
    assert_eq!(p["items"], 100, "{p}");
    assert_eq!(p["ok"], 100, "{p}");
    let goodput = p["goodput_per_s"].as_f64().unwrap();
    assert!((40.0..60.0).contains(&goodput), "50/s offered: {p}");
    let (lat, svc) = (
        p["lat_p50_ms"].as_f64().unwrap(),
        p["svc_p50_ms"].as_f64().unwrap(),
    );
    // The latency from the intended start adds the ssh round trip to the worker's own time.
    assert!(svc >= 2.0 && lat >= svc, "{p}");
    let slots: Vec<u64> = p["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["slots"].as_u64().unwrap())
        .collect();
    assert_eq!(
        slots,
        [2, 2],
        "the 4 workers are spread over both hosts: {p}"
    );
    assert!(marked("open-loop").is_empty(), "ssh left behind");
}
