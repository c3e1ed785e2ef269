//! The figure of a tune's front (`front.svg`): the candidates trained at the full budget,
//! first objective against mean test accuracy, with the front and the reference marked.

use super::axis::{Axis, Ticks};
use super::xy::{Dash, GREY, Join, Series, Shape, XyFigure};

/// One candidate in the figure: first objective (raw unit), mean accuracy (fraction).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Its first objective.
    pub objective: f64,
    /// Its mean test accuracy, fraction.
    pub accuracy: f64,
    /// Whether it keeps the accuracy (within the budget).
    pub feasible: bool,
    /// Whether it is on the front.
    pub front: bool,
}

/// The SVG text of the front figure, or `None` when no point has both values.
/// `objective` is the first objective's column name; the front is joined as a staircase
/// when it is the only objective (with several, the front is in more dimensions than the
/// figure shows).
pub fn front_svg(
    title: &str,
    objective: &str,
    points: &[Point],
    reference: Option<(f64, f64)>,
    one_objective: bool,
) -> anyhow::Result<Option<String>> {
    let known = |p: &&Point| p.objective.is_finite() && p.accuracy.is_finite();
    let shown: Vec<&Point> = points.iter().filter(known).collect();
    if shown.is_empty() {
        return Ok(None);
    }
    let reference = reference.filter(|r| r.0.is_finite() && r.1.is_finite());
    let xs: Vec<f64> = shown
        .iter()
        .map(|p| p.objective)
        .chain(reference.map(|r| r.0))
        .collect();
    let ys: Vec<f64> = shown
        .iter()
        .map(|p| 100.0 * p.accuracy)
        .chain(reference.map(|r| 100.0 * r.1))
        .collect();
    let x = Axis::numeric(objective, &xs, true, Ticks::Auto);
    let y = Axis::numeric("mean test accuracy (%)", &ys, false, Ticks::Auto);
    let at = |o: f64, a: f64| (x.coord(o), y.coord(100.0 * a));
    let series = |label: String, pts: Vec<(f64, f64)>, join, marker, shape, rgb| Series {
        label: Some(label),
        points: pts,
        join,
        marker,
        shape,
        dash: Dash::Solid,
        rgb,
    };
    let pick = |f: &dyn Fn(&Point) -> bool| -> Vec<(f64, f64)> {
        let mut v: Vec<(f64, f64)> = shown
            .iter()
            .filter(|p| f(p))
            .map(|p| at(p.objective, p.accuracy))
            .collect();
        v.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
        v
    };
    let infeasible = pick(&|p| !p.feasible);
    let feasible = pick(&|p| p.feasible);
    let front = pick(&|p| p.front);
    let mut all = Vec::new();
    if !infeasible.is_empty() {
        all.push(series(
            format!("loses too much accuracy ({})", infeasible.len()),
            infeasible,
            Join::None,
            5,
            Shape::Ring,
            GREY,
        ));
    }
    if !feasible.is_empty() {
        all.push(series(
            format!("keeps the accuracy ({})", feasible.len()),
            feasible,
            Join::None,
            4,
            Shape::Dot,
            GREY,
        ));
    }
    if !front.is_empty() {
        all.push(series(
            format!("front ({})", front.len()),
            front,
            if one_objective {
                Join::Step
            } else {
                Join::None
            },
            6,
            Shape::Dot,
            (214, 39, 40),
        ));
    }
    if let Some((o, a)) = reference {
        all.push(series(
            "reference".into(),
            vec![at(o, a)],
            Join::None,
            7,
            Shape::Diamond,
            (31, 119, 180),
        ));
    }
    let fig = XyFigure {
        title: title.to_string(),
        x,
        y,
        series: all,
    };
    Ok(Some(fig.render()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_points_front_and_reference() {
        let p = [
            Point {
                objective: 2e6,
                accuracy: 0.95,
                feasible: true,
                front: false,
            },
            Point {
                objective: 1e6,
                accuracy: 0.94,
                feasible: true,
                front: true,
            },
            Point {
                objective: 5e5,
                accuracy: 0.5,
                feasible: false,
                front: false,
            },
        ];
        let svg = front_svg("t", "program_energy_pJ", &p, Some((3e6, 0.95)), true)
            .unwrap()
            .unwrap();
        assert!(
            svg.starts_with("<svg") || svg.starts_with("<?xml"),
            "{}",
            &svg[..40]
        );
        for s in [
            "front (1)",
            "reference",
            "keeps the accuracy (2)",
            "loses too much accuracy (1)",
        ] {
            assert!(svg.contains(s), "{s}");
        }
        assert_eq!(front_svg("t", "x", &[], None, true).unwrap(), None);
    }
}
