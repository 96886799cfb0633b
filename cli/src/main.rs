//! # integrations (command line)
//!
//! Log in to a SaaS account from a terminal, then use the stored credentials: the `integrations`
//! binary over the `integrations` library.
//!
//! ```sh
//! export ASANA_CLIENT_ID=... ASANA_CLIENT_SECRET=...
//! integrations login asana                      # OAuth in the browser, through a loopback listener
//! integrations whoami asana
//! integrations execute asana tasks list --params '{"project": "1201"}'
//! curl -H "Authorization: Bearer $(integrations token asana)" https://app.asana.com/api/1.0/users/me
//! integrations credentials list
//! integrations mcp asana --read-only             # MCP tools on stdio, for Claude Desktop or Cursor
//! integrations logout asana
//! integrations apps create acme                 # an application (tenant) of the hosted service
//! integrations serve                            # the hosted service, on 127.0.0.1:8080
//! ```
//!
//! Modules:
//! - [`args`]: the command line (clap), with the help texts, exit codes and environment.
//! - [`app`]: opening the credential store and building the `AuthManager` from the environment.
//! - [`commands`]: one function per subcommand.
//! - [`login`]: the OAuth login through a loopback redirect listener ([`loopback`]), with a
//!   [`spinner`] while waiting, and `--with-token`.
//! - [`error`]: one-line errors that say what to do, and their exit codes.
//! - [`output`]: human and `--json` output, time formatting.
//! - [`service`]: the hosted-execution service, `serve` and `apps`.

mod app;
mod args;
mod commands;
mod error;
mod login;
mod loopback;
mod output;
mod service;
mod spinner;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

use crate::args::{Cli, Command};
use crate::error::{CliError, ExitKind};
use crate::output::Output;

fn main() -> ExitCode {
    let raw: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let json = raw.iter().any(|a| a == "--json");
    let matches = match Cli::command().try_get_matches_from(&raw) {
        Ok(matches) => matches,
        Err(e) => return usage_error(e, json),
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => return usage_error(e, json),
    };
    let out = Output::new(cli.json);
    // The service logs its address and its requests; a command logs only errors by default, and
    // the warning that a credential store's file was open to other users (the user should know,
    // and may want to log in again).
    let serve = matches!(cli.command, Command::Serve(_));
    init_tracing(
        cli.verbose,
        if serve {
            INFO
        } else {
            "error,auth_core::local_files=warn"
        },
    );
    let store_from_flag =
        matches.value_source("store") == Some(clap::parser::ValueSource::CommandLine);
    let runtime = if serve {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    }
    .enable_all()
    .build();
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(e) => {
            let err = CliError::new(
                ExitKind::Other,
                format!("cannot start the async runtime: {e}"),
            );
            return out.error(&err);
        }
    };
    match runtime.block_on(commands::run(cli, store_from_flag, &out)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => out.error(&err),
    }
}

/// Prints clap's help, version or usage error; with `--json`, usage errors as JSON on stdout.
fn usage_error(e: clap::Error, json: bool) -> ExitCode {
    use clap::error::ErrorKind;
    let display_only = matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    );
    if json && !display_only {
        let message = summary(&e.to_string());
        return Output::new(true).error(&CliError::new(ExitKind::Usage, message));
    }
    // clap prints help and version on stdout (exit 0) and errors on stderr (exit 2).
    let _ = e.print();
    if display_only && e.kind() != ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(ExitKind::Usage.code())
    }
}

/// Clap's error text up to its usage section, without its `error: ` prefix, on one line: the
/// error with what it names on the lines below it (the missing arguments, a tip), but not the
/// usage and `--help` lines that follow.
fn summary(text: &str) -> String {
    text.lines()
        .take_while(|line| !line.starts_with("Usage:") && !line.starts_with("For more information"))
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
        .trim_start_matches("error: ")
        .to_string()
}

/// Info, but rmcp's warnings and errors only: at info it logs three lines for every MCP request,
/// one a dump of the client's parameters. `-vv` shows them.
const INFO: &str = "info,rmcp=warn";

/// `-v` info, `-vv` debug, `-vvv` trace, on stderr; `RUST_LOG` wins when set. Without either,
/// `quiet` (errors for commands, info for `serve`).
fn init_tracing(verbose: u8, quiet: &str) {
    use tracing_subscriber::EnvFilter;
    let level = match verbose {
        0 => quiet,
        1 => INFO,
        2 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(verbose >= 2)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_errors_keep_what_they_name_and_drop_the_usage() {
        let error = |args: &[&str]| {
            let e = Cli::command()
                .try_get_matches_from(args)
                .expect_err("a usage error");
            summary(&e.to_string())
        };
        assert_eq!(
            error(&["integrations", "whoami"]),
            "the following required arguments were not provided: <PROVIDER>"
        );
        assert_eq!(
            error(&["integrations", "execute", "asana", "tasks"]),
            "the following required arguments were not provided: <ACTION>"
        );
        assert_eq!(
            error(&["integrations", "frobnicate"]),
            "unrecognized subcommand 'frobnicate'"
        );
        assert_eq!(
            error(&["integrations", "providers", "--jsn"]),
            "unexpected argument '--jsn' found tip: a similar argument exists: '--json'"
        );
    }
}
