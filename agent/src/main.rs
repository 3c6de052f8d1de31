//! The `posagent` binary: everything lives in the library; this only dispatches.

fn main() -> std::process::ExitCode {
    posagent::cli::main()
}
