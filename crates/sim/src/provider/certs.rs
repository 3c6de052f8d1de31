//! Certificates for the simulated provider, made with rcgen on first start: a CA, a server
//! certificate for `localhost` and `127.0.0.1` signed by it, a client certificate for mutual
//! TLS signed by the same CA, and a random agent signing key.

use std::io::Write;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};

/// The CA certificate the agent trusts (`--provider-ca`).
pub const CA_CERT: &str = "ca.pem";
pub const SERVER_CERT: &str = "server.pem";
pub const SERVER_KEY: &str = "server.key";
/// A client certificate the provider accepts (`--client-cert`, `--client-key`).
pub const CLIENT_CERT: &str = "client.pem";
pub const CLIENT_KEY: &str = "client.key";
/// The agent signing key the provider knows (`--agent-key-file`).
pub const AGENT_KEY: &str = "agent.key";

/// Whether the server certificate is current or long expired (to test refusal).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerValidity {
    Current,
    Expired,
}

fn write(dir: &Path, name: &str, text: &str, secret: bool) -> Result<PathBuf, String> {
    let path = dir.join(name);
    let mut opts = if secret {
        crate::private::options()
    } else {
        std::fs::OpenOptions::new()
    };
    opts.write(true).create(true).truncate(true);
    opts.open(&path)
        .and_then(|mut f| f.write_all(text.as_bytes()).and_then(|_| f.sync_all()))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

/// Generates a full set of certificates and an agent key in `dir`, replacing any there.
pub fn generate(dir: &Path, validity: ServerValidity) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let err = |e: rcgen::Error| format!("certificate generation failed: {e}");
    let ca_key = KeyPair::generate().map_err(err)?;
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    ca.distinguished_name
        .push(DnType::CommonName, "posagent simulated provider CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca.self_signed(&ca_key).map_err(err)?;
    let issuer = Issuer::new(ca, ca_key);

    let server_key = KeyPair::generate().map_err(err)?;
    let mut server = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).map_err(err)?;
    server
        .distinguished_name
        .push(DnType::CommonName, "posagent simulated provider");
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    if validity == ServerValidity::Expired {
        server.not_before = rcgen::date_time_ymd(2020, 1, 1);
        server.not_after = rcgen::date_time_ymd(2021, 1, 1);
    }
    let server_cert = server.signed_by(&server_key, &issuer).map_err(err)?;

    let client_key = KeyPair::generate().map_err(err)?;
    let mut client = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    client
        .distinguished_name
        .push(DnType::CommonName, "posagent field agent");
    client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client_cert = client.signed_by(&client_key, &issuer).map_err(err)?;

    let mut agent_key = [0u8; crate::sync::client::AGENT_KEY_LEN];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut agent_key);

    write(dir, SERVER_CERT, &server_cert.pem(), false)?;
    write(dir, SERVER_KEY, &server_key.serialize_pem(), true)?;
    write(dir, CLIENT_CERT, &client_cert.pem(), false)?;
    write(dir, CLIENT_KEY, &client_key.serialize_pem(), true)?;
    write(dir, AGENT_KEY, &format!("{}\n", hex::encode(agent_key)), true)?;
    // The CA last: its presence marks a complete set.
    write(dir, CA_CERT, &ca_cert.pem(), false)?;
    Ok(())
}

/// Generates certificates in `dir` unless a set is already there.
pub fn ensure(dir: &Path) -> Result<(), String> {
    if dir.join(CA_CERT).exists() {
        Ok(())
    } else {
        generate(dir, ServerValidity::Current)
    }
}
