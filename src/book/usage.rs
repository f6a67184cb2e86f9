//! Where the course itself uses a name (a function of the extension, say): the parts' templates
//! and the labs' statements and solutions, so that the reference says which functions the
//! course teaches and which it only documents, without a list typed by hand.

use anyhow::{Context, Result};
use regex::Regex;
use serde::Serialize;
use std::fs;
use std::path::Path;

/// A page of the course that uses the name, and its link from the reference pages.
#[derive(Serialize)]
pub struct Use {
    pub page: String,
    pub link: String,
}

/// The parts (`templates/book/part-N.md.j2`) and labs (`labs/NN_*/statement.md`,
/// `solution.sql`) in which `name` occurs as a whole identifier, parts first.
pub fn course_uses(templates: &Path, labs: &Path, name: &str) -> Result<Vec<Use>> {
    let word = Regex::new(&format!(
        r"(^|[^A-Za-z0-9_]){}($|[^A-Za-z0-9_])",
        regex::escape(name)
    ))
    .expect("an escaped name makes a valid pattern");
    let mut uses = Vec::new();
    let mut parts = numbered(templates, "part-", ".md.j2")?;
    parts.sort();
    for (n, file) in parts {
        if word.is_match(&read(&templates.join(&file))?) {
            uses.push(Use {
                page: format!("часть {n}"),
                link: format!("../part-{n}.md"),
            });
        }
    }
    let mut folders = numbered(labs, "", "")?;
    folders.sort();
    for (n, folder) in folders {
        let mut used = false;
        for file in ["statement.md", "solution.sql"] {
            let path = labs.join(&folder).join(file);
            used |= path.exists() && word.is_match(&read(&path)?);
        }
        if used {
            uses.push(Use {
                page: format!("лабораторная работа {n}"),
                link: format!("../lab-{n}.md"),
            });
        }
    }
    Ok(uses)
}

/// The entries of `dir` named `<prefix><number>...<suffix>`, with their number.
fn numbered(dir: &Path, prefix: &str, suffix: &str) -> Result<Vec<(u32, String)>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).with_context(|| format!("cannot read `{}`", dir.display()))? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(prefix).filter(|_| name.ends_with(suffix)) else {
            continue;
        };
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        if let Ok(n) = digits.parse() {
            out.push((n, name));
        }
    }
    Ok(out)
}

fn read(path: &Path) -> Result<String> {
    fs::read_to_string(path).with_context(|| format!("cannot read `{}`", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_found_whole_in_parts_and_labs() {
        let root = std::env::temp_dir().join(format!("labs-usage-{}", std::process::id()));
        let (templates, labs) = (root.join("t"), root.join("labs"));
        fs::create_dir_all(labs.join("02_tools")).unwrap();
        fs::create_dir_all(&templates).unwrap();
        fs::write(templates.join("part-4.md.j2"), "SELECT f_v2(1)").unwrap();
        fs::write(templates.join("part-1.md.j2"), "`f` runs").unwrap();
        fs::write(labs.join("02_tools/solution.sql"), "PERFORM f(1);").unwrap();
        let uses = course_uses(&templates, &labs, "f").unwrap();
        let pages: Vec<&str> = uses.iter().map(|u| u.page.as_str()).collect();
        assert_eq!(pages, ["часть 1", "лабораторная работа 2"]);
        assert_eq!(uses[1].link, "../lab-2.md");
        fs::remove_dir_all(&root).unwrap();
    }
}
