//! The scored quiz at the end of a part: its questions checked (one right option, an
//! explanation for every option, no two alike) and written as the HTML that quiz.js brings to life.

use anyhow::{bail, Result};
use serde::Deserialize;
use std::fmt::Write;

/// One question: what is asked, an optional SQL shown with it, and the options.
#[derive(Deserialize)]
pub struct Question {
    pub ask: String,
    #[serde(default)]
    pub code: Option<String>,
    pub options: Vec<Choice>,
}

/// One option of a question and why it is right or wrong.
#[derive(Deserialize)]
pub struct Choice {
    pub text: String,
    #[serde(default)]
    pub right: bool,
    pub why: String,
    /// Shown as preformatted text (what the server prints).
    #[serde(default)]
    pub pre: bool,
}

/// Escaped text for an attribute or a `<pre>` that must stay on one line of the HTML block
/// (Markdown ends an HTML block at a blank line).
fn one_line(text: &str) -> String {
    super::diagram::esc(text).replace('\n', "&#10;")
}

/// The quiz `name` as one HTML block; `inline` renders a text's `code` and **bold**.
pub fn html(name: &str, questions: &[Question], inline: impl Fn(&str) -> String) -> Result<String> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        bail!("quiz `{name}`: the name must be letters, digits and dashes");
    }
    if questions.is_empty() {
        bail!("quiz `{name}` has no questions");
    }
    let mut out = format!(
        "<div class=\"quiz\" data-quiz=\"{name}-{}\">\n<p class=\"quiz-intro\">Выберите ответ \
         на каждый вопрос: появится объяснение, а счёт сохранится в этом браузере.</p>\n\
         <noscript><p>Тест работает со включённым JavaScript.</p></noscript>\n",
        questions.len()
    );
    for (n, question) in questions.iter().enumerate() {
        let which = format!("quiz `{name}`, question {}", n + 1);
        let right: Vec<usize> = question
            .options
            .iter()
            .enumerate()
            .filter(|(_, c)| c.right)
            .map(|(i, _)| i)
            .collect();
        let [right] = right.as_slice() else {
            bail!("{which}: {} right options, not one", right.len());
        };
        if question.options.len() < 3 {
            bail!("{which}: fewer than three options");
        }
        for (i, choice) in question.options.iter().enumerate() {
            if choice.text.trim().is_empty() || choice.why.trim().is_empty() {
                bail!("{which}: option {} has no text or no explanation", i + 1);
            }
            if question.options[..i]
                .iter()
                .any(|o| o.text.trim() == choice.text.trim())
            {
                bail!(
                    "{which}: two options read `{}` (a computed answer equals a distractor?)",
                    choice.text.trim()
                );
            }
        }
        let _ = writeln!(
            out,
            "<div class=\"quiz-question\" data-right=\"{right}\">\n<p class=\"quiz-ask\">\
             <strong>{}.</strong> {}</p>",
            n + 1,
            inline(&question.ask)
        );
        if let Some(code) = &question.code {
            let _ = writeln!(
                out,
                "<pre class=\"quiz-code\"><code class=\"language-sql\">{}</code></pre>",
                one_line(code.trim())
            );
        }
        // Each option's explanation right under it, hidden until the question is answered.
        out.push_str("<div class=\"quiz-options\">\n");
        for (i, choice) in question.options.iter().enumerate() {
            let text = if choice.pre {
                format!("<pre>{}</pre>", one_line(choice.text.trim_end()))
            } else {
                inline(&choice.text)
            };
            let _ = writeln!(
                out,
                "<button type=\"button\" class=\"quiz-option\" data-index=\"{i}\">{text}</button>\n\
                 <div class=\"quiz-why\" data-index=\"{i}\" hidden><strong>{}</strong> {}</div>",
                if i == *right { "Верно." } else { "Неверно." },
                inline(&choice.why)
            );
        }
        out.push_str("</div>\n");
        out.push_str("</div>\n");
    }
    let _ = write!(
        out,
        "<p class=\"quiz-score\">Верных ответов: <span class=\"quiz-points\">0</span> из \
         <span class=\"quiz-total\">{}</span>.</p>\n<button type=\"button\" \
         class=\"quiz-reset\">Пройти заново</button>\n</div>",
        questions.len()
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn choice(text: &str, right: bool) -> Choice {
        Choice {
            text: text.into(),
            right,
            why: "потому что".into(),
            pre: false,
        }
    }

    fn question(options: Vec<Choice>) -> Question {
        Question {
            ask: "Что?".into(),
            code: Some("SELECT 1;\n\nSELECT 2;".into()),
            options,
        }
    }

    #[test]
    fn a_quiz_is_one_html_block_with_one_right_option() {
        let html = html(
            "part-1",
            &[question(vec![
                choice("a", false),
                choice("b", true),
                choice("c", false),
            ])],
            |t| t.to_string(),
        )
        .unwrap();
        assert!(html.contains("data-right=\"1\""));
        assert!(!html.contains("\n\n"), "no blank line ends the HTML block");
        assert_eq!(html.matches("class=\"quiz-why\"").count(), 3);
    }

    #[test]
    fn a_broken_question_fails_the_render() {
        let quiz = |options| html("q", &[question(options)], |t: &str| t.to_string());
        assert!(quiz(vec![
            choice("a", false),
            choice("b", false),
            choice("c", false)
        ])
        .is_err());
        assert!(quiz(vec![
            choice("a", true),
            choice("b", true),
            choice("c", false)
        ])
        .is_err());
        assert!(quiz(vec![choice("a", true), choice("b", false)]).is_err());
        let same = quiz(vec![
            choice("1", true),
            choice("1", false),
            choice("2", false),
        ]);
        assert!(same.unwrap_err().to_string().contains("two options"));
        assert!(html("bad name", &[], |t: &str| t.to_string()).is_err());
    }
}
