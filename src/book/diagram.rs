//! The book's diagrams: inline SVG drawn at render time from data the server showed (a process
//! tree, a sequence of messages between processes, bars, worker slots), never drawn by hand.
//! Long because the four kinds share one small SVG vocabulary (boxes, labels, the legend, the
//! escaping) and the checks of their data; each kind is one function of some 80 lines.

use anyhow::{bail, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt::Write;

/// A node of a tree: a process and its parent.
#[derive(Deserialize)]
pub struct Node {
    pub id: String,
    pub parent: Option<String>,
    pub label: String,
    #[serde(default)]
    pub note: Option<String>,
}

/// One step of a sequence: a message between two lanes, a note on one, or a lane's end.
#[derive(Deserialize)]
pub struct Step {
    pub from: String,
    #[serde(default)]
    pub to: Option<String>,
    #[serde(default)]
    pub text: String,
    /// A time label shown in the left margin.
    #[serde(default)]
    pub at: Option<String>,
    /// The lane's process exits here; its lifeline stops.
    #[serde(default)]
    pub end: bool,
}

/// One bar.
#[derive(Deserialize)]
pub struct Bar {
    pub label: String,
    pub value: f64,
    /// The text at the bar's end (default: the value with a decimal comma).
    #[serde(default)]
    pub text: Option<String>,
    /// Bars of one group share a colour, and the legend names the group.
    #[serde(default)]
    pub group: Option<String>,
}

/// An occupied worker slot.
#[derive(Deserialize)]
pub struct Slot {
    pub label: String,
    pub kind: String,
}

const FONT: f64 = 13.0;
const PALETTE: [&str; 6] = [
    "#dbe9f6", "#fde2c8", "#d9f0d3", "#ecdcf1", "#fbf3c4", "#f3d6d6",
];
const STROKE: &str = "#445";

/// The width of a text in pixels, roughly (13 px sans-serif).
fn width(text: &str) -> f64 {
    text.chars()
        .map(|c| match c {
            'i' | 'l' | 'j' | '.' | ',' | ':' | ';' | '|' | '\'' | '!' => 3.5,
            ' ' => 3.8,
            c if c.is_ascii_uppercase() => 8.6,
            c if c.is_ascii_digit() => 7.3,
            'ш' | 'щ' | 'ж' | 'ю' | 'м' | 'ы' | 'Ш' | 'Щ' | 'Ж' | 'Ю' | 'М' | 'Ы' | 'w' | 'm' => {
                10.0
            }
            '№' => 13.0,
            c if c.is_uppercase() => 9.6,
            c if c.is_ascii_lowercase() => 7.6,
            _ => 8.6,
        })
        .sum::<f64>()
        * FONT
        / 13.0
}

/// A legend at (`x`, `y`): a swatch of each name's colour and the name; returns its right end.
fn legend(body: &mut String, names: &[&str], x: f64, y: f64) -> f64 {
    let mut x = x;
    for (i, name) in names.iter().enumerate() {
        let _ = writeln!(
            body,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"14\" height=\"14\" fill=\"{}\" \
             stroke=\"{STROKE}\"/><text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            y + 4.0,
            PALETTE[i % PALETTE.len()],
            x + 20.0,
            y + 15.5,
            esc(name)
        );
        x += 40.0 + width(name);
    }
    x
}

/// Text safe inside HTML and SVG, in an element or an attribute.
pub fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A number as Russian text: decimal comma, at most `digits` decimals, trailing zeros dropped.
pub fn ru_number(value: f64, digits: usize) -> String {
    let text = format!("{value:.digits$}");
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    };
    text.replace('.', ",")
}

