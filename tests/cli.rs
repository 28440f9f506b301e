//! The command line as a user meets it before the first import (issue 22): `--version`,
//! the examples that end every `--help`, shell completions and manual pages, on the
//! real binary.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use clap::{CommandFactory, Parser};
use common::{Workdir, required_tool, stderr, stdout};
use postback_archive::cli::Cli;

/// Every subcommand as its words (`["report", "run"]`), the tool itself first (`[]`).
fn subcommands() -> Vec<Vec<String>> {
    fn walk(command: &clap::Command, path: Vec<String>, all: &mut Vec<Vec<String>>) {
        all.push(path.clone());
        for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
            if sub.get_name() == "help" {
                continue;
            }
            let mut words = path.clone();
            words.push(sub.get_name().to_string());
            walk(sub, words, all);
        }
    }
    let mut all = Vec::new();
    walk(&Cli::command(), Vec::new(), &mut all);
    all
}

#[test]
fn version_names_the_tool_duckdb_the_schema_and_the_storage_it_writes() {
    let work = Workdir::new();
    let duckdb = duckdb::Connection::open_in_memory()
        .unwrap()
        .version()
        .unwrap();
    for flag in ["--version", "-V"] {
        let output = work.run(&[flag]);
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        assert_eq!(
            stdout(&output),
            format!(
                "postback-archive {}\nDuckDB {duckdb}, embedded\narchive schema version 6\n\
                 storage version v1.5.0: DuckDB 1.5 and later open the archives it writes\n",
                env!("CARGO_PKG_VERSION")
            )
        );
    }
    assert_eq!(duckdb, "v2.0.1");
    assert!(!work.db().exists(), "--version opened no archive");
}

/// The words of `line` as a shell splits them (quotes, `$(...)` left as one word).
fn shell_words(line: &str) -> Vec<String> {
    let output = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "set -f; for word in {line}; do printf '%s\\0' \"$word\"; done"
        ))
        .output()
        .unwrap();
    assert!(output.status.success(), "{line}");
    String::from_utf8(output.stdout)
        .unwrap()
        .split('\0')
        .filter(|word| !word.is_empty())
        .map(String::from)
        .collect()
}

/// Issue 22: `import` and `serve` showed no examples. Every `--help` now ends with two
/// or three, each a whole line that parses as the command line it claims to be.
#[test]
fn every_help_ends_with_two_or_three_examples_that_parse() {
    let work = Workdir::new();
    for words in subcommands() {
        let mut args: Vec<&str> = words.iter().map(String::as_str).collect();
        args.push("--help");
        let output = work.run(&args);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{args:?}: {}",
            stderr(&output)
        );
        let help = stdout(&output);
        let (_, examples) = help
            .rsplit_once("\nExamples:\n")
            .unwrap_or_else(|| panic!("{words:?} --help has no examples:\n{help}"));
        // A line ending in `\` goes on in the next.
        let joined = examples.replace("\\\n", " ");
        let commands: Vec<&str> = joined
            .lines()
            .filter(|line| line.starts_with("  "))
            .map(str::trim)
            .filter(|line| line.contains("postback-archive"))
            .collect();
        assert!(
            (2..=3).contains(&commands.len()),
            "{words:?}: {} examples:\n{examples}",
            commands.len()
        );
        for example in commands {
            let example = example.trim_end_matches(" (cron)");
            // The command itself, without where its output goes.
            let example = example.split(" > ").next().unwrap();
            let mut argv = shell_words(example);
            // An environment variable before the command, as a shell takes it.
            while argv.first().is_some_and(|word| word.contains('=')) {
                argv.remove(0);
            }
            assert_eq!(argv[0], "postback-archive", "{example}");
            // The words the example names must be the subcommand's own.
            assert!(
                words.iter().all(|word| argv.contains(word)),
                "{words:?}: {example}"
            );
            if let Err(error) = Cli::try_parse_from(&argv) {
                panic!("{words:?}: `{example}` does not parse: {error}");
            }
        }
    }
}

/// A bash with the completion script of the real binary loaded, asked what completes
/// the words of `line` (the last one being typed).
fn bash_completes(script: &Path, line: &str) -> Vec<String> {
    let words: Vec<&str> = line.split(' ').collect();
    let program = format!(
        "set -u; source {script}; COMP_WORDS=({words}); COMP_CWORD={cword}; COMP_LINE='{line}'; \
         COMP_POINT={point}; _postback__archive postback-archive '{current}' '{previous}'; \
         printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script = script.display(),
        words = words
            .iter()
            .map(|w| format!("'{w}'"))
            .collect::<Vec<_>>()
            .join(" "),
        cword = words.len() - 1,
        point = line.len(),
        current = words[words.len() - 1],
        previous = words[words.len().saturating_sub(2)],
    );
    let output = Command::new("bash")
        .arg("--norc")
        .arg("-c")
        .arg(program)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    stdout(&output).lines().map(String::from).collect()
}

