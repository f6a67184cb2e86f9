//! A line of the answer with a caret under a column, as rustc and psql mark where an error is:
//! tabs expanded, wide and combining characters measured, a long line cut around the caret.

use unicode_width::UnicodeWidthChar;

/// Tab stops every this many columns, as rustc shows source lines.
const TAB: usize = 4;

/// The widest a shown line may be before it is cut around the caret.
const MAX_WIDTH: usize = 100;

/// How much of a cut line is shown before the caret.
const BEFORE_CARET: usize = 40;

/// Where an error is in the answer, in rustc's layout: the line and column (1-based, in
/// characters), then the line numbered `line` (when known) with a caret under the column (past
/// the end, just after the line):
/// ```text
///  --> строка 2, столбец 5
///   |
/// 2 |     SELEC 1;
///   |     ^
/// ```
pub fn snippet(line: usize, column: usize, source: Option<&str>) -> String {
    let number = line.to_string();
    let gutter = " ".repeat(number.len());
    let mut out = format!("{gutter}--> строка {line}, столбец {column}");
    if let Some(source) = source {
        let (shown, caret) = marked(source, column);
        let caret = " ".repeat(caret);
        out.push_str(&format!(
            "\n{gutter} |\n{number} | {}\n{gutter} | {caret}^",
            shown.trim_end()
        ));
    }
    out
}

/// The line as a terminal shows it, and the display column (0-based) of character `column`.
fn marked(source: &str, column: usize) -> (String, usize) {
    // Every character as shown, with the display columns it starts and ends at.
    let mut cells: Vec<(String, usize, usize)> = Vec::new();
    let mut width = 0;
    for c in source.chars() {
        let shown = match c {
            '\t' => " ".repeat(TAB - width % TAB),
            c if c.is_control() => '\u{fffd}'.to_string(),
            c => c.to_string(),
        };
        let start = width;
        width += shown.chars().map(|c| c.width().unwrap_or(0)).sum::<usize>();
        cells.push((shown, start, width));
    }
    let caret = cells
        .get(column.saturating_sub(1))
        .map_or(width, |(_, start, _)| *start);
    if width <= MAX_WIDTH {
        let line = cells.into_iter().map(|(shown, _, _)| shown).collect();
        return (line, caret);
    }
    // Cut: BEFORE_CARET columns before the caret, the rest of MAX_WIDTH after it.
    let from = caret.saturating_sub(BEFORE_CARET);
    let to = from + MAX_WIDTH;
    let kept: Vec<(String, usize, usize)> = cells
        .into_iter()
        .filter(|(_, start, end)| *start >= from && *end <= to)
        .collect();
    // A wide character across `from` is left out: the line starts where the first kept one does.
    let first = kept.first().map_or(from, |(_, start, _)| *start);
    let mut line = String::new();
    let mut caret = caret - first;
    if from > 0 {
        line.push('…');
        caret += 1;
    }
    let end = kept.last().map_or(from, |(_, _, end)| *end);
    line.extend(kept.into_iter().map(|(shown, _, _)| shown));
    if end < width {
        line.push('…');
    }
    (line, caret)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A snippet's line of the answer and its caret's line, without the gutter.
    fn caret_of(line: usize, column: usize, source: &str) -> (String, String) {
        let snippet = snippet(line, column, Some(source));
        let lines: Vec<&str> = snippet.lines().collect();
        let cut = |l: &str| l.split_once(" | ").map_or("", |(_, s)| s).to_string();
        (cut(lines[2]), cut(lines[3]))
    }

    #[test]
    fn the_caret_is_under_the_column() {
        assert_eq!(
            snippet(12, 3, Some("x SELEC 1;  ")),
            "  --> строка 12, столбец 3\n   |\n12 | x SELEC 1;\n   |   ^"
        );
        assert_eq!(
            snippet(2, 1, Some("SELEC 1;")),
            " --> строка 2, столбец 1\n  |\n2 | SELEC 1;\n  | ^"
        );
        assert_eq!(snippet(2, 1, None), " --> строка 2, столбец 1");
    }

    #[test]
    fn tabs_wide_and_cyrillic_characters_keep_the_caret_in_place() {
        let (line, caret) = caret_of(1, 3, "\t\tSELEC");
        assert_eq!(
            (line.as_str(), caret.as_str()),
            ("        SELEC", "        ^")
        );
        let (line, caret) = caret_of(1, 3, "a\tb");
        assert_eq!((line.as_str(), caret.as_str()), ("a   b", "    ^"));
        // «表» takes two columns, Cyrillic one, a combining accent none.
        let (_, caret) = caret_of(1, 4, "表ё\u{301}x");
        assert_eq!(caret, "   ^");
        let (_, caret) = caret_of(1, 3, "«ы» x");
        assert_eq!(caret, "  ^");
        let (line, _) = caret_of(1, 1, "a\rb");
        assert_eq!(line, "a\u{fffd}b");
    }

    #[test]
    fn past_the_end_the_caret_follows_the_line() {
        let (_, caret) = caret_of(1, 9, "SELECT (");
        assert_eq!(caret, "        ^");
    }

    #[test]
    fn a_long_line_is_cut_around_the_caret() {
        let source = format!("{}SELEC{}", "x".repeat(300), "y".repeat(300));
        let (line, caret) = caret_of(1, 301, &source);
        assert!(line.starts_with('…') && line.ends_with('…'), "{line}");
        let at = caret.chars().count() - 1;
        assert_eq!(line.chars().skip(at).take(5).collect::<String>(), "SELEC");
        assert_eq!(line.chars().count(), MAX_WIDTH + 2);
        // Near the start, only the end is cut.
        let (line, caret) = caret_of(1, 2, &source);
        assert!(line.starts_with("xx") && line.ends_with('…'), "{line}");
        assert_eq!(caret, " ^");
    }
}