/// The figure around an SVG of the given size: the caption is the figure's accessible name too.
fn figure(kind: &str, w: f64, h: f64, body: &str, caption: &str) -> String {
    // Ids are page-wide: each figure's arrowhead gets one of its own, from its content.
    let id = format!(
        "arrow-{:08x}",
        body.bytes()
            .chain(caption.bytes())
            .fold(0x811c_9dc5_u32, |h, b| (h ^ u32::from(b))
                .wrapping_mul(0x0100_0193))
    );
    let body = body.replace("url(#arrow)", &format!("url(#{id})"));
    format!(
        "<figure class=\"diagram diagram-{kind}\">\n<svg xmlns=\"http://www.w3.org/2000/svg\" \
         viewBox=\"0 0 {w:.0} {h:.0}\" width=\"{w:.0}\" height=\"{h:.0}\" role=\"img\" \
         aria-label=\"{label}\" font-family=\"sans-serif\" font-size=\"{FONT}\">\n\
         <defs><marker id=\"{id}\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" \
         markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" \
         fill=\"{STROKE}\"/></marker></defs>\n{body}</svg>\n<figcaption>{caption}</figcaption>\n\
         </figure>",
        label = esc(caption),
        caption = esc(caption),
    )
}

/// A tree laid out as `ps --forest` does: one node a row, children indented under their parent.
pub fn tree(nodes: &[Node], caption: &str) -> Result<String> {
    let ids: BTreeMap<&str, usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.id.as_str(), i))
        .collect();
    if ids.len() != nodes.len() {
        bail!("diagram_tree: two nodes share an id");
    }
    let mut children: BTreeMap<Option<usize>, Vec<usize>> = BTreeMap::new();
    for (i, node) in nodes.iter().enumerate() {
        let parent = match &node.parent {
            None => None,
            Some(p) => Some(*ids.get(p.as_str()).ok_or_else(|| {
                anyhow::anyhow!("diagram_tree: node `{}` has no parent `{p}`", node.id)
            })?),
        };
        children.entry(parent).or_default().push(i);
    }
    let roots = children.get(&None).cloned().unwrap_or_default();
    if roots.is_empty() {
        bail!("diagram_tree: no root (every node has a parent)");
    }
    // Depth-first order, each node with its depth.
    let mut order = Vec::new();
    let mut todo: Vec<(usize, usize)> = roots.iter().rev().map(|&r| (r, 0)).collect();
    while let Some((i, depth)) = todo.pop() {
        order.push((i, depth));
        if let Some(kids) = children.get(&Some(i)) {
            todo.extend(kids.iter().rev().map(|&k| (k, depth + 1)));
        }
    }
    if order.len() != nodes.len() {
        bail!("diagram_tree: the parents form a cycle");
    }
    let (row, indent, pad) = (34.0, 36.0, 10.0);
    let mut body = String::new();
    let mut place: BTreeMap<usize, (f64, f64)> = BTreeMap::new();
    let mut right: f64 = 0.0;
    for (r, &(i, depth)) in order.iter().enumerate() {
        let node = &nodes[i];
        let x = pad + depth as f64 * indent;
        let y = pad + r as f64 * row;
        let w = width(&node.label) + 20.0;
        place.insert(i, (x, y));
        let fill = PALETTE[depth.min(PALETTE.len() - 1)];
        let _ = writeln!(
            body,
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"24\" rx=\"4\" fill=\"{fill}\" \
             stroke=\"{STROKE}\"/><text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            x + 10.0,
            y + 16.5,
            esc(&node.label)
        );
        let mut end = x + w;
        if let Some(note) = &node.note {
            let _ = writeln!(
                body,
                "<text x=\"{:.1}\" y=\"{:.1}\" fill=\"#667\">{}</text>",
                end + 10.0,
                y + 16.5,
                esc(note)
            );
            end += 10.0 + width(note);
        }
        right = right.max(end);
        if let Some(parent) = &node.parent {
            let (px, py) = place[&ids[parent.as_str()]];
            let _ = writeln!(
                body,
                "<path d=\"M{:.1},{:.1} V{:.1} H{x:.1}\" fill=\"none\" stroke=\"{STROKE}\"/>",
                px + 14.0,
                py + 24.0,
                y + 12.0
            );
        }
    }
    let h = pad * 2.0 + order.len() as f64 * row - 10.0;
    Ok(figure("tree", right + pad, h, &body, caption))
}

