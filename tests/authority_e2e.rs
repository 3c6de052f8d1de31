//! The terminal is the judge of the provider's authority (docs/protocol.md §11): a client
//! holding only the operator secret, speaking the documented protocol over a real
//! pseudo-terminal, changes nothing without the provider's authorisation for that
//! terminal, that change and those values, once. And the agent has no side door around
//! it: restore, the cooldown the provider signed, key rotation.

mod common;

use posagent::authority::{
    Authorisation, DelegatedKey, Grant, Operation as AuthOp, Statement, bind_items, key_id, target_digest,
    training_root,
};
use posagent::terminal::model::Binding;
use posagent::terminal::{Authority, BindingPart, Terminal, TerminalError};
use ring::signature::{Ed25519KeyPair, KeyPair};

use common::jobs::*;
use common::sync::Provider;
use common::{connect, json_of, posagent};

/// A provider's order key for Lakala, delegated by Lakala's training root, as a provider
/// would hold it (not the agent: this is the other side).
struct Provider0 {
    key: Ed25519KeyPair,
    statement: Statement,
}

impl Provider0 {
    fn new() -> Provider0 {
        let seed: [u8; 32] = rand::random();
        let key = Ed25519KeyPair::from_seed_unchecked(&seed).unwrap();
        let public_key: [u8; 32] = key.public_key().as_ref().try_into().unwrap();
        let now = now();
        let delegated = DelegatedKey {
            key_id: key_id(&public_key),
            public_key,
            valid_from: now - 3600,
            valid_until: now + 3600,
        };
        let statement = Statement::sign(1, now + 3600, &[delegated], &training_root("lakala"));
        Provider0 { key, statement }
    }

    fn authority(&self, serial: &str, counter: u32, operation: AuthOp, items: Option<&[u8]>) -> Authority {
        let a = Authorisation::sign(
            &Grant {
                serial,
                counter,
                operation,
                target: target_digest(items),
                not_after: now() + 600,
            },
            &self.key,
        );
        Authority {
            statement: self.statement.to_bytes().to_vec(),
            authorisation: a.to_bytes().to_vec(),
        }
    }
}

fn now() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp()).unwrap()
}

fn refused(r: Result<(), TerminalError>, what: &str) {
    match r {
        Err(TerminalError::NotAuthorised { .. }) => {}
        other => panic!("{what}: {other:?}"),
    }
}

fn new_card_binding() -> Binding {
    let mut b = Binding::unbound();
    b.card = Some(posagent::terminal::model::CardBinding {
        pan: NEW_CARD.parse().unwrap(),
        holder: "李四".parse().unwrap(),
        expiry: Some("0939".into()),
    });
    b
}

/// Through a real pty, a client with the operator secret: BIND, UNBIND and ACTIVATE
/// without an authorisation, with one for another serial, with one whose values differ,
/// and a replayed one are each refused with result 10, and the terminal is unchanged.
#[test]
fn the_terminal_refuses_every_change_the_provider_did_not_authorise() {
    let bench = Bench::default();
    let sim = start_sim(&bench, "tty", &[]);
    let blank = start_sim(&bench, "blank", &["--blank", "--serial", "BLANK-0001"]);
    let provider = Provider0::new();
    let mut t: Terminal = connect(&sim);
    assert!(t.authority_root().is_some(), "a Lakala terminal says it enforces");
    let before = t.read_binding().unwrap();
    let card = bind_items(AuthOp::RebindCard, &new_card_binding()).unwrap();
    let counter = t.status().unwrap().change_counter.unwrap();

    // Bare commands.
    refused(t.bind_items(card.clone(), None), "a bare BIND");
    refused(t.unbind(BindingPart::Card, None), "a bare UNBIND");
    let mut b = connect(&blank);
    refused(b.activate("000000", None), "a bare ACTIVATE");
    // An authorisation for another terminal.
    let other = provider.authority("SN-OTHER", counter, AuthOp::RebindCard, Some(&card));
    refused(t.bind_items(card.clone(), Some(&other)), "another serial's");
    // Values other than those authorised.
    let authorised = provider.authority(&sim.serial, counter, AuthOp::RebindCard, Some(&card));
    let mut other_card = new_card_binding();
    other_card.card.as_mut().unwrap().pan = "6228480011223344562".parse().unwrap();
    let other_items = bind_items(AuthOp::RebindCard, &other_card).unwrap();
    refused(t.bind_items(other_items, Some(&authorised)), "other values");
    // An operation other than the one authorised.
    refused(
        t.unbind(BindingPart::Device, Some(&authorised)),
        "an unbind under a card change",
    );
    // Signed by a key the root never delegated.
    let stranger = Provider0 {
        statement: provider.statement.clone(),
        ..Provider0::new()
    };
    let forged = stranger.authority(&sim.serial, counter, AuthOp::RebindCard, Some(&card));
    refused(t.bind_items(card.clone(), Some(&forged)), "an undelegated key's");
    assert_eq!(t.read_binding().unwrap(), before, "nothing changed");
    assert_eq!(t.status().unwrap().change_counter, Some(counter));

    // The authorised change goes through, once; the same authorisation again is refused.
    t.unbind(BindingPart::Card, Some(&authorised)).unwrap();
    t.bind_items(card.clone(), Some(&authorised)).unwrap();
    let after = t.read_binding().unwrap();
    assert_eq!(after.card.as_ref().unwrap().pan.expose_full(), NEW_CARD);
    assert_eq!(t.status().unwrap().change_counter, Some(counter + 1));
    refused(
        t.unbind(BindingPart::Card, Some(&authorised)),
        "a replayed authorisation",
    );
    refused(t.bind_items(card, Some(&authorised)), "a replayed authorisation");
    assert_eq!(t.read_binding().unwrap(), after, "nothing changed by the replay");
}

