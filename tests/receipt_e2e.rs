//! The receipt a merchant signs: written by the demo's migration (real terminals over
//! pseudo-terminals, a signed order, delivery over TLS), read as HTML, then rendered by
//! headless Chromium to PDF and PNG and read back with pdftotext.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

/// Digit runs of 13–19 digits that pass the Luhn check: what a card number looks like.
fn card_like_numbers(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_ascii_digit())
        .filter(|run| (13..=19).contains(&run.len()) && posagent::domain::luhn_valid(run))
        .map(str::to_string)
        .collect()
}

/// A masked card number (6 digits, stars, 4 digits) somewhere in `text`.
fn has_masked_card(text: &str) -> bool {
    let b = text.as_bytes();
    let digits = |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    (0..b.len()).any(|i| {
        let stars = b[i..].iter().take_while(|&&c| c == b'*').count();
        i >= 6 && stars >= 3 && b[i - 1] != b'*' && digits(i - 6..i) && digits(i + stars..i + stars + 4)
    })
}

/// Runs the demo in Shanghai time and returns its data directory and the receipt it wrote.
fn demo_receipt(home: &Path) -> (PathBuf, PathBuf) {
    let out = common::posagent(home)
        .env("TZ", "Asia/Shanghai")
        .args(["demo", "--json"])
        .timeout(std::time::Duration::from_secs(240))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let doc = common::json_docs(&out).pop().unwrap();
    (
        PathBuf::from(doc["data_dir"].as_str().unwrap()),
        PathBuf::from(doc["receipt"].as_str().expect("the demo names its receipt")),
    )
}

#[test]
fn the_demo_leaves_a_bilingual_self_contained_receipt_with_masked_numbers() {
    let home = tempfile::tempdir().unwrap();
    let (data_dir, receipt) = demo_receipt(home.path());
    let html = std::fs::read_to_string(&receipt).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&receipt).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the receipt names the merchant");
    }
    // Chinese first, then English.
    let zh = html.find("终端绑定变更签收单").expect("Chinese title");
    let en = html.find("Terminal binding change receipt").expect("English title");
    assert!(zh < en);
    for part in [
        "商户签字",
        "Merchant signature",
        "技术员签字",
        "WO-DEMO-0001",
        "DEMO-NEW-0002",
    ] {
        assert!(html.contains(part), "{part} missing");
    }
    // A migration: both units side by side, each with its serial; the old one unbound.
    for part in [
        "旧机 DEMO-OLD-0001（变更前）",
        "旧机 DEMO-OLD-0001（变更后）",
        "替换机 DEMO-NEW-0002（变更后）",
        "Replacement unit DEMO-NEW-0002, after",
        "<td class=num>未绑定 · unbound</td>",
        "<td class=num>已绑定 · bound</td>",
        "个体商户 · individual business",
    ] {
        assert!(html.contains(part), "{part} missing");
    }
    assert!(!html.contains(">bound<"), "a status in English only");
    assert!(html.contains("服务商已签名"), "the order was signed by the provider");
    assert!(html.contains("PRV-"), "the provider's receipt after the demo's sync");
    assert!(html.contains("+08:00"), "times are local, with their offset");
    assert!(has_masked_card(&html), "the card, masked");
    assert_eq!(card_like_numbers(&html), Vec::<String>::new());
    // Nothing to fetch: no scripts, images, links or remote fonts.
    for fetch in ["<script", "<img", "<link", "url(", "http://", "https://", "@import"] {
        assert!(!html.contains(fetch), "the page fetches with {fetch}");
    }

    // Written again on request, to another place.
    let again = home.path().join("again.html");
    let job = receipt.file_stem().unwrap().to_str().unwrap();
    let out = common::posagent(&data_dir)
        .args(["jobs", "receipt", &job[..8], "--out"])
        .arg(&again)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(std::fs::read_to_string(&again).unwrap().contains("PRV-"));
    let out = common::posagent(&data_dir)
        .args(["jobs", "receipt", "nope"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(65), "an unknown job is a data error");

    // A PDF asked for with no browser to print it: refused, saying what to do, nothing
    // written (it wrote the page's HTML into the .pdf file).
    let no_browser = home.path().join("no-browser.pdf");
    let empty_path = home.path().join("empty-path");
    std::fs::create_dir_all(&empty_path).unwrap();
    let out = common::posagent(&data_dir)
        .env("PATH", &empty_path)
        .env_remove("POSAGENT_BROWSER")
        .args(["jobs", "receipt", job, "--out"])
        .arg(&no_browser)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "a usage error: {said}");
    assert!(said.contains("POSAGENT_BROWSER") && said.contains(".html"), "{said}");
    assert!(!no_browser.exists(), "nothing written under the .pdf name");

    match Command::new("chromium").arg("--version").output() {
        Ok(o) if o.status.success() => {
            render_and_read(&receipt, home.path());
            let pdf = home.path().join("receipt-out.pdf");
            let out = common::posagent(&data_dir)
                .args(["jobs", "receipt", job, "--out"])
                .arg(&pdf)
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            read_pdf(&pdf);
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(&pdf).unwrap().permissions().mode() & 0o777;
                assert_eq!(mode, 0o600, "the PDF names the merchant");
            }
        }
        _ => eprintln!("SKIPPED rendering the receipt: chromium is not installed (tests/run installs it with apt)"),
    }
    std::fs::remove_dir_all(&data_dir).unwrap();
}

/// Renders the page as a browser prints it and reads the PDF's text back.
fn render_and_read(receipt: &Path, dir: &Path) {
    let pdf = dir.join("receipt.pdf");
    let png = dir.join("receipt.png");
    let url = format!("file://{}", receipt.display());
    let chromium = |arg: String| {
        let out = Command::new("chromium")
            .args(["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"])
            .args(["--no-pdf-header-footer", "--window-size=794,1123"])
            .arg(format!("--user-data-dir={}", dir.join("chromium-profile").display()))
            .arg(arg)
            .arg(&url)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };
    chromium(format!("--print-to-pdf={}", pdf.display()));
    chromium(format!("--screenshot={}", png.display()));
    assert!(std::fs::read(&png).unwrap().starts_with(b"\x89PNG"), "a PNG");
    read_pdf(&pdf);
}

/// Reads a printed receipt back: both titles, the masked card and no full number, one A4
/// page.
fn read_pdf(pdf: &Path) {
    assert!(std::fs::read(pdf).unwrap().starts_with(b"%PDF-"), "a PDF");
    let text = Command::new("pdftotext").arg(pdf).arg("-").output().unwrap();
    assert!(
        text.status.success(),
        "pdftotext: {}",
        String::from_utf8_lossy(&text.stderr)
    );
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.contains("终端绑定变更签收单"), "Chinese in the PDF: {text}");
    assert!(text.contains("Terminal binding change receipt"), "English in the PDF");
    assert!(has_masked_card(&text), "the masked card in the PDF: {text}");
    assert_eq!(card_like_numbers(&text), Vec::<String>::new());
    let pages = Command::new("pdfinfo").arg(pdf).output().unwrap();
    let info = String::from_utf8_lossy(&pages.stdout);
    assert!(info.contains("A4"), "an A4 page: {info}");
    assert!(
        info.lines().any(|l| l.starts_with("Pages:") && l.ends_with(" 1")),
        "one page to sign: {info}"
    );
}
