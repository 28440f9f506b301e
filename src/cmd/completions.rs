//! `postback-archive completions`: print the script that teaches a shell to complete
//! the tool's subcommands and options (bash, zsh, fish, PowerShell, elvish).

use std::io::Write;

use anyhow::Context;
use clap::Args;
use clap_complete::Shell;

use super::Outcome;

const INSTALL: &str = "\
Install it where your shell looks for completions, for example:
  bash:  postback-archive completions bash > ~/.local/share/bash-completion/completions/postback-archive
  zsh:   postback-archive completions zsh > ~/.zfunc/_postback-archive
         (with fpath+=~/.zfunc before compinit in ~/.zshrc)
  fish:  postback-archive completions fish > ~/.config/fish/completions/postback-archive.fish

Examples:
  postback-archive completions bash > ~/.local/share/bash-completion/completions/postback-archive
  postback-archive completions fish > ~/.config/fish/completions/postback-archive.fish";

/// Print the shell completion script for SHELL to standard output.
#[derive(Debug, Args)]
#[command(after_help = INSTALL)]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish, powershell or elvish.
    #[arg(value_name = "SHELL", value_enum)]
    shell: Shell,
}

/// The tool's name, which has a hyphen: clap_complete 4.6's bash script spells the
/// state of a subcommand one way in its loop (`postback__archive__subcmd__report`) and
/// another in its case arms (`postback__subcmd__archive__subcmd__report`), so nothing
/// past the first word completed (clap-rs/clap issue 6421, not fixed in a release yet).
/// The arms are respelt as the loop spells them; `tests/cli.rs` completes in bash.
const BASH_ARM_MISSPELT: &str = "postback__subcmd__archive";
const BASH_ARM: &str = "postback__archive";

/// Write the script for `args.shell`, completing the command line `command` parses.
pub fn run(args: CompletionsArgs, mut command: clap::Command) -> anyhow::Result<Outcome> {
    let mut generated = Vec::new();
    clap_complete::generate(args.shell, &mut command, "postback-archive", &mut generated);
    let script = match args.shell {
        Shell::Bash => String::from_utf8_lossy(&generated)
            .replace(BASH_ARM_MISSPELT, BASH_ARM)
            .into_bytes(),
        _ => generated,
    };
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(&script).and_then(|()| stdout.flush()) {
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(Outcome::Success),
        result => {
            result.context("cannot write the completion script to standard output")?;
            Ok(Outcome::Success)
        }
    }
}
