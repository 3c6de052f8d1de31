//! Which language to speak, and `--help` in it: the command descriptions come from the
//! catalogues (`cmd-…` keys), as do the section headings clap lets us name.

use std::ffi::OsString;

use clap::{Arg, ArgAction, Command};

use super::{CliError, Exit};
use crate::i18n::{self, Lang};
use crate::tr;

/// The language for this run: `--lang`, then `POSAGENT_LANG`, then the locale variables. A
/// value that names no language is left to the argument parser, which refuses it.
pub fn choose(args: &[OsString]) -> Lang {
    let flag = args.iter().enumerate().find_map(|(i, a)| {
        let a = a.to_str()?;
        match a.strip_prefix("--lang") {
            Some("") => args.get(i + 1)?.to_str().map(str::to_string),
            Some(v) => v.strip_prefix('=').map(str::to_string),
            None => None,
        }
    });
    flag.or_else(|| std::env::var(LANG_ENV).ok())
        .and_then(|v| Lang::parse(&v))
        .unwrap_or_else(|| Lang::from_env_locale(|name| std::env::var(name).ok()))
}

/// The variable that chooses the language when `--lang` is not given.
pub const LANG_ENV: &str = "POSAGENT_LANG";

/// Parses `--lang` / `POSAGENT_LANG` for clap.
pub fn parse(value: &str) -> Result<Lang, String> {
    Lang::parse(value).ok_or_else(|| tr!("lang-unknown", value = value))
}

/// The command tree with descriptions and headings in the current language.
pub fn localised(cmd: Command) -> Command {
    let cmd = describe(cmd, "cmd");
    if i18n::lang() == Lang::En {
        return cmd;
    }
    let version = Arg::new("version")
        .short('V')
        .long("version")
        .action(ArgAction::Version)
        .help(tr!("help-flag-version"));
    let mut cmd = headings(cmd.disable_version_flag(true).arg(version));
    // Clap adds its `help` command when the tree is built; built now, it can be described.
    cmd.build();
    help_commands(cmd)
}

/// Each command's `help` subcommand described in the current language.
fn help_commands(cmd: Command) -> Command {
    let names: Vec<String> = cmd.get_subcommands().map(|s| s.get_name().to_string()).collect();
    names.into_iter().fold(cmd, |cmd, name| {
        if name == "help" {
            cmd.mut_subcommand(name, |h| {
                h.about(tr!("help-command-help"))
                    .mut_args(|a| a.help(tr!("help-command-help-arg")))
            })
        } else {
            cmd.mut_subcommand(name, help_commands)
        }
    })
}

/// Clap's own headings, flags and notes in the current language (`Usage`, `Options`,
/// `Commands`, `-h`, `[env: …]`, `[default: …]`, `[possible values: …]`); parse errors are
/// [`usage_error`]'s.
fn headings(cmd: Command) -> Command {
    let help = Arg::new("help")
        .short('h')
        .long("help")
        .action(ArgAction::Help)
        .help(tr!("help-flag-help"));
    let cmd = cmd
        .disable_help_flag(true)
        .arg(help)
        .subcommand_help_heading(tr!("help-heading-commands"))
        .help_template(format!(
            "{{about-with-newline}}\n{} {{usage}}\n\n{{all-args}}{{after-help}}",
            tr!("help-heading-usage")
        ))
        .mut_args(|a| {
            let heading = if a.is_positional() {
                tr!("help-heading-arguments")
            } else {
                tr!("help-heading-options")
            };
            notes(a).help_heading(heading)
        });
    let names: Vec<String> = cmd.get_subcommands().map(|s| s.get_name().to_string()).collect();
    names
        .into_iter()
        .fold(cmd, |cmd, name| cmd.mut_subcommand(name, headings))
}

/// An option's `[env: …]`, `[default: …]` and `[possible values: …]` in the current
/// language, after its description; values as code, since they are typed as they are.
fn notes(a: Arg) -> Arg {
    let help = a.get_help().map(ToString::to_string).unwrap_or_default();
    let code = |v: &str| format!("`{v}`");
    let mut notes = Vec::new();
    if let Some(var) = a.get_env().filter(|_| !a.is_hide_env_set()) {
        notes.push(tr!("help-note-env", var = code(&var.to_string_lossy())));
    }
    let defaults: Vec<String> = a
        .get_default_values()
        .iter()
        .map(|v| code(&v.to_string_lossy()))
        .collect();
    if !defaults.is_empty() && !a.is_hide_default_value_set() && a.get_action().takes_values() {
        notes.push(tr!("help-note-default", value = defaults.join(", ")));
    }
    let values: Vec<String> = a
        .get_possible_values()
        .iter()
        .filter(|v| !v.is_hide_set())
        .map(|v| code(v.get_name()))
        .collect();
    if !values.is_empty() && !a.is_hide_possible_values_set() && a.get_action().takes_values() {
        notes.push(tr!("help-note-values", values = values.join(", ")));
    }
    if notes.is_empty() {
        return a;
    }
    a.help(format!("{help} {}", notes.join(" ")).trim_start().to_string())
        .hide_env(true)
        .hide_default_value(true)
        .hide_possible_values(true)
}

