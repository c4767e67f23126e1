//! Input hardening: every parser that sees user text (spec files, --limits, --param, durations,
//! sizes) returns an error for nonsense instead of panicking, and never accepts a value that
//! would make the run allocate without bound.
//!
//! Each property runs 256 cases in `cargo test`; a long fuzzing run raises that:
//! `PROPTEST_CASES=200000 cargo test --release --test fuzz_inputs`.

use proptest::prelude::*;
use throttlebench::spec::{self, Overrides, MAX_ITEMS, MAX_THROTTLE};
use throttlebench::workload::params::parse_size;
use throttlebench::workload::Registry;

/// TOML-ish text built from the pieces a spec is made of, so the fuzzer reaches the validation
/// code behind the TOML parser and not only its error path.
fn spec_like() -> impl Strategy<Value = String> {
    let key = prop::sample::select(vec![
        "kind",
        "ms",
        "min_ms",
        "max_ms",
        "distribution",
        "seed",
        "rounds",
        "bytes",
        "size",
        "mode",
        "fsync",
        "limits",
        "items",
        "duration",
        "repeat",
        "warmup",
        "timeout",
        "backends",
        "retries",
        "retry_backoff",
        "name",
        "fail_rate",
        "sigma",
        "x",
    ]);
    let value = prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|x| format!("{x:?}")),
        "[a-z0-9 .,_-]{0,12}".prop_map(|s| format!("{s:?}")),
        prop::collection::vec(any::<i32>(), 0..5).prop_map(|v| format!("{v:?}")),
        Just("true".to_string()),
        Just("\"1..64\"".to_string()),
        Just("[\"thread\", \"async\"]".to_string()),
        Just("\"sleep\"".to_string()),
        Just("\"uniform\"".to_string()),
        Just("\"10s\"".to_string()),
    ];
    let line = (key, value).prop_map(|(k, v)| format!("{k} = {v}"));
    let table = prop::sample::select(vec!["[workload]", "[sweep]", "", "[other]"]);
    prop::collection::vec((table, prop::collection::vec(line, 0..6)), 0..4).prop_map(|tables| {
        tables
            .into_iter()
            .map(|(t, lines)| format!("{t}\n{}\n", lines.join("\n")))
            .collect::<String>()
    })
}

fn parse(text: &str) -> Result<spec::RunSpec, throttlebench::SpecError> {
    spec::parse(
        text,
        "fuzz.toml",
        None,
        &Overrides::default(),
        &Registry::builtin(),
    )
}

fn assert_bounded(spec: &spec::RunSpec) {
    assert!(!spec.sweep.limits.is_empty());
    assert!(spec
        .sweep
        .limits
        .iter()
        .all(|&n| (1..=MAX_THROTTLE).contains(&n)));
    assert!(spec.sweep.limits.windows(2).all(|w| w[0] < w[1]));
    if let throttlebench::Budget::Items(n) = spec.sweep.budget {
        assert!((1..=MAX_ITEMS).contains(&n));
    }
    // Whatever was accepted must also build.
    Registry::builtin()
        .build(&spec.workload)
        .expect("an accepted spec builds");
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics_the_spec_parser(text in any::<String>()) {
        let _ = parse(&text);
    }

    #[test]
    fn spec_shaped_text_is_accepted_bounded_or_refused(text in spec_like()) {
        if let Ok(spec) = parse(&text) {
            assert_bounded(&spec);
        }
    }

    #[test]
    fn limits_are_sorted_bounded_and_nonempty_or_refused(text in "[0-9.,= -]{0,24}|\\PC{0,16}") {
        if let Ok(limits) = spec::parse_limits(&text) {
            prop_assert!(!limits.is_empty());
            prop_assert!(limits.iter().all(|&n| (1..=MAX_THROTTLE).contains(&n)));
            prop_assert!(limits.len() <= 64, "a range never explodes into thousands of points: {}", limits.len());
        }
    }

    #[test]
    fn param_flags_never_panic(name in "[a-z_]{0,10}|\\PC{0,6}", value in "\\PC{0,20}", kind in prop::sample::select(vec!["sleep", "cpu", "disk", "noop"])) {
        let overrides = Overrides { kind: Some(kind.to_string()), params: vec![format!("{name}={value}")], ..Overrides::default() };
        if let Ok(spec) = spec::from_flags(&overrides, &Registry::builtin()) {
            assert_bounded(&spec);
        }
    }

    #[test]
    fn durations_and_sizes_never_panic(text in "[0-9]{0,25}[a-zA-Z ]{0,6}|\\PC{0,12}") {
        if let Ok(d) = spec::parse_duration(&text, "duration") {
            prop_assert!(d.as_secs() <= 24 * 3600 && !d.is_zero());
        }
        let _ = parse_size(&text);
    }
}
