//! Message catalogues: every sentence a person reads comes from `locales/en.ftl` or
//! `locales/zh-CN.ftl` (Fluent), in the language chosen once at start-up. JSON output stays
//! language-neutral: machine codes beside the localised message.
//!
//! The language follows `--lang`, then `POSAGENT_LANG`, then the first of `LC_ALL`,
//! `LC_MESSAGES` and `LANG` that is set (`zh_CN.*`, `zh_SG.*`, `zh-Hans*` → zh-CN), else
//! English. A third language, `qps` (pseudo-localised English), exists for tests and
//! translators: every catalogue message wrapped in `⟦…⟧` with its letters accented, so any
//! plain ASCII word on screen is text that did not come from the catalogue.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicU8, Ordering};

pub use fluent_bundle::FluentArgs;
use fluent_bundle::FluentResource;
use fluent_bundle::concurrent::FluentBundle;

/// A language the agent speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    En,
    ZhCn,
    /// Pseudo-localised English (`qps-ploc`): the English catalogue with every message
    /// wrapped in `⟦…⟧` and every letter outside `code spans` accented.
    Qps,
}

/// The catalogues, as compiled in: (language, its Fluent source).
pub const CATALOGUES: [(Lang, &str); 2] = [
    (Lang::En, include_str!("../locales/en.ftl")),
    (Lang::ZhCn, include_str!("../locales/zh-CN.ftl")),
];

impl Lang {
    /// The BCP 47 tag: `en` or `zh-CN`.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::ZhCn => "zh-CN",
            Lang::Qps => "qps-ploc",
        }
    }

    /// Parses a language named on the command line or in `POSAGENT_LANG`: `en` or `zh-CN`
    /// (also written `zh`, `zh_CN`, `zh-Hans`, in any case), or the pseudo-locale `qps`.
    pub fn parse(name: &str) -> Option<Lang> {
        match name.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "en" | "en-us" | "en-gb" => Some(Lang::En),
            "zh" | "zh-cn" | "zh-sg" | "zh-hans" | "zh-hans-cn" => Some(Lang::ZhCn),
            "qps" | "qps-ploc" => Some(Lang::Qps),
            _ => None,
        }
    }

    /// The language of a POSIX locale (`zh_CN.UTF-8`, `zh_SG.GB2312@stroke`, `C`): Chinese for
    /// simplified-Chinese locales, English for everything else.
    pub fn from_locale(locale: &str) -> Lang {
        let base = locale
            .split(['.', '@'])
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase()
            .replace('_', "-");
        if base == "zh-cn" || base == "zh-sg" || base.starts_with("zh-hans") {
            Lang::ZhCn
        } else {
            Lang::En
        }
    }

    /// The system's language from the locale variables, as `getenv` would find them: the first
    /// non-empty of `LC_ALL`, `LC_MESSAGES`, `LANG`; where none is set (Windows), the
    /// system's display language.
    pub fn from_env_locale(var: impl Fn(&str) -> Option<String>) -> Lang {
        ["LC_ALL", "LC_MESSAGES", "LANG"]
            .iter()
            .find_map(|name| var(name).filter(|v| !v.is_empty()))
            .or_else(system_locale)
            .map_or(Lang::En, |v| Lang::from_locale(&v))
    }
}

/// The display language Windows is set to (`zh-CN`), which no variable carries.
#[cfg(windows)]
fn system_locale() -> Option<String> {
    sys_locale::get_locale()
}

#[cfg(not(windows))]
fn system_locale() -> Option<String> {
    None
}

static CURRENT: AtomicU8 = AtomicU8::new(0);

thread_local! {
    /// This thread's language, where it differs from the process's (a console session's).
    static THREAD: std::cell::Cell<Option<Lang>> = const { std::cell::Cell::new(None) };
}

/// Chooses the language of every message from now on (the command line does, once).
pub fn set_lang(lang: Lang) {
    CURRENT.store(lang as u8, Ordering::Relaxed);
}

/// The language messages are in: this thread's, else the process's.
pub fn lang() -> Lang {
    if let Some(l) = THREAD.with(std::cell::Cell::get) {
        return l;
    }
    match CURRENT.load(Ordering::Relaxed) {
        x if x == Lang::ZhCn as u8 => Lang::ZhCn,
        x if x == Lang::Qps as u8 => Lang::Qps,
        _ => Lang::En,
    }
}

/// Runs `f` with every message on this thread in `lang` (a console request, or a job it
/// started), whatever other threads speak.
pub fn in_lang<T>(lang: Lang, f: impl FnOnce() -> T) -> T {
    struct Restore(Option<Lang>);
    impl Drop for Restore {
        fn drop(&mut self) {
            THREAD.with(|t| t.set(self.0));
        }
    }
    let _restore = Restore(THREAD.with(|t| t.replace(Some(lang))));
    f()
}

