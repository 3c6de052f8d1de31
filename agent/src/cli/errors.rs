//! The error policy in one place: a library error's diagnosis ([`Diagnose`]: its kind,
//! machine code and next step) becomes a `CliError` with the exit code of its kind (usage
//! 2, data 65, unavailable 69, refused 77, interrupted 130, other 1).

use super::{CliError, Exit};
use crate::diagnosis::{Diagnose, Kind};

impl From<Kind> for Exit {
    fn from(kind: Kind) -> Exit {
        match kind {
            Kind::Failure => Exit::Failure,
            Kind::Usage => Exit::Usage,
            Kind::Data => Exit::DataErr,
            Kind::Unavailable => Exit::Unavailable,
            Kind::Refused => Exit::NoPerm,
            Kind::Interrupted => Exit::Interrupted,
        }
    }
}

/// `e` as the user sees it.
pub fn diagnosed(e: &dyn Diagnose) -> CliError {
    let d = e.diagnosis();
    let mut error = CliError::new(d.kind.into(), e.to_string());
    if let Some(code) = d.code {
        error = error.code(code);
    }
    if let Some(help) = d.help {
        error = error.help(help);
    }
    error
}

macro_rules! from_diagnosed {
    ($($(#[$attr:meta])* $t:ty),* $(,)?) => {
        $(
            $(#[$attr])*
            impl From<$t> for CliError {
                fn from(e: $t) -> Self {
                    diagnosed(&e)
                }
            }
        )*
    };
}

from_diagnosed!(
    crate::backup::BackupError,
    crate::backup::TakeError,
    crate::config::ConfigError,
    crate::config::InitError,
    crate::input::InputError,
    crate::agent::OpenError,
    crate::agent::plan::PlanError,
    crate::job::JobError,
    crate::job::restore::PreviewError,
    crate::job::OrderForError,
    crate::order::OrderFileError,
    crate::profile::ProfileError,
    crate::receipt::ReceiptError,
    posagent_console::ConsoleError,
    crate::store::StoreError,
    crate::support::SupportError,
    crate::sync::client::SyncError,
    crate::sync::delivery::DeliveryError,
    crate::sync::orders::NotReady,
    crate::sync::orders::PulledError,
    crate::sync::settings::SettingsError,
    crate::terminal::TerminalError,
    crate::terminal::discover::ChooseError,
    crate::terminal::discover::DiscoverError,
    #[cfg(feature = "sim")]
    crate::sim::demo::DemoError,
    #[cfg(feature = "sim")]
    crate::sim::command::CommandError,
);
