//! Helpers shared by the end-to-end tests: the real binary in its own data directory.

#![allow(dead_code)]

pub mod jobs;
pub mod pseudo;
pub mod pty;
pub mod sync;

use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// The repository's test fixtures.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
}

/// The posagent binary, with its data directory set to `home`.
pub fn posagent(home: &Path) -> Command {
    let mut cmd = Command::cargo_bin("posagent").expect("posagent binary");
    // Where the technician works: a pulled order's scans are found from here.
    cmd.current_dir(home)
        .env("POSAGENT_HOME", home)
        .env_remove("POSAGENT_SECRET")
        .env_remove("POSAGENT_BACKUP_PASSWORD");
    english(&mut cmd);
    cmd
}

/// Messages in English whatever the machine's locale, as the tests read them; a test of
/// another language sets `LANG` or `POSAGENT_LANG` after this.
pub fn english(cmd: &mut Command) {
    for var in ["POSAGENT_LANG", "LC_ALL", "LC_MESSAGES"] {
        cmd.env_remove(var);
    }
    cmd.env("LANG", "C.UTF-8");
}

/// Runs `cmd` with its data segment limited to `bytes` (RLIMIT_DATA: heap and private
/// writable mappings), so that any attempt to hold more fails it, and returns (exit code,
/// stderr); killed by a signal (over the limit, most likely) fails the test.
///
/// A limit rather than `ru_maxrss`: a child forked from this large test process inherits
/// the parent's resident size into its high-water mark at `exec`, which would measure the
/// test, not posagent.
pub fn within_memory(mut cmd: std::process::Command, bytes: u64) -> (i32, String) {
    use std::os::unix::process::CommandExt;
    // SAFETY: setrlimit is async-signal-safe.
    unsafe {
        cmd.pre_exec(move || {
            let limit = libc::rlimit {
                rlim_cur: bytes as libc::rlim_t,
                rlim_max: bytes as libc::rlim_t,
            };
            if libc::setrlimit(libc::RLIMIT_DATA, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let code = out
        .status
        .code()
        .unwrap_or_else(|| panic!("killed by a signal (over the memory limit?): {stderr}"));
    (code, stderr)
}

/// Every JSON document on a command's stdout, in order (streams and multi-stage commands
/// print several).
pub fn json_docs(output: &std::process::Output) -> Vec<serde_json::Value> {
    serde_json::Deserializer::from_slice(&output.stdout)
        .into_iter()
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", String::from_utf8_lossy(&output.stdout)))
}

/// Runs `cmd` and parses its stdout as one JSON document.
pub fn json_of(output: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", String::from_utf8_lossy(&output.stdout)))
}

/// The demo secret the simulated terminal accepts by default.
pub const DEMO_SECRET: &str = "posagent-demo-secret";

/// Writes a secret file in `dir` and returns its path.
pub fn secret_file(dir: &Path, name: &str, secret: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, format!("{secret}\n")).unwrap();
    p
}

/// `posagent backup` of `sim` into `dir/b.posbak` with the demo secret and `password` from
/// files in `dir`, in English, as a plain command (to run within a memory limit or on a
/// pseudo-terminal).
pub fn backup_command(dir: &Path, sim: &Sim, password: &str) -> std::process::Command {
    let secret = secret_file(dir, "secret", DEMO_SECRET);
    let password = secret_file(dir, "password", password);
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("posagent"));
    cmd.env("POSAGENT_HOME", dir)
        .env("LANG", "C.UTF-8")
        .env_remove("LC_ALL")
        .env_remove("POSAGENT_LANG")
        .args(["backup", "--port"])
        .arg(&sim.port)
        .arg("--out")
        .arg(dir.join("b.posbak"))
        .arg("--secret-file")
        .arg(secret)
        .arg("--password-file")
        .arg(password);
    cmd
}

/// A simulated terminal process on a pseudo-terminal, killed when dropped.
pub struct Sim {
    process: posagent::sim::harness::SimProcess,
    /// The stable path (symlink) to open.
    pub port: PathBuf,
    pub serial: String,
}

impl Sim {
    /// The simulator's process id.
    pub fn pid(&self) -> u32 {
        self.process.id()
    }

    /// What it announced when it started.
    pub fn announced(&self) -> &serde_json::Value {
        &self.process.announced
    }

    /// Starts `posagent sim terminal --pty --link DIR/NAME ARGS…` and waits for its port.
    pub fn start(dir: &Path, name: &str, args: &[&str]) -> Sim {
        let port = dir.join(name);
        let link = port.display().to_string();
        let all: Vec<&str> = ["terminal", "--pty", "--link", &link]
            .into_iter()
            .chain(args.iter().copied())
            .collect();
        let exe = assert_cmd::cargo::cargo_bin("posagent");
        let process = posagent::sim::harness::SimProcess::start(&exe, dir, &all, false).expect("start simulator");
        let serial = process.announced["serial"].as_str().unwrap().to_string();
        Sim { process, port, serial }
    }

    /// How many times the simulated cable was unplugged and the port came back.
    pub fn replugs(&self) -> usize {
        self.process
            .announcements()
            .iter()
            .filter(|l| l.contains("\"replugged\":true"))
            .count()
    }
}

/// Fast line rate for tests that move data but do not measure it.
pub const FAST_BAUD: &str = "921600";

/// Opens and authenticates the simulated terminal with the library, at `FAST_BAUD`.
pub fn connect(sim: &Sim) -> posagent::terminal::Terminal {
    connect_at(&sim.port)
}

/// The simulated terminal at `port`, opened and authenticated.
pub fn connect_at(port: &Path) -> posagent::terminal::Terminal {
    let mut s = posagent::profile::ProfileSet::builtin()
        .unwrap()
        .get("generic")
        .unwrap()
        .serial
        .clone();
    s.baud = FAST_BAUD.parse().unwrap();
    let mut t = posagent::terminal::Terminal::open(port, &s).expect("open simulated terminal");
    t.authenticate(&posagent::terminal::Secret::new(DEMO_SECRET.as_bytes().to_vec()))
        .expect("authenticate");
    t
}

/// The full number of the card `sim` is bound to.
pub fn bound_card(sim: &Sim) -> String {
    connect(sim)
        .read_binding()
        .unwrap()
        .card
        .expect("a bound card")
        .pan
        .expose_full()
        .to_string()
}

/// Command lines of running processes that mention `text` (e.g. a data directory), read
/// from /proc: what a test expects to have stopped.
pub fn processes_mentioning(text: &str) -> Vec<String> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| std::fs::read(e.ok()?.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(text))
        .collect()
}