/// Replaces each command's description with the catalogue's `cmd-<path>` message, and each
/// option's with [`arg_help`]'s, where the catalogue has one.
fn describe(mut cmd: Command, key: &str) -> Command {
    if let Some(text) = lookup(key) {
        cmd = cmd.about(text);
    }
    let ids: Vec<String> = cmd.get_arguments().map(|a| a.get_id().to_string()).collect();
    for id in ids {
        if let Some(text) = arg_help(key, &id) {
            cmd = cmd.mut_arg(&id, |a| a.help(text));
        }
    }
    let names: Vec<String> = cmd.get_subcommands().map(|s| s.get_name().to_string()).collect();
    names.into_iter().fold(cmd, |cmd, name| {
        let sub = format!("{key}-{name}");
        cmd.mut_subcommand(name, |s| describe(s, &sub))
    })
}

/// An option's description: the command's own (`cmd-<path>--<id>`), else the one every
/// command with that option shares (`arg-<id>`).
fn arg_help(command: &str, id: &str) -> Option<String> {
    lookup(&format!("{command}--{id}")).or_else(|| lookup(&format!("arg-{}", id.replace('_', "-"))))
}

/// A command-line mistake in the current language, for the kinds of mistake people make;
/// `None` for help and version output, for English (clap's own words, which scripts may
/// know), and for the rare kinds left to clap.
pub fn usage_error(e: &clap::Error) -> Option<CliError> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if i18n::lang() == Lang::En {
        return None;
    }
    let context = |kind: ContextKind| match e.get(kind) {
        Some(ContextValue::String(s)) => s.clone(),
        Some(ContextValue::Strings(v)) => v.join(", "),
        Some(other) => other.to_string(),
        None => String::new(),
    };
    let message = match e.kind() {
        ErrorKind::UnknownArgument => tr!("usage-unknown-argument", arg = context(ContextKind::InvalidArg)),
        ErrorKind::InvalidSubcommand => tr!("usage-unknown-command", name = context(ContextKind::InvalidSubcommand)),
        ErrorKind::InvalidValue => tr!(
            "usage-invalid-value",
            value = context(ContextKind::InvalidValue),
            arg = context(ContextKind::InvalidArg),
            valid = match e.get(ContextKind::ValidValue) {
                Some(ContextValue::Strings(v)) => v.iter().map(|v| format!("`{v}`")).collect::<Vec<_>>().join(", "),
                _ => context(ContextKind::ValidValue),
            }
        ),
        ErrorKind::ValueValidation => tr!(
            "usage-value-refused",
            value = context(ContextKind::InvalidValue),
            arg = context(ContextKind::InvalidArg),
            reason = std::error::Error::source(e).map(|s| s.to_string()).unwrap_or_default()
        ),
        ErrorKind::MissingRequiredArgument => tr!("usage-missing", args = context(ContextKind::InvalidArg)),
        ErrorKind::MissingSubcommand => tr!("usage-missing-command"),
        ErrorKind::ArgumentConflict => tr!(
            "usage-conflict",
            arg = context(ContextKind::InvalidArg),
            other = context(ContextKind::PriorArg)
        ),
        _ => return None,
    };
    Some(CliError::new(Exit::Usage, message).help(tr!("help-usage")))
}

fn lookup(key: &str) -> Option<String> {
    i18n::message_in(i18n::lang(), key, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `missing` finds lacking at each command of the tree, its key beside it.
    fn undescribed(missing: &dyn Fn(&Command, &str) -> Vec<String>) -> Vec<String> {
        fn walk(cmd: &Command, key: &str, missing: &dyn Fn(&Command, &str) -> Vec<String>, out: &mut Vec<String>) {
            out.extend(missing(cmd, key));
            for s in cmd.get_subcommands() {
                walk(s, &format!("{key}-{}", s.get_name()), missing, out);
            }
        }
        let mut out = Vec::new();
        walk(
            &<crate::cli::Cli as clap::CommandFactory>::command(),
            "cmd",
            missing,
            &mut out,
        );
        out
    }

    /// Every command and subcommand has its description in the catalogues.
    #[test]
    fn every_command_is_described() {
        let missing = undescribed(&|cmd, key| {
            let lacking = cmd.get_name() != "help" && i18n::message_in(Lang::En, key, None).is_none();
            let about = cmd.get_about().map(|a| a.to_string()).unwrap_or_default();
            lacking.then(|| format!("{key} = {about}")).into_iter().collect()
        });
        assert!(
            missing.is_empty(),
            "commands without a catalogue entry:\n{}",
            missing.join("\n")
        );
    }

    /// Every option with a description has one in the catalogues.
    #[test]
    fn every_option_is_described() {
        let missing = undescribed(&|cmd, key| {
            cmd.get_arguments()
                .filter(|a| a.get_help().is_some() && !a.is_global_set())
                .filter(|a| arg_help(key, a.get_id().as_str()).is_none())
                .map(|a| format!("{key}--{}", a.get_id()))
                .collect()
        });
        assert!(
            missing.is_empty(),
            "options without a catalogue entry:\n{}",
            missing.join("\n")
        );
    }

    #[test]
    fn the_flag_wins_over_the_environment() {
        let args = |v: &[&str]| v.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(choose(&args(&["posagent", "--lang", "zh-CN", "jobs"])), Lang::ZhCn);
        assert_eq!(choose(&args(&["posagent", "--lang=zh_CN", "jobs"])), Lang::ZhCn);
        assert!(parse("klingon").is_err());
    }
}
