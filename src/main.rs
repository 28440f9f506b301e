//! The `postback-archive` binary: parse the command line, run the command, map the outcome to an exit status.

use std::process::ExitCode;

fn main() -> ExitCode {
    postback_archive::cli::main()
}
