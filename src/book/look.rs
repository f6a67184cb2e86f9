//! A look at the built book in headless Chromium: a screenshot of every part's page, and its
//! DOM checked for real outputs (psql tables) and for no template text left unrendered.

use crate::browser;
use anyhow::{bail, Context, Result};
use std::fs;
use std::path::{Path, PathBuf};

/// What every part's page must show (besides a psql footer such as `(3 rows)`), and must not.
const MUST: [&str; 1] = ["Вопросы для самопроверки"];
const MUST_NOT: [&str; 4] = ["{{", "{%", "TODO", "PLACEHOLDER"];

/// Opens every `part-*.html` of `html` in Chromium, writes `out/part-N.png`, and returns the
/// problems found in the pages' DOM.
pub fn look(chromium: &Path, html: &Path, out: &Path) -> Result<Vec<String>> {
    fs::create_dir_all(out).with_context(|| format!("cannot create `{}`", out.display()))?;
    let mut pages: Vec<PathBuf> = fs::read_dir(html)
        .with_context(|| format!("cannot read `{}`: run `make book` first", html.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("part-"))
                && p.extension().is_some_and(|e| e == "html")
        })
        .collect();
    pages.sort();
    if pages.is_empty() {
        bail!(
            "`{}` has no part-*.html: run `make book` first",
            html.display()
        );
    }
    let footer = regex::Regex::new(r"\(\d+ rows?\)").expect("a valid pattern");
    let mut problems = Vec::new();
    for page in &pages {
        let page = fs::canonicalize(page)?;
        let url = format!("file://{}", page.display());
        let name = page
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let shot = out.join(format!("{name}.png"));
        let profile = out.join(format!(".profile-{name}"));
        let _ = fs::remove_dir_all(&profile);
        browser::run(
            chromium,
            &profile,
            &[
                &format!("--screenshot={}", shot.display()),
                "--window-size=1280,1600",
                "--hide-scrollbars",
                &url,
            ],
        )?;
        if !shot.exists() {
            problems.push(format!("{name}: Chromium wrote no screenshot"));
        }
        let dom = browser::run(chromium, &profile, &["--dump-dom", &url])?;
        let _ = fs::remove_dir_all(&profile);
        if !footer.is_match(&dom) {
            problems.push(format!(
                "{name}: the page shows no query output (no `(N rows)`)"
            ));
        }
        for text in MUST {
            if !dom.contains(text) {
                problems.push(format!("{name}: the page does not show `{text}`"));
            }
        }
        for text in MUST_NOT {
            if dom.contains(text) {
                problems.push(format!("{name}: the page shows `{text}`"));
            }
        }
        if !dom.contains("<details") {
            problems.push(format!(
                "{name}: the answers are not folded away (<details>)"
            ));
        }
    }
    Ok(problems)
}
