//! What the packages ship stays in step with the program: the udev rule covers exactly the
//! profiles' USB ids, and completions and the manual page come from the real CLI.

mod common;

use std::collections::BTreeSet;

use common::posagent;
use posagent::profile::ProfileSet;

#[test]
fn the_udev_rule_covers_exactly_the_profiles_usb_ids() {
    let rules = std::fs::read_to_string(common::fixtures().join("../../packaging/70-posagent.rules")).unwrap();
    let in_rules: BTreeSet<(String, String)> = rules
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let attr = |name: &str| {
                l.split(&format!("ATTRS{{{name}}}==\""))
                    .nth(1)
                    .and_then(|r| r.split('"').next())
                    .unwrap()
                    .to_string()
            };
            assert!(l.contains("GROUP=\"dialout\""), "{l}");
            (attr("idVendor"), attr("idProduct"))
        })
        .collect();
    let in_profiles: BTreeSet<(String, String)> = ProfileSet::builtin()
        .unwrap()
        .iter()
        .flat_map(|(p, _)| {
            p.usb
                .iter()
                .map(|u| (format!("{:04x}", u.vid), format!("{:04x}", u.pid)))
        })
        .collect();
    assert_eq!(in_rules, in_profiles);
}

#[test]
fn completions_and_manual_page_describe_the_real_commands() {
    let home = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish"] {
        let out = posagent(home.path()).args(["completions", shell]).output().unwrap();
        assert!(out.status.success());
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("rebind") && text.contains("migrate"), "{shell}");
    }
    let out = posagent(home.path()).arg("manpage").output().unwrap();
    assert!(out.status.success());
    let man = String::from_utf8_lossy(&out.stdout);
    assert!(
        man.starts_with(".ie") || man.contains(".TH posagent"),
        "{}",
        &man[..80.min(man.len())]
    );
    assert!(man.contains("inspect") && man.contains("backup"));
    for section in ["EXIT STATUS", "ENVIRONMENT", "FILES", "EXAMPLES", "SEE ALSO"] {
        assert!(man.contains(section), "the main page has no {section}");
    }
    // Every command the main page refers to has its page.
    let dir = tempfile::tempdir().unwrap();
    let out = posagent(home.path())
        .arg("manpage")
        .arg("--dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    for cmd in ["rebind", "migrate", "orders", "jobs", "sync", "config"] {
        let page = std::fs::read_to_string(dir.path().join(format!("posagent-{cmd}.1"))).unwrap();
        assert!(
            page.contains(&format!("posagent\\-{cmd}")) && man.contains(&format!("posagent\\-{cmd}")),
            "{cmd}"
        );
    }
    let out = posagent(home.path()).args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "an unknown shell is a usage error");
}

/// Everything a release must carry, by its path inside the package (after the prefix).
const RELEASE_FILES: &[&str] = &[
    "bin/posagent",
    "share/man/man1/posagent.1.gz",
    "share/man/man1/posagent-rebind.1.gz",
    "share/man/man1/posagent-orders.1.gz",
    "share/bash-completion/completions/posagent",
    "share/zsh/vendor-completions/_posagent",
    "share/fish/vendor_completions.d/posagent.fish",
    "share/posagent/profiles/lakala.toml",
    "share/posagent/profiles/generic.toml",
    "share/doc/posagent/handbook.md",
    "share/doc/posagent/handbook.zh-CN.md",
    "lib/udev/rules.d/70-posagent.rules",
];

