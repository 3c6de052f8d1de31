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
    let out = posagent(home.path()).args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "an unknown shell is a usage error");
}
