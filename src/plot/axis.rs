//! Axes of the figures: linear, logarithmic or categorical scales, their ticks and the text
//! of their tick labels.
//!
//! Every figure draws in "plot coordinates": the raw value on a linear axis, its logarithm on
//! a log axis, its index on a categorical axis. An [`Axis`] maps raw values to plot
//! coordinates and plot coordinates back to tick labels.

use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};

/// Ticks drawn at the data's own values when there are at most this many distinct ones.
const MAX_VALUE_TICKS: usize = 12;

/// Roughly how many ticks an automatic linear axis gets.
const AUTO_TICKS: f64 = 6.0;

/// A log axis is used when the values span more than this factor.
const LOG_SPAN: f64 = 16.0;

/// ... or when they are a geometric progression of at least this many distinct values.
const GEOMETRIC_MIN: usize = 3;

/// How raw values map to plot coordinates.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scale {
    /// The value itself.
    Linear,
    /// The logarithm of the value, to this base (2 or 10).
    Log(f64),
    /// Named categories at 0, 1, 2, ... in this order.
    Category(Vec<String>),
}

/// One axis of a figure: its label, scale, range and ticks (both in plot coordinates).
#[derive(Debug, Clone)]
pub(crate) struct Axis {
    /// The axis title, units included.
    pub label: String,
    /// How raw values map to plot coordinates.
    pub scale: Scale,
    /// The visible range, plot coordinates, low to high.
    pub range: (f64, f64),
    /// Where ticks and grid lines go, plot coordinates.
    pub ticks: Vec<f64>,
}

/// Which ticks a numeric axis gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ticks {
    /// At the data's distinct values when there are few, else automatic.
    AtValues,
    /// Automatic: round numbers.
    Auto,
}

impl Axis {
    /// A numeric axis over `values`, logarithmic when `allow_log` and [`log_base`] says so.
    pub fn numeric(label: &str, values: &[f64], allow_log: bool, ticks: Ticks) -> Self {
        let scale = match log_base(values) {
            Some(b) if allow_log => Scale::Log(b),
            _ => Scale::Linear,
        };
        let label = match scale {
            Scale::Log(b) => format!("{label} (log{b} scale)"),
            _ => label.to_string(),
        };
        let coords: Vec<f64> = values.iter().map(|&v| to_coord(&scale, v)).collect();
        let (lo, hi) = min_max(&coords).unwrap_or((0.0, 1.0));
        let range = padded(lo, hi);
        let distinct = distinct_sorted(&coords);
        let ticks = if ticks == Ticks::AtValues && distinct.len() <= MAX_VALUE_TICKS {
            distinct
        } else {
            match scale {
                Scale::Log(b) => log_ticks(b, range),
                _ => nice_ticks(range),
            }
        };
        Self {
            label,
            scale,
            range,
            ticks,
        }
    }

    /// A linear axis from 0 to a little past `max` (room for bar labels).
    pub fn from_zero(label: &str, max: f64, headroom: f64) -> Self {
        let hi = if max > 0.0 { max * headroom } else { 1.0 };
        Self {
            label: label.to_string(),
            scale: Scale::Linear,
            range: (0.0, hi),
            ticks: nice_ticks((0.0, hi)),
        }
    }

    /// A categorical axis: `names` at 0, 1, 2, ...
    pub fn category(label: &str, names: Vec<String>) -> Self {
        let n = names.len().max(1) as f64;
        Self {
            label: label.to_string(),
            ticks: (0..names.len()).map(|i| i as f64).collect(),
            scale: Scale::Category(names),
            range: (-0.5, n - 0.5),
        }
    }

    /// The plot coordinate of a raw numeric value.
    pub fn coord(&self, v: f64) -> f64 {
        to_coord(&self.scale, v)
    }

    /// The plot coordinate of a category, if the axis has it.
    pub fn category_coord(&self, name: &str) -> Option<f64> {
        match &self.scale {
            Scale::Category(names) => names.iter().position(|n| n == name).map(|i| i as f64),
            _ => None,
        }
    }

    /// Whether a linear axis writes all its ticks in scientific notation: when a tick is
    /// 10^6 or more, or one is not 0 but below 10^-3 (so that one axis does not mix styles).
    fn scientific(&self) -> bool {
        self.ticks
            .iter()
            .any(|t| t.abs() >= 1e6 || (*t != 0.0 && t.abs() < 1e-3))
    }

