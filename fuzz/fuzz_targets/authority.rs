//! Any bytes as a key statement (`E3`) or an authorisation (`E4`), as a terminal and the
//! agent receive them: reading and verifying report errors, never panic. And a genuine
//! statement and authorisation with any one byte changed never verify.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use posagent::authority::{Authorisation, DelegatedKey, Grant, Operation, Statement, key_id};
use ring::signature::{Ed25519KeyPair, KeyPair};

struct Genuine {
    root: [u8; 32],
    statement: Statement,
    authorisation: Authorisation,
}

fn genuine() -> &'static Genuine {
    static G: OnceLock<Genuine> = OnceLock::new();
    G.get_or_init(|| {
        let root = Ed25519KeyPair::from_seed_unchecked(&[3; 32]).unwrap();
        let key = Ed25519KeyPair::from_seed_unchecked(&[4; 32]).unwrap();
        let public_key: [u8; 32] = key.public_key().as_ref().try_into().unwrap();
        let statement = Statement::sign(
            2,
            2_000,
            &[DelegatedKey {
                key_id: key_id(&public_key),
                public_key,
                valid_from: 100,
                valid_until: 1_900,
            }],
            &root,
        );
        let authorisation = Authorisation::sign(
            &Grant {
                serial: "SN-FUZZ-1",
                counter: 3,
                operation: Operation::RebindCard,
                target: [9; 32],
                not_after: 1_500,
            },
            &key,
        );
        Genuine {
            root: root.public_key().as_ref().try_into().unwrap(),
            statement,
            authorisation,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let g = genuine();
    let now = 1_000;
    if let Ok(st) = Statement::parse(data) {
        let _ = st.verify(&g.root, now, 0);
        let _ = g.authorisation.verify(&st, now);
    }
    if let Ok(a) = Authorisation::parse(data) {
        let _ = a.verify(&g.statement, now);
    }
    // One byte of each genuine value changed, chosen by the input.
    let Some((&first, rest)) = data.split_first() else { return };
    let flip = if first == 0 { 1 } else { first };
    let pick = |len: usize| rest.iter().fold(0usize, |acc, b| acc.wrapping_mul(31).wrapping_add(usize::from(*b))) % len;
    let mut st = g.statement.to_bytes().to_vec();
    let i = pick(st.len());
    st[i] ^= flip;
    if let Ok(bad) = Statement::parse(&st) {
        assert!(bad.verify(&g.root, now, 0).is_err(), "statement byte {i} changed still verifies");
    }
    let mut a = g.authorisation.to_bytes().to_vec();
    let i = pick(a.len());
    a[i] ^= flip;
    if let Ok(bad) = Authorisation::parse(&a) {
        assert!(bad.verify(&g.statement, now).is_err(), "authorisation byte {i} changed still verifies");
    }
});
