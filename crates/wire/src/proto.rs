//! Command codes, TLV tags, status codes and timing of the terminal protocol
//! (docs/protocol.md is the full description; keep the two in step).

use std::time::Duration;

/// Command codes (frame `code` of Command and Response frames).
pub mod cmd {
    pub const HELLO: u8 = 0x01;
    pub const IDENTIFY: u8 = 0x02;
    pub const STATUS: u8 = 0x03;
    pub const AUTH_BEGIN: u8 = 0x04;
    pub const AUTH_PROVE: u8 = 0x05;
    pub const READ_BINDING: u8 = 0x06;
    pub const EXPORT_BEGIN: u8 = 0x10;
    pub const EXPORT_END: u8 = 0x11;
    pub const IMPORT_BEGIN: u8 = 0x12;
    pub const IMPORT_COMMIT: u8 = 0x13;
    /// SHA-256, length and record count of an object as stored (optional: a terminal
    /// without it answers result 9, and the agent reads the object back instead).
    pub const DIGEST: u8 = 0x14;
    pub const SETTLE: u8 = 0x20;
    pub const UNBIND: u8 = 0x21;
    pub const BIND: u8 = 0x22;
    pub const ACTIVATE: u8 = 0x23;
    pub const TEST_TRANSACTION: u8 = 0x24;
    pub const REBOOT: u8 = 0x25;
}

/// TLV tags. EMV tags where EMV has one, private `DFxx` tags for the rest.
pub mod tag {
    // EMV
    pub const PAN: u32 = 0x5A;
    pub const TRANSACTION_DATE: u32 = 0x9A;
    pub const TRANSACTION_TYPE: u32 = 0x9C;
    pub const CURRENCY_CODE: u32 = 0x5F2A;
    pub const AMOUNT_AUTHORISED: u32 = 0x9F02;
    pub const MERCHANT_ID: u32 = 0x9F16;
    pub const TERMINAL_ID: u32 = 0x9F1C;
    pub const DEVICE_SERIAL: u32 = 0x9F1E;
    pub const TRANSACTION_TIME: u32 = 0x9F21;
    pub const TRANSACTION_SEQ: u32 = 0x9F41;
    pub const MERCHANT_NAME: u32 = 0x9F4E;
    // Constructed containers
    pub const RECORD: u32 = 0xE1;
    pub const PARAM: u32 = 0xE2;
    /// A provider root's key statement (docs/protocol.md §11), with a changing command.
    pub const KEY_STATEMENT: u32 = 0xE3;
    /// A provider's authorisation of one change, with a changing command.
    pub const AUTHORISATION: u32 = 0xE4;
    /// One delegated key, inside a key statement (repeated).
    pub const DELEGATED_KEY: u32 = 0xE5;
    // Identity
    pub const VENDOR: u32 = 0xDF01;
    pub const MODEL: u32 = 0xDF02;
    pub const FIRMWARE: u32 = 0xDF03;
    // Binding
    pub const DEVICE_STATUS: u32 = 0xDF10;
    pub const CARD_NUMBER: u32 = 0xDF11;
    pub const HOLDER_NAME: u32 = 0xDF12;
    pub const CARD_EXPIRY: u32 = 0xDF13;
    pub const ACCOUNT_NUMBER: u32 = 0xDF14;
    pub const BANK_NAME: u32 = 0xDF15;
    pub const BRANCH_CODE: u32 = 0xDF16;
    pub const PHONE: u32 = 0xDF17;
    pub const ACTIVATION_CODE: u32 = 0xDF18;
    /// The date the current settlement card or account was bound, ASCII `YYYYMMDD`
    /// (optional in STATUS: a terminal that does not know leaves it out).
    pub const SETTLEMENT_SINCE: u32 = 0xDF19;
    // Authentication
    pub const NONCE_TERMINAL: u32 = 0xDF20;
    pub const NONCE_AGENT: u32 = 0xDF21;
    pub const MAC: u32 = 0xDF22;
    pub const AUTH_FAILURES_LEFT: u32 = 0xDF23;
    pub const LOCKED_SECONDS: u32 = 0xDF24;
    // Transaction records
    pub const MASKED_PAN: u32 = 0xDF30;
    pub const SETTLED: u32 = 0xDF31;
    pub const BATCH_NO: u32 = 0xDF32;
    pub const AUTH_CODE: u32 = 0xDF33;
    pub const RRN: u32 = 0xDF34;
    // HELLO
    pub const VERSIONS: u32 = 0xDF40;
    pub const MAX_PAYLOAD: u32 = 0xDF41;
    pub const WINDOW: u32 = 0xDF42;
    pub const VERSION_CHOSEN: u32 = 0xDF43;
    /// Encodings of bulk objects offered (HELLO) or accepted (its response): 1 byte each.
    pub const ENCODINGS: u32 = 0xDF44;
    /// Data frames sized to the line (optional): the block size, 2 bytes, offered (HELLO)
    /// and accepted (its response, the same value).
    pub const BLOCKS: u32 = 0xDF45;
    /// The provider root a terminal enforces authority for: its key id, 8 bytes (HELLO
    /// response; absent: the terminal does not enforce).
    pub const AUTHORITY_ROOT: u32 = 0xDF46;
    // Bulk transfer
    pub const OBJECT: u32 = 0xDF50;
    pub const OFFSET: u32 = 0xDF51;
    pub const TOTAL_LEN: u32 = 0xDF52;
    pub const SHA256: u32 = 0xDF53;
    pub const RECORD_COUNT: u32 = 0xDF54;
    /// The encoding a bulk object travels in (EXPORT_BEGIN and its response, IMPORT_BEGIN).
    pub const ENCODING: u32 = 0xDF55;
    /// Length of the encoded stream the Data frames carry.
    pub const ENCODED_LEN: u32 = 0xDF56;
    // Results and status
    pub const RESULT: u32 = 0xDF60;
    pub const MESSAGE: u32 = 0xDF61;
    pub const UNSETTLED_COUNT: u32 = 0xDF62;
    pub const TRANSACTION_COUNT: u32 = 0xDF63;
    pub const AUTHENTICATED: u32 = 0xDF64;
    // Authority (docs/protocol.md §11)
    /// A terminal's change counter, 4 bytes (STATUS; inside an authorisation).
    pub const CHANGE_COUNTER: u32 = 0xDF65;
    pub const STATEMENT_VERSION: u32 = 0xDF66;
    /// Unix seconds, 8 bytes.
    pub const EXPIRES: u32 = 0xDF67;
    pub const KEY_ID: u32 = 0xDF68;
    pub const PUBLIC_KEY: u32 = 0xDF69;
    pub const VALID_FROM: u32 = 0xDF6A;
    pub const VALID_UNTIL: u32 = 0xDF6B;
    pub const ROOT_KEY_ID: u32 = 0xDF6C;
    /// Ed25519, 64 bytes: the last item of a statement or an authorisation.
    pub const SIGNATURE: u32 = 0xDF6D;
    pub const AUTH_OPERATION: u32 = 0xDF6E;
    pub const AUTH_TARGET: u32 = 0xDF6F;
    pub const NOT_AFTER: u32 = 0xDF72;
    // Parameters
    pub const PARAM_NAME: u32 = 0xDF70;
    pub const PARAM_VALUE: u32 = 0xDF71;
}

