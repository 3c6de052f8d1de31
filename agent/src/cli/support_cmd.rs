//! `posagent support-bundle --out FILE.zip`: what a support desk asks for, in one file.
//! Everything in it is what posagent shows people already: numbers masked, no secret, no
//! key, no password (the configuration holds paths to keys, never keys).

use std::io::Write;
use std::path::Path;

use zip::write::SimpleFileOptions;

use super::{CliError, Exit, Output};
use crate::config::{Config, Paths};
use crate::store::Store;
use crate::tr;

fn fail(file: &Path) -> impl Fn(String) -> CliError + '_ {
    move |e| {
        CliError::new(
            Exit::Failure,
            tr!("cannot-write", file = file.display().to_string(), reason = e),
        )
    }
}

pub fn run(paths: &Paths, file: &Path, force: bool, out: &Output) -> Result<(), CliError> {
    if file.exists() && !force {
        return Err(
            CliError::new(Exit::DataErr, tr!("file-exists", file = file.display().to_string()))
                .code("file_exists")
                .help(tr!("help-file-exists")),
        );
    }
    let fail = fail(file);
    let store = Store::open(&paths.data)?;
    let config = Config::load(paths)?;
    let ports: Vec<String> = serialport::available_ports()
        .map(|ps| {
            ps.into_iter()
                .map(|p| format!("{} {:?}", p.port_name, p.port_type))
                .collect()
        })
        .unwrap_or_default();
    let jobs = store.jobs()?;
    let mut entries: Vec<(String, Vec<u8>)> = vec![
        (
            "versions.json".into(),
            serde_json::to_vec_pretty(&serde_json::json!({
                "posagent": env!("CARGO_PKG_VERSION"),
                "os": std::env::consts::OS,
                "arch": std::env::consts::ARCH,
                "schema": store.schema_version()?,
                "made_at": crate::store::now(),
            }))
            .map_err(|e| fail(e.to_string()))?,
        ),
        (
            "config.toml".into(),
            toml::to_string(&config).map_err(|e| fail(e.to_string()))?.into_bytes(),
        ),
        (
            "jobs.json".into(),
            serde_json::to_vec_pretty(&jobs).map_err(|e| fail(e.to_string()))?,
        ),
        (
            "journal.json".into(),
            serde_json::to_vec_pretty(
                &jobs
                    .iter()
                    .map(|j| Ok((j.id.clone(), store.journal_of(&j.id)?)))
                    .collect::<Result<Vec<_>, crate::store::StoreError>>()?,
            )
            .map_err(|e| fail(e.to_string()))?,
        ),
        (
            "queue.json".into(),
            serde_json::to_vec_pretty(&store.submissions()?).map_err(|e| fail(e.to_string()))?,
        ),
        (
            "audit.json".into(),
            serde_json::to_vec_pretty(&store.verify_audit()?).map_err(|e| fail(e.to_string()))?,
        ),
        ("devices.txt".into(), ports.join("\n").into_bytes()),
    ];
    let logs = paths.data.join(super::logging::LOG_DIR);
    if let Ok(dir) = std::fs::read_dir(&logs) {
        let mut names: Vec<_> = dir.filter_map(Result::ok).map(|e| e.path()).collect();
        names.sort();
        for p in names {
            let bytes =
                crate::input::read_regular(&p, super::logging::MAX_LOG_BYTES * 2, &crate::tr!("what-log-file"))?;
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            entries.push((format!("logs/{name}"), bytes));
        }
    }
    let tmp = file.with_extension("partial");
    let written = (|| {
        let mut zip = zip::ZipWriter::new(crate::private::create(&tmp).map_err(|e| e.to_string())?);
        for (name, bytes) in &entries {
            zip.start_file(name.as_str(), SimpleFileOptions::default())
                .map_err(|e| e.to_string())?;
            zip.write_all(bytes).map_err(|e| e.to_string())?;
        }
        zip.finish().map_err(|e| e.to_string())?;
        std::fs::rename(&tmp, file).map_err(|e| e.to_string())
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(fail(e));
    }
    let names: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
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
