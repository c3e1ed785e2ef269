//! Pareto fronts: which points no other point beats on both objectives, and the figure that
//! shows them among all the points.

use super::axis::{Axis, Ticks};
use super::xy::{Dash, GREY, Join, Series, Shape, XyFigure};

/// Which way is better along one objective.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Goal {
    /// Lower is better (energy, cycles, tiles).
    Min,
    /// Higher is better (accuracy).
    Max,
}

impl Goal {
    /// `v` turned so that lower is better.
    fn cost(self, v: f64) -> f64 {
        match self {
            Goal::Min => v,
            Goal::Max => -v,
        }
    }
}

/// The Pareto front of `points` (x, y) under the goals `gx` and `gy`: the indices of the
/// points that no other point dominates, sorted by x, then y, then index. A point dominates
/// another when it is at least as good on both objectives and strictly better on one, so
/// equal points are all on the front (none dominates the other). Points with a NaN are never
/// on it. O(n log n).
pub fn front(points: &[(f64, f64)], gx: Goal, gy: Goal) -> Vec<usize> {
    let cost: Vec<(f64, f64)> = points
        .iter()
        .map(|&(x, y)| (gx.cost(x), gy.cost(y)))
        .collect();
    let mut order: Vec<usize> = (0..points.len())
        .filter(|&i| !cost[i].0.is_nan() && !cost[i].1.is_nan())
        .collect();
    order.sort_by(|&a, &b| {
        cost[a]
            .0
            .total_cmp(&cost[b].0)
            .then(cost[a].1.total_cmp(&cost[b].1))
            .then(a.cmp(&b))
    });
    // Walk the groups of equal x cost, cheapest first: a group's points with its lowest y
    // cost are on the front when that beats every cheaper group's y cost.
    let mut on = Vec::new();
    let mut best_y = f64::INFINITY;
    for group in order.chunk_by(|&a, &b| cost[a].0 == cost[b].0) {
        let group_y = cost[group[0]].1;
        if group_y < best_y {
            on.extend(group.iter().copied().filter(|&i| cost[i].1 == group_y));
            best_y = group_y;
        }
    }
    on.sort_by(|&a, &b| {
        points[a]
            .0
            .total_cmp(&points[b].0)
            .then(points[a].1.total_cmp(&points[b].1))
            .then(a.cmp(&b))
    });
    on
}

/// One objective of a Pareto figure: its axis title, the factor from the CSV's unit to the
/// axis's, which way is better, and how the axis is ticked.
#[derive(Debug, Clone)]
pub(crate) struct Objective {
    /// Axis title, unit included.
    pub label: String,
    /// Raw value times this is what the axis shows (e.g. 1e-6 from pJ to µJ).
    pub scale: f64,
    /// Which way is better.
    pub goal: Goal,
    /// Whether a log scale may be used.
    pub allow_log: bool,
    /// How the axis is ticked.
    pub ticks: Ticks,
}

/// A Pareto figure and the indices (into its points) of the front, in drawing order.
#[derive(Debug, Clone)]
pub(crate) struct FrontPlot {
    /// The figure: every point in grey, the front as a staircase on top.
    pub figure: XyFigure,
    /// Indices of the front's points, sorted by x.
    pub front: Vec<usize>,
}

