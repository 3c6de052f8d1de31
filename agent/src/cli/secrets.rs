//! Secrets come from a file, an environment variable or a prompt, never from an argument.

use std::io::IsTerminal;
use std::path::Path;

use zeroize::Zeroizing;

use super::{CliError, Exit};
use crate::terminal::Secret;

/// Environment variable holding the operator secret.
pub const SECRET_ENV: &str = "POSAGENT_SECRET";

/// Reads a secret file; one trailing newline (LF or CRLF) is not part of the secret.
pub fn read_secret_file(path: &Path, what: &str) -> Result<Zeroizing<Vec<u8>>, CliError> {
    let mut bytes = Zeroizing::new(
        crate::input::read_regular(path, crate::input::MAX_SECRET_FILE, &format!("{what} file"))
            .map_err(|e| CliError::new(Exit::DataErr, e.to_string()))?,
    );
    if bytes.ends_with(b"\n") {
        bytes.pop();
        if bytes.ends_with(b"\r") {
            bytes.pop();
        }
    }
    if bytes.is_empty() {
        return Err(CliError::new(
            Exit::DataErr,
            format!("{what} file {} is empty", path.display()),
        ));
    }
    Ok(bytes)
}

/// A secret from `file`, else `env`, else a prompt on the terminal.
pub fn load(file: Option<&Path>, env: &str, what: &str, flag: &str) -> Result<Zeroizing<Vec<u8>>, CliError> {
    if let Some(f) = file {
        return read_secret_file(f, what);
    }
    if let Some(v) = std::env::var_os(env).filter(|v| !v.is_empty()) {
        return Ok(Zeroizing::new(v.into_encoded_bytes()));
    }
    if std::io::stdin().is_terminal() {
        let answer = rpassword::prompt_password(format!("{what}: "))
            .map_err(|e| CliError::new(Exit::Failure, format!("cannot read the {what}: {e}")))?;
        if !answer.is_empty() {
            return Ok(Zeroizing::new(answer.into_bytes()));
        }
    }
    Err(CliError::new(Exit::Usage, format!("no {what} given")).help(format!(
        "pass {flag} FILE or set {env}; it is never taken from the command line"
    )))
}

/// The operator secret for a terminal.
pub fn operator_secret(file: Option<&Path>) -> Result<Secret, CliError> {
    let bytes = load(file, SECRET_ENV, "operator secret", "--secret-file")?;
    Ok(Secret::new(bytes.to_vec()))
}
