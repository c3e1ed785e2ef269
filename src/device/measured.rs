//! Measured switching data: a surface of switching probabilities over pulse width and
//! program current read from a CSV file (`device.switching = "measured"`,
//! `device.measured_csv`), in place of a physical model.
//!
//! # Format
//!
//! A CSV file with a header; columns are found by name (case-insensitive), in any order:
//! - `pulse_ns`: the pulse width, in ns (positive);
//! - `current_uA`: the program current, in µA (positive);
//! - `p_switch`: the probability that one pulse of that width and current switches the MTJ
//!   (AP -> P), from 0 to 1;
//! - `mean_switch_ns` (optional): the mean switching time of the pulses that switch, in ns,
//!   from 0 to the pulse width. If the column is there it must be filled on every row whose
//!   `p_switch` is above 0 (it may be empty where `p_switch` is 0).
//!
//! Other columns (`energy_pJ`, which `nandspin device` writes) are ignored, so the output of
//! `nandspin device --out f.csv` reads back as a surface.
//!
//! # Checks
//!
//! Every error is one line naming the CSV file and its line. The rows must form a full grid:
//! every distinct pulse width measured at every distinct current, each point once; at least
//! 2 widths and 1 current (with a single current the surface does not depend on the
//! current). `p_switch` must not decrease with the pulse width at any current (a longer
//! pulse cannot switch less often). It should not decrease with the current either, but
//! measured data are noisy: a dip there is a warning ([`Surface::warnings`]), not an error.
//! At most [`MAX_ROWS`] rows and [`MAX_BYTES`] bytes.
//!
//! # Interpolation
//!
//! Bilinear in (pulse width, current) of y = ln(−ln p), p clamped to [1e-300, 1 − 2⁻⁵³]
//! first; F = exp(−exp(y)). Interpolating y keeps F non-decreasing in the width wherever the
//! data are, and is exact for the precessional law F = exp(−a·exp(−2 (I/I_c0 − 1) t / τ_D))
//! above I_c0, whose y = ln a − 2 (I/I_c0 − 1) t / τ_D is bilinear in (t, I): a surface
//! sampled from that law gives the law back between its points. Where every corner of a cell
//! has p = 0 (or 1) the surface is exactly 0 (or 1).
//!
//! Outside the grid the surface is clamped to its nearest edge, in width and current
//! separately ([`Surface::outside`] tells callers to warn). Beyond the longest width F stays
//! at its value there, which understates switching. Below the shortest width t_min,
//! F(t) = F(t_min) for 0 < t < t_min (F(0) = 0, as for every law): the switching time has
//! an atom at 0 of mass F(t_min). No model-free value is safer than the last measured one,
//! but it is an upper bound of the true F (F is non-decreasing), so it overstates switching
//! below the grid; runs and `nandspin device` warn when they read it there.
//!
//! Mean switching times: with a `mean_switch_ns` column they are interpolated bilinearly in
//! (t, I) over the corners that have one, clamped to the grid like F, then to [0, t_p];
//! without it they follow from F (∫₀^t_p (1 − F) dt by Gauss–Legendre quadrature per cell).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::error::clip;

/// Most data rows a measured CSV may have.
pub const MAX_ROWS: usize = 1_000_000;
/// Largest measured CSV file, in bytes (256 MiB).
pub const MAX_BYTES: u64 = 256 << 20;

/// Smallest probability interpolated (smaller ones, 0 included, are clamped to it).
const P_MIN: f64 = 1e-300;
/// Largest probability interpolated: 1 − 2⁻⁵³ (1 is clamped to it).
const P_MAX: f64 = 1.0 - f64::EPSILON / 2.0;

/// y = ln(−ln p) of a probability, clamped to [`P_MIN`], [`P_MAX`] first.
fn y_of_p(p: f64) -> f64 {
    (-p.clamp(P_MIN, P_MAX).ln()).ln()
}

/// The largest y: p at or below [`P_MIN`], read as 0.
fn y_hi() -> f64 {
    y_of_p(0.0)
}

/// The smallest y: p at or above [`P_MAX`], read as 1.
fn y_lo() -> f64 {
    y_of_p(1.0)
}

/// F = exp(−exp(y)); exactly 0 at the top clamp and 1 at the bottom one.
fn f_of_y(y: f64) -> f64 {
    if y >= y_hi() {
        0.0
    } else if y <= y_lo() {
        1.0
    } else {
        (-y.exp()).exp()
    }
}

/// 1 − F = −expm1(−exp(y)), without cancellation near F = 1.
fn one_minus_f_of_y(y: f64) -> f64 {
    if y >= y_hi() {
        1.0
    } else if y <= y_lo() {
        0.0
    } else {
        -(-y.exp()).exp_m1()
    }
}

/// `a + w (b − a)`, exactly `a` at `w = 0`.
#[inline]
fn lerp(a: f64, b: f64, w: f64) -> f64 {
    if w == 0.0 { a } else { a + w * (b - a) }
}

