//! `posagent manpage [--dir DIR]`: the manual, made from the command-line definition so it
//! never drifts: the main page with exit codes, environment, files and examples, and one
//! page per command (`posagent-rebind(1)` …) that the main page refers to.

use std::io::Write;
use std::path::Path;

use super::{CliError, Exit};

/// What the main page says besides the options, in roff.
const EXTRA: &str = r#".SH "EXIT STATUS"
.TP
.B 0
success
.TP
.B 1
something else failed (e.g. the provider refused a submission)
.TP
.B 2
the command line is wrong, or several terminals answer and none was chosen
.TP
.B 65
an order, plan, profile, archive or other file is invalid (the message names file, line and field)
.TP
.B 69
a terminal or the provider is unavailable
.TP
.B 77
refused: wrong operator secret, locked terminal, a terminal that cannot prove itself, an untrusted provider, or an order the provider did not authorise
.TP
.B 130
stopped with Ctrl\-C at a safe point; \fBposagent jobs resume\fR carries on
.SH ENVIRONMENT
.TP
.B POSAGENT_HOME
data and configuration directory (as \fB\-\-home\fR)
.TP
.B POSAGENT_SECRET
the operator secret (else \fB\-\-secret\-file\fR, else a prompt)
.TP
.B POSAGENT_BACKUP_PASSWORD
the backup password (else \fB\-\-password\-file\fR, else a prompt)
.TP
.B POSAGENT_AGENT_KEY_FILE
the file holding the agent's signing key for the provider
.TP
.B POSAGENT_PORTS
extra places to look for terminals: globs separated by ":" (";" on Windows, where a name such as COM5 is taken as it is)
.TP
.B POSAGENT_TECHNICIAN
who works, when config.toml does not say
.TP
.B POSAGENT_LANG
the language of messages, en or zh\-CN (as \fB\-\-lang\fR)
.TP
.BR LC_ALL ", " LC_MESSAGES ", " LANG
the system locale: zh_CN, zh_SG and zh\-Hans mean Chinese, anything else English
.SH FILES
.TP
.I config.toml
settings (\fBposagent config path\fR says where; \fBposagent config init\fR writes one)
.TP
.I profiles/NAME.toml
overrides of the built\-in provider profiles, beside config.toml
.TP
.I posagent.db
the journal, the outbox, the audit trail and the pulled orders (0600)
.TP
.I backups/
the encrypted backups jobs take (0600)
.SH EXAMPLES
.nf
posagent order check order.toml
posagent orders pull
posagent rebind card \-\-order WO\-2026\-0001
posagent migrate \-\-from /dev/ttyUSB0 \-\-to /dev/ttyUSB1 \-\-order WO\-2026\-0002
posagent jobs resume JOB
posagent sync
.fi
"#;

fn write_err(e: std::io::Error) -> CliError {
    CliError::new(Exit::Failure, crate::tr!("manpage-failed", reason = e.to_string()))
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