fn bundle(lang: Lang) -> FluentBundle<FluentResource> {
    let source = match lang {
        Lang::Qps => pseudo::localise(CATALOGUES[0].1),
        _ => CATALOGUES
            .iter()
            .find(|(l, _)| *l == lang)
            .map_or(CATALOGUES[0].1, |(_, s)| s)
            .to_string(),
    };
    // The pseudo-locale is English underneath: English plural rules and number formats.
    let tag = if lang == Lang::Qps { "en" } else { lang.tag() };
    let id: unic_langid::LanguageIdentifier = tag.parse().unwrap_or_default();
    let mut bundle = FluentBundle::new_concurrent(vec![id]);
    // Terminals and logs show the text as is; isolation marks would appear as stray bytes.
    bundle.set_use_isolating(false);
    // The catalogues are checked by the tests (`catalogues_parse_and_match`); a broken entry
    // is left out here and its key shown instead.
    let resource = FluentResource::try_new(source).unwrap_or_else(|(partial, _)| partial);
    let _ = bundle.add_resource(resource);
    bundle
}

/// Each language's bundle, built when first asked for: a run in one language never parses
/// the others (nor makes the pseudo-locale).
static BUNDLES: [LazyLock<FluentBundle<FluentResource>>; 3] = [
    LazyLock::new(|| bundle(Lang::En)),
    LazyLock::new(|| bundle(Lang::ZhCn)),
    LazyLock::new(|| bundle(Lang::Qps)),
];

/// The message `key` in the current language, with `args` filled in. A key missing from the
/// catalogue (which the tests forbid) shows as itself rather than as nothing.
pub fn text(key: &str, args: Option<&FluentArgs>) -> String {
    text_in(lang(), key, args)
}

/// The message `key` in `lang`.
pub fn text_in(lang: Lang, key: &str, args: Option<&FluentArgs>) -> String {
    message_in(lang, key, args).unwrap_or_else(|| key.to_string())
}

/// The message `key` in `lang`, or `None` where the catalogue has no such message (for
/// lookups that fall back on purpose, such as an option's shared description).
pub fn message_in(lang: Lang, key: &str, args: Option<&FluentArgs>) -> Option<String> {
    let bundle = &BUNDLES[lang as usize];
    let pattern = bundle.get_message(key)?.value()?;
    let mut errors = Vec::new();
    Some(bundle.format_pattern(pattern, args, &mut errors).into_owned())
}

/// An I/O failure in words of the current language that say what happened: a full disk
/// plainly instead of "No space left on device (os error 28)"; a kind the catalogue does
/// not name keeps the system's words after its own.
pub fn io_reason(e: &std::io::Error) -> String {
    use std::io::ErrorKind as K;
    if e.raw_os_error() == Some(28) {
        return text("disk-full", None);
    }
    let key = match e.kind() {
        K::StorageFull | K::QuotaExceeded => "disk-full",
        K::NotFound => "io-not-found",
        K::PermissionDenied => "io-permission-denied",
        K::AlreadyExists => "io-already-exists",
        K::IsADirectory => "io-is-a-directory",
        K::NotADirectory => "io-not-a-directory",
        K::ReadOnlyFilesystem => "io-read-only",
        K::ResourceBusy => "io-busy",
        K::ConnectionRefused => "io-connection-refused",
        K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe => "io-connection-reset",
        K::HostUnreachable | K::NetworkUnreachable | K::NetworkDown | K::AddrNotAvailable => "io-unreachable",
        K::AddrInUse => "io-address-in-use",
        K::TimedOut => "io-timed-out",
        K::UnexpectedEof => "io-unexpected-eof",
        K::OutOfMemory => "io-out-of-memory",
        // A message posagent wrote itself (its own catalogue's words) stands as it is.
        K::InvalidData | K::InvalidInput | K::Other if e.raw_os_error().is_none() => return e.to_string(),
        _ => {
            let mut args = FluentArgs::new();
            args.set("detail", e.to_string());
            return text("io-other", Some(&args));
        }
    };
    text(key, None)
}

/// A localised message: `tr!("key")` or `tr!("key", name = value, …)`, values being strings
/// or numbers.
#[macro_export]
macro_rules! tr {
    ($key:literal) => {
        $crate::text($key, None)
    };
    ($key:literal, $($name:ident = $value:expr),+ $(,)?) => {{
        let mut args = $crate::FluentArgs::new();
        $( args.set(stringify!($name), $value); )+
        $crate::text($key, Some(&args))
    }};
}

mod pseudo;

pub use pseudo::accented;

#[cfg(test)]
mod tests;