/// A sequence diagram: lanes side by side, the steps from top to bottom.
pub fn sequence(lanes: &[String], steps: &[Step], caption: &str) -> Result<String> {
    if lanes.is_empty() || steps.is_empty() {
        bail!("diagram_sequence: needs lanes and steps");
    }
    let lane = |name: &str| -> Result<usize> {
        lanes
            .iter()
            .position(|l| l == name)
            .ok_or_else(|| anyhow::anyhow!("diagram_sequence: no lane `{name}`"))
    };
    let margin = steps
        .iter()
        .filter_map(|s| s.at.as_deref())
        .map(|a| width(a) + 16.0)
        .fold(0.0, f64::max);
    // Lane names are bold: about a tenth wider.
    let bold = |text: &str| width(text) * 1.1;
    let lane_w = lanes.iter().map(|l| bold(l) + 28.0).fold(150.0, f64::max);
    let x_of = |i: usize| margin + 10.0 + lane_w * (i as f64 + 0.5);
    let (top, row) = (44.0, 38.0);
    let mut body = String::new();
    let mut right = margin + 10.0 + lane_w * lanes.len() as f64;
    let mut ended: BTreeMap<usize, f64> = BTreeMap::new();
    for (r, step) in steps.iter().enumerate() {
        let y = top + 26.0 + r as f64 * row;
        let from = lane(&step.from)?;
        if ended.contains_key(&from) {
            bail!("diagram_sequence: lane `{}` has already ended", step.from);
        }
        if let Some(at) = &step.at {
            let _ = writeln!(
                body,
                "<text x=\"6\" y=\"{:.1}\" fill=\"#667\">{}</text>",
                y + 4.0,
                esc(at)
            );
        }
        let x = x_of(from);
        if step.end {
            let _ = writeln!(
                body,
                "<path d=\"M{:.1},{:.1} l12,12 m0,-12 l-12,12\" stroke=\"#b22\" stroke-width=\"2\"/>",
                x - 6.0,
                y - 6.0
            );
            if !step.text.is_empty() {
                let _ = writeln!(
                    body,
                    "<text x=\"{:.1}\" y=\"{:.1}\" fill=\"#b22\">{}</text>",
                    x + 12.0,
                    y + 4.0,
                    esc(&step.text)
                );
                right = right.max(x + 12.0 + width(&step.text) + 6.0);
            }
            ended.insert(from, y);
            continue;
        }
        let to = lane(step.to.as_deref().unwrap_or(&step.from))?;
        if ended.contains_key(&to) {
            bail!("diagram_sequence: lane `{}` has already ended", lanes[to]);
        }
        if to == from {
            let w = width(&step.text) + 16.0;
            let _ = writeln!(
                body,
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"24\" rx=\"3\" \
                 fill=\"#fbf3c4\" stroke=\"{STROKE}\"/><text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
                x - 8.0,
                y - 12.0,
                x,
                y + 4.5,
                esc(&step.text)
            );
            right = right.max(x - 8.0 + w + 6.0);
        } else {
            let x2 = x_of(to);
            let _ = writeln!(
                body,
                "<line x1=\"{x:.1}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"{STROKE}\" \
                 marker-end=\"url(#arrow)\"/><text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
                if x2 > x { x2 - 2.0 } else { x2 + 2.0 },
                x.min(x2) + 8.0,
                y - 6.0,
                esc(&step.text)
            );
            right = right.max(x.min(x2) + 8.0 + width(&step.text) + 6.0);
        }
    }
    let bottom = top + 26.0 + steps.len() as f64 * row - 10.0;
    let mut heads = String::new();
    for (i, name) in lanes.iter().enumerate() {
        let x = x_of(i);
        let w = bold(name) + 20.0;
        let end = ended.get(&i).copied().unwrap_or(bottom);
        let _ = writeln!(
            heads,
            "<line x1=\"{x:.1}\" y1=\"{top:.1}\" x2=\"{x:.1}\" y2=\"{end:.1}\" stroke=\"#99a\" \
             stroke-dasharray=\"4 3\"/><rect x=\"{:.1}\" y=\"10\" width=\"{w:.1}\" height=\"{:.1}\" \
             rx=\"4\" fill=\"{}\" stroke=\"{STROKE}\"/><text x=\"{x:.1}\" y=\"{:.1}\" \
             text-anchor=\"middle\" font-weight=\"bold\">{}</text>",
            x - w / 2.0,
            top - 10.0,
            PALETTE[i % PALETTE.len()],
            10.0 + (top - 10.0) / 2.0 + 4.5,
            esc(name)
        );
    }
    Ok(figure(
        "sequence",
        right + 10.0,
        bottom + 10.0,
        &(heads + &body),
        caption,
    ))
}

