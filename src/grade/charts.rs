//! The report's charts, drawn as inline SVG so that the page needs nothing from outside.

use std::fmt::Write;

/// One bar: its label, its value, and the text written beside it.
pub struct Bar {
    pub label: String,
    pub value: f64,
    pub text: String,
}

const FONT: &str = "font-family=\"sans-serif\" font-size=\"12\"";

/// A column chart (a histogram): bars over labels, scaled to the largest value. The title is
/// the chart's accessible name; the page prints it as the caption.
pub fn columns(title: &str, bars: &[Bar]) -> String {
    let width = 60 + bars.len().max(1) * 28;
    let (top, height) = (16.0, 140.0);
    let max = bars.iter().map(|b| b.value).fold(0.0, f64::max).max(1.0);
    let mut svg = open(title, width, 192);
    let _ = writeln!(
        svg,
        "<line x1=\"40\" y1=\"{0}\" x2=\"{1}\" y2=\"{0}\" stroke=\"#888\"/>",
        top + height,
        width - 10
    );
    for (i, bar) in bars.iter().enumerate() {
        let h = bar.value / max * height;
        let x = 44 + i * 28;
        let _ = writeln!(
            svg,
            "<rect class=\"bar\" x=\"{x}\" y=\"{:.1}\" width=\"22\" height=\"{h:.1}\" fill=\"#3b7dd8\"><title>{}: {}</title></rect>",
            top + height - h,
            esc(&bar.label),
            esc(&bar.text)
        );
        if bar.value > 0.0 {
            let _ = writeln!(
                svg,
                "<text x=\"{}\" y=\"{:.1}\" text-anchor=\"middle\" {FONT}>{}</text>",
                x + 11,
                top + height - h - 3.0,
                esc(&bar.text)
            );
        }
        let _ = writeln!(
            svg,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" {FONT}>{}</text>",
            x + 11,
            top + height + 16.0,
            esc(&bar.label)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// A bar chart lying on its side: a row a bar, for long labels (checks, submissions).
pub fn rows(title: &str, bars: &[Bar], max: Option<f64>) -> String {
    let label_width = 440;
    let bar_width = 300.0;
    let width = label_width + 300 + 90;
    let height = 8 + bars.len().max(1) * 22;
    let max = max
        .unwrap_or_else(|| bars.iter().map(|b| b.value).fold(0.0, f64::max))
        .max(f64::EPSILON);
    let mut svg = open(title, width, height);
    for (i, bar) in bars.iter().enumerate() {
        let y = 4 + i * 22;
        let w = (bar.value / max * bar_width).max(0.0);
        let _ = writeln!(
            svg,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\" {FONT}>{}</text>",
            label_width - 6,
            y + 13,
            esc(&shorten(&bar.label, 58))
        );
        let _ = writeln!(
            svg,
            "<rect class=\"bar\" x=\"{label_width}\" y=\"{y}\" width=\"{w:.1}\" height=\"16\" fill=\"#3b7dd8\"><title>{}: {}</title></rect>",
            esc(&bar.label),
            esc(&bar.text)
        );
        let _ = writeln!(
            svg,
            "<text x=\"{:.1}\" y=\"{}\" {FONT}>{}</text>",
            label_width as f64 + w + 4.0,
            y + 13,
            esc(&bar.text)
        );
    }
    svg.push_str("</svg>");
    svg
}

fn open(title: &str, width: usize, height: usize) -> String {
    format!(
        "<svg class=\"chart\" role=\"img\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" aria-label=\"{0}\">\n",
        esc(title)
    )
}

fn shorten(text: &str, chars: usize) -> String {
    if text.chars().count() <= chars {
        text.to_string()
    } else {
        format!("{}…", text.chars().take(chars - 1).collect::<String>())
    }
}

/// Text escaped for SVG.
fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_escape_and_scale() {
        let bars = [
            Bar {
                label: "a<b".into(),
                value: 2.0,
                text: "2".into(),
            },
            Bar {
                label: "c".into(),
                value: 1.0,
                text: "1".into(),
            },
        ];
        let svg = columns("t", &bars);
        assert!(svg.contains("a&lt;b") && svg.matches("class=\"bar\"").count() == 2);
        let svg = rows("t", &bars, Some(4.0));
        assert!(svg.contains("width=\"150.0\""), "{svg}");
    }
}
