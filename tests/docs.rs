//! Every command the README and `docs/` show is run by the real binary, so the pages
//! cannot drift from the tool.
//!
//! A page shows a command in a ```` ```console ```` block, as a line `$ COMMAND` (a line
//! ending in `\` goes on on the next), then, optionally, `? N` (its exit status when that
//! is not 0) and what it prints: stdout and stderr merged, as a terminal shows them. The
//! printed lines are compared exactly, except that `[..]` in a line stands for any text
//! and a line `...` for any number of lines; a command shown without output is checked
//! for its exit status only. Each page's commands run in order, through `sh` (so `>`,
//! `|`, `~` and `&&` work as on the page), in a fresh folder holding `data/sample` and a
//! home of its own, after the README's set-up command has imported the sample into
//! `postbacks.duckdb`. A block a test cannot run (a server that runs until stopped, cron
//! lines, systemd) is marked on the line before its fence with
//! `<!-- docs: not run: WHY -->`; a `postback-archive` command in any other block that is
//! not marked so is refused, and the marked ones must stay few.

mod common;

use std::path::Path;

/// The pages whose commands are run.
const PAGES: [&str; 3] = ["README.md", "docs/guide.md", "docs/reference.md"];

/// The most blocks of commands the pages may mark as not run, all pages together.
const MOST_NOT_RUN_BLOCKS: usize = 8;

/// The programs a shown command may start with besides `postback-archive` (which may
/// also come after them, as in `mkdir -p backups && postback-archive backup …`).
const HELPERS: [&str; 3] = ["ls", "mkdir", "echo"];

/// One command a page shows, with what it must do.
#[derive(Debug, PartialEq)]
struct Example {
    line: usize,
    command: String,
    status: i32,
    output: Vec<String>,
}

/// What a page shows: the commands to run, the lines of the commands marked not run, and
/// how many blocks hold those.
#[derive(Debug, Default)]
struct Page {
    examples: Vec<Example>,
    not_run: Vec<usize>,
    not_run_blocks: usize,
}

/// The reason of a `<!-- docs: not run: WHY -->` line, if it is one.
fn not_run_mark(line: &str) -> Option<&str> {
    let reason = line
        .trim()
        .strip_prefix("<!-- docs: not run:")?
        .strip_suffix("-->")?
        .trim();
    (!reason.is_empty()).then_some(reason)
}

/// Whether a line of a block other than `console` runs postback-archive: the name as a
/// command word (at the start, after a space, `/`, `=` or `;`), followed by an argument.
fn invokes_the_tool(line: &str) -> bool {
    line.match_indices("postback-archive ").any(|(at, _)| {
        let before = line[..at].chars().last();
        let after = line[at + "postback-archive ".len()..].chars().next();
        matches!(before, None | Some(' ' | '/' | '=' | ';' | '\t'))
            && matches!(after, Some('-' | 'a'..='z'))
    })
}

/// Whether a shown command is one the test knows how to run.
fn known_command(command: &str) -> bool {
    let first = command.split_whitespace().next().unwrap_or_default();
    first == "postback-archive" || HELPERS.contains(&first)
}