/// Horizontal bars scaled to the largest value, with a legend when the bars have groups.
pub fn bars(bars: &[Bar], caption: &str, unit: &str) -> Result<String> {
    if bars.is_empty() {
        bail!("diagram_bars: no bars");
    }
    if let Some(bad) = bars.iter().find(|b| !b.value.is_finite() || b.value < 0.0) {
        bail!(
            "diagram_bars: bar `{}` has no drawable value ({})",
            bad.label,
            bad.value
        );
    }
    let groups: Vec<&str> = bars.iter().fold(Vec::new(), |mut acc, b| {
        if let Some(g) = b.group.as_deref() {
            if !acc.contains(&g) {
                acc.push(g);
            }
        }
        acc
    });
    let label_w = bars.iter().map(|b| width(&b.label)).fold(0.0, f64::max) + 20.0;
    let (area, row, pad) = (420.0, 30.0, 10.0);
    let max = bars.iter().map(|b| b.value).fold(0.0, f64::max);
    let mut body = String::new();
    let mut right: f64 = 0.0;
    for (r, bar) in bars.iter().enumerate() {
        let y = pad + r as f64 * row;
        let w = if max > 0.0 {
            bar.value / max * area
        } else {
            0.0
        };
        let colour = bar
            .group
            .as_deref()
            .and_then(|g| groups.iter().position(|x| *x == g))
            .unwrap_or(0);
        let text = bar.text.clone().unwrap_or_else(|| {
            let number = ru_number(bar.value, 2);
            if unit.is_empty() {
                number
            } else {
                format!("{number} {unit}")
            }
        });
        let _ = writeln!(
            body,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text><rect x=\"{label_w:.1}\" \
             y=\"{y:.1}\" width=\"{w:.1}\" height=\"20\" fill=\"{}\" stroke=\"{STROKE}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            label_w - 8.0,
            y + 14.5,
            esc(&bar.label),
            PALETTE[colour % PALETTE.len()],
            label_w + w + 6.0,
            y + 14.5,
            esc(&text)
        );
        right = right.max(label_w + w + 6.0 + width(&text));
    }
    let mut h = pad + bars.len() as f64 * row;
    if !groups.is_empty() {
        right = right.max(legend(&mut body, &groups, label_w, h));
        h += 26.0;
    }
    Ok(figure(
        "bars",
        right.max(label_w + area) + pad,
        h + pad,
        &body,
        caption,
    ))
}

