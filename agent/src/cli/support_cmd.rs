//! `posagent support-bundle --out FILE.zip`: what a support desk asks for, in one file
//! (`support::bundle` writes it).

use std::path::Path;

use super::{CliError, Output};
use crate::config::Paths;
use crate::tr;

pub fn run(paths: &Paths, file: &Path, force: bool, out: &Output) -> Result<(), CliError> {
    let names = crate::support::bundle(paths, file, force)?;
    out.print(
        &tr!(
            "support-written",
            file = file.display().to_string(),
            count = names.len()
        ),
        &serde_json::json!({ "file": file, "entries": names }),
    );
    Ok(())
}
