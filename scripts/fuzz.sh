#!/usr/bin/env bash
# Long fuzzing run of every input parser (see tests/fuzz_inputs.rs) and of the HTTP client's
# answer reader (src/workload/http/wire_tests.rs): CASES cases per property,
# release build. Prints the cases executed and the time each property took; any failure stops
# the run and proptest prints the minimal failing input (commit it as a regression test).
set -euo pipefail
cd "$(dirname "$0")/.."
cases=${CASES:-2000000}
cargo test -q --release --test fuzz_inputs --no-run
for property in arbitrary_text_never_panics_the_spec_parser spec_shaped_text_is_accepted_bounded_or_refused \
  limits_are_sorted_bounded_and_nonempty_or_refused param_flags_never_panic durations_and_sizes_never_panic; do
  start=$(date +%s.%N)
  PROPTEST_CASES=$cases cargo test -q --release --test fuzz_inputs "$property" >/dev/null
  printf '%-52s %10d cases %8.1f s\n' "$property" "$cases" "$(echo "$(date +%s.%N) - $start" | bc)"
done
cargo test -q --release --lib --no-run
for property in any_bytes_from_a_server_end_in_an_answer_or_an_error well_formed_answers_survive_any_split; do
  start=$(date +%s.%N)
  PROPTEST_CASES=$cases cargo test -q --release --lib "workload::http::wire::tests::$property" >/dev/null
  printf '%-52s %10d cases %8.1f s\n' "$property" "$cases" "$(echo "$(date +%s.%N) - $start" | bc)"
done
