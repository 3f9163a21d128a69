//! The `eddy` binary, built inside the test package so integration tests run the current code.

fn main() -> std::process::ExitCode {
    eddy_server::cli::main()
}
