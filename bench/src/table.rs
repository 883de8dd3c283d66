//! Prints the result table: figure, baseline, ratio, goal, met. A smoke run's figures come from
//! tiny samples, so its table says "not judged" instead of whether a goal is met.

use crate::measure::{Goal, Row, number};

/// The table as text, one row per line, columns aligned. With `judged` false (a smoke run) the
/// last column says "not judged" rather than whether each goal is met.
pub fn render(rows: &[Row], judged: bool) -> String {
    let header = ["scenario", "figure", "baseline", "ratio", "goal", "met"].map(String::from);
    let mut lines = vec![header];
    for row in rows {
        lines.push([
            row.name.clone(),
            format!("{} {}", number(row.figure), row.unit),
            format!("{} {}", number(row.baseline), row.unit),
            format!("{:.2}x", row.ratio()),
            row.goal_text(),
            match (row.goal, row.met()) {
                (Goal::Report, _) => "-",
                (_, _) if !judged => "not judged",
                (_, true) => "yes",
                (_, false) => "NO",
            }
            .to_string(),
        ]);
    }
    let widths: Vec<usize> = (0..6)
        .map(|c| lines.iter().map(|l| l[c].len()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate() {
        let cells: Vec<String> = line
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
        if i == 0 {
            let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
            out.push_str(&format!("|-{}-|\n", rule.join("-|-")));
        }
    }
    out
}
