//! One module per subcommand: its arguments (with their `--help` text), then `run`.

pub mod export;
pub mod import;
pub mod query;
pub mod report;
