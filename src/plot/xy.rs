//! Line and scatter figures: series of points on two [`Axis`]es, drawn to an SVG string.

use plotters::element::DashedPathElement;
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

/// The shape of a series' markers. Only [`Shape::Dot`] is filled; the others are outlines
/// drawn a little larger, so that a series drawn later on the same values does not hide an
/// earlier one: a dot shows inside a square, a square inside a triangle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// A filled disc of the series' marker radius.
    Dot,
    /// An open square.
    Square,
    /// An open triangle, point up.
    Triangle,
    /// An open diamond.
    Diamond,
    /// An open ring.
    Ring,
}

/// The pattern of a series' line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dash {
    Solid,
    Dashed,
    Dotted,
}

/// Dash and gap lengths of a line pattern, pixels (a solid line is one long dash).
fn dash_pattern(dash: Dash) -> (i32, i32) {
    match dash {
        Dash::Solid => (10_000, 1),
        Dash::Dashed => (8, 5),
        Dash::Dotted => (2, 4),
    }
}

/// Marker shapes, in the order the series of one figure use them.
const SHAPES: [Shape; 5] = [
    Shape::Dot,
    Shape::Square,
    Shape::Triangle,
    Shape::Diamond,
    Shape::Ring,
];

/// Line patterns, in the order the series of one figure use them.
const DASHES: [Dash; 3] = [Dash::Solid, Dash::Dashed, Dash::Dotted];

/// The marker shape and line pattern of the `i`-th series of a figure: with the colour
/// ([`palette`]), no two of the first 30 series look alike, and series with identical
/// values stay visible (an outline around a dot, a dashed line over a solid one).
pub(crate) fn series_style(i: usize) -> (Shape, Dash) {
    (SHAPES[i % SHAPES.len()], DASHES[i % DASHES.len()])
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
    /// Marker radius, pixels (0 for none); outlined shapes are drawn a little larger.
    pub marker: u32,
    /// Marker shape.
    pub shape: Shape,
    /// Line pattern.
    pub dash: Dash,
    /// RGB colour.
    pub rgb: (u8, u8, u8),
}

/// The outline of `shape` around (0, 0), pixels, for a marker radius `r`: closed, sized so
/// that a dot of radius `r` fits inside with a gap.
pub(crate) fn outline(shape: Shape, r: i32) -> Vec<(i32, i32)> {
    match shape {
        Shape::Dot | Shape::Ring => Vec::new(),
        Shape::Square => {
            let s = r + 2;
            vec![(-s, -s), (s, -s), (s, s), (-s, s), (-s, -s)]
        }
        Shape::Triangle => {
            // Inscribed circle radius (r + 2): vertices at twice that from the centre.
            let h = 2 * (r + 2);
            let w = (f64::from(h) * 3f64.sqrt() / 2.0).round() as i32;
            vec![(0, -h), (w, h / 2), (-w, h / 2), (0, -h)]
        }
        Shape::Diamond => {
            let d = r + 5;
            vec![(0, -d), (d, 0), (0, d), (-d, 0), (0, -d)]
        }
    }
}

/// A marker in pixels around its point: an outline path and a circle.
type MarkerParts = (PathElement<(i32, i32)>, Circle<(i32, i32), i32>);

