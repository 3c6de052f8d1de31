//! Secrets come from a file, an environment variable or a prompt, never from an argument;
//! every command asks for them in one order: the operator secret, then the backup password.

use std::io::IsTerminal;
use std::path::Path;

use zeroize::Zeroizing;

use crate::tr;

use super::{CliError, Exit};
use crate::backup;
use crate::terminal::Secret;

/// Environment variable holding the operator secret.
pub const SECRET_ENV: &str = "POSAGENT_SECRET";
/// Environment variable holding the backup password.
pub const PASSWORD_ENV: &str = "POSAGENT_BACKUP_PASSWORD";

/// Asks on the terminal without echo; `None` when there is no terminal or no answer.
fn prompt(label: &str) -> Result<Option<Zeroizing<String>>, CliError> {
    if !std::io::stdin().is_terminal() {
        return Ok(None);
    }
    let answer = Zeroizing::new(
        rpassword::prompt_password(tr!("secret-prompt", what = label)).map_err(|e| {
            CliError::new(
                Exit::Failure,
                tr!(
                    "secret-prompt-failed",
                    what = label,
                    reason = crate::input::describe_io(&e)
                ),
            )
        })?,
    );
    Ok((!answer.is_empty()).then_some(answer))
}

fn none_given(what: &str, env: &str, flag: &str) -> CliError {
    CliError::new(Exit::Usage, tr!("secret-missing", what = what))
        .code("secret_missing")
        .help(tr!("help-secret-missing", flag = flag, env = env))
}

/// A secret from `file`, else `env`, else a prompt on the terminal.
fn load(file: Option<&Path>, env: &str, what: &str, flag: &str) -> Result<Zeroizing<Vec<u8>>, CliError> {
    if let Some(f) = file {
        return Ok(crate::input::read_secret(f, what)?);
    }
    if let Some(v) = std::env::var_os(env).filter(|v| !v.is_empty()) {
        return Ok(Zeroizing::new(v.into_encoded_bytes()));
    }
    match prompt(what)? {
        Some(answer) => Ok(Zeroizing::new(answer.as_bytes().to_vec())),
        None => Err(none_given(what, env, flag)),
    }
}

/// The operator secret for a terminal.
pub fn operator_secret(file: Option<&Path>) -> Result<Secret, CliError> {
    let bytes = load(file, SECRET_ENV, &tr!("what-operator-secret"), "--secret-file")?;
    Ok(Secret::new(bytes.to_vec()))
}

/// What the backup password is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordUse {
    /// It will protect a new backup: the rule applies, and a prompt asks twice.
    New,
    /// It opens an existing backup.
    Existing,
}

/// The backup password from `--password-file`, `POSAGENT_BACKUP_PASSWORD` or a prompt.
pub fn backup_password(file: Option<&Path>, purpose: PasswordUse) -> Result<Zeroizing<Vec<u8>>, CliError> {
    let what = tr!("what-backup-password");
    let pw = if file.is_some() || std::env::var_os(PASSWORD_ENV).is_some_and(|v| !v.is_empty()) {
        load(file, PASSWORD_ENV, &what, "--password-file")?
    } else if purpose == PasswordUse::New {
        let first = prompt(&tr!("what-new-backup-password"))?
            .ok_or_else(|| none_given(&what, PASSWORD_ENV, "--password-file"))?;
        backup::check_password(first.as_bytes())?;
        let again = prompt(&tr!("what-repeat-backup-password"))?.unwrap_or_default();
        if *first != *again {
            return Err(CliError::new(Exit::DataErr, tr!("passwords-differ"))
                .code("passwords_differ")
                .help(tr!("help-passwords-differ")));
        }
        Zeroizing::new(first.as_bytes().to_vec())
    } else {
        load(None, PASSWORD_ENV, &what, "--password-file")?
    };
    if purpose == PasswordUse::New {
        backup::check_password(&pw)?;
    }
    Ok(pw)
}

/// The operator secret, then the backup password: the one order every command asks in,
/// so that a technician typing them never sends the password as the secret.
pub fn secret_then_password(
    secret_file: Option<&Path>,
    password_file: Option<&Path>,
    purpose: PasswordUse,
) -> Result<(Secret, Zeroizing<Vec<u8>>), CliError> {
    let secret = operator_secret(secret_file)?;
    let pw = backup_password(password_file, purpose)?;
    Ok((secret, pw))
}
