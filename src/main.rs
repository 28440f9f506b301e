//! The `postback-archive` binary: parse the command line, run the command, map the outcome to an exit status.

use std::process::ExitCode;

/// mimalloc serves every allocation of the process, DuckDB's included (the `override`
/// feature replaces `malloc` and `free`). An import allocates a few small strings per
/// field on the reader threads and frees them on the writer thread, and DuckDB takes
/// and returns 256 KiB blocks all the time: glibc's allocator spent about 12% of an
/// import's CPU on this (`malloc`, `free`, consolidation, page faults of blocks it
/// mapped and unmapped), mimalloc about a third of that. Built with `no_thp`: asking
/// for transparent huge pages made the kernel zero 2 MiB at a time for memory the
/// import barely touched, 10% more CPU and 20 MB more memory (`BENCHMARKS.md`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    postback_archive::cli::main()
}