/// Side door: restoring a backup wrote a binding with no order, no proof and nothing
/// queued; restoring an old genuine backup after a card change silently reverted the
/// card. On a provider's terminal a restore that changes the binding needs the provider's
/// restore order, and it queues a submission like any change.
#[test]
fn a_restore_that_changes_the_binding_needs_the_providers_order_and_is_reported() {
    let bench = Bench::default();
    let sim = start_sim(&bench, "tty", &[]);
    let before = connect(&sim).read_binding().unwrap();
    let out = bench.rebind_card(&sim, &card_order(&bench, &sim, "WO-CARD", NEW_CARD));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let archive = the_job(&bench).backup_file.unwrap();
    let changed = connect(&sim).read_binding().unwrap();
    assert_ne!(changed, before);
    let restore = |order: Option<&str>| {
        let mut args = vec!["restore", archive.as_str(), "--port", sim.port.to_str().unwrap()];
        if let Some(o) = order {
            args.extend(["--order", o]);
        }
        bench.run(&args)
    };
    let out = restore(None);
    assert_eq!(out.status.code(), Some(77), "{}", stderr(&out));
    assert!(stderr(&out).contains("restore_needs_order"), "{}", stderr(&out));
    assert_eq!(connect(&sim).read_binding().unwrap(), changed, "the card stays");
    assert_eq!(bench.store().submissions().unwrap().len(), 1, "nothing more queued");

    bench.restore_order(&sim, "WO-RESTORE", &before);
    let out = restore(Some("WO-RESTORE"));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(connect(&sim).read_binding().unwrap(), before, "restored");
    let subs = bench.store().submissions().unwrap();
    let restored = subs.iter().find(|s| s.kind == "restore").expect("a restore submission");
    assert_eq!(restored.order_id, "WO-RESTORE");
    assert!(!restored.payload.to_string().contains(NEW_CARD), "masked");
    // The order is carried out once.
    let out = restore(Some("WO-RESTORE"));
    assert_eq!(out.status.code(), Some(77), "{}", stderr(&out));
}

/// Side door: the provider's signed cooldown date was ignored on profiles without a
/// cooldown of their own (UMS), and the card changed. It is honoured on every profile.
#[test]
fn the_providers_signed_cooldown_is_honoured_on_a_profile_without_one() {
    let bench = Bench::default();
    let sim = start_sim(&bench, "tty", &["--profile", "ums"]);
    let before = connect(&sim).read_binding().unwrap();
    let later = (chrono::Local::now().date_naive() + chrono::Duration::days(20)).to_string();
    let mut f = expect_fields(&sim, "WO-UMS-COOL", "rebind-card", "ums");
    f.extend([
        ("new.card", NEW_CARD.to_string()),
        ("new.holder", "李四".to_string()),
        ("checks.card_cooldown_clear_until", later.clone()),
    ]);
    let order = bench.order("WO-UMS-COOL", &f);
    let out = bench.rebind_card(&sim, &order);
    assert_eq!(out.status.code(), Some(65), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("cooldown_active") && stderr(&out).contains(&later),
        "{}",
        stderr(&out)
    );
    assert_eq!(connect(&sim).read_binding().unwrap(), before);
}