    /// The text of the tick at plot coordinate `c`.
    pub fn tick_label(&self, c: f64) -> String {
        match &self.scale {
            Scale::Linear if self.scientific() => fmt_sci(c),
            Scale::Linear => fmt_number(c),
            Scale::Log(b) => fmt_number(b.powf(c)),
            Scale::Category(names) => {
                let i = c.round();
                if (c - i).abs() < 1e-6 && i >= 0.0 {
                    names.get(i as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            }
        }
    }
}

/// An [`Axis`] as a plotters coordinate: linear in plot coordinates, with the axis's ticks
/// as the only (bold) key points.
#[derive(Debug, Clone)]
pub(crate) struct Ticked {
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
}

impl Axis {
    /// The axis as a plotters coordinate.
    pub fn spec(&self) -> Ticked {
        Ticked {
            lo: self.range.0,
            hi: self.range.1,
            ticks: self.ticks.clone(),
        }
    }
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, (p0, p1): (i32, i32)) -> i32 {
        if self.hi <= self.lo {
            return (p0 + p1) / 2;
        }
        let t = (v - self.lo) / (self.hi - self.lo);
        p0 + (f64::from(p1 - p0) * t).round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.lo..self.hi
    }
}

/// The log base for an axis over `values`: `None` (linear) unless every value is positive and
/// either the largest is more than 16 times the smallest or the distinct values are a
/// geometric progression (at least three, each at least twice the one before: 4, 8, 16, 32,
/// 64 tiles, spaced evenly on a log axis but crowded at the left of a linear one); then 2
/// when every value is a power of two (tile counts, say), else 10.
pub(crate) fn log_base(values: &[f64]) -> Option<f64> {
    let (lo, hi) = min_max(values)?;
    if lo <= 0.0 || !(hi / lo > LOG_SPAN || geometric(values)) {
        return None;
    }
    let power_of_two = |v: f64| {
        let l = v.log2();
        (l - l.round()).abs() < 1e-9
    };
    Some(if values.iter().all(|&v| power_of_two(v)) {
        2.0
    } else {
        10.0
    })
}

/// Whether the distinct values of `values` (all positive) are a geometric progression of at
/// least [`GEOMETRIC_MIN`] terms with a common ratio of at least 2 (to 1 part in 10^6).
fn geometric(values: &[f64]) -> bool {
    let d = distinct_sorted(values);
    if d.len() < GEOMETRIC_MIN || d[0] <= 0.0 {
        return false;
    }
    let ratio = d[1] / d[0];
    ratio >= 2.0 - 1e-6
        && d.windows(2)
            .all(|w| ((w[1] / w[0]) / ratio - 1.0).abs() <= 1e-6)
}

fn to_coord(scale: &Scale, v: f64) -> f64 {
    match scale {
        Scale::Log(b) => v.log(*b),
        _ => v,
    }
}

/// The smallest and largest of `values`, or `None` when empty.
pub(crate) fn min_max(values: &[f64]) -> Option<(f64, f64)> {
    let lo = values.iter().copied().reduce(f64::min)?;
    let hi = values.iter().copied().reduce(f64::max)?;
    Some((lo, hi))
}

/// A range around `lo..hi` with 5% margins (a small window around a single value).
pub(crate) fn padded(lo: f64, hi: f64) -> (f64, f64) {
    let pad = if hi > lo {
        (hi - lo) * 0.05
    } else if lo == 0.0 {
        1.0
    } else {
        lo.abs() * 0.1
    };
    (lo - pad, hi + pad)
}

fn distinct_sorted(values: &[f64]) -> Vec<f64> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v.dedup_by(|a, b| (*a - *b).abs() <= 1e-12 * b.abs().max(1.0));
    v
}

/// Round-number ticks (1, 2 or 5 times a power of ten apart) inside `range`.
pub(crate) fn nice_ticks((lo, hi): (f64, f64)) -> Vec<f64> {
    let span = hi - lo;
    if span <= 0.0 || !span.is_finite() {
        return vec![lo];
    }
    let raw = span / AUTO_TICKS;
    let mag = 10f64.powf(raw.log10().floor());
    let step = mag
        * match raw / mag {
            n if n < 1.5 => 1.0,
            n if n < 3.5 => 2.0,
            n if n < 7.5 => 5.0,
            _ => 10.0,
        };
    let (first, last) = ((lo / step).ceil(), (hi / step).floor());
    if !(first.abs() < 1e15 && last.abs() < 1e15 && last - first <= 50.0) {
        // Values too large for their spread to be told apart: just the ends.
        return vec![lo, hi];
    }
    ((first as i64)..=(last as i64))
        .map(|k| k as f64 * step)
        .collect()
}