/// Where `x` falls on the increasing `axis`, clamped to its ends: `(k, w)` with the value
/// at `axis[k] + w (axis[k + 1] − axis[k])`, `0 <= w < 1`; `w = 0` on a grid point and
/// outside (then `axis[k + 1]` is not read).
fn locate(axis: &[f64], x: f64) -> (usize, f64) {
    let n = axis.len();
    if n == 1 || x.is_nan() || x <= axis[0] {
        return (0, 0.0);
    }
    if x >= axis[n - 1] {
        return (n - 1, 0.0);
    }
    // axis[k] <= x < axis[k + 1]
    let k = axis.partition_point(|&a| a <= x) - 1;
    (k, (x - axis[k]) / (axis[k + 1] - axis[k]))
}

/// One data row as read.
#[derive(Debug, Clone, Copy)]
struct Row {
    /// 1-based line of the CSV file.
    line: u64,
    pulse_ns: f64,
    current_ua: f64,
    p: f64,
    /// The `mean_switch_ns` cell (`None` when empty or when there is no such column).
    mean_ns: Option<f64>,
}

/// A measured switching surface: P_sw (and optionally the mean switching time) on a full
/// grid of pulse widths and currents, interpolated as the module docs describe.
#[derive(Debug, Clone, PartialEq)]
pub struct Surface {
    /// The CSV file it was read from, as opened (relative paths resolved).
    pub path: PathBuf,
    /// The distinct pulse widths, increasing, in ns (at least 2).
    pub pulse_ns: Vec<f64>,
    /// The distinct currents, increasing, in µA (at least 1).
    pub current_ua: Vec<f64>,
    /// P_sw per point, row-major: `p[i * pulse_ns.len() + j]` at `current_ua[i]`,
    /// `pulse_ns[j]`.
    pub p: Vec<f64>,
    /// y = ln(−ln p) per point, clamped as the module docs say; laid out like `p`.
    y: Vec<f64>,
    /// The mean switching time per point in ns, laid out like `p`, when the file has a
    /// `mean_switch_ns` column (`None` in a cell left empty, where p = 0).
    pub mean_ns: Option<Vec<Option<f64>>>,
    /// One-line warnings about the data (`warning: ...`): p falling with the current.
    pub warnings: Vec<String>,
}

impl Surface {
    /// Reads and checks the CSV file at `path`. Errors are one line that starts with
    /// `path:line: ` (just `path: ` for a file that cannot be read).
    pub fn read(path: &Path) -> Result<Self, String> {
        let label = clip(&path.display().to_string());
        if path.is_dir() {
            return Err(format!("{label}: is a folder, not a CSV file"));
        }
        if !path.exists() {
            return Err(format!(
                "no such file {label} (a relative path is relative to the arch file's folder)"
            ));
        }
        let size = std::fs::metadata(path)
            .map_err(|e| format!("{label}: cannot read: {e}"))?
            .len();
        if size > MAX_BYTES {
            return Err(format!(
                "{label}: {size} bytes, more than the {} MiB a measured CSV may have",
                MAX_BYTES >> 20
            ));
        }
        let bytes = std::fs::read(path).map_err(|e| format!("{label}: cannot read: {e}"))?;
        Self::parse(path, &bytes)
    }