/// Key rotation end to end: the provider's next key generation is delegated by its root
/// and pulled; orders it signs run; an order signed by the retired key no longer does; a
/// rollback to the older statement is refused; a statement that expires delegates nothing.
#[test]
fn a_rotated_key_is_pulled_and_used_and_retired_expired_or_rolled_back_keys_are_refused() {
    let bench = Bench::default();
    let sim = start_sim(&bench, "tty", &[]);
    let providers = tempfile::tempdir().unwrap();
    let plan = |id: &str| {
        let mut f = card_fields(&sim, id, NEW_CARD);
        f.push(("technician", "tech-rotate".to_string()));
        let header: Vec<&str> = f.iter().map(|(k, _)| *k).collect();
        let row: Vec<&str> = f.iter().map(|(_, v)| v.as_str()).collect();
        let p = bench.path().join(format!("{id}.csv"));
        std::fs::write(&p, format!("{}\n{}\n", header.join(","), row.join(","))).unwrap();
        p
    };
    let serve = |generation: &str, id: &str, extra: &[&str]| {
        let p = plan(id);
        let mut args = vec!["--orders", p.to_str().unwrap(), "--key-generation", generation];
        args.extend_from_slice(extra);
        let provider = Provider::start(providers.path(), 0, &args);
        provider.configure(bench.path(), "tech-rotate");
        provider
    };
    let pull = || {
        let out = posagent(bench.path())
            .args(["orders", "pull", "--json"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        json_of(&out)
    };
    let first = serve("1", "WO-KEY-1", &[]);
    let pulled = pull();
    assert_eq!(pulled["kept"][0]["id"], "WO-KEY-1", "{pulled}");
    drop(first);
    // Generation 2, a while later: a new key, the first one retired.
    std::thread::sleep(std::time::Duration::from_secs(2));
    let second = serve("2", "WO-KEY-2", &[]);
    let pulled = pull();
    assert_eq!(pulled["kept"][0]["id"], "WO-KEY-2", "{pulled}");
    assert_eq!(pulled["statements_refused"], serde_json::json!([]), "{pulled}");
    let out = bench.rebind_card(&sim, std::path::Path::new("WO-KEY-1"));
    assert_eq!(out.status.code(), Some(77), "{}", stderr(&out));
    assert!(stderr(&out).contains("no longer signs"), "{}", stderr(&out));
    let out = bench.rebind_card(&sim, std::path::Path::new("WO-KEY-2"));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    drop(second);
    // Back to generation 1: the older statement is refused, the newer one kept.
    let _rolled_back = serve("1", "WO-KEY-3", &[]);
    let pulled = pull();
    let refused = pulled["statements_refused"].to_string();
    assert!(refused.contains("older"), "{pulled}");
    assert!(
        pulled["refused"].to_string().contains("outside the validity of key"),
        "its orders are signed by the retired key: {pulled}"
    );
    drop(_rolled_back);
    // Generation 3, whose statement stands for two seconds: then it delegates nothing.
    let _short = serve("3", "WO-KEY-4", &["--statement-ttl", "2"]);
    assert_eq!(pull()["kept"][0]["id"], "WO-KEY-4");
    std::thread::sleep(std::time::Duration::from_secs(3));
    let before = connect(&sim).read_binding().unwrap();
    let out = bench.rebind_card(&sim, std::path::Path::new("WO-KEY-4"));
    assert_eq!(out.status.code(), Some(77), "{}", stderr(&out));
    assert!(stderr(&out).contains("no key statement"), "{}", stderr(&out));
    assert_eq!(connect(&sim).read_binding().unwrap(), before);
}

/// The simulated terminal of the first protocol release enforces nothing, and a profile
/// whose terminals must is refused on it (77) before anything changes.
#[test]
fn a_provider_profile_refuses_a_terminal_that_does_not_enforce() {
    let bench = Bench::default();
    let sim = start_sim(&bench, "tty", &["--legacy"]);
    let before = connect(&sim).read_binding().unwrap();
    let out = bench.rebind_card(&sim, &card_order(&bench, &sim, "WO-LEGACY", NEW_CARD));
    assert_eq!(out.status.code(), Some(77), "{}", stderr(&out));
    assert!(stderr(&out).contains("terminal_not_enforcing"), "{}", stderr(&out));
    assert_eq!(connect(&sim).read_binding().unwrap(), before);
}