/// Ticks of a log axis inside `range` (plot coordinates): the powers of the base, and for
/// base 10 also 2 and 5 times them when that gives few enough.
fn log_ticks(base: f64, (lo, hi): (f64, f64)) -> Vec<f64> {
    let powers: Vec<f64> = ((lo.floor() as i64)..=(hi.ceil() as i64))
        .map(|k| k as f64)
        .filter(|&c| c >= lo && c <= hi)
        .collect();
    if base != 10.0 {
        let every = powers.len().div_ceil(MAX_VALUE_TICKS).max(1);
        return powers.into_iter().step_by(every).collect();
    }
    let with_multiples: Vec<f64> = ((lo.floor() as i64)..=(hi.ceil() as i64))
        .flat_map(|k| [1.0f64, 2.0, 5.0].map(|m| k as f64 + m.log10()))
        .filter(|&c| c >= lo && c <= hi)
        .collect();
    if with_multiples.len() <= MAX_VALUE_TICKS {
        with_multiples
    } else {
        powers
    }
}

/// A number in at most four significant digits, trailing zeros dropped; scientific notation
/// (`1.54e8`, `6.6e-7`) from a million up and below a thousandth.
pub(crate) fn fmt_number(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return if v.is_finite() {
            "0".into()
        } else {
            v.to_string()
        };
    }
    let a = v.abs();
    if !(1e-3..1e6).contains(&a) {
        return fmt_sci(v);
    }
    let decimals = (3 - a.log10().floor() as i32).clamp(0, 6) as usize;
    trim_zeros(&format!("{v:.decimals$}")).to_string()
}

