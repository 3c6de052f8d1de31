//! `posagent manpage [--dir DIR]`: the manual, made from the command-line definition so it
//! never drifts: the main page with exit codes, environment, files and examples, and one
//! page per command (`posagent-rebind(1)` …) that the main page refers to.

use std::io::Write;
use std::path::Path;

use super::{CliError, Exit};

/// What the main page says besides the options, in roff: exit status, environment,
/// files and examples.
const EXTRA: &str = include_str!("manpage-extra.roff");

fn write_err(e: std::io::Error) -> CliError {
    CliError::new(
        Exit::Failure,
        crate::tr!("manpage-failed", reason = crate::input::describe_io(&e)),
    )
}

/// The main page: options and commands from clap, then [`EXTRA`] and the command pages.
fn main_page(out: &mut dyn Write) -> std::io::Result<()> {
    let cmd = super::command();
    clap_mangen::Man::new(cmd.clone()).render(out)?;
    out.write_all(EXTRA.as_bytes())?;
    let pages: Vec<String> = cmd
        .get_subcommands()
        .map(|s| format!(".BR posagent\\-{} (1)", s.get_name().replace('-', "\\-")))
        .collect();
    writeln!(out, ".SH \"SEE ALSO\"\n{}", pages.join(",\n"))
}

/// Prints the main page, or writes every page into `dir`.
pub fn run(dir: Option<&Path>) -> Result<(), CliError> {
    let Some(dir) = dir else {
        return main_page(&mut std::io::stdout().lock()).map_err(write_err);
    };
    std::fs::create_dir_all(dir).map_err(write_err)?;
    let mut main = std::fs::File::create(dir.join("posagent.1")).map_err(write_err)?;
    main_page(&mut main).map_err(write_err)?;
    let cmd = super::command().name("posagent");
    for sub in cmd.get_subcommands() {
        let name = format!("posagent-{}", sub.get_name());
        let page = sub
            .clone()
            .name(name.clone())
            .bin_name(format!("posagent {}", sub.get_name()));
        let mut f = std::fs::File::create(dir.join(format!("{name}.1"))).map_err(write_err)?;
        clap_mangen::Man::new(page).render(&mut f).map_err(write_err)?;
        writeln!(f, ".SH \"SEE ALSO\"\n.BR posagent (1)").map_err(write_err)?;
    }
    Ok(())
}