/// Parse the fenced blocks of a page; an error names the file's line.
fn parse(file: &str, text: &str) -> Result<Page, String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut page = Page::default();
    let mut at = 0;
    while at < lines.len() {
        let Some(language) = lines[at].strip_prefix("```") else {
            at += 1;
            continue;
        };
        let fence = at;
        let end = (fence + 1..lines.len())
            .find(|&i| lines[i].starts_with("```"))
            .ok_or_else(|| format!("{file}:{}: a fenced block that never ends", fence + 1))?;
        let body = &lines[fence + 1..end];
        let marked = fence
            .checked_sub(1)
            .and_then(|before| not_run_mark(lines[before]))
            .is_some();
        let not_run_before = page.not_run.len();
        match language.trim() {
            "console" => parse_console(file, fence + 1, body, marked, &mut page)?,
            "text" => {
                if let Some(i) = body
                    .iter()
                    .position(|l| l.starts_with("$ postback-archive"))
                {
                    return Err(format!(
                        "{file}:{}: a command in a ```text block: show it in a ```console block so that it runs",
                        fence + 2 + i
                    ));
                }
            }
            _ => {
                for (i, line) in body.iter().enumerate() {
                    if invokes_the_tool(line) {
                        if !marked {
                            return Err(format!(
                                "{file}:{}: a postback-archive command in a ```{} block: show it in a ```console block (`$ postback-archive …`) so that it runs, or mark the block `<!-- docs: not run: WHY -->`",
                                fence + 2 + i,
                                language.trim()
                            ));
                        }
                        page.not_run.push(fence + 2 + i);
                    }
                }
            }
        }
        if page.not_run.len() > not_run_before {
            page.not_run_blocks += 1;
        }
        at = end + 1;
    }
    Ok(page)
}

/// The commands of a ```console block whose body starts after line `fence` (1-based).
fn parse_console(
    file: &str,
    fence: usize,
    body: &[&str],
    marked: bool,
    page: &mut Page,
) -> Result<(), String> {
    let mut i = 0;
    while i < body.len() {
        let line_number = fence + 1 + i;
        let Some(first) = body[i].strip_prefix("$ ") else {
            return Err(format!(
                "{file}:{line_number}: a ```console block must start with a `$ ` command: `{}`",
                body[i]
            ));
        };
        let mut command = first.to_string();
        while command.ends_with('\\') && i + 1 < body.len() {
            command.pop();
            i += 1;
            command.push('\n');
            command.push_str(body[i]);
        }
        i += 1;
        if marked {
            page.not_run.push(line_number);
            while i < body.len() && !body[i].starts_with("$ ") {
                i += 1;
            }
            continue;
        }
        if !known_command(&command) {
            return Err(format!(
                "{file}:{line_number}: an unknown command `{command}`: the test runs postback-archive and {HELPERS:?}; mark a block it cannot run `<!-- docs: not run: WHY -->`"
            ));
        }
        let mut status = 0;
        if let Some(code) = body.get(i).and_then(|l| l.strip_prefix("? ")) {
            status = code.trim().parse().map_err(|_| {
                format!("{file}:{}: `? {code}` is not an exit status", fence + 1 + i)
            })?;
            i += 1;
        }
        let mut output = Vec::new();
        while i < body.len() && !body[i].starts_with("$ ") {
            output.push(expand_tabs(body[i]).trim_end().to_string());
            i += 1;
        }
        page.examples.push(Example {
            line: line_number,
            command,
            status,
            output,
        });
    }
    Ok(())
}

/// A line as a terminal shows it: tabs (which `ls -C` aligns with, and `--format tsv`
/// separates with) expanded to stops every 8 columns, in what is shown and printed alike.
fn expand_tabs(line: &str) -> String {
    let mut shown = String::new();
    for c in line.chars() {
        if c == '\t' {
            let width = shown.chars().count();
            shown.extend(std::iter::repeat_n(' ', 8 - width % 8));
        } else {
            shown.push(c);
        }
    }
    shown
}

/// Whether one printed line matches a shown one, where `[..]` stands for any text.
fn line_matches(shown: &str, printed: &str) -> bool {
    let parts: Vec<&str> = shown.split("[..]").collect();
    let [first, middle @ .., last] = parts.as_slice() else {
        return shown == printed;
    };
    if printed.len() < first.len() + last.len()
        || !printed.starts_with(first)
        || !printed.ends_with(last)
    {
        return false;
    }
    let mut rest = &printed[first.len()..printed.len() - last.len()];
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

/// Whether the printed lines match the shown ones, where a line `...` stands for any
/// number of lines.
fn lines_match(shown: &[String], printed: &[&str]) -> bool {
    match shown.split_first() {
        None => printed.is_empty(),
        Some((first, rest)) if first == "..." => {
            (0..=printed.len()).any(|skip| lines_match(rest, &printed[skip..]))
        }
        Some((first, rest)) => printed
            .split_first()
            .is_some_and(|(line, more)| line_matches(first, line) && lines_match(rest, more)),
    }
}

fn read_page(page: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(page))
        .unwrap_or_else(|error| panic!("{page}: {error}"))
}

