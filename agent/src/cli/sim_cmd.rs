//! `posagent sim terminal` and `posagent sim provider`.

use super::args::{SimCommand, SimProviderArgs, SimTerminalArgs};
use super::{CliError, Exit, json_line, load_profiles, runtime, secrets};
use crate::config::Paths;
use crate::link::proto::DEMO_SECRET;
use crate::sim::faults::FaultSpec;
use crate::sim::{Attach, TerminalOptions, run_terminal};

pub fn run(paths: &Paths, c: SimCommand) -> Result<(), CliError> {
    match c {
        SimCommand::Terminal(a) => terminal(paths, a),
        SimCommand::Provider(a) => provider(paths, a),
    }
}

fn terminal(paths: &Paths, a: SimTerminalArgs) -> Result<(), CliError> {
    let profiles = load_profiles(paths)?;
    let profile = profiles.get(&a.profile)?.clone();
    let faults: FaultSpec = match &a.faults {
        Some(s) => s
            .parse()
            .map_err(|e: crate::sim::faults::FaultSpecError| CliError::new(Exit::Usage, e.to_string()))?,
        None => FaultSpec::default(),
    };
    let secret = match &a.secret_file {
        Some(f) => secrets::read_secret_file(f, &crate::tr!("what-operator-secret"))?.to_vec(),
        None => DEMO_SECRET.as_bytes().to_vec(),
    };
    let attach = match (a.pty, a.port) {
        (_, Some(p)) => Attach::Port(p),
        (true, None) => Attach::Pty { link: a.link },
        (false, None) => {
            return Err(CliError::new(Exit::Usage, crate::tr!("sim-where")));
        }
    };
    if a.baud == 0 {
        return Err(CliError::new(Exit::Usage, crate::tr!("sim-baud-zero")));
    }
    let opts = TerminalOptions {
        attach,
        profile,
        transactions: a.transactions,
        seed: a.seed,
        baud: a.baud,
        faults,
        state: a.state,
        blank: a.blank,
        serial: a.serial,
        account: a.account,
        legacy: a.legacy,
        settlement_since: match a.settlement_since.as_str() {
            "unknown" => None,
            d if chrono::NaiveDate::parse_from_str(d, "%Y%m%d").is_ok() => Some(d.to_string()),
            d => {
                return Err(CliError::new(Exit::Usage, crate::tr!("sim-bad-since", value = d)));
            }
        },
        secret,
    };
    run_terminal(opts, |v| json_line(&v)).map_err(|e| CliError::new(Exit::Failure, format!("sim terminal: {e}")))
}

fn provider(paths: &Paths, a: SimProviderArgs) -> Result<(), CliError> {
    use crate::sim::provider::{ProviderOptions, faults::ProviderFaults, report, serve};
    let dir = a.tls_dir.unwrap_or_else(|| paths.data.join("sim-provider"));
    if a.report {
        let r = report(&dir).map_err(|e| CliError::new(Exit::DataErr, e))?;
        println!("{}", serde_json::to_string_pretty(&r).unwrap_or_default());
        return Ok(());
    }
    let faults: ProviderFaults = match &a.faults {
        Some(s) => s
            .parse()
            .map_err(|e: crate::sim::faults::FaultSpecError| CliError::new(Exit::Usage, e.to_string()))?,
        None => ProviderFaults::default(),
    };
    let opts = ProviderOptions {
        listen: a.listen,
        dir,
        faults,
        require_client_cert: a.require_client_cert,
        card_cooldown_days: a.card_cooldown_days,
        seed: a.seed,
        orders: a.orders,
        sms_log: a.sms_log,
        sms_ttl: std::time::Duration::from_secs(a.sms_ttl),
    };
    runtime()?
        .block_on(serve(opts, |v| json_line(&v)))
        .map_err(|e| CliError::new(Exit::Failure, format!("sim provider: {e}")))
}
