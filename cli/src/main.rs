//! The `logpond` binary: the command line of [`logpond_cli::run`].

fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(logpond_cli::run(std::env::args().skip(1)))
}
