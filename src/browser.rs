//! Headless Chromium, as the book's and the gradebook's checks run it: no network of its own,
//! a fresh profile each time, and what it printed (a page's DOM) returned.

use anyhow::{bail, Context, Result};
use rand::distributions::{Alphanumeric, DistString};
use std::fs;
use std::path::Path;
use std::process::Command;

/// Runs headless Chromium with `args` and a profile in `profile`, and returns what it printed.
pub fn run(chromium: &Path, profile: &Path, args: &[&str]) -> Result<String> {
    let out = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=3000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .output()
        .with_context(|| {
            format!(
                "cannot run `{}`; install Debian's `chromium` package (`make browser`)",
                chromium.display()
            )
        })?;
    if !out.status.success() {
        bail!(
            "Chromium failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The DOM of the HTML file `page` once Chromium has rendered it (its scripts run).
pub fn dom(chromium: &Path, page: &Path) -> Result<String> {
    let page =
        fs::canonicalize(page).with_context(|| format!("cannot read `{}`", page.display()))?;
    let profile = std::env::temp_dir().join(format!(
        "labs-chromium-{}-{}",
        std::process::id(),
        Alphanumeric.sample_string(&mut rand::thread_rng(), 8)
    ));
    let url = format!("file://{}", page.display());
    let dom = run(chromium, &profile, &["--dump-dom", &url]);
    let _ = fs::remove_dir_all(&profile);
    dom
}
