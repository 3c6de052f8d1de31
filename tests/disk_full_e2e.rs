//! A full disk under the data directory is named as such, whatever little space is left:
//! at 0, 8 and 24 KiB free, `backup`, `sync` and `migrate` say "the disk is full" (never
//! SQLite's "disk I/O error" or an OS error number) and leave nothing half-done. Each run
//! gets a copy of a prepared data directory on a small tmpfs of its own (a private mount
//! namespace, `unshare -Urm`), filled to leave that much.

mod common;

use std::ffi::OsString;
use std::path::Path;
use std::process::Output;

use common::connect;
use common::jobs::*;
use common::sync::{Provider, fill_outbox};

/// Free space left on the data directory's disk, in KiB.
const FREE_KIB: [u32; 3] = [0, 8, 24];

/// An argument starting with this names a file in the data directory on the small disk.
const IN_HOME: &str = "@home/";

/// Runs posagent `args` with a copy of the data directory `prepared` on a 16 MiB tmpfs
/// filled to leave `free_kib`. `None` when this machine cannot make mount namespaces.
fn on_a_full_disk(prepared: &Path, free_kib: u32, args: &[OsString]) -> Option<Output> {
    let probe = std::process::Command::new("unshare").args(["-Urm", "true"]).output();
    if !probe.is_ok_and(|o| o.status.success()) {
        eprintln!("SKIPPED: this machine cannot create a mount namespace (unshare -Urm)");
        return None;
    }
    let mount = tempfile::tempdir().unwrap();
    let script = r#"
        set -e
        mount -t tmpfs -o size=16m tmpfs "$HOME_DIR"
        cp -a "$PREPARED"/. "$HOME_DIR"/
        cat /dev/zero > "$HOME_DIR/filler" 2>/dev/null || true
        if [ "$FREE_KIB" -gt 0 ]; then truncate -s -"$FREE_KIB"K "$HOME_DIR/filler"; fi
        POSAGENT_HOME="$HOME_DIR" exec "$0" "$@"
    "#;
    Some(
        std::process::Command::new("unshare")
            .args(["-Urm", "sh", "-c", script])
            .arg(assert_cmd::cargo::cargo_bin("posagent"))
            .args(
                args.iter()
                    .map(|a| match a.to_str().and_then(|a| a.strip_prefix(IN_HOME)) {
                        Some(rest) => mount.path().join(rest).into_os_string(),
                        None => a.clone(),
                    }),
            )
            .env("HOME_DIR", mount.path())
            .env("PREPARED", prepared)
            .env("FREE_KIB", free_kib.to_string())
            .env("LANG", "C.UTF-8")
            .env_remove("LC_ALL")
            .env_remove("POSAGENT_LANG")
            .env_remove("POSAGENT_SECRET")
            .env_remove("POSAGENT_BACKUP_PASSWORD")
            .output()
            .unwrap(),
    )
}

/// `args` and the bench's secret files, as OS strings.
fn with_secrets(bench: &Bench, args: &[&str]) -> Vec<OsString> {
    let mut all: Vec<OsString> = args.iter().map(OsString::from).collect();
    all.extend([
        "--secret-file".into(),
        bench.secret.clone().into(),
        "--password-file".into(),
        bench.password.clone().into(),
    ]);
    all
}

/// `args` run at every level of free space: each fails, naming the full disk.
fn named_full_at_every_level(what: &str, bench: &Bench, args: &[OsString]) {
    for free in FREE_KIB {
        let Some(out) = on_a_full_disk(bench.path(), free, args) else {
            return;
        };
        let err = stderr(&out);
        eprintln!("{what} at {free} KiB free: {err}");
        assert_ne!(out.status.code(), Some(0), "{what} at {free} KiB free succeeded: {err}");
        assert!(err.contains("the disk is full"), "{what} at {free} KiB free: {err}");
        assert!(
            !err.contains("disk I/O error") && !err.contains("os error"),
            "{what} at {free} KiB free: {err}"
        );
    }
}

#[test]
fn backup_on_a_full_disk_says_so_at_every_level_of_free_space() {
    let bench = Bench::default();
    let sim = start_sim(&bench, "tty", &["--transactions", "300"]);
    // The data directory is in use: its keys, database and a backup are there.
    let first = bench.path().join("first.posbak");
    let out = bench
        .command(&[
            "backup",
            "--port",
            sim.port.to_str().unwrap(),
            "--out",
            first.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let args = with_secrets(
        &bench,
        &[
            "backup",
            "--port",
            sim.port.to_str().unwrap(),
            "--out",
            "@home/b.posbak",
        ],
    );
    named_full_at_every_level("backup", &bench, &args);
}

#[test]
fn sync_on_a_full_disk_says_so_at_every_level_of_free_space() {
    let bench = Bench::default();
    let provider_dir = tempfile::tempdir().unwrap();
    let provider = Provider::start(provider_dir.path(), 0, &[]);
    provider.configure(bench.path(), "disk-test");
    fill_outbox(bench.path(), 3);
    let args: Vec<OsString> = ["sync", "--json"].iter().map(OsString::from).collect();
    named_full_at_every_level("sync", &bench, &args);
}

#[test]
fn migrate_on_a_full_disk_says_so_at_every_level_of_free_space() {
    let bench = Bench::default();
    let old = start_sim(&bench, "old", &[]);
    let new = start_sim(&bench, "new", &["--blank", "--serial", "NEW-FULL-1"]);
    let order = migrate_order(&bench, &old, "NEW-FULL-1", "WO-FULL-1");
    let args = with_secrets(
        &bench,
        &[
            "migrate",
            "--from",
            old.port.to_str().unwrap(),
            "--to",
            new.port.to_str().unwrap(),
            "--order",
            order.to_str().unwrap(),
            "--yes",
        ],
    );
    named_full_at_every_level("migrate", &bench, &args);
    // Nothing changed on either unit.
    assert_eq!(
        connect(&new).read_binding().unwrap().status,
        posagent::domain::DeviceStatus::Unbound
    );
}
