//! The spec from files and flags: what parses, what is refused and where.

use super::*;

fn parse_text(text: &str) -> Result<RunSpec, SpecError> {
    parse(
        text,
        "t.toml",
        Some("t".into()),
        &Overrides::default(),
        &Registry::builtin(),
    )
}

#[test]
fn a_full_spec_parses() {
    let spec = parse_text(
        "name = \"demo\"\n[workload]\nkind = \"sleep\"\nms = 20\n[sweep]\nbackends = [\"thread\"]\nlimits = \"1..16\"\nitems = 40\nrepeat = 3\ntimeout = \"2s\"\n",
    )
    .unwrap();
    assert_eq!(spec.name, "demo");
    assert_eq!(spec.sweep.limits, vec![1, 2, 4, 8, 16]);
    assert_eq!(spec.sweep.budget, Budget::Items(40));
    assert_eq!(spec.sweep.repeat, 3);
    assert_eq!(spec.sweep.timeout, Some(Duration::from_secs(2)));
    assert_eq!(spec.workload.params["ms"], serde_json::json!(20));
}

#[test]
fn malformed_toml_names_line_and_column() {
    let err = parse_text("[workload]\nkind = \"sleep\"\nms = = 3\n")
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("t.toml:3:"), "{err}");
    assert!(!err.contains('\n'), "{err}");
}

#[test]
fn unknown_kind_and_parameter_point_at_their_line() {
    let err = parse_text("[workload]\nkind = \"slep\"\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("t.toml:2:8") && err.contains("known kinds"),
        "{err}"
    );
    let err = parse_text("[workload]\nkind = \"sleep\"\nmsec = 3\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("t.toml:3:8") && err.contains("accepted: distribution"),
        "{err}"
    );
}

#[test]
fn throttle_zero_and_empty_limits_are_refused() {
    let err = parse_text("[workload]\nkind = \"noop\"\n[sweep]\nlimits = [1, 0]\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("t.toml:4:") && err.contains("throttle 0"),
        "{err}"
    );
    assert!(parse_limits("").is_err());
    assert!(parse_limits("0").is_err());
    assert!(parse_limits("x")
        .unwrap_err()
        .to_string()
        .contains("not a number"));
    assert!(parse_limits("1..100000")
        .unwrap_err()
        .to_string()
        .contains("maximum"));
}

#[test]
fn limit_ranges_double_and_include_the_end() {
    assert_eq!(parse_limits("1..64").unwrap(), vec![1, 2, 4, 8, 16, 32, 64]);
    assert_eq!(parse_limits("1..50").unwrap(), vec![1, 2, 4, 8, 16, 32, 50]);
    assert_eq!(parse_limits("3..3").unwrap(), vec![3]);
    assert_eq!(parse_limits("8,1,4,4").unwrap(), vec![1, 4, 8]);
    assert!(parse_limits("8..1").is_err());
}

#[test]
fn an_slo_comes_from_the_file_or_the_flag() {
    let spec = parse_text("[workload]\nkind = \"noop\"\n[sweep]\nslo = \"p99=200ms\"\n").unwrap();
    assert_eq!(spec.sweep.slo.unwrap().to_string(), "p99=200ms");
    let err = parse_text("[workload]\nkind = \"noop\"\n[sweep]\nslo = \"p99=soon\"\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("t.toml:4:7") && err.contains("p99=200ms"),
        "{err}"
    );
    let o = Overrides {
        kind: Some("noop".into()),
        slo: Some("errors=1%".into()),
        ..Overrides::default()
    };
    let spec = from_flags(&o, &Registry::builtin()).unwrap();
    assert_eq!(spec.sweep.slo.unwrap().to_string(), "errors=1%");
}

#[test]
fn flags_override_the_file() {
    let o = Overrides {
        params: vec!["ms=5".into()],
        limits: Some("2,4".into()),
        items: Some(7),
        ..Overrides::default()
    };
    let spec = parse(
        "[workload]\nkind = \"sleep\"\nms = 20\n",
        "t.toml",
        None,
        &o,
        &Registry::builtin(),
    )
    .unwrap();
    assert_eq!(spec.workload.params["ms"], serde_json::json!(5.0));
    assert_eq!(spec.sweep.limits, vec![2, 4]);
    assert_eq!(spec.sweep.budget, Budget::Items(7));
}

#[test]
fn repeated_line_flags_add_up_and_replace_the_files_list() {
    let server = crate::server::Server::start(
        "127.0.0.1:0".parse().unwrap(),
        crate::server::ServerConfig::default(),
        None,
    )
    .unwrap();
    let o = Overrides {
        params: vec![
            "header=Accept-Encoding: gzip, deflate".into(),
            "method=POST".into(),
            "header=X-Id:7".into(),
        ],
        ..Overrides::default()
    };
    let file = format!(
        "[workload]\nkind = \"http\"\nurl = \"{}\"\nheader = [\"From-File: 1\"]\n",
        server.url()
    );
    let spec = parse(&file, "t.toml", None, &o, &Registry::builtin()).unwrap();
    assert_eq!(
        spec.workload.params["header"],
        serde_json::json!(["Accept-Encoding: gzip, deflate", "X-Id:7"])
    );
}

#[test]
fn flag_values_are_checked() {
    let reg = Registry::builtin();
    let bad = |o: Overrides| from_flags(&o, &reg).unwrap_err().to_string();
    let base = Overrides {
        kind: Some("sleep".into()),
        ..Overrides::default()
    };
    assert!(bad(Overrides {
        items: Some(0),
        ..base.clone()
    })
    .contains("at least 1"));
    assert!(bad(Overrides {
        params: vec!["ms=abc".into()],
        ..base.clone()
    })
    .contains("'ms'"));
    assert!(bad(Overrides {
        params: vec!["nope=1".into()],
        ..base.clone()
    })
    .contains("accepted"));
    assert!(bad(Overrides {
        duration: Some("0s".into()),
        ..base.clone()
    })
    .contains("longer than zero"));
    assert!(bad(Overrides {
        backends: Some("fibers".into()),
        ..base.clone()
    })
    .contains("known backends"));
    assert!(bad(Overrides {
        kind: Some("nope".into()),
        ..Overrides::default()
    })
    .contains("known kinds"));
    assert!(bad(Overrides {
        items: Some(1_000_000_000_000_000_000),
        ..base
    })
    .contains("maximum"));
}