fn listing(program: &str, args: &[&str], file: &std::path::Path) -> String {
    let out = std::process::Command::new(program)
        .args(args)
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{program}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Strings only the simulators hold: the demo secret, the simulated provider's words and
/// its certificate generator's crate.
const SIMULATOR_STRINGS: &[&str] = &["posagent-demo-secret", "connection reset (simulated)", "rcgen"];

/// Whether `bytes` hold `needle`.
fn holds(bytes: &[u8], needle: &str) -> bool {
    bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// The product binary, as packaging/release.sh builds it (without the `sim` feature; a
/// debug build, in a target directory of its own beside the tests' build).
fn product_binary(root: &std::path::Path) -> std::path::PathBuf {
    // Under the target directory cargo uses, as packaging/release.sh puts it.
    let target = root
        .join(std::env::var_os("CARGO_TARGET_DIR").unwrap_or_else(|| "target".into()))
        .join("product");
    let out = std::process::Command::new(env!("CARGO"))
        .args(["build", "--locked", "-p", "posagent", "--no-default-features"])
        .env("CARGO_TARGET_DIR", &target)
        .current_dir(root)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    target.join("debug/posagent")
}

/// Builds the tar.gz and the .deb from the product binary (needs cargo-deb, which
/// `.ci/run` installs) and checks what each holds, and that the binary they ship carries no
/// simulator. The binary is put under a `CARGO_TARGET_DIR` of its own, as a user who keeps
/// build output elsewhere has it.
#[test]
fn the_release_archive_and_the_deb_hold_the_binary_profiles_rule_manual_and_completions() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(target.path().join("product/debug")).unwrap();
    std::fs::copy(product_binary(&root), target.path().join("product/debug/posagent")).unwrap();
    let out_dir = tempfile::tempdir().unwrap();
    let run = std::process::Command::new(root.join("packaging/release.sh"))
        .args(["--profile", "dev", "--no-build", "--out"])
        .arg(out_dir.path())
        .env("CARGO_TARGET_DIR", target.path())
        .current_dir(&root)
        .output()
        .unwrap();
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(run.status.success(), "{log}");
    assert!(
        !log.contains("cargo-deb is not installed"),
        "install it: cargo install cargo-deb --locked"
    );

    let names: Vec<_> = std::fs::read_dir(out_dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let find = |suffix: &str| {
        names
            .iter()
            .find(|p| p.to_string_lossy().ends_with(suffix))
            .unwrap_or_else(|| panic!("no *{suffix} in {names:?}"))
            .clone()
    };
    let tarball = find(".tar.gz");
    let check = std::process::Command::new("sha256sum")
        .args(["-c", find(".tar.gz.sha256").file_name().unwrap().to_str().unwrap()])
        .current_dir(out_dir.path())
        .output()
        .unwrap();
    assert!(check.status.success(), "the checksum file verifies the archive");
    let tar = listing("tar", &["tzf"], &tarball);
    let deb = listing("dpkg-deb", &["-c"], &find(".deb"));
    for f in RELEASE_FILES {
        assert!(tar.lines().any(|l| l.ends_with(f)), "tar.gz lacks {f}:\n{tar}");
        let in_deb = if f.starts_with("lib/") {
            format!("./{f}")
        } else {
            format!("./usr/{f}")
        };
        assert!(deb.contains(&in_deb), ".deb lacks {in_deb}:\n{deb}");
    }
    let control = listing("dpkg-deb", &["-f"], &find(".deb"));
    assert!(control.contains("Package: posagent"), "{control}");
    // Both packages ship the binary stripped of symbols and debug information.
    let unpacked = tempfile::tempdir().unwrap();
    let x = std::process::Command::new("tar")
        .arg("xzf")
        .arg(&tarball)
        .arg("-C")
        .arg(unpacked.path())
        .status()
        .unwrap();
    assert!(x.success());
    let deb_root = tempfile::tempdir().unwrap();
    let x = std::process::Command::new("dpkg-deb")
        .arg("-x")
        .arg(find(".deb"))
        .arg(deb_root.path())
        .status()
        .unwrap();
    assert!(x.success());
    let name = tarball
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .trim_end_matches(".tar.gz")
        .to_string();
    for bin in [
        unpacked.path().join(&name).join("bin/posagent"),
        deb_root.path().join("usr/bin/posagent"),
    ] {
        // The section headers, as binutils reads them (the code itself may hold such names).
        let sections = listing("readelf", &["-S", "--wide"], &bin);
        for section in [".symtab", ".debug_info", ".debug_line"] {
            assert!(
                !sections.contains(&format!(" {section} ")),
                "{} still has {section}:\n{sections}",
                bin.display()
            );
        }
        let shipped = std::fs::read(&bin).unwrap();
        for s in SIMULATOR_STRINGS {
            assert!(!holds(&shipped, s), "{} carries the simulators: {s}", bin.display());
        }
    }
    // The same search finds them in the build with the simulators (the tests' binary).
    let with_sim = std::fs::read(assert_cmd::cargo::cargo_bin("posagent")).unwrap();
    for s in SIMULATOR_STRINGS {
        assert!(holds(&with_sim, s), "the test build lacks {s}");
    }
    let deb_man = deb_root.path().join("usr/share/man/man1");
    assert!(
        !deb_man.join("posagent-sim.1.gz").exists() && !deb_man.join("posagent-demo.1.gz").exists(),
        "the product documents no simulator commands"
    );
}