#[test]
fn completions_source_in_bash_and_complete_subcommands_and_options() {
    let work = Workdir::new();
    let output = work.run(&["completions", "bash"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let script = work.write("postback-archive.bash", &output.stdout);
    let check = Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", stderr(&check));

    let commands = bash_completes(&script, "postback-archive ");
    for command in [
        "import",
        "compact",
        "export",
        "query",
        "report",
        "serve",
        "completions",
        "man",
    ] {
        assert!(
            commands.contains(&command.to_string()),
            "{command}: {commands:?}"
        );
    }
    assert_eq!(
        bash_completes(&script, "postback-archive report p"),
        ["period"]
    );
    let options = bash_completes(&script, "postback-archive report period --");
    for option in ["--from", "--to", "--tz", "--out-dir", "--formats"] {
        assert!(
            options.contains(&option.to_string()),
            "{option}: {options:?}"
        );
    }
    assert_eq!(
        bash_completes(&script, "postback-archive completions f"),
        ["fish"]
    );
}

#[test]
fn completions_for_every_shell_name_the_subcommands() {
    let work = Workdir::new();
    for (shell, marker) in [
        ("bash", "complete -F _postback__archive"),
        ("zsh", "#compdef postback-archive"),
        ("fish", "complete -c postback-archive"),
        ("powershell", "Register-ArgumentCompleter"),
        (
            "elvish",
            "set edit:completion:arg-completer[postback-archive]",
        ),
    ] {
        let output = work.run(&["completions", shell]);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{shell}: {}",
            stderr(&output)
        );
        let script = stdout(&output);
        assert!(script.contains(marker), "{shell}");
        for command in ["import", "report", "period", "serve", "compact"] {
            assert!(script.contains(command), "{shell} lacks {command}");
        }
    }
    let output = work.run(&["completions", "tcsh"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("invalid value 'tcsh' for '<SHELL>'"),
        "{}",
        stderr(&output)
    );
}

/// `groff` on `PATH`, which renders the pages (`.ci/run` installs Debian's groff-base).
fn groff() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("groff"))
            .find(|candidate| candidate.is_file())
    });
    required_tool(found, "groff", "apt-get install groff-base")
}

#[test]
fn man_writes_a_page_for_the_tool_and_each_subcommand_that_groff_renders() {
    let work = Workdir::new();
    let output = work.run(&["man", "pages/man1"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stdout(&output), "wrote 15 manual pages to pages/man1\n");
    let dir = work.path().join("pages/man1");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    let mut expected: Vec<String> = subcommands()
        .iter()
        .map(|words| {
            std::iter::once("postback-archive")
                .chain(words.iter().map(String::as_str))
                .collect::<Vec<_>>()
                .join("-")
                + ".1"
        })
        .collect();
    expected.sort();
    assert_eq!(names, expected);

    let import = std::fs::read_to_string(dir.join("postback-archive-import.1")).unwrap();
    assert!(
        import.starts_with(".ie \\n(.g .ds Aq \\(aq\n.el .ds Aq '\n.TH postback-archive-import 1")
    );
    assert!(import.contains("\n.SH NAME\npostback\\-archive\\-import"));
    assert!(import.contains("\\-\\-max\\-file\\-size"));
    assert!(
        import.contains("postback\\-archive import \\-\\-rescan \\-\\-threads 4 /var/postbacks")
    );

    // Run again, the pages are replaced whole; --quiet says nothing.
    let output = work.run(&["--quiet", "man", "pages/man1"]);
    assert_eq!(
        (output.status.code(), stdout(&output)),
        (Some(0), String::new())
    );

    let Some(groff) = groff() else { return };
    for name in &names {
        let rendered = Command::new(&groff)
            .args(["-k", "-man", "-Tutf8", "-ww", "-rLL=100n", "-P-cbou"])
            .arg(dir.join(name))
            .output()
            .unwrap();
        assert!(rendered.status.success(), "{name}");
        assert_eq!(stderr(&rendered), "", "{name} renders with warnings");
        let text = String::from_utf8_lossy(&rendered.stdout);
        assert!(text.contains("NAME"), "{name}");
        assert!(text.contains("Examples:"), "{name}");
    }
}
