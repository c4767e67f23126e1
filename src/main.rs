//! The `throttlebench` binary: the library's command line, whose exit code is 0 ok, 1
//! regression/SLO failure, 2 bad input or error, 130 interrupted.

fn main() -> std::process::ExitCode {
    throttlebench::command_line()
}
