//! A look at the built book in headless Chromium: a screenshot of every part's page, its DOM
//! checked for real outputs (psql tables), goals, summary, links and no template text left
//! unrendered, its diagrams measured and its quiz answered and scored (by look.js).

use crate::browser;
use anyhow::{bail, Context, Result};
use std::fs;
use std::path::{Path, PathBuf};

/// What every part's page must show (besides a psql footer such as `(3 rows)`), and must not.
const MUST: [&str; 4] = [
    "Цели",
    "Итоги",
    "Вопросы для самопроверки",
    "https://www.postgresql.org/docs/15/",
];
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
        let _ = fs::remove_dir_all(&profile);
        // A copy of the page with look.js after its own scripts, beside it so that its links
        // and scripts resolve; the check answers the quiz in a fresh profile.
        let text = fs::read_to_string(&page)?;
        let Some(at) = text.rfind("</body>") else {
            problems.push(format!("{name}: the page has no </body>"));
            continue;
        };
        let copy = page.with_file_name(format!(".look-{name}.html"));
        fs::write(
            &copy,
            format!(
                "{}<script>{}</script>{}",
                &text[..at],
                include_str!("look.js"),
                &text[at..]
            ),
        )?;
        let dom = browser::run(
            chromium,
            &profile,
            &["--dump-dom", &format!("file://{}", copy.display())],
        );
        let _ = fs::remove_file(&copy);
        let _ = fs::remove_dir_all(&profile);
        let dom = dom?;
        problems.extend(
            seen(&dom)
                .map(|s| judge(&s))
                .unwrap_or_else(|| vec!["look.js left no result: the page's scripts failed".into()])
                .into_iter()
                .map(|p| format!("{name}: {p}")),
        );
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

/// What look.js saw of a page.
#[derive(serde::Deserialize)]
struct Seen {
    diagrams: Vec<Diagram>,
    quizzes: Vec<Quiz>,
}

#[derive(serde::Deserialize)]
struct Diagram {
    shapes: usize,
    texts: usize,
    width: f64,
    height: f64,
    caption: String,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Quiz {
    name: String,
    ready: bool,
    steps: Vec<QuizStep>,
    after_second_click: u32,
    stored: usize,
    total: usize,
}

#[derive(serde::Deserialize)]
struct QuizStep {
    right: bool,
    points: u32,
    explained: bool,
}

/// The JSON look.js left in `<pre id="labs-look">`.
fn seen(dom: &str) -> Option<Seen> {
    let start = dom.rfind("<pre id=\"labs-look\">")? + "<pre id=\"labs-look\">".len();
    let end = start + dom[start..].find("</pre>")?;
    let json = dom[start..end]
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    serde_json::from_str(&json).ok()
}

/// The problems of a page's diagrams and quiz: every diagram drawn with a caption, one quiz that
/// scores a wrong answer 0 and each right one 1, explains both, keeps the answers and ignores a
/// second click.
fn judge(seen: &Seen) -> Vec<String> {
    let mut problems = Vec::new();
    if seen.diagrams.is_empty() {
        problems.push("the page has no diagram".to_string());
    }
    for (i, d) in seen.diagrams.iter().enumerate() {
        if d.shapes == 0 || d.texts == 0 || d.width < 50.0 || d.height < 20.0 {
            problems.push(format!(
                "diagram {} is not drawn ({} shapes, {} texts, {:.0}×{:.0} px)",
                i + 1,
                d.shapes,
                d.texts,
                d.width,
                d.height
            ));
        }
        if d.caption.trim().is_empty() {
            problems.push(format!("diagram {} has no caption", i + 1));
        }
    }
    if seen.quizzes.is_empty() {
        problems.push("the page has no quiz".to_string());
    }
    for quiz in &seen.quizzes {
        let q = &quiz.name;
        if !quiz.ready {
            problems.push(format!("quiz {q}: quiz.js did not start it"));
        }
        let mut expected = 0;
        for (n, step) in quiz.steps.iter().enumerate() {
            expected += u32::from(step.right);
            if step.points != expected {
                problems.push(format!(
                    "quiz {q}, question {}: the score is {} where {expected} was due",
                    n + 1,
                    step.points
                ));
            }
            if !step.explained {
                problems.push(format!(
                    "quiz {q}, question {}: the explanations are not shown",
                    n + 1
                ));
            }
        }
        if quiz.steps.len() != quiz.total {
            problems.push(format!(
                "quiz {q}: {} questions but a total of {}",
                quiz.steps.len(),
                quiz.total
            ));
        }
        if quiz.after_second_click != expected {
            problems.push(format!("quiz {q}: a second click changed the score"));
        }
        if quiz.stored != quiz.steps.len() {
            problems.push(format!(
                "quiz {q}: {} answers kept in the browser, not {}",
                quiz.stored,
                quiz.steps.len()
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quiz_that_does_not_score_is_named() {
        let dom = r#"<body><pre id="labs-look">{"diagrams":[{"shapes":3,"texts":2,"width":300,"height":90,"caption":"Дерево"}],"quizzes":[{"name":"part-1-2","ready":true,"steps":[{"right":false,"points":0,"explained":true},{"right":true,"points":0,"explained":true}],"afterSecondClick":0,"stored":2,"total":2}]}</pre></body>"#;
        let problems = judge(&seen(dom).unwrap());
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("question 2: the score is 0 where 1 was due"));
        assert!(judge(&Seen {
            diagrams: vec![],
            quizzes: vec![]
        })
        .iter()
        .any(|p| p.contains("no diagram")));
    }
}
