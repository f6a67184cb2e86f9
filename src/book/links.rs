//! The link check of the built book: every internal link and `#anchor` of the HTML that
//! `mdbook build` wrote resolves to a file and an element id (mdbook-linkcheck does not support
//! mdBook 0.5).

use anyhow::{bail, Context, Result};
use regex::Regex;
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The broken links of the HTML under `dir`, each as `file: link (why)`; fails when `dir` has
/// no HTML at all.
pub fn check(dir: &Path) -> Result<Vec<String>> {
    let href = Regex::new(r#"(?:href|src)="([^"]*)""#).expect("a valid pattern");
    let id = Regex::new(r#"\b(?:id|name)="([^"]*)""#).expect("a valid pattern");
    let files = html_files(dir)?;
    if files.is_empty() {
        bail!("`{}` holds no HTML: run `make book` first", dir.display());
    }
    let mut ids: BTreeMap<PathBuf, BTreeSet<String>> = BTreeMap::new();
    let mut texts = BTreeMap::new();
    for file in &files {
        let text = fs::read_to_string(file)
            .with_context(|| format!("cannot read `{}`", file.display()))?;
        ids.insert(
            file.clone(),
            id.captures_iter(&text).map(|c| unescape(&c[1])).collect(),
        );
        texts.insert(file.clone(), text);
    }
    let base_tag = Regex::new(r#"<base href="([^"]*)"\s*/?>"#).expect("a valid pattern");
    let mut broken = Vec::new();
    for (file, text) in &texts {
        // A `<base href>` (mdBook's 404 page has one, the site's root) is where relative links
        // start from; links starting with `/` start from the book's root.
        let base = match base_tag.captures(text) {
            Some(c) => dir.join(c[1].trim_start_matches('/')),
            None => file.parent().expect("a file has a folder").to_path_buf(),
        };
        let text = base_tag.replace_all(text, "");
        for link in href.captures_iter(&text).map(|c| unescape(&c[1])) {
            if link.is_empty()
                || link == "#"
                || link.starts_with("//")
                || ["http:", "https:", "mailto:", "javascript:", "data:"]
                    .iter()
                    .any(|s| link.starts_with(s))
            {
                continue;
            }
            let (path, anchor) = match link.split_once('#') {
                Some((p, a)) => (p, Some(decode(a))),
                None => (link.as_str(), None),
            };
            let path = path.split('?').next().unwrap_or("");
            let target = if path.is_empty() {
                file.clone()
            } else {
                let joined = match path.strip_prefix('/') {
                    Some(rooted) => dir.join(decode(rooted)),
                    None => base.join(decode(path)),
                };
                let joined = if path.ends_with('/') {
                    joined.join("index.html")
                } else {
                    joined
                };
                normalize(&joined)
            };
            let shown = file.strip_prefix(dir).unwrap_or(file).display().to_string();
            if !target.exists() {
                broken.push(format!("{shown}: {link} (no such file)"));
                continue;
            }
            if let Some(anchor) = anchor.filter(|a| !a.is_empty()) {
                let known = ids.get(&target).is_some_and(|set| set.contains(&anchor));
                if !known {
                    broken.push(format!("{shown}: {link} (no element with id `{anchor}`)"));
                }
            }
        }
    }
    Ok(broken)
}

/// Every `.html` file under `dir`.
fn html_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in fs::read_dir(&d).with_context(|| format!("cannot read `{}`", d.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                todo.push(path);
            } else if path.extension().is_some_and(|e| e == "html") {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// `a/./b/../c` as `a/c`, without touching the file system.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// The HTML entities mdBook writes into attributes.
fn unescape(text: &str) -> String {
    text.replace("&amp;", "&")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
}

/// Percent-decoding of a URL part (UTF-8).
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&text[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_broken_links_and_anchors() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join("a.html"),
            r##"<h2 id="раз">x</h2><a href="b.html#два">ok</a><a href="#раз">ok</a>
               <a href="b.html#%D1%82%D1%80%D0%B8">bad</a><a href="c.html">bad</a>
               <a href="https://example.org/x">external</a>"##,
        )
        .unwrap();
        fs::write(dir.path().join("b.html"), r#"<p id="два"></p>"#).unwrap();
        let broken = check(dir.path()).unwrap();
        assert_eq!(broken.len(), 2, "{broken:?}");
        assert!(
            broken[0].contains("три") && broken[1].contains("c.html"),
            "{broken:?}"
        );
        assert_eq!(decode("%D0%B0b"), "аb");
    }
}
