//! Line and scatter figures: series of points on two [`Axis`]es, drawn to an SVG string.

use plotters::prelude::*;

use super::axis::Axis;

/// Size of a line or scatter figure, pixels.
pub(crate) const SIZE: (u32, u32) = (800, 500);

/// At most this many series get a legend entry.
const MAX_LEGEND: usize = 12;

/// Ten distinct colours (Tableau 10), used in order for the series.
const PALETTE: [(u8, u8, u8); 10] = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
];

/// Grey, for the background points of a Pareto figure.
pub(crate) const GREY: (u8, u8, u8) = (150, 150, 150);

/// The `i`-th colour of the palette (wrapping around).
pub(crate) fn palette(i: usize) -> (u8, u8, u8) {
    PALETTE[i % PALETTE.len()]
}

/// How the points of a series are joined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Join {
    /// Points only.
    None,
    /// Straight segments, in the order of the points.
    Straight,
    /// A staircase: across at the previous point's height, then up or down.
    Step,
}

/// One series: points in plot coordinates, how they are joined, marker and colour.
#[derive(Debug, Clone)]
pub(crate) struct Series {
    /// The legend entry; `None` for no entry.
    pub label: Option<String>,
    /// The points, plot coordinates.
    pub points: Vec<(f64, f64)>,
    /// How the points are joined.
    pub join: Join,
    /// Marker radius, pixels (0 for none).
    pub marker: u32,
    /// RGB colour.
    pub rgb: (u8, u8, u8),
}

/// A line or scatter figure.
#[derive(Debug, Clone)]
pub(crate) struct XyFigure {
    /// The caption above the plot.
    pub title: String,
    /// The horizontal axis.
    pub x: Axis,
    /// The vertical axis.
    pub y: Axis,
    /// The series, drawn in order (later ones on top).
    pub series: Vec<Series>,
}

/// Size of the plot area inside a figure, pixels, roughly (for placing the legend).
const PLOT_AREA: (f64, f64) = (680.0, 380.0);

/// A corner of the plot, for the legend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Corner {
    UpperRight,
    UpperLeft,
    LowerRight,
    LowerLeft,
}

impl Corner {
    const ALL: [Corner; 4] = [
        Corner::UpperRight,
        Corner::UpperLeft,
        Corner::LowerRight,
        Corner::LowerLeft,
    ];

    fn is_upper(self) -> bool {
        matches!(self, Corner::UpperRight | Corner::UpperLeft)
    }

    fn is_right(self) -> bool {
        matches!(self, Corner::UpperRight | Corner::LowerRight)
    }
}

/// The legend's size as fractions (width, height) of the plot area, estimated from its labels.
pub(crate) fn legend_size(labels: &[&str]) -> (f64, f64) {
    let chars = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    let w = (45.0 + 6.5 * chars as f64) / PLOT_AREA.0;
    let h = (14.0 + 17.0 * labels.len() as f64) / PLOT_AREA.1;
    (w.min(1.0), h.min(1.0))
}

/// The corner where a legend of `size` (fractions of the plot area) covers the fewest of
/// `points` (in fractions of the plot area, 0 to 1 from the lower left), and how many it
/// covers; ties go to the first of upper right, upper left, lower right, lower left.
pub(crate) fn legend_corner(points: &[(f64, f64)], (w, h): (f64, f64)) -> (Corner, usize) {
    let covered = |c: Corner| {
        points
            .iter()
            .filter(|&&(u, v)| {
                let across = if c.is_right() { u >= 1.0 - w } else { u <= w };
                let up = if c.is_upper() { v >= 1.0 - h } else { v <= h };
                across && up
            })
            .count()
    };
    Corner::ALL
        .into_iter()
        .map(|c| (c, covered(c)))
        .min_by_key(|&(c, n)| (n, c as usize))
        .unwrap_or((Corner::UpperRight, 0))
}

/// `range` widened at the top (`upper`) or bottom so that the data stays out of a band of
/// height `h` (a fraction of the widened range) plus a small gap.
pub(crate) fn make_room((lo, hi): (f64, f64), h: f64, upper: bool) -> (f64, f64) {
    let keep = (1.0 - h - 0.04).max(0.3);
    let span = (hi - lo) / keep;
    if upper {
        (lo, lo + span)
    } else {
        (hi - span, hi)
    }
}

/// The staircase through `points` (in order): across at each point's height to the next
/// point's x, then to the next point.
pub(crate) fn staircase(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut out = Vec::with_capacity(points.len() * 2);
    for (i, &p) in points.iter().enumerate() {
        if i > 0 {
            out.push((p.0, points[i - 1].1));
        }
        out.push(p);
    }
    out
}

impl XyFigure {
    /// The labels that get a legend entry.
    fn legend_labels(&self) -> Vec<&str> {
        self.series
            .iter()
            .filter_map(|s| s.label.as_deref())
            .take(MAX_LEGEND)
            .collect()
    }

    /// Where the legend goes and the y range that keeps it off the data; `None` without
    /// a legend.
    fn legend(&self) -> Option<(Corner, (f64, f64))> {
        let labels = self.legend_labels();
        if labels.is_empty() {
            return None;
        }
        let size = legend_size(&labels);
        let unit = |v: f64, (lo, hi): (f64, f64)| if hi > lo { (v - lo) / (hi - lo) } else { 0.5 };
        let points: Vec<(f64, f64)> = self
            .series
            .iter()
            .flat_map(|s| &s.points)
            .map(|&(px, py)| (unit(px, self.x.range), unit(py, self.y.range)))
            .collect();
        let (corner, covered) = legend_corner(&points, size);
        let range = if covered > 0 {
            make_room(self.y.range, size.1, corner.is_upper())
        } else {
            self.y.range
        };
        Some((corner, range))
    }

