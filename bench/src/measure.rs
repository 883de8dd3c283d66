//! Measurement helpers: the run's scale (full or smoke), interleaved baseline/system rounds with
//! medians, percentiles, and the result rows with their goals.

use std::time::Duration;

/// How big each scenario runs: full figures, or a tiny smoke run that only checks the bench works.
#[derive(Debug, Clone, Copy)]
pub struct Scale {
    /// Tiny runs.
    pub smoke: bool,
}

impl Scale {
    /// `full` in a real run, `smoke` in a smoke run.
    pub fn pick<T>(self, full: T, smoke: T) -> T {
        if self.smoke { smoke } else { full }
    }
}

/// Runs `rounds` rounds of baseline then system and returns the median of each.
pub fn interleave(
    rounds: usize,
    mut baseline: impl FnMut() -> f64,
    mut system: impl FnMut() -> f64,
) -> (f64, f64) {
    let mut b = Vec::with_capacity(rounds);
    let mut s = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        b.push(baseline());
        s.push(system());
    }
    (median(&mut b), median(&mut s))
}

/// The median of `values` (sorted in place). Panics on an empty slice.
pub fn median(values: &mut [f64]) -> f64 {
    assert!(!values.is_empty(), "median of nothing");
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// The `p`-th percentile (0..=100) of `samples` (sorted in place), nearest rank.
pub fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    assert!(!samples.is_empty(), "percentile of nothing");
    samples.sort();
    let rank = ((p / 100.0) * samples.len() as f64).ceil() as usize;
    samples[rank.clamp(1, samples.len()) - 1]
}

/// Microseconds as a float.
pub fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// What a row must reach.
#[derive(Debug, Clone, Copy)]
pub enum Goal {
    /// figure / baseline at least this.
    RatioAtLeast(f64),
    /// figure / baseline at most this.
    RatioAtMost(f64),
    /// The figure itself at least this (in the row's unit).
    AtLeast(f64),
    /// The figure itself at most this (in the row's unit).
    AtMost(f64),
    /// No goal: reported for context.
    Report,
}

/// One line of the result table.
#[derive(Debug, Clone)]
pub struct Row {
    /// What was measured.
    pub name: String,
    /// The system's figure (median).
    pub figure: f64,
    /// The baseline's figure (median), same unit.
    pub baseline: f64,
    /// The unit of both figures.
    pub unit: &'static str,
    /// The goal.
    pub goal: Goal,
}

impl Row {
    /// A row.
    pub fn new(
        name: impl Into<String>,
        figure: f64,
        baseline: f64,
        unit: &'static str,
        goal: Goal,
    ) -> Self {
        Self {
            name: name.into(),
            figure,
            baseline,
            unit,
            goal,
        }
    }

    /// figure / baseline.
    pub fn ratio(&self) -> f64 {
        self.figure / self.baseline
    }

    /// Whether the goal is met.
    pub fn met(&self) -> bool {
        match self.goal {
            Goal::RatioAtLeast(g) => self.ratio() >= g,
            Goal::RatioAtMost(g) => self.ratio() <= g,
            Goal::AtLeast(g) => self.figure >= g,
            Goal::AtMost(g) => self.figure <= g,
            Goal::Report => true,
        }
    }

    /// The goal as text.
    pub fn goal_text(&self) -> String {
        match self.goal {
            Goal::RatioAtLeast(g) => format!(">= {g}x"),
            Goal::RatioAtMost(g) => format!("<= {g}x"),
            Goal::AtLeast(g) => format!(">= {} {}", number(g), self.unit),
            Goal::AtMost(g) => format!("<= {} {}", number(g), self.unit),
            Goal::Report => "-".into(),
        }
    }
}

/// A number with about three significant digits and k/M suffixes for large values.
pub fn number(x: f64) -> String {
    let (v, suffix) = if x.abs() >= 1e6 {
        (x / 1e6, " M")
    } else if x.abs() >= 1e4 {
        (x / 1e3, " k")
    } else {
        (x, "")
    };
    let digits = if v.abs() >= 100.0 {
        0
    } else if v.abs() >= 10.0 {
        1
    } else {
        2
    };
    format!("{v:.digits$}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_percentiles_pick_the_middle_and_the_tail() {
        assert_eq!(median(&mut [5.0, 1.0, 3.0]), 3.0);
        let mut samples: Vec<Duration> = (1..=100).rev().map(Duration::from_micros).collect();
        assert_eq!(percentile(&mut samples, 50.0), Duration::from_micros(50));
        assert_eq!(percentile(&mut samples, 99.0), Duration::from_micros(99));
    }

    #[test]
    fn goals_compare_ratio_or_figure() {
        let row = Row::new("x", 60.0, 100.0, "msg/s", Goal::RatioAtLeast(0.5));
        assert!(row.met());
        let row = Row::new("x", 40.0, 100.0, "msg/s", Goal::RatioAtLeast(0.5));
        assert!(!row.met());
        let row = Row::new("x", 17.0, 1.0, "KiB", Goal::AtMost(16.0));
        assert!(!row.met());
    }
}
