//! The server's notices and errors as psql prints them in its default form: the severity, the
//! message, DETAIL and HINT, and the `LINE n:` with a caret under the error's position, drawn
//! the way libpq draws it.

/// A notice as psql prints it: `NOTICE:  message`.
pub fn format_notice(notice: &postgres::error::DbError) -> String {
    let mut out = format!("{}:  {}", notice.severity(), notice.message());
    for (label, text) in [("DETAIL", notice.detail()), ("HINT", notice.hint())] {
        if let Some(text) = text {
            out.push_str(&format!("\n{label}:  {text}"));
        }
    }
    out
}
/// An error as psql prints it by default: the message, the line it points at with a caret
/// (when it has a position), then DETAIL, HINT, QUERY and CONTEXT.
/// The line is drawn from the statement as the page shows it (its literals replaced), so that a
/// cut at 60 columns never falls inside a port or a folder of this machine.
pub fn format_error(
    db: &postgres::error::DbError,
    statement: &str,
    literals: &[(String, String)],
) -> String {
    use postgres::error::ErrorPosition;
    let mut out = format!("{}:  {}\n", db.severity(), db.message());
    let internal = match db.position() {
        Some(ErrorPosition::Original(position)) => {
            let (shown, position) = replace_literals(statement, *position as usize, literals);
            out.push_str(&error_position(&shown, position));
            None
        }
        Some(ErrorPosition::Internal { position, query }) => {
            let (shown, position) = replace_literals(query, *position as usize, literals);
            out.push_str(&error_position(&shown, position));
            Some(query.as_str())
        }
        None => None,
    };
    for (label, text) in [
        ("DETAIL", db.detail()),
        ("HINT", db.hint()),
        ("QUERY", internal),
        ("CONTEXT", db.where_()),
    ] {
        if let Some(text) = text {
            out.push_str(&format!("{label}:  {text}\n"));
        }
    }
    out
}
/// `text` with each literal replaced by its name (as `scrub` does first), and the 1-based
/// character `position` moved with the text before it (to a replacement's start when it
/// pointed inside one).
pub fn replace_literals(
    text: &str,
    position: usize,
    literals: &[(String, String)],
) -> (String, usize) {
    let mut text = text.to_string();
    let mut position = position;
    for (literal, name) in literals {
        if literal.is_empty() {
            continue;
        }
        let mut out = String::new();
        let (mut rest, mut chars_done) = (text.as_str(), 0);
        while let Some(at) = rest.find(literal.as_str()) {
            let start = chars_done + rest[..at].chars().count();
            let (old_len, new_len) = (literal.chars().count(), name.chars().count());
            if position > start + old_len {
                position = position + new_len - old_len;
            } else if position > start {
                position = start + 1;
            }
            out.push_str(&rest[..at]);
            out.push_str(name);
            chars_done = start + new_len;
            rest = &rest[at + literal.len()..];
        }
        out.push_str(rest);
        text = out;
    }
    (text, position)
}
/// The `LINE n:` line and the caret under the error's place, as libpq draws them: at most 60
/// columns of the line, cut with `...` on the side away from the caret.
pub fn error_position(query: &str, position: usize) -> String {
    const DISPLAY_SIZE: usize = 60;
    const MIN_RIGHT_CUT: usize = 10;
    let chars: Vec<char> = query
        .chars()
        .map(|c| if c == '\t' { ' ' } else { c })
        .collect();
    let Some(loc) = position.checked_sub(1).filter(|&l| l <= chars.len()) else {
        return String::new();
    };
    let (mut line, mut begin, mut end) = (1, 0, chars.len());
    for (i, &c) in chars.iter().enumerate() {
        if c == '\r' || c == '\n' {
            if i < loc {
                if c == '\r' || i == 0 || chars[i - 1] != '\r' {
                    line += 1;
                }
                begin = i + 1;
            } else {
                end = i;
                break;
            }
        }
    }
    let (mut cut_begin, mut cut_end) = (false, false);
    if end - begin > DISPLAY_SIZE {
        if begin + DISPLAY_SIZE >= loc + MIN_RIGHT_CUT {
            end = begin + DISPLAY_SIZE;
            cut_end = true;
        } else {
            if loc + MIN_RIGHT_CUT < end {
                end = loc + MIN_RIGHT_CUT;
                cut_end = true;
            }
            if end - begin > DISPLAY_SIZE {
                begin = end - DISPLAY_SIZE;
                cut_begin = true;
            }
        }
    }
    let prefix = format!("LINE {line}: {}", if cut_begin { "..." } else { "" });
    let text: String = chars[begin..end].iter().collect();
    format!(
        "{prefix}{text}{}\n{}^\n",
        if cut_end { "..." } else { "" },
        " ".repeat(prefix.chars().count() + loc - begin)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_position_is_drawn_as_libpq_draws_it() {
        assert_eq!(
            error_position("SELECT * FROM nope", 15),
            "LINE 1: SELECT * FROM nope\n                      ^\n"
        );
        assert_eq!(
            error_position("SELECT 1,\n  nope", 13),
            "LINE 2:   nope\n          ^\n"
        );
        let long = format!("SELECT {} FROM nope", "x, ".repeat(40));
        let drawn = error_position(&long, long.len() - 3);
        assert!(drawn.starts_with("LINE 1: ..."), "{drawn}");
        assert_eq!(drawn.lines().next().unwrap().chars().count(), 71);
        assert_eq!(error_position("SELECT 1", 99), "");
    }

    #[test]
    fn an_error_line_is_drawn_from_the_shown_statement() {
        let literals = [("port=39705".to_string(), "port=<порт>".to_string())];
        let (text, position) = replace_literals("SELECT 'port=39705', nope", 22, &literals);
        assert_eq!(text, "SELECT 'port=<порт>', nope");
        assert_eq!(text.chars().nth(position - 1), Some('n'));
        let (_, inside) = replace_literals("SELECT 'port=39705'", 14, &literals);
        assert_eq!(inside, 9);
    }
}
