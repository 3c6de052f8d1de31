//! One-time codes the provider sends to a merchant's phone (docs/sync-api.md, "Phone
//! verification"): the agent asks for a code to be sent, then hands over the code the
//! merchant read out. The code is used once and never kept.

use super::api::{self, CodeCheck, CodeConfirmed, CodeRefused, CodeRequest, CodeSent};
use super::client::{Client, ProviderSettings, Reply, SyncError};

/// Why a code could not be sent or was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum CodeError {
    /// The provider cannot be reached (or its settings are wrong): nothing was confirmed.
    #[error("{0}")]
    Offline(SyncError),
    /// The code was not the one sent.
    #[error("{}", crate::tr!("code-wrong", left = .attempts_left))]
    Wrong { attempts_left: u32 },
    #[error("{}", crate::tr!("code-expired"))]
    Expired,
    #[error("{}", crate::tr!("code-exhausted"))]
    Exhausted,
    /// Any other refusal, with the provider's code and words.
    #[error("{}", crate::tr!("code-refused", code = .code.as_str(), message = .message.as_str()))]
    Refused { code: String, message: String },
}

impl CodeError {
    /// The provider refused to send a code because a limit on codes is reached
    /// (`429 too_many_codes`, docs/sync-api.md).
    pub fn is_limit(&self) -> bool {
        matches!(self, CodeError::Refused { code, .. } if code == "too_many_codes")
    }
}

/// Sends codes and checks them; the provider in the product, anything in tests.
pub trait CodeService: Send {
    /// Whether the provider answers now (nothing is sent).
    fn reachable(&mut self) -> Result<(), CodeError>;
    fn send(&mut self, request: &CodeRequest) -> Result<CodeSent, CodeError>;
    fn confirm(&mut self, id: &str, code: &str) -> Result<CodeConfirmed, CodeError>;
}

/// Where jobs ask for one-time codes: the provider config.toml names, none, or (in the
/// engine's tests) anything that sends and checks them. Each job connects afresh.
#[derive(Clone, Default)]
pub struct Codes(Option<std::sync::Arc<dyn Fn() -> Box<dyn CodeService> + Send + Sync>>);

impl std::fmt::Debug for Codes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Codes(provider)"
        } else {
            "Codes(none)"
        })
    }
}

impl Codes {
    /// The provider of config.toml, when one is configured (a configuration that is wrong
    /// is an error, not "no provider").
    pub fn configured(paths: &crate::config::Paths) -> Result<Codes, super::settings::SettingsError> {
        use super::settings::{SettingsError, settings};
        match settings(paths, Default::default()) {
            Ok((settings, ..)) => Ok(Codes::with(move || Box::new(ProviderCodes::new(settings.clone())))),
            Err(SettingsError::NoProvider) => Ok(Codes::default()),
            Err(e) => Err(e),
        }
    }

    /// Codes from whatever `connect` makes.
    pub fn with(connect: impl Fn() -> Box<dyn CodeService> + Send + Sync + 'static) -> Codes {
        Codes(Some(std::sync::Arc::new(connect)))
    }

    /// A service to ask, or `None` when no provider is configured.
    pub fn connect(&self) -> Option<Box<dyn CodeService>> {
        self.0.as_ref().map(|f| f())
    }
}

/// The provider's phone-verification endpoints, called from a job (which is not async):
/// each call opens a connection on its own runtime, since minutes may pass between them.
pub struct ProviderCodes {
    settings: ProviderSettings,
    client: Option<Client>,
}

impl ProviderCodes {
    /// Nothing is read or connected until a code is needed.
    pub fn new(settings: ProviderSettings) -> ProviderCodes {
        ProviderCodes { settings, client: None }
    }

    /// Connects (checking the provider's health) and, given a request, sends it.
    fn exchange(&mut self, request: Option<(&str, Vec<u8>)>) -> Result<Option<Reply>, CodeError> {
        if self.client.is_none() {
            self.client = Some(Client::new(&self.settings).map_err(CodeError::Offline)?);
        }
        let client = self.client.as_ref().expect("just made");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| CodeError::Offline(SyncError::Setup(e.to_string())))?;
        runtime
            .block_on(async {
                let mut session = client.connect().await?;
                match request {
                    Some((path, body)) => session.send(&client.sign(path, body)).await.map(Some),
                    None => Ok(None),
                }
            })
            .map_err(CodeError::Offline)
    }

    fn call<T: serde::de::DeserializeOwned>(&mut self, path: &str, body: Vec<u8>) -> Result<T, CodeError> {
        let reply = self.exchange(Some((path, body)))?.expect("a request was sent");
        let client = self.client.as_ref().expect("made by the exchange");
        if (200..300).contains(&reply.status) {
            return serde_json::from_slice(&reply.body).map_err(|e| {
                CodeError::Offline(SyncError::Refused {
                    url: client.url().to_string(),
                    detail: crate::tr!("code-answer-invalid", path = path, reason = e.to_string()),
                })
            });
        }
        let refused: CodeRefused = serde_json::from_slice(&reply.body).unwrap_or(CodeRefused {
            code: format!("http_{}", reply.status),
            message: String::from_utf8_lossy(&reply.body).chars().take(200).collect(),
            attempts_left: None,
        });
        Err(match refused.code.as_str() {
            "wrong_code" => CodeError::Wrong {
                attempts_left: refused.attempts_left.unwrap_or(0),
            },
            "expired" => CodeError::Expired,
            "attempts_exhausted" => CodeError::Exhausted,
            _ if reply.status == 401 || reply.status >= 500 => CodeError::Offline(SyncError::Refused {
                url: client.url().to_string(),
                detail: format!("HTTP {}: {}", reply.status, refused.message),
            }),
            _ => CodeError::Refused {
                code: refused.code,
                message: refused.message,
            },
        })
    }
}

impl CodeService for ProviderCodes {
    fn reachable(&mut self) -> Result<(), CodeError> {
        self.exchange(None).map(|_| ())
    }

    fn send(&mut self, request: &CodeRequest) -> Result<CodeSent, CodeError> {
        let body = serde_json::to_vec(request).map_err(|e| CodeError::Offline(SyncError::Setup(e.to_string())))?;
        self.call(api::PHONE_VERIFICATIONS_PATH, body)
    }

    fn confirm(&mut self, id: &str, code: &str) -> Result<CodeConfirmed, CodeError> {
        let body = zeroize::Zeroizing::new(
            serde_json::to_vec(&CodeCheck { code: code.to_string() })
                .map_err(|e| CodeError::Offline(SyncError::Setup(e.to_string())))?,
        );
        self.call(&api::confirm_path(id), body.to_vec())
    }
}