/// A number in scientific notation with at most four significant digits (`1.541e8`, `5e5`,
/// `0` for zero).
pub(crate) fn fmt_sci(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let s = format!("{v:.3e}");
    match s.split_once('e') {
        Some((mantissa, exp)) => format!("{}e{exp}", trim_zeros(mantissa)),
        None => s,
    }
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_scale_only_for_positive_values_spanning_more_than_16x() {
        assert_eq!(log_base(&[1.0, 3.0, 9.5, 16.0]), None, "exactly 16x");
        assert_eq!(log_base(&[1.0, 2.0, 3.0, 16.0]), None, "16x, not geometric");
        assert_eq!(log_base(&[1.0, 4.0, 16.0, 64.0]), Some(2.0));
        assert_eq!(log_base(&[10.0, 100.0, 1000.0]), Some(10.0));
        assert_eq!(log_base(&[3.0, 100.0]), Some(10.0));
        assert_eq!(log_base(&[0.0, 64.0]), None, "zero");
        assert_eq!(log_base(&[-1.0, 64.0]), None, "negative");
        assert_eq!(
            log_base(&[0.5, 1.0, 64.0]),
            Some(2.0),
            "fractional powers of 2"
        );
        assert_eq!(log_base(&[]), None);
        assert_eq!(log_base(&[5.0]), None);
    }

    #[test]
    fn geometric_progressions_get_a_log_scale() {
        // The tile counts of arch/sweeps/tiles-pulse.toml: 16x, doubling.
        let tiles = [4.0, 8.0, 16.0, 32.0, 64.0];
        assert_eq!(log_base(&tiles), Some(2.0));
        // Repeated values (one per pulse width) and any order.
        assert_eq!(log_base(&[64.0, 4.0, 8.0, 4.0, 16.0, 32.0, 8.0]), Some(2.0));
        assert_eq!(log_base(&[1.0, 2.0, 4.0]), Some(2.0));
        assert_eq!(log_base(&[1.0, 10.0, 100.0]), Some(10.0));
        assert_eq!(log_base(&[1.0, 3.0, 9.0]), Some(10.0), "tripling");
        assert_eq!(log_base(&[2.0, 4.0]), None, "two values");
        assert_eq!(log_base(&[1.0, 2.0, 4.0, 6.0]), None, "not geometric");
        assert_eq!(log_base(&[4.0, 6.0, 9.0]), None, "ratio 1.5");
        assert_eq!(log_base(&[0.0, 1.0, 2.0, 4.0]), None, "zero");
        let a = Axis::numeric("chip.tiles", &tiles, true, Ticks::AtValues);
        assert_eq!(a.scale, Scale::Log(2.0));
        assert_eq!(a.label, "chip.tiles (log2 scale)");
        let labels: Vec<String> = a.ticks.iter().map(|&c| a.tick_label(c)).collect();
        assert_eq!(labels, ["4", "8", "16", "32", "64"]);
        // Evenly spaced.
        let gaps: Vec<f64> = a.ticks.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(gaps.iter().all(|g| (g - 1.0).abs() < 1e-12), "{gaps:?}");
        // The same values on a y axis that allows no log scale stay linear.
        let y = Axis::numeric("energy", &tiles, false, Ticks::Auto);
        assert_eq!(y.scale, Scale::Linear);
    }

    #[test]
    fn numeric_axis_ticks_at_values_and_log_labels() {
        let a = Axis::numeric("tiles", &[1.0, 4.0, 16.0, 64.0], true, Ticks::AtValues);
        assert_eq!(a.scale, Scale::Log(2.0));
        assert_eq!(a.label, "tiles (log2 scale)");
        let labels: Vec<String> = a.ticks.iter().map(|&c| a.tick_label(c)).collect();
        assert_eq!(labels, ["1", "4", "16", "64"]);
        assert!(a.range.0 < a.coord(1.0) && a.coord(64.0) < a.range.1);
        let lin = Axis::numeric("tiles", &[1.0, 4.0, 16.0, 64.0], false, Ticks::AtValues);
        assert_eq!(lin.scale, Scale::Linear);
    }

    #[test]
    fn single_value_axis_has_a_window() {
        let a = Axis::numeric("epoch", &[1.0], false, Ticks::AtValues);
        assert!(a.range.0 < 1.0 && a.range.1 > 1.0);
        assert_eq!(a.ticks, [1.0]);
        let z = Axis::numeric("x", &[0.0, 0.0], true, Ticks::Auto);
        assert!(z.range.0 < 0.0 && z.range.1 > 0.0);
    }

    #[test]
    fn nice_ticks_are_round() {
        assert_eq!(nice_ticks((0.0, 10.0)), [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        let t = nice_ticks((0.93, 0.97));
        let labels: Vec<String> = t.iter().map(|&v| fmt_number(v)).collect();
        assert_eq!(
            labels,
            [
                "0.93", "0.935", "0.94", "0.945", "0.95", "0.955", "0.96", "0.965", "0.97"
            ]
        );
        assert_eq!(nice_ticks((2.0, 2.0)), [2.0]);
        assert_eq!(nice_ticks((1e17, 1e17 + 64.0)), [1e17, 1e17 + 64.0]);
    }

    #[test]
    fn log10_ticks_use_1_2_5() {
        let a = Axis::numeric("e", &[20.0, 400.0], true, Ticks::Auto);
        let labels: Vec<String> = a.ticks.iter().map(|&c| a.tick_label(c)).collect();
        assert_eq!(labels, ["20", "50", "100", "200"]);
    }

    #[test]
    fn category_axis() {
        let a = Axis::category("mapping", vec!["spread".into(), "pack".into()]);
        assert_eq!(a.category_coord("pack"), Some(1.0));
        assert_eq!(a.category_coord("x"), None);
        assert_eq!(a.tick_label(0.0), "spread");
        assert_eq!(a.tick_label(0.5), "");
        assert_eq!(a.range, (-0.5, 1.5));
    }

    #[test]
    fn one_axis_does_not_mix_notations() {
        let a = Axis::numeric("cycles", &[4.5e5, 4.5e6], false, Ticks::Auto);
        let labels: Vec<String> = a.ticks.iter().map(|&c| a.tick_label(c)).collect();
        assert!(
            labels.iter().all(|l| l.contains('e') || l == "0"),
            "{labels:?}"
        );
        let b = Axis::numeric("acc", &[90.0, 94.0], false, Ticks::Auto);
        assert!(b.ticks.iter().all(|&c| !b.tick_label(c).contains('e')));
        assert_eq!(fmt_sci(500000.0), "5e5");
        assert_eq!(fmt_sci(0.0), "0");
    }

    #[test]
    fn numbers_are_short() {
        assert_eq!(fmt_number(0.0), "0");
        assert_eq!(fmt_number(-0.0), "0");
        assert_eq!(fmt_number(166057.189), "166057");
        assert_eq!(fmt_number(466.2786), "466.3");
        assert_eq!(fmt_number(0.9675), "0.9675");
        assert_eq!(fmt_number(0.30000000000000004), "0.3");
        assert_eq!(fmt_number(63.99999999), "64");
        assert_eq!(fmt_number(154083078.0), "1.541e8");
        assert_eq!(fmt_number(6.6e-7), "6.6e-7");
        assert_eq!(fmt_number(2e6), "2e6");
    }
}