/// `total` worker slots, eight a row: the occupied ones named, coloured by kind; the rest free.
pub fn slots(slots: &[Slot], total: usize, caption: &str) -> Result<String> {
    if total == 0 || slots.len() > total {
        bail!(
            "diagram_slots: {} occupied slots do not fit in {total}",
            slots.len()
        );
    }
    let kinds: Vec<&str> = slots.iter().fold(Vec::new(), |mut acc, s| {
        if !acc.contains(&s.kind.as_str()) {
            acc.push(&s.kind);
        }
        acc
    });
    let box_w = slots
        .iter()
        .map(|s| width(&s.label) + 16.0)
        .fold(110.0, f64::max);
    let (box_h, gap, per_row, pad) = (40.0, 8.0, 8usize, 10.0);
    let mut body = String::new();
    for i in 0..total {
        let (x, y) = (
            pad + (i % per_row) as f64 * (box_w + gap),
            pad + (i / per_row) as f64 * (box_h + gap),
        );
        let (fill, dash, label) = match slots.get(i) {
            Some(slot) => {
                let k = kinds.iter().position(|k| *k == slot.kind).unwrap_or(0);
                (PALETTE[k % PALETTE.len()], "", slot.label.as_str())
            }
            None => ("#ffffff", " stroke-dasharray=\"4 3\"", "свободен"),
        };
        let _ = writeln!(
            body,
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{box_w:.1}\" height=\"{box_h}\" rx=\"4\" \
             fill=\"{fill}\" stroke=\"{STROKE}\"{dash}/><text x=\"{:.1}\" y=\"{:.1}\" \
             text-anchor=\"middle\">{}</text><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" \
             fill=\"#889\">{}</text>",
            x + box_w / 2.0,
            y + box_h / 2.0 + 4.5,
            esc(label),
            x + 4.0,
            y + 11.0,
            i + 1
        );
    }
    let rows = total.div_ceil(per_row);
    let mut h = pad + rows as f64 * (box_h + gap);
    let w = pad * 2.0 + per_row.min(total) as f64 * (box_w + gap);
    let mut right = w;
    if !kinds.is_empty() {
        right = right.max(legend(&mut body, &kinds, pad, h));
        h += 26.0;
    }
    Ok(figure("slots", right, h + pad, &body, caption))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: &str, parent: Option<&str>) -> Node {
        Node {
            id: id.into(),
            parent: parent.map(Into::into),
            label: format!("<{id}>"),
            note: None,
        }
    }

    #[test]
    fn a_tree_draws_every_node_and_refuses_a_missing_parent() {
        let svg = tree(
            &[
                node("pm", None),
                node("a", Some("pm")),
                node("b", Some("pm")),
            ],
            "Дерево",
        )
        .unwrap();
        assert_eq!(svg.matches("<rect").count(), 3);
        assert!(svg.contains("&lt;a&gt;"), "labels are escaped");
        assert!(tree(&[node("a", Some("x"))], "t").is_err());
        assert!(tree(&[node("a", Some("b")), node("b", Some("a"))], "t").is_err());
    }

    #[test]
    fn a_sequence_refuses_unknown_lanes_and_steps_after_an_end() {
        let step = |from: &str, to: Option<&str>, end: bool| Step {
            from: from.into(),
            to: to.map(Into::into),
            text: "x".into(),
            at: None,
            end,
        };
        let lanes = vec!["a".to_string(), "b".to_string()];
        assert!(sequence(&lanes, &[step("a", Some("b"), false)], "s").is_ok());
        assert!(sequence(&lanes, &[step("a", Some("c"), false)], "s").is_err());
        assert!(sequence(
            &lanes,
            &[step("b", None, true), step("a", Some("b"), false)],
            "s"
        )
        .is_err());
    }

    #[test]
    fn bars_and_slots_check_their_data() {
        let bar = |v: f64| Bar {
            label: "x".into(),
            value: v,
            text: None,
            group: None,
        };
        assert!(bars(&[bar(1.5)], "b", "мс").unwrap().contains("1,5 мс"));
        assert!(bars(&[bar(f64::NAN)], "b", "").is_err());
        assert!(bars(&[], "b", "").is_err());
        let slot = Slot {
            label: "w".into(),
            kind: "k".into(),
        };
        let drawn = slots(&[slot], 3, "s").unwrap();
        assert_eq!(drawn.matches("свободен").count(), 2);
        assert!(slots(&[], 0, "s").is_err());
    }

    #[test]
    fn numbers_have_a_decimal_comma() {
        assert_eq!(ru_number(6.849, 1), "6,8");
        assert_eq!(ru_number(2.0, 2), "2");
        assert_eq!(ru_number(0.85, 2), "0,85");
    }
}
