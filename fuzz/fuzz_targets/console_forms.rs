//! Any bytes as a form body or a query string the console's pages send: reading each, as
//! axum's `Form` and `Query` read them, reports errors, never panics; an order reference
//! read from a query always makes a link back into the console.
#![no_main]

use libfuzzer_sys::fuzz_target;
use posagent_console::forms::*;

fuzz_target!(|data: &[u8]| {
    let _ = serde_urlencoded::from_bytes::<LangForm>(data);
    let _ = serde_urlencoded::from_bytes::<BindingForm>(data);
    let _ = serde_urlencoded::from_bytes::<LoginQuery>(data);
    let _ = serde_urlencoded::from_bytes::<CodeForm>(data);
    let _ = serde_urlencoded::from_bytes::<DecisionForm>(data);
    let _ = serde_urlencoded::from_bytes::<ContinueForm>(data);
    let _ = serde_urlencoded::from_bytes::<RestoreForm>(data);
    let _ = serde_urlencoded::from_bytes::<StartForm>(data);
    if let Ok(r) = serde_urlencoded::from_bytes::<OrderRef>(data) {
        let href = r.href();
        assert!(href.starts_with('/') && !href.starts_with("//"), "{href}");
        assert!(!href.contains(['<', '>', '"', ' ']), "{href}");
    }
});