/// Bulk objects a terminal can export or import.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum Object {
    TransactionLog = 1,
    Parameters = 2,
}

impl Object {
    /// From the wire byte.
    pub fn from_u8(b: u8) -> Option<Object> {
        match b {
            1 => Some(Object::TransactionLog),
            2 => Some(Object::Parameters),
            _ => None,
        }
    }
}

/// Result codes carried in tag RESULT of every response.
pub mod result {
    pub const OK: u8 = 0;
    pub const AUTH_REQUIRED: u8 = 1;
    pub const AUTH_FAILED: u8 = 2;
    pub const LOCKED_OUT: u8 = 3;
    pub const BAD_REQUEST: u8 = 4;
    pub const WRONG_STATE: u8 = 5;
    pub const UNSETTLED: u8 = 6;
    pub const CHECKSUM: u8 = 7;
    pub const BAD_ACTIVATION: u8 = 8;
    pub const UNKNOWN_COMMAND: u8 = 9;
    /// A changing command without a valid authorisation from the provider (§11).
    pub const NOT_AUTHORISED: u8 = 10;
}

/// Protocol versions this build speaks, newest last.
pub const VERSIONS: &[u8] = &[1];
/// Frame payload this side accepts; HELLO agrees on the smaller of both sides'.
pub const DEFAULT_MAX_PAYLOAD: u16 = 2048;
/// Data frames in flight before the sender waits for an acknowledgement.
pub const DEFAULT_WINDOW: u8 = 8;
/// Bytes of a data frame's payload taken by its offset.
pub const DATA_OFFSET_LEN: usize = 4;
/// Chunks a bulk ACK's selective-acknowledgement map covers beyond the cumulative offset.
pub const SACK_BITS: usize = 32;
/// With frames sized to the line: the unit of offsets and frame lengths.
pub const BLOCK_SIZE: u16 = 128;
/// With frames sized to the line: blocks an ACK's map covers beyond the cumulative offset
/// (a window of whole chunks).
pub const BLOCK_SACK_BITS: usize = 128;

/// Retransmissions of one command before the link gives up.
pub const COMMAND_RETRIES: u32 = 6;
/// Wait for the ACK of a command, beyond the time the bytes take on the wire.
pub const ACK_TIMEOUT: Duration = Duration::from_millis(250);
/// Pause before sending a command again after a BUSY answer.
pub const BUSY_BACKOFF: Duration = Duration::from_millis(100);
/// BUSY answers accepted for one command before giving up.
pub const BUSY_RETRIES: u32 = 50;
/// Bulk transfer: no progress for this long means the line is gone.
pub const BULK_STALL_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the agent keeps trying to reopen a port that disappeared.
pub const RECONNECT_TIMEOUT: Duration = Duration::from_secs(20);
/// Pause between reopen attempts.
pub const RECONNECT_INTERVAL: Duration = Duration::from_millis(100);

/// How long a command may take on the terminal once acknowledged (beyond wire time).
/// The response timeout of commands a terminal answers at once (every command not named in
/// [`response_timeout`]); their answers are asked for again once overdue by the measured
/// round trip.
pub const QUICK_RESPONSE_TIMEOUT: Duration = Duration::from_secs(3);

pub fn response_timeout(code: u8) -> Duration {
    match code {
        cmd::SETTLE => Duration::from_secs(30),
        cmd::TEST_TRANSACTION | cmd::ACTIVATE => Duration::from_secs(20),
        cmd::BIND | cmd::UNBIND | cmd::IMPORT_COMMIT | cmd::REBOOT => Duration::from_secs(10),
        _ => QUICK_RESPONSE_TIMEOUT,
    }
}

/// Failed authentications before the terminal locks out.
pub const MAX_AUTH_FAILURES: u32 = 5;
/// How long a lockout lasts.
pub const LOCKOUT: Duration = Duration::from_secs(300);
/// Bytes of each side's authentication nonce.
pub const NONCE_LEN: usize = 32;