    /// The figure as SVG text.
    pub fn render(&self) -> anyhow::Result<String> {
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
            root.fill(&WHITE)?;
            self.draw(&root)?;
            root.present()?;
        }
        Ok(svg)
    }

    fn draw(
        &self,
        root: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    ) -> anyhow::Result<()> {
        let legend = self.legend();
        let x = &self.x;
        let mut y = self.y.clone();
        if let Some((_, range)) = legend {
            y.range = range;
        }
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, ("sans-serif", 20))
            .margin(16)
            .x_label_area_size(50)
            .y_label_area_size(80)
            .build_cartesian_2d(x.spec(), y.spec())?;
        let x_fmt = |c: &f64| x.tick_label(*c);
        let y_fmt = |c: &f64| y.tick_label(*c);
        chart
            .configure_mesh()
            .x_desc(x.label.as_str())
            .y_desc(y.label.as_str())
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&y_fmt)
            .label_style(("sans-serif", 14))
            .axis_desc_style(("sans-serif", 16))
            .bold_line_style(BLACK.mix(0.12))
            .draw()?;
        let mut labelled = 0;
        for s in &self.series {
            let color = RGBColor(s.rgb.0, s.rgb.1, s.rgb.2);
            let path = match s.join {
                Join::None => Vec::new(),
                Join::Straight => s.points.clone(),
                Join::Step => staircase(&s.points),
            };
            if path.len() >= 2 {
                chart.draw_series(LineSeries::new(path, color.stroke_width(2)))?;
            }
            let marker = s.marker;
            let anno = chart.draw_series(
                s.points
                    .iter()
                    .filter(|_| marker > 0)
                    .map(|&p| Circle::new(p, marker, color.filled())),
            )?;
            if let Some(label) = s.label.as_ref().filter(|_| labelled < MAX_LEGEND) {
                labelled += 1;
                let line = if s.join == Join::None { 0 } else { 9 };
                anno.label(label.as_str()).legend(move |(lx, ly)| {
                    EmptyElement::at((lx + 9, ly))
                        + PathElement::new(vec![(-line, 0), (line, 0)], color.stroke_width(2))
                        + Circle::new((0, 0), marker.clamp(2, 4), color.filled())
                });
            }
        }
        if let Some((corner, _)) = legend {
            let position = match corner {
                Corner::UpperRight => SeriesLabelPosition::UpperRight,
                Corner::UpperLeft => SeriesLabelPosition::UpperLeft,
                Corner::LowerRight => SeriesLabelPosition::LowerRight,
                Corner::LowerLeft => SeriesLabelPosition::LowerLeft,
            };
            chart
                .configure_series_labels()
                .position(position)
                .label_font(("sans-serif", 13))
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK.mix(0.4))
                .draw()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legend_goes_where_the_points_are_not() {
        let size = (0.3, 0.2);
        // Rising curve: points lower left and upper right.
        let pts = [(0.0, 0.0), (0.1, 0.1), (0.9, 0.9), (1.0, 1.0)];
        assert_eq!(legend_corner(&pts, size), (Corner::UpperLeft, 0));
        // Falling curve: upper left and lower right.
        let pts = [(0.0, 1.0), (1.0, 0.0)];
        assert_eq!(legend_corner(&pts, size), (Corner::UpperRight, 0));
        let pts = [(0.0, 1.0), (1.0, 1.0), (0.95, 0.0)];
        assert_eq!(legend_corner(&pts, size), (Corner::LowerLeft, 0));
        assert_eq!(legend_corner(&[], size), (Corner::UpperRight, 0));
        // Every corner taken: the one covering fewest.
        let pts = [
            (0.0, 0.0),
            (1.0, 0.0),
            (0.0, 1.0),
            (1.0, 1.0),
            (0.9, 0.9),
            (0.1, 0.1),
        ];
        assert_eq!(legend_corner(&pts, size), (Corner::UpperLeft, 1));
    }

    #[test]
    fn legend_size_grows_with_labels() {
        let (w1, h1) = legend_size(&["train"]);
        let (w2, h2) = legend_size(&["train", "a much longer label, really"]);
        assert!(w2 > w1 && h2 > h1);
        assert!(legend_size(&["x"; 100]).1 <= 1.0);
    }

    #[test]
    fn room_for_the_legend() {
        let (lo, hi) = make_room((0.0, 1.0), 0.16, true);
        assert_eq!(lo, 0.0);
        assert!((hi - 1.25).abs() < 1e-12);
        let (lo, hi) = make_room((0.0, 1.0), 0.16, false);
        assert_eq!(hi, 1.0);
        assert!((lo + 0.25).abs() < 1e-12);
    }

    #[test]
    fn staircase_goes_across_then_up() {
        let s = staircase(&[(1.0, 1.0), (2.0, 3.0), (4.0, 5.0)]);
        assert_eq!(
            s,
            [(1.0, 1.0), (2.0, 1.0), (2.0, 3.0), (4.0, 3.0), (4.0, 5.0)]
        );
        assert_eq!(staircase(&[(1.0, 2.0)]), [(1.0, 2.0)]);
        assert!(staircase(&[]).is_empty());
    }
}