    /// Parses and checks CSV text; `path` names it in messages and is kept as
    /// [`Self::path`].
    pub fn parse(path: &Path, bytes: &[u8]) -> Result<Self, String> {
        let label = clip(&path.display().to_string());
        let at = |line: u64, msg: String| format!("{label}:{line}: {msg}");
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(true)
            .trim(csv::Trim::All)
            .from_reader(bytes);
        let header = rdr
            .byte_headers()
            .map_err(|e| csv_error(&label, &e))?
            .clone();
        let header_line = header.position().map_or(1, csv::Position::line);
        let names: Vec<String> = header
            .iter()
            .map(|f| String::from_utf8_lossy(f).trim().to_string())
            .collect();
        let find = |want: &str| -> Result<Option<usize>, String> {
            let hits: Vec<usize> = (0..names.len())
                .filter(|&i| names[i].eq_ignore_ascii_case(want))
                .collect();
            match hits[..] {
                [] => Ok(None),
                [i] => Ok(Some(i)),
                _ => Err(at(
                    header_line,
                    format!("the header names column {want} {} times", hits.len()),
                )),
            }
        };
        let required = |want: &str| -> Result<usize, String> {
            find(want)?.ok_or_else(|| {
                let have: Vec<String> = names.iter().map(|n| clip(n)).collect();
                at(
                    header_line,
                    clip_line(format!(
                        "no `{want}` column; columns are found by name (pulse_ns, current_uA, p_switch, optional mean_switch_ns) and the header has: {}",
                        have.join(", ")
                    )),
                )
            })
        };
        let col_pulse = required("pulse_ns")?;
        let col_current = required("current_uA")?;
        let col_p = required("p_switch")?;
        let col_mean = find("mean_switch_ns")?;
        let mut rows = Vec::new();
        let mut record = csv::ByteRecord::new();
        loop {
            match rdr.read_byte_record(&mut record) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => return Err(csv_error(&label, &e)),
            }
            let line = record.position().map_or(0, csv::Position::line);
            if rows.len() == MAX_ROWS {
                return Err(at(
                    line,
                    format!(
                        "more than {MAX_ROWS} data rows; a measured grid may have at most that many points"
                    ),
                ));
            }
            let cell = |i: usize| -> Result<Option<f64>, String> {
                let raw = record.get(i).unwrap_or_default();
                let text = std::str::from_utf8(raw).map_err(|_| {
                    at(
                        line,
                        format!("column {} is not UTF-8 text", clip(&names[i])),
                    )
                })?;
                if text.is_empty() {
                    return Ok(None);
                }
                text.parse::<f64>().map(Some).map_err(|_| {
                    at(
                        line,
                        format!("`{}` in column {} is not a number", clip(text), names[i]),
                    )
                })
            };
            let needed = |i: usize| -> Result<f64, String> {
                cell(i)?.ok_or_else(|| at(line, format!("column {} is empty", names[i])))
            };
            rows.push(Row {
                line,
                pulse_ns: needed(col_pulse)?,
                current_ua: needed(col_current)?,
                p: needed(col_p)?,
                mean_ns: match col_mean {
                    Some(i) => cell(i)?,
                    None => None,
                },
            });
        }
        Self::build(path, header_line, rows, col_mean.is_some())
    }

    /// A surface from a full grid in memory (tests, or data computed by other means):
    /// `p[i * pulse_ns.len() + j]` at `current_ua[i]` and `pulse_ns[j]`, and optionally the
    /// mean switching times laid out the same way. Checked like a CSV whose rows are the
    /// points in that order (errors name line `k + 2` for point `k`).
    pub fn from_grid(
        pulse_ns: &[f64],
        current_ua: &[f64],
        p: &[f64],
        mean_ns: Option<&[Option<f64>]>,
    ) -> Result<Self, String> {
        let m = pulse_ns.len();
        if p.len() != m * current_ua.len() || mean_ns.is_some_and(|v| v.len() != p.len()) {
            return Err(format!(
                "{} widths x {} currents need as many probabilities (and means), got {}",
                m,
                current_ua.len(),
                p.len()
            ));
        }
        let rows = p
            .iter()
            .enumerate()
            .map(|(k, &p)| Row {
                line: k as u64 + 2,
                pulse_ns: pulse_ns[k % m.max(1)],
                current_ua: current_ua[k / m.max(1)],
                p,
                mean_ns: mean_ns.and_then(|v| v[k]),
            })
            .collect();
        Self::build(Path::new("(grid)"), 1, rows, mean_ns.is_some())
    }

    /// Checks the rows and lays them out on their grid.
    fn build(
        path: &Path,
        header_line: u64,
        rows: Vec<Row>,
        has_mean: bool,
    ) -> Result<Self, String> {
        let label = clip(&path.display().to_string());
        let at = |line: u64, msg: String| format!("{label}:{line}: {msg}");
        if rows.is_empty() {
            return Err(at(
                header_line,
                "no data rows under the header; give P_sw on a grid of pulse widths and currents"
                    .into(),
            ));
        }
        for r in &rows {
            check_row(r, has_mean).map_err(|m| at(r.line, m))?;
        }
        let mut seen: HashMap<(u64, u64), usize> = HashMap::with_capacity(rows.len());
        for (k, r) in rows.iter().enumerate() {
            if let Some(&first) = seen.get(&(r.pulse_ns.to_bits(), r.current_ua.to_bits())) {
                return Err(at(
                    r.line,
                    format!(
                        "pulse_ns = {} at current_uA = {} is given twice (first on line {}); give each point once",
                        r.pulse_ns, r.current_ua, rows[first].line
                    ),
                ));
            }
            seen.insert((r.pulse_ns.to_bits(), r.current_ua.to_bits()), k);
        }
        let distinct = |f: fn(&Row) -> f64| {
            let mut v: Vec<f64> = rows.iter().map(f).collect();
            v.sort_by(f64::total_cmp);
            v.dedup();
            v
        };
        let pulse_ns = distinct(|r| r.pulse_ns);
        let current_ua = distinct(|r| r.current_ua);
        if pulse_ns.len() < 2 {
            return Err(at(
                rows[0].line,
                format!(
                    "needs at least 2 distinct pulse widths to interpolate between, got 1 (pulse_ns = {})",
                    pulse_ns[0]
                ),
            ));
        }
        let (m, n) = (pulse_ns.len(), current_ua.len());
        if rows.len() != m * n {
            for &c in &current_ua {
                for &t in &pulse_ns {
                    if !seen.contains_key(&(t.to_bits(), c.to_bits())) {
                        let row = rows
                            .iter()
                            .find(|r| r.current_ua == c)
                            .expect("a distinct current comes from a row");
                        return Err(at(
                            row.line,
                            format!(
                                "incomplete grid: no row for pulse_ns = {t} at this row's current_uA = {c}; every pulse width ({m} of them) must be measured at every current ({n})"
                            ),
                        ));
                    }
                }
            }
        }
        let index = |r: &Row| {
            let i = current_ua.partition_point(|&c| c < r.current_ua);
            let j = pulse_ns.partition_point(|&t| t < r.pulse_ns);
            i * m + j
        };
        let mut p = vec![0.0; m * n];
        let mut lines = vec![0u64; m * n];
        let mut mean = vec![None; m * n];
        for r in &rows {
            let k = index(r);
            p[k] = r.p;
            lines[k] = r.line;
            mean[k] = r.mean_ns;
        }
        for i in 0..n {
            for j in 1..m {
                let (a, b) = (p[i * m + j - 1], p[i * m + j]);
                if b < a {
                    return Err(at(
                        lines[i * m + j],
                        format!(
                            "p_switch must not decrease with the pulse width: {b} at pulse_ns = {} after {a} at {} (current_uA = {}, line {}); a longer pulse cannot switch less often",
                            pulse_ns[j],
                            pulse_ns[j - 1],
                            current_ua[i],
                            lines[i * m + j - 1]
                        ),
                    ));
                }
            }
        }
        let mut dips = Vec::new();
        for i in 1..n {
            for j in 0..m {
                let (a, b) = (p[(i - 1) * m + j], p[i * m + j]);
                if b < a {
                    dips.push((i, j, a, b));
                }
            }
        }
        let warnings = match dips.first() {
            None => Vec::new(),
            Some(&(i, j, a, b)) => vec![clip_line(format!(
                "warning: {label}:{}: p_switch falls with the current at {} of the {} points (first: {b} at current_uA = {} after {a} at {}, pulse_ns = {}); noisy data? the surface interpolates them as they are",
                lines[i * m + j],
                dips.len(),
                m * n,
                current_ua[i],
                current_ua[i - 1],
                pulse_ns[j]
            ))],
        };
        let y = p.iter().map(|&p| y_of_p(p)).collect();
        Ok(Self {
            path: path.to_path_buf(),
            pulse_ns,
            current_ua,
            p,
            y,
            mean_ns: has_mean.then_some(mean),
            warnings,
        })
    }

    /// Whether the file gave mean switching times (`mean_switch_ns`).
    pub fn has_mean(&self) -> bool {
        self.mean_ns.is_some()
    }

    /// Whether (`pulse_ns`, `current_ua`) lies outside the grid, where the surface is
    /// clamped to its edge.
    pub fn outside(&self, pulse_ns: f64, current_ua: f64) -> bool {
        let (t, c) = (&self.pulse_ns, &self.current_ua);
        pulse_ns < t[0]
            || pulse_ns > t[t.len() - 1]
            || current_ua < c[0]
            || current_ua > c[c.len() - 1]
    }

    /// y at width index `j`, interpolated over the currents at `(i, w)` (see [`locate`]).
    #[inline]
    fn y_at_width(&self, (i, w): (usize, f64), j: usize) -> f64 {
        let m = self.pulse_ns.len();
        let a = self.y[i * m + j];
        if w == 0.0 {
            a
        } else {
            lerp(a, self.y[(i + 1) * m + j], w)
        }
    }

    /// y = ln(−ln F) at (`t_ns`, `current_ua`), bilinear, clamped to the grid.
    fn y_at(&self, t_ns: f64, current_ua: f64) -> f64 {
        let ci = locate(&self.current_ua, current_ua);
        let (j, w) = locate(&self.pulse_ns, t_ns);
        let a = self.y_at_width(ci, j);
        if w == 0.0 {
            a
        } else {
            lerp(a, self.y_at_width(ci, j + 1), w)
        }
    }

    /// F(t): the interpolated switching probability of a pulse `t_ns` wide at `current_ua`
    /// (0 at `t_ns <= 0`).
    pub fn cdf(&self, t_ns: f64, current_ua: f64) -> f64 {
        if t_ns <= 0.0 {
            return 0.0;
        }
        f_of_y(self.y_at(t_ns, current_ua))
    }

    /// The smallest t >= 0 with F(t) >= u at `current_ua`: within a cell y is linear in t,
    /// so t = t_j + (ln(−ln u) − y_j) / (y_{j+1} − y_j) · (t_{j+1} − t_j). Draws up to
    /// F(t_min) give 0 (the atom below the grid); draws above F at the longest width give
    /// that width.
    pub fn quantile(&self, u: f64, current_ua: f64) -> f64 {
        let z = y_of_p(u);
        let ci = locate(&self.current_ua, current_ua);
        let t = &self.pulse_ns;
        let mut prev = self.y_at_width(ci, 0);
        if prev <= z {
            return 0.0;
        }
        for j in 1..t.len() {
            let y = self.y_at_width(ci, j);
            if y <= z {
                // prev > z >= y: the crossing lies in (t[j-1], t[j]].
                let f = (prev - z) / (prev - y);
                return (t[j - 1] + f * (t[j] - t[j - 1])).min(t[j]);
            }
            prev = y;
        }
        t[t.len() - 1]
    }

    /// The mean switching time at (`t_ns`, `current_ua`) from the `mean_switch_ns` column,
    /// in ns: bilinear over the cell's corners that have one (their weights renormalised),
    /// clamped to the grid; `None` without the column or when no corner in reach has one.
    /// Not clamped to the pulse: callers clamp it to [0, t_p].
    pub fn mean_at(&self, t_ns: f64, current_ua: f64) -> Option<f64> {
        let mean = self.mean_ns.as_ref()?;
        let m = self.pulse_ns.len();
        let (i, wi) = locate(&self.current_ua, current_ua);
        let (j, wj) = locate(&self.pulse_ns, t_ns);
        let (mut sum, mut weight) = (0.0, 0.0);
        for (di, fi) in [(0, 1.0 - wi), (1, wi)] {
            for (dj, fj) in [(0, 1.0 - wj), (1, wj)] {
                let w = fi * fj;
                if w > 0.0
                    && let Some(v) = mean[(i + di) * m + j + dj]
                {
                    sum += w * v;
                    weight += w;
                }
            }
        }
        (weight > 0.0).then(|| sum / weight)
    }

    /// ∫₀^t_p F dt (`complement` false) or ∫₀^t_p (1 − F) dt (true), in ns, of the
    /// interpolated F at `current_ua`: closed form outside the grid (F is flat there),
    /// 8-point Gauss–Legendre on pieces of each cell over which y changes by at most 1/4.
    pub fn integral_ns(&self, pulse_ns: f64, current_ua: f64, complement: bool) -> f64 {
        if pulse_ns <= 0.0 {
            return 0.0;
        }
        let g = |y: f64| {
            if complement {
                one_minus_f_of_y(y)
            } else {
                f_of_y(y)
            }
        };
        let ci = locate(&self.current_ua, current_ua);
        let t = &self.pulse_ns;
        let m = t.len();
        let mut total = pulse_ns.min(t[0]) * g(self.y_at_width(ci, 0));
        for j in 0..m - 1 {
            let (a, b) = (t[j], t[j + 1]);
            if a >= pulse_ns {
                break;
            }
            let hi = b.min(pulse_ns);
            let (ya, yb) = (self.y_at_width(ci, j), self.y_at_width(ci, j + 1));
            let slope = (yb - ya) / (b - a);
            let y_hi = ya + slope * (hi - a);
            let pieces = ((y_hi - ya).abs() * 4.0).ceil().clamp(1.0, 1000.0) as usize;
            let h = (hi - a) / pieces as f64;
            for k in 0..pieces {
                let mid = a + (k as f64 + 0.5) * h;
                let mut s = 0.0;
                for (x, w) in GL8 {
                    for sign in [-1.0, 1.0] {
                        let tt = mid + sign * x * 0.5 * h;
                        s += w * g(ya + slope * (tt - a));
                    }
                }
                total += 0.5 * h * s;
            }
        }
        if pulse_ns > t[m - 1] {
            total += (pulse_ns - t[m - 1]) * g(self.y_at_width(ci, m - 1));
        }
        total
    }
}