/// The parts of a marker of `shape` (radius `r`) in `color`, in pixels around its point: an
/// outline path and a circle (radius, style), each invisible when the shape has none.
fn marker_parts(shape: Shape, r: u32, color: RGBColor) -> MarkerParts {
    let r = r as i32;
    let stroke = color.stroke_width(2);
    let none = TRANSPARENT.stroke_width(0);
    let path = match shape {
        Shape::Dot | Shape::Ring => PathElement::new(Vec::new(), none),
        _ => PathElement::new(outline(shape, r), stroke),
    };
    let circle = match shape {
        Shape::Dot => Circle::new((0, 0), r, color.filled()),
        Shape::Ring => Circle::new((0, 0), r + 3, stroke),
        _ => Circle::new((0, 0), 0, none),
    };
    (path, circle)
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
                let style = color.stroke_width(2);
                if s.dash == Dash::Solid {
                    chart.draw_series(LineSeries::new(path, style))?;
                } else {
                    let (size, gap) = dash_pattern(s.dash);
                    chart.draw_series(DashedLineSeries::new(path, size, gap, style))?;
                }
            }
            let (marker, shape, dash) = (s.marker, s.shape, s.dash);
            let anno = chart.draw_series(s.points.iter().filter(|_| marker > 0).map(|&p| {
                let (path, circle) = marker_parts(shape, marker, color);
                EmptyElement::at(p) + path + circle
            }))?;
            if let Some(label) = s.label.as_ref().filter(|_| labelled < MAX_LEGEND) {
                labelled += 1;
                let line = if s.join == Join::None { 0 } else { 12 };
                let r = marker.clamp(2, 4);
                let (size, gap) = dash_pattern(dash);
                anno.label(label.as_str()).legend(move |(lx, ly)| {
                    let (path, circle) = marker_parts(shape, r, color);
                    let sample = if line > 0 {
                        color.stroke_width(2)
                    } else {
                        TRANSPARENT.stroke_width(0)
                    };
                    EmptyElement::at((lx + 12, ly))
                        + DashedPathElement::new(vec![(-line, 0), (line, 0)], size, gap, sample)
                        + path
                        + circle
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
    use super::super::axis::Ticks;
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
    fn series_look_different() {
        let looks: Vec<_> = (0..30).map(|i| (series_style(i), palette(i))).collect();
        for (i, a) in looks.iter().enumerate() {
            for b in &looks[..i] {
                assert_ne!(a, b, "series {i} looks like an earlier one");
            }
        }
        // Neighbours differ in shape and in line pattern, not only in colour.
        for i in 0..29 {
            let (a, b) = (series_style(i), series_style(i + 1));
            assert!(a.0 != b.0 && a.1 != b.1, "{i}: {a:?} {b:?}");
        }
        assert_eq!(series_style(0), (Shape::Dot, Dash::Solid));
    }

    #[test]
    fn outlines_leave_a_dot_visible() {
        // Every outline keeps more than the dot's radius from its centre, so a later series
        // on the same values does not cover an earlier one's dot.
        let r = 4;
        for shape in SHAPES {
            let pts = outline(shape, r);
            if matches!(shape, Shape::Dot | Shape::Ring) {
                assert!(pts.is_empty());
                continue;
            }
            assert_eq!(pts.first(), pts.last(), "{shape:?} is closed");
            for w in pts.windows(2) {
                // Distance from (0, 0) to the segment's line.
                let ((x0, y0), (x1, y1)) = (w[0], w[1]);
                let (dx, dy) = (f64::from(x1 - x0), f64::from(y1 - y0));
                let cross = (f64::from(x0) * dy - f64::from(y0) * dx).abs();
                let d = cross / dx.hypot(dy);
                assert!(d > f64::from(r), "{shape:?}: edge {w:?} at {d}");
            }
        }
    }

    #[test]
    fn identical_series_stay_visible_and_in_the_legend() {
        let axis = |label: &str| Axis::numeric(label, &[1.0, 2.0, 3.0], false, Ticks::Auto);
        let pts = vec![(1.0, 1.0), (2.0, 2.0), (3.0, 3.0)];
        let series = (0..3)
            .map(|i| Series {
                label: Some(format!("series-{i}")),
                points: pts.clone(),
                join: Join::Straight,
                marker: 4,
                shape: series_style(i).0,
                dash: series_style(i).1,
                rgb: palette(i),
            })
            .collect();
        let fig = XyFigure {
            title: "t".into(),
            x: axis("x"),
            y: axis("y"),
            series,
        };
        let svg = fig.render().unwrap();
        for i in 0..3 {
            assert!(svg.contains(&format!("series-{i}")), "legend entry {i}");
            let (r, g, b) = palette(i);
            let colour = format!("#{r:02X}{g:02X}{b:02X}");
            assert!(svg.contains(&colour), "colour {colour} drawn");
        }
        // Series 0: filled dots; series 1: open squares (polylines of 5 points) and a dashed
        // line (many short polylines); series 2: open triangles.
        let (r, g, b) = palette(0);
        let filled = format!("fill=\"#{r:02X}{g:02X}{b:02X}\"");
        assert!(
            svg.matches(&filled).count() >= 3,
            "three dots and the legend's"
        );
        let (r, g, b) = palette(1);
        let stroke1 = format!("stroke=\"#{r:02X}{g:02X}{b:02X}\"");
        assert!(
            svg.matches(&stroke1).count() > 10,
            "dashes and square outlines of series 1"
        );
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