fn parsed(page: &str) -> Page {
    parse(page, &read_page(page)).unwrap_or_else(|error| panic!("{error}"))
}

/// The README's two set-up commands: `cargo run --release -- ARGS` and the test command.
fn set_up_commands() -> (String, String) {
    let readme = read_page("README.md");
    let section = &readme[readme
        .find("## Set up")
        .expect("the README has `## Set up`")..];
    let block = &section[section.find("```sh\n").expect("a ```sh block") + 6..];
    let commands: Vec<&str> = block[..block.find("```").unwrap()]
        .lines()
        .map(|line| line.split(" #").next().unwrap_or_default().trim())
        .collect();
    assert_eq!(
        commands.len(),
        2,
        "the set-up block holds two commands: {commands:?}"
    );
    (commands[0].to_string(), commands[1].to_string())
}

/// A fresh folder as a reader of the pages has it after the set-up command: the sample,
/// `postbacks.duckdb` holding it, a home, and the binary first on `PATH`.
struct Folder {
    work: common::Workdir,
    path_variable: std::ffi::OsString,
}

impl Folder {
    fn new() -> Self {
        let work = common::Workdir::new();
        work.copy_from_repo("data/sample", "data/sample");
        let bin = work.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::create_dir_all(work.path().join("home")).unwrap();
        std::os::unix::fs::symlink(
            assert_cmd::cargo::cargo_bin("postback-archive"),
            bin.join("postback-archive"),
        )
        .unwrap();
        let mut paths = vec![bin];
        paths.extend(std::env::split_paths(
            &std::env::var_os("PATH").unwrap_or_default(),
        ));
        let folder = Folder {
            path_variable: std::env::join_paths(paths).unwrap(),
            work,
        };
        let (run, _) = set_up_commands();
        let arguments = run
            .strip_prefix("cargo run --release -- ")
            .expect("the set-up command is `cargo run --release -- ARGS`");
        let (status, printed) = folder.run(&format!("postback-archive {arguments}"));
        assert_eq!(status, 0, "the README's set-up command: {printed}");
        folder
    }

    /// Run a shown command through `sh`, stderr merged into stdout: its status and output.
    fn run(&self, command: &str) -> (i32, String) {
        let mut sh = std::process::Command::new("sh");
        sh.arg("-c")
            .arg(format!("exec 2>&1\n{command}"))
            .current_dir(self.work.path())
            .env("PATH", &self.path_variable)
            .env("HOME", self.work.path().join("home"))
            .env("LC_ALL", "C")
            .env("COLUMNS", "80")
            .env("POSTBACK_ARCHIVE_SETTLE_SECONDS", "0");
        for variable in ["DB", "ALLOW_DIRS", "REPORTS", "LAKE", "TOKEN"] {
            sh.env_remove(format!("POSTBACK_ARCHIVE_{variable}"));
        }
        let output = sh.output().unwrap();
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
        )
    }
}