/// The Pareto figure of `points` (raw CSV units); `None` when there are none.
pub(crate) fn front_figure(
    title: &str,
    points: &[(f64, f64)],
    x: &Objective,
    y: &Objective,
) -> Option<FrontPlot> {
    if points.is_empty() {
        return None;
    }
    let on = front(points, x.goal, y.goal);
    let xs: Vec<f64> = points.iter().map(|p| p.0 * x.scale).collect();
    let ys: Vec<f64> = points.iter().map(|p| p.1 * y.scale).collect();
    let x_axis = Axis::numeric(&x.label, &xs, x.allow_log, x.ticks);
    let y_axis = Axis::numeric(&y.label, &ys, y.allow_log, y.ticks);
    let at = |i: usize| (x_axis.coord(xs[i]), y_axis.coord(ys[i]));
    let all = Series {
        label: Some(format!("points ({})", points.len())),
        points: (0..points.len()).map(at).collect(),
        join: Join::None,
        marker: 4,
        shape: Shape::Dot,
        dash: Dash::Solid,
        rgb: GREY,
    };
    let best = Series {
        label: Some(format!("Pareto front ({})", on.len())),
        points: on.iter().map(|&i| at(i)).collect(),
        join: Join::Step,
        marker: 6,
        shape: Shape::Dot,
        dash: Dash::Solid,
        rgb: (214, 39, 40),
    };
    Some(FrontPlot {
        figure: XyFigure {
            title: title.to_string(),
            x: x_axis,
            y: y_axis,
            series: vec![all, best],
        },
        front: on,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The definition, point by point: O(n^2).
    fn brute_force(points: &[(f64, f64)], gx: Goal, gy: Goal) -> Vec<usize> {
        let cost: Vec<(f64, f64)> = points
            .iter()
            .map(|&(x, y)| (gx.cost(x), gy.cost(y)))
            .collect();
        let dominates =
            |a: (f64, f64), b: (f64, f64)| a.0 <= b.0 && a.1 <= b.1 && (a.0 < b.0 || a.1 < b.1);
        let mut on: Vec<usize> = (0..points.len())
            .filter(|&i| !cost[i].0.is_nan() && !cost[i].1.is_nan())
            .filter(|&i| !cost.iter().any(|&c| dominates(c, cost[i])))
            .collect();
        on.sort_by(|&a, &b| {
            points[a]
                .0
                .total_cmp(&points[b].0)
                .then(points[a].1.total_cmp(&points[b].1))
                .then(a.cmp(&b))
        });
        on
    }

    proptest! {
        #[test]
        fn front_matches_the_definition(
            raw in proptest::collection::vec((0u8..6, 0u8..6), 0..40),
            max_x in any::<bool>(),
            max_y in any::<bool>(),
        ) {
            // Few distinct values, so ties are common.
            let points: Vec<(f64, f64)> = raw.iter().map(|&(x, y)| (f64::from(x), f64::from(y))).collect();
            let gx = if max_x { Goal::Max } else { Goal::Min };
            let gy = if max_y { Goal::Max } else { Goal::Min };
            prop_assert_eq!(front(&points, gx, gy), brute_force(&points, gx, gy));
        }
    }

    #[test]
    fn min_energy_max_accuracy() {
        // (energy, accuracy)
        let p = [
            (10.0, 0.90), // 0: front (cheapest)
            (20.0, 0.95), // 1: front
            (20.0, 0.93), // 2: dominated by 1 (same energy, worse accuracy)
            (30.0, 0.95), // 3: dominated by 1 (more energy, same accuracy)
            (40.0, 0.97), // 4: front (most accurate)
            (15.0, 0.80), // 5: dominated by 0
        ];
        assert_eq!(front(&p, Goal::Min, Goal::Max), [0, 1, 4]);
    }

    #[test]
    fn equal_points_are_all_on_the_front() {
        let p = [
            (1.0, 5.0),
            (2.0, 2.0),
            (1.0, 5.0),
            (3.0, 1.0),
            (3.0, 1.0),
            (4.0, 4.0),
        ];
        assert_eq!(front(&p, Goal::Min, Goal::Min), [0, 2, 1, 3, 4]);
    }

    #[test]
    fn ties_on_one_objective() {
        // Same x: only the best y stays. Same y: only the best x stays.
        let p = [(1.0, 3.0), (1.0, 2.0), (2.0, 1.0), (3.0, 1.0)];
        assert_eq!(front(&p, Goal::Min, Goal::Min), [1, 2]);
        assert_eq!(front(&p, Goal::Max, Goal::Max), [0, 3]);
    }

    #[test]
    fn degenerate_inputs() {
        assert!(front(&[], Goal::Min, Goal::Max).is_empty());
        assert_eq!(front(&[(5.0, 5.0)], Goal::Min, Goal::Max), [0]);
        assert_eq!(
            front(&[(f64::NAN, 1.0), (2.0, 1.0)], Goal::Min, Goal::Max),
            [1]
        );
    }

    #[test]
    fn figure_has_all_points_and_the_front() {
        let x = Objective {
            label: "energy (µJ)".into(),
            scale: 1e-6,
            goal: Goal::Min,
            allow_log: true,
            ticks: Ticks::Auto,
        };
        let y = Objective {
            label: "test accuracy (%)".into(),
            scale: 100.0,
            goal: Goal::Max,
            allow_log: false,
            ticks: Ticks::Auto,
        };
        let p = [(2e6, 0.9), (1e6, 0.8), (3e6, 0.85)];
        let f = front_figure("t", &p, &x, &y).unwrap();
        assert_eq!(f.front, [1, 0]);
        assert_eq!(f.figure.series[0].points.len(), 3);
        assert_eq!(f.figure.series[1].points, [(1.0, 80.0), (2.0, 90.0)]);
        assert!(front_figure("t", &[], &x, &y).is_none());
    }
}
