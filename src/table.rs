//! Query results as psql prints them in its default aligned format: one renderer for the book's
//! examples and the labs' snapshot checks.

use postgres::SimpleQueryMessage;

/// A column: its name and whether psql right-aligns its type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub right: bool,
}

/// A row as a record: column name to value (NULL as none).
pub type Record = std::collections::BTreeMap<String, Option<String>>;

/// The rows of one result set; `None` is SQL NULL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Option<String>>>,
}

/// Whether psql right-aligns values of this type: the numeric ones (int2, int4, int8, float4,
/// float8, numeric, oid, xid, xid8, cid, money), as `column_type_alignment` in psql's print.c.
pub fn right_aligned(type_oid: u32) -> bool {
    matches!(
        type_oid,
        20 | 21 | 23 | 26 | 28 | 29 | 700 | 701 | 790 | 1700 | 5069
    )
}

impl Table {
    /// The rows as records, each a map from column name to value (NULL as none), for code that
    /// computes with them rather than prints them.
    pub fn records(&self) -> Vec<Record> {
        self.rows
            .iter()
            .map(|row| {
                self.columns
                    .iter()
                    .map(|c| c.name.clone())
                    .zip(row.iter().cloned())
                    .collect()
            })
            .collect()
    }

    /// The result sets of a simple-query batch, in order; `type_oids[i]` are the column types of
    /// the i-th result set (missing ones are left-aligned).
    pub fn from_messages(messages: &[SimpleQueryMessage], type_oids: &[Vec<u32>]) -> Vec<Table> {
        let mut tables: Vec<Table> = Vec::new();
        let mut current: Option<Table> = None;
        for message in messages {
            match message {
                SimpleQueryMessage::RowDescription(columns) => {
                    let types = type_oids.get(tables.len());
                    current = Some(Table {
                        columns: columns
                            .iter()
                            .enumerate()
                            .map(|(i, c)| Column {
                                name: c.name().to_string(),
                                right: types
                                    .and_then(|t| t.get(i))
                                    .is_some_and(|oid| right_aligned(*oid)),
                            })
                            .collect(),
                        rows: Vec::new(),
                    });
                }
                SimpleQueryMessage::Row(row) => {
                    if let Some(table) = current.as_mut() {
                        table.rows.push(
                            (0..row.len())
                                .map(|i| row.get(i).map(str::to_string))
                                .collect(),
                        );
                    }
                }
                SimpleQueryMessage::CommandComplete(_) => tables.extend(current.take()),
                _ => {}
            }
        }
        tables.extend(current.take());
        tables
    }

    /// Renders the table as psql's aligned format with `\pset null` set to `null`: centred
    /// headers, numbers right-aligned, `+` at the end of a line continued in the same cell,
    /// and the `(N rows)` footer.
    pub fn render(&self, null: &str) -> String {
        let cells: Vec<Vec<Vec<&str>>> = self
            .rows
            .iter()
            .map(|row| {
                row.iter()
                    .map(|cell| cell.as_deref().unwrap_or(null).split('\n').collect())
                    .collect()
            })
            .collect();
        let mut widths: Vec<usize> = self.columns.iter().map(|c| width(&c.name)).collect();
        for row in &cells {
            for (w, lines) in widths.iter_mut().zip(row) {
                for line in lines {
                    *w = (*w).max(width(line));
                }
            }
        }
        let last = self.columns.len().saturating_sub(1);
        let mut out = String::new();
        // The header: every name centred, the last one padded too, as psql does.
        for (i, column) in self.columns.iter().enumerate() {
            let gap = widths[i] - width(&column.name);
            if i > 0 {
                out.push('|');
            }
            out.push(' ');
            out.push_str(&" ".repeat(gap / 2));
            out.push_str(&column.name);
            out.push_str(&" ".repeat(gap.div_ceil(2)));
            out.push(' ');
        }
        out.push('\n');
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(w + 2)).collect();
        out.push_str(&rule.join("+"));
        out.push('\n');
        for row in &cells {
            let height = row.iter().map(Vec::len).max().unwrap_or(1);
            for n in 0..height {
                for (i, lines) in row.iter().enumerate() {
                    let text = lines.get(n).copied().unwrap_or("");
                    let more = n + 1 < lines.len();
                    let gap = widths[i] - width(text);
                    if i > 0 {
                        out.push('|');
                    }
                    out.push(' ');
                    if self.columns[i].right {
                        out.push_str(&" ".repeat(gap));
                        out.push_str(text);
                    } else {
                        out.push_str(text);
                        if i < last || more {
                            out.push_str(&" ".repeat(gap));
                        }
                    }
                    if more {
                        out.push('+');
                    } else if i < last {
                        out.push(' ');
                    }
                }
                out.push('\n');
            }
        }
        let n = self.rows.len();
        out.push_str(&format!("({n} {})\n", if n == 1 { "row" } else { "rows" }));
        out
    }
}

/// The width of a text on a terminal: one column per character (the book and the labs print no
/// wide characters).
fn width(text: &str) -> usize {
    text.chars().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(name: &str, right: bool) -> Column {
        Column {
            name: name.into(),
            right,
        }
    }

    /// The expected text is psql 15's output of the same rows, copied byte for byte.
    #[test]
    fn renders_like_psql() {
        let table = Table {
            columns: vec![
                column("a", true),
                column("bbbbb", false),
                column("n", true),
                column("num", true),
                column("ml", false),
            ],
            rows: vec![
                vec![
                    Some("1".into()),
                    Some("xyz".into()),
                    None,
                    Some("12.5".into()),
                    Some("a\nbc".into()),
                ],
                vec![
                    Some("100".into()),
                    Some("q".into()),
                    Some("3".into()),
                    Some("1".into()),
                    Some("x".into()),
                ],
            ],
        };
        assert_eq!(
            table.render(""),
            "  a  | bbbbb | n | num  | ml \n\
             -----+-------+---+------+----\n   \
             1 | xyz   |   | 12.5 | a +\n     \
             |       |   |      | bc\n \
             100 | q     | 3 |    1 | x\n\
             (2 rows)\n"
        );
        let empty_last = Table {
            columns: vec![column("a", true), column("b", false)],
            rows: vec![vec![Some("1".into()), None]],
        };
        assert_eq!(empty_last.render(""), " a | b \n---+---\n 1 | \n(1 row)\n");
        assert!(right_aligned(23) && right_aligned(1700) && !right_aligned(25));
    }
}