/// Run every command of `page` in order; panic listing each one that did not do what
/// the page shows, by file and line.
fn run_page(page: &str) {
    let examples = parsed(page).examples;
    let folder = Folder::new();
    let mut failures = Vec::new();
    for example in &examples {
        let (status, printed) = folder.run(&example.command);
        let expanded: Vec<String> = printed.lines().map(expand_tabs).collect();
        let lines: Vec<&str> = expanded.iter().map(|line| line.trim_end()).collect();
        let shown_output = !example.output.is_empty();
        if status != example.status || (shown_output && !lines_match(&example.output, &lines)) {
            failures.push(format!(
                "{page}:{}: `{}` exited {status} (the page says {}) and printed:\n{}\n",
                example.line,
                example.command,
                example.status,
                lines.join("\n")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} commands of {page} do not do what it shows:\n\n{}",
        failures.len(),
        examples.len(),
        failures.join("\n")
    );
}

#[test]
fn the_readmes_commands_do_what_it_shows() {
    run_page("README.md");
}

#[test]
fn the_guides_commands_do_what_it_shows() {
    run_page("docs/guide.md");
}

#[test]
fn the_references_commands_do_what_it_shows() {
    run_page("docs/reference.md");
}

#[test]
fn every_page_shows_commands_and_few_are_not_run() {
    let mut not_run_blocks = 0;
    for page in PAGES {
        let parsed = parsed(page);
        assert!(!parsed.examples.is_empty(), "{page}: no command found");
        eprintln!(
            "{page}: {} commands run; {} not run, in {} blocks",
            parsed.examples.len(),
            parsed.not_run.len(),
            parsed.not_run_blocks
        );
        not_run_blocks += parsed.not_run_blocks;
    }
    assert!(
        not_run_blocks <= MOST_NOT_RUN_BLOCKS,
        "{not_run_blocks} blocks of commands are marked not run; at most {MOST_NOT_RUN_BLOCKS} may be"
    );
}

#[test]
fn the_readmes_set_up_commands_are_what_ci_runs() {
    let (run, test) = set_up_commands();
    assert_eq!(
        run,
        "cargo run --release -- import --allow-bad-input data/sample"
    );
    assert_eq!(test, "cargo test --release");
    let ci =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/run")).unwrap();
    let last = ci
        .lines()
        .rev()
        .map(str::trim)
        .find(|line| !line.is_empty() && !line.starts_with('#'));
    assert_eq!(
        last,
        Some(test.as_str()),
        ".ci/run ends with the README's test command"
    );
}

#[test]
fn the_parser_reads_commands_statuses_and_output() {
    let text = "Intro\n\n```console\n$ postback-archive import \\\n    data/sample\n? 2\nimport run [..]\n$ ls -C out\n...\n```\n\n<!-- docs: not run: a server -->\n```console\n$ postback-archive serve --archive-dir x\n```\n\n<!-- docs: not run: cron -->\n```cron\n15 2 * * *  postback-archive --quiet import /var/postbacks\n```\n";
    let page = parse("x.md", text).unwrap();
    assert_eq!(
        page.examples,
        [
            Example {
                line: 4,
                command: "postback-archive import \n    data/sample".to_string(),
                status: 2,
                output: vec!["import run [..]".to_string()],
            },
            Example {
                line: 8,
                command: "ls -C out".to_string(),
                status: 0,
                output: vec!["...".to_string()],
            },
        ]
    );
    assert_eq!(page.not_run, [14, 19]);
    assert_eq!(page.not_run_blocks, 2);
    let status = parse("x.md", "```console\n$ postback-archive verify\n? 1\n```\n").unwrap();
    assert_eq!(status.examples[0].status, 1);
    assert!(status.examples[0].output.is_empty());
}

#[test]
fn the_parser_refuses_unmarked_unknown_and_misplaced_commands() {
    for (text, error) in [
        (
            "```sh\npostback-archive import /var/postbacks\n```\n",
            "x.md:2: a postback-archive command in a ```sh block",
        ),
        (
            "```cron\n0 4 * * * cd /srv && postback-archive --quiet verify\n```\n",
            "x.md:2: a postback-archive command in a ```cron block",
        ),
        (
            "```console\n$ rm -rf data\n```\n",
            "x.md:2: an unknown command `rm -rf data`",
        ),
        (
            "```text\n$ postback-archive verify\n```\n",
            "x.md:2: a command in a ```text block",
        ),
        (
            "```console\nverify\n```\n",
            "x.md:2: a ```console block must start",
        ),
        (
            "```console\n$ ls\n",
            "x.md:1: a fenced block that never ends",
        ),
    ] {
        let found = parse("x.md", text).unwrap_err();
        assert!(found.starts_with(error), "{found}");
    }
    // Output that names the tool is not a command.
    let page = parse(
        "x.md",
        "```text\npostback-archive: error: import it (postback-archive --db NEW.duckdb import DIR...)\n```\n```ini\nDescription=postback-archive: receive\n```\n",
    )
    .unwrap();
    assert!(page.examples.is_empty() && page.not_run.is_empty());
}

#[test]
fn shown_output_matches_with_its_placeholders_only() {
    let shown = |lines: &[&str]| lines.iter().map(|l| l.to_string()).collect::<Vec<_>>();
    assert!(lines_match(&shown(&["a [..] c"]), &["a b c"]));
    assert!(lines_match(&shown(&["a [..] c [..]"]), &["a b c d"]));
    assert!(!lines_match(&shown(&["a [..] c"]), &["a b d"]));
    assert!(!lines_match(&shown(&["ab[..]ba"]), &["aba"]));
    assert!(lines_match(
        &shown(&["x", "...", "z"]),
        &["x", "y", "y", "z"]
    ));
    assert!(lines_match(&shown(&["x", "...", "z"]), &["x", "z"]));
    assert!(!lines_match(&shown(&["x", "...", "z"]), &["x", "y"]));
    assert!(!lines_match(&shown(&["x"]), &["x", "y"]));
    assert!(!lines_match(&shown(&["x", "y"]), &["x"]));
    assert_eq!(expand_tabs("ab\tc\t\td"), "ab      c               d");
}

/// GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The anchors of a page's headings (outside fenced blocks).
fn anchors(text: &str) -> Vec<String> {
    let mut fenced = false;
    let mut found = Vec::new();
    for line in text.lines() {
        if line.starts_with("```") {
            fenced = !fenced;
        } else if !fenced && line.starts_with('#') {
            found.push(anchor(line.trim_start_matches('#')));
        }
    }
    found
}

/// The targets of a page's Markdown links, `[text](target)`.
fn link_targets(text: &str) -> Vec<&str> {
    text.match_indices("](")
        .filter_map(|(at, _)| {
            let rest = &text[at + 2..];
            rest.find(')').map(|end| &rest[..end])
        })
        .filter(|target| !target.contains("://"))
        .collect()
}

#[test]
fn every_link_of_the_pages_lands_on_a_file_and_heading() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut broken = Vec::new();
    let mut links = 0;
    for page in PAGES {
        let text = read_page(page);
        for target in link_targets(&text) {
            links += 1;
            let (file, fragment) = target.split_once('#').unwrap_or((target, ""));
            let file = if file.is_empty() {
                root.join(page)
            } else {
                root.join(page).parent().unwrap().join(file)
            };
            let Ok(linked) = std::fs::read_to_string(&file) else {
                broken.push(format!("{page}: {target}: no such file"));
                continue;
            };
            if !fragment.is_empty() && !anchors(&linked).iter().any(|a| a == fragment) {
                broken.push(format!("{page}: {target}: no such heading"));
            }
        }
    }
    assert!(links > 50, "only {links} links found");
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}

#[test]
fn anchors_are_githubs() {
    assert_eq!(
        anchor(" Re-runs: what a nightly run finds, and what needs --rescan"),
        "re-runs-what-a-nightly-run-finds-and-what-needs---rescan"
    );
    assert_eq!(anchor(" The day's reports"), "the-days-reports");
    assert_eq!(anchor(" --version"), "--version");
    assert_eq!(
        link_targets("see [a](guide.md#x) and [b](https://e.com) and [c](#y)"),
        ["guide.md#x", "#y"]
    );
}

/// Issue 22: the README is an overview that links into `docs/`, at most 300 lines.
#[test]
fn the_readme_stays_an_overview() {
    let lines = read_page("README.md").lines().count();
    assert!(
        lines <= 300,
        "the README has {lines} lines; move detail into docs/"
    );
}