/// Gauss–Legendre nodes (positive half) and weights, 8 points on [−1, 1].
const GL8: [(f64, f64); 4] = [
    (0.183_434_642_495_649_8, 0.362_683_783_378_362),
    (0.525_532_409_916_329, 0.313_706_645_877_887_3),
    (0.796_666_477_413_626_7, 0.222_381_034_453_374_5),
    (0.960_289_856_497_536_3, 0.101_228_536_290_376_3),
];

/// The checks of one row: positive finite width and current, a probability, a mean
/// switching time within the pulse where the file has that column.
fn check_row(r: &Row, has_mean: bool) -> Result<(), String> {
    if !(r.pulse_ns.is_finite() && r.pulse_ns > 0.0) {
        return Err(format!(
            "pulse_ns must be a positive width in ns, got {}",
            r.pulse_ns
        ));
    }
    if !(r.current_ua.is_finite() && r.current_ua > 0.0) {
        return Err(format!(
            "current_uA must be a positive current in µA, got {}",
            r.current_ua
        ));
    }
    if !(0.0..=1.0).contains(&r.p) {
        return Err(format!(
            "p_switch must be a probability from 0 to 1, got {}",
            r.p
        ));
    }
    if has_mean {
        match r.mean_ns {
            None if r.p > 0.0 => {
                return Err(format!(
                    "mean_switch_ns is empty but p_switch = {} is above 0; give the mean switching time of the pulses that switch on every such row, or drop the column",
                    r.p
                ));
            }
            Some(t) if !(t.is_finite() && (0.0..=r.pulse_ns).contains(&t)) => {
                return Err(format!(
                    "mean_switch_ns must be from 0 to the pulse width ({} ns), got {t}",
                    r.pulse_ns
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

/// A CSV reader's error as one line naming the file and line.
fn csv_error(label: &str, e: &csv::Error) -> String {
    let line = e.position().map_or(1, csv::Position::line);
    let msg = match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("this row has {len} fields but the header has {expected_len}"),
        csv::ErrorKind::Io(io) => format!("cannot read: {io}"),
        _ => format!("not a readable CSV file: {}", clip(&e.to_string())),
    };
    format!("{label}:{line}: {msg}")
}

/// A message cut to a length that keeps the error line readable.
fn clip_line(s: String) -> String {
    crate::error::clip_to(&s, 240)
}

/// The one-line warning for a run or characterisation that reads `surface` outside its
/// grid, or `None` when every width of `pulses_ns` and current of `currents_ua` lies on it.
/// `pulse_what` and `current_what` name where the values came from
/// (`update.program_pulse_ns`, `--current-ua`).
pub fn grid_warning(
    surface: &Surface,
    pulse_what: &str,
    pulses_ns: &[f64],
    current_what: &str,
    currents_ua: &[f64],
) -> Option<String> {
    let (t, c) = (&surface.pulse_ns, &surface.current_ua);
    let (t_lo, t_hi) = (t[0], t[t.len() - 1]);
    let (c_lo, c_hi) = (c[0], c[c.len() - 1]);
    let mut parts = Vec::new();
    if let Some(&w) = pulses_ns.iter().find(|&&w| w < t_lo) {
        parts.push(format!(
            "{pulse_what} {w} ns is below the shortest pulse width ({t_lo} ns; P_sw there is taken as at {t_lo} ns, which overstates switching)"
        ));
    } else if let Some(&w) = pulses_ns.iter().find(|&&w| w > t_hi) {
        parts.push(format!(
            "{pulse_what} {w} ns is beyond the longest pulse width ({t_hi} ns)"
        ));
    }
    if let Some(&i) = currents_ua.iter().find(|&&i| i < c_lo || i > c_hi) {
        parts.push(format!(
            "{current_what} {i} µA is outside the currents ({c_lo} to {c_hi} µA)"
        ));
    }
    if parts.is_empty() {
        return None;
    }
    Some(crate::error::clip_to(
        &format!(
            "warning: measured switching data {}: {}; the surface is clamped to the grid's edge",
            clip(&surface.path.display().to_string()),
            parts.join("; "),
        ),
        290,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Surface, String> {
        Surface::parse(Path::new("d.csv"), text.as_bytes())
    }

    const GOOD: &str = "pulse_ns,current_uA,p_switch\n1,100,0.2\n2,100,0.6\n1,200,0.5\n2,200,0.9\n";

    #[test]
    fn reads_a_grid_in_any_row_and_column_order() {
        let s = parse(GOOD).unwrap();
        assert_eq!(s.pulse_ns, vec![1.0, 2.0]);
        assert_eq!(s.current_ua, vec![100.0, 200.0]);
        assert_eq!(s.p, vec![0.2, 0.6, 0.5, 0.9]);
        assert!(!s.has_mean());
        assert!(s.warnings.is_empty());
        let shuffled = "energy_pJ,p_switch,Current_uA,pulse_ns\n9,0.9,200,2\n9,0.2,100,1\n9,0.5,200,1\n9,0.6,100,2\n";
        let t = parse(shuffled).unwrap();
        assert_eq!(
            (t.pulse_ns, t.current_ua, t.p),
            (s.pulse_ns, s.current_ua, s.p)
        );
    }

    #[test]
    fn grid_points_read_back_and_edges_clamp() {
        let s = parse(GOOD).unwrap();
        for (t, i, p) in [(1.0, 100.0, 0.2), (2.0, 100.0, 0.6), (2.0, 200.0, 0.9)] {
            assert!((s.cdf(t, i) - p).abs() < 1e-15, "{t} {i}");
        }
        // Clamped: beyond the longest width, above the largest current, below the shortest.
        assert_eq!(s.cdf(9.0, 100.0), s.cdf(2.0, 100.0));
        assert_eq!(s.cdf(1.5, 900.0), s.cdf(1.5, 200.0));
        assert_eq!(s.cdf(1.5, 10.0), s.cdf(1.5, 100.0));
        assert_eq!(s.cdf(0.3, 100.0), s.cdf(1.0, 100.0));
        assert_eq!(s.cdf(0.0, 100.0), 0.0);
        assert!(s.outside(0.5, 150.0) && s.outside(1.5, 250.0) && !s.outside(1.5, 150.0));
        // Monotone in width between the points, and between the currents.
        let mut last = 0.0;
        for k in 0..=100 {
            let f = s.cdf(1.0 + k as f64 / 100.0, 150.0);
            assert!(f >= last);
            last = f;
        }
        assert!(s.cdf(1.5, 150.0) > s.cdf(1.5, 100.0));
    }

    #[test]
    fn interpolation_is_exact_for_a_bilinear_y() {
        // y = ln a - k(I) t with k linear in I: the precessional law's shape.
        let (a, tau, ic0) = (98.7f64, 0.95, 30.0);
        let law = |t: f64, i: f64| (-a * (-2.0 * (i / ic0 - 1.0) * t / tau).exp()).exp();
        let widths = [0.5, 1.0, 2.0, 3.5];
        let currents = [60.0, 100.0, 150.0];
        let p: Vec<f64> = currents
            .iter()
            .flat_map(|&i| widths.iter().map(move |&t| law(t, i)))
            .collect();
        let s = Surface::from_grid(&widths, &currents, &p, None).unwrap();
        for (t, i) in [(0.7, 80.0), (1.3, 120.0), (2.9, 140.0), (1.0, 100.0)] {
            let (got, want) = (s.cdf(t, i), law(t, i));
            assert!((got - want).abs() < 1e-12, "{t} {i}: {got} vs {want}");
            // And the quantile inverts it (to the precision that 1 - p has in f64 near
            // p = 1: p(2.9 ns, 140 µA) = 1 - 1.8e-8).
            let back = s.quantile(want, i);
            let tol = 1e-9 / want.min(1.0 - want).max(1e-3);
            assert!((back - t).abs() < tol, "{t} {i}: {back}");
        }
    }

    #[test]
    fn quantile_handles_the_atom_and_flat_cells() {
        let s = parse("pulse_ns,current_uA,p_switch\n1,100,0.3\n2,100,0.3\n3,100,0.8\n").unwrap();
        assert_eq!(s.quantile(0.1, 100.0), 0.0);
        assert_eq!(s.quantile(0.3, 100.0), 0.0);
        let t = s.quantile(0.5, 100.0);
        assert!(t > 2.0 && t < 3.0, "{t}");
        assert!((s.cdf(t, 100.0) - 0.5).abs() < 1e-12);
        assert_eq!(s.quantile(0.9, 100.0), 3.0);
        // All zero or all one: exactly 0 and 1.
        let z = parse("pulse_ns,current_uA,p_switch\n1,100,0\n2,100,1\n").unwrap();
        assert_eq!(z.cdf(1.0, 100.0), 0.0);
        assert_eq!(z.cdf(2.0, 100.0), 1.0);
        assert!(z.cdf(1.5, 100.0) > 0.0 && z.cdf(1.5, 100.0) < 1.0);
    }

    #[test]
    fn integrals_match_fine_quadrature() {
        let s = parse(GOOD).unwrap();
        for (tp, i) in [(0.5, 150.0), (1.5, 130.0), (2.0, 100.0), (4.0, 180.0)] {
            let n = 400_000;
            let h = tp / n as f64;
            let mut acc = 0.0;
            for k in 0..n {
                acc += s.cdf((k as f64 + 0.5) * h, i) * h;
            }
            let f = s.integral_ns(tp, i, false);
            let g = s.integral_ns(tp, i, true);
            assert!((f - acc).abs() < 1e-8, "{tp} {i}: {f} vs {acc}");
            assert!((f + g - tp).abs() < 1e-12, "{tp} {i}");
        }
    }

    #[test]
    fn means_interpolate_over_the_corners_that_have_one() {
        let text = "pulse_ns,current_uA,p_switch,mean_switch_ns\n1,100,0,\n2,100,0.5,1.5\n1,200,0.2,0.8\n2,200,0.9,1.2\n";
        let s = parse(text).unwrap();
        assert!(s.has_mean());
        assert_eq!(s.mean_at(2.0, 100.0), Some(1.5));
        assert_eq!(s.mean_at(1.0, 100.0), None);
        let mid = s.mean_at(1.5, 150.0).unwrap();
        // Three corners of weight 1/4 each: (1.5 + 0.8 + 1.2) / 3.
        assert!((mid - 3.5 / 3.0).abs() < 1e-12, "{mid}");
        assert_eq!(parse(GOOD).unwrap().mean_at(1.5, 150.0), None);
    }

    fn err(text: &str) -> String {
        parse(text).unwrap_err()
    }

    #[test]
    fn bad_files_name_their_line() {
        let h = "pulse_ns,current_uA,p_switch\n";
        let e = err(&format!("{h}1,100,0.2\n2,100,1.2\n"));
        assert_eq!(
            e,
            "d.csv:3: p_switch must be a probability from 0 to 1, got 1.2"
        );
        let e = err(&format!("{h}1,100,0.5\n2,100,0.4\n"));
        assert!(
            e.starts_with("d.csv:3: p_switch must not decrease with the pulse width"),
            "{e}"
        );
        let e = err(&format!("{h}1,100,0.2\n2,100,0.4\n1,200,0.3\n"));
        assert!(
            e.starts_with("d.csv:4: incomplete grid: no row for pulse_ns = 2"),
            "{e}"
        );
        let e = err(&format!("{h}1,100,0.2\n1,100,0.4\n"));
        assert!(
            e.starts_with("d.csv:3: pulse_ns = 1 at current_uA = 100 is given twice"),
            "{e}"
        );
        let e = err(&format!("{h}1,100,0.2\n1,200,0.4\n"));
        assert!(
            e.starts_with("d.csv:2: needs at least 2 distinct pulse widths"),
            "{e}"
        );
        let e = err("pulse_ns,current_uA,p\n1,100,0.2\n");
        assert!(e.starts_with("d.csv:1: no `p_switch` column;"), "{e}");
        assert!(
            e.ends_with("the header has: pulse_ns, current_uA, p"),
            "{e}"
        );
        let e = err(&format!("{h}1,100,x\n"));
        assert_eq!(e, "d.csv:2: `x` in column p_switch is not a number");
        let e = err(&format!("{h}1,100\n"));
        assert_eq!(e, "d.csv:2: this row has 2 fields but the header has 3");
        let e = err(&format!("{h}0,100,0.5\n"));
        assert!(
            e.starts_with("d.csv:2: pulse_ns must be a positive width"),
            "{e}"
        );
        let e = err(&format!("{h}1,inf,0.5\n"));
        assert!(
            e.starts_with("d.csv:2: current_uA must be a positive current"),
            "{e}"
        );
        let e = err(&format!("{h}1,100,\n"));
        assert_eq!(e, "d.csv:2: column p_switch is empty");
        assert!(err(h).starts_with("d.csv:1: no data rows"));
        let m = "pulse_ns,current_uA,p_switch,mean_switch_ns\n";
        let e = err(&format!("{m}1,100,0.5,\n2,100,0.6,1\n"));
        assert!(
            e.starts_with("d.csv:2: mean_switch_ns is empty but p_switch = 0.5"),
            "{e}"
        );
        let e = err(&format!("{m}1,100,0.5,1.5\n2,100,0.6,1\n"));
        assert!(
            e.starts_with(
                "d.csv:2: mean_switch_ns must be from 0 to the pulse width (1 ns), got 1.5"
            ),
            "{e}"
        );
        let e = err("pulse_ns,PULSE_NS,current_uA,p_switch\n");
        assert!(
            e.starts_with("d.csv:1: the header names column pulse_ns 2 times"),
            "{e}"
        );
    }

    #[test]
    fn a_dip_with_the_current_is_a_warning() {
        let s = parse("pulse_ns,current_uA,p_switch\n1,100,0.3\n2,100,0.6\n1,200,0.2\n2,200,0.9\n")
            .unwrap();
        assert_eq!(s.warnings.len(), 1);
        assert!(
            s.warnings[0].starts_with(
                "warning: d.csv:4: p_switch falls with the current at 1 of the 4 points"
            ),
            "{}",
            s.warnings[0]
        );
    }

    #[test]
    fn a_single_current_is_current_independent() {
        let s = parse("pulse_ns,current_uA,p_switch\n1,100,0.3\n2,100,0.6\n").unwrap();
        assert_eq!(s.cdf(1.5, 1.0), s.cdf(1.5, 1e4));
        assert!(grid_warning(&s, "w", &[1.5], "i", &[100.0]).is_none());
        let w = grid_warning(
            &s,
            "update.program_pulse_ns",
            &[0.5],
            "update.program_current_ua",
            &[300.0],
        )
        .unwrap();
        assert_eq!(
            w,
            "warning: measured switching data d.csv: update.program_pulse_ns 0.5 ns is below the shortest pulse width (1 ns; P_sw there is taken as at 1 ns, which overstates switching); update.program_current_ua 300 µA is outside the currents (100 to 100 µA); the surface is clamped to the grid's edge"
        );
    }

    use proptest::prelude::*;

    /// A random monotone grid: 2-6 increasing widths, 1-4 increasing currents, and per
    /// current probabilities sorted along the widths (0 and 1 included now and then).
    fn any_surface() -> impl Strategy<Value = Surface> {
        (2usize..7, 1usize..5)
            .prop_flat_map(|(m, n)| {
                (
                    proptest::collection::vec(0.01f64..2.0, m),
                    proptest::collection::vec(1.0f64..50.0, n),
                    proptest::collection::vec(
                        prop_oneof![Just(0.0), Just(1.0), 0.0f64..1.0, 1e-12f64..1e-3],
                        m * n,
                    ),
                )
            })
            .prop_map(|(dw, dc, mut p)| {
                let widths: Vec<f64> = dw
                    .iter()
                    .scan(0.0, |a, d| {
                        *a += d;
                        Some(*a)
                    })
                    .collect();
                let currents: Vec<f64> = dc
                    .iter()
                    .scan(0.0, |a, d| {
                        *a += d;
                        Some(*a)
                    })
                    .collect();
                for row in p.chunks_mut(widths.len()) {
                    row.sort_by(f64::total_cmp);
                }
                Surface::from_grid(&widths, &currents, &p, None).unwrap()
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn surfaces_are_monotone_and_invert(
            s in any_surface(),
            a in 0.0f64..1.2,
            b in 0.0f64..1.2,
            c in 0.0f64..1.2,
        ) {
            let (t, i) = (&s.pulse_ns, &s.current_ua);
            let span = t[t.len() - 1];
            let current = i[0] + c * (i[i.len() - 1] - i[0] + 10.0) - 5.0;
            let (t1, t2) = (a * span, (a + b) * span);
            let (f1, f2) = (s.cdf(t1, current), s.cdf(t2, current));
            prop_assert!((0.0..=1.0).contains(&f1) && f2 >= f1, "{t1} {f1} {t2} {f2}");
            // The quantile is the smallest width reaching u: F(q(u)) >= u, below it F < u.
            let u = f1.max(1e-9);
            let q = s.quantile(u, current);
            prop_assert!(q >= 0.0 && q <= span);
            if u <= s.cdf(span, current) {
                prop_assert!(s.cdf(q.max(1e-300), current) >= u * (1.0 - 1e-9), "q {q} u {u}");
                if q > 1e-9 {
                    prop_assert!(s.cdf(q * (1.0 - 1e-6), current) <= u * (1.0 + 1e-9) + 1e-12);
                }
            }
            // The two integrals add up to the pulse, and each lies within it.
            let (f, g) = (s.integral_ns(t2, current, false), s.integral_ns(t2, current, true));
            prop_assert!(f >= 0.0 && g >= 0.0);
            prop_assert!((f + g - t2).abs() <= 1e-9 * t2.max(1.0), "{f} + {g} vs {t2}");
        }
    }
}
