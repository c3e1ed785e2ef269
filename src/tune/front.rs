//! Pareto fronts over any number of objectives, all to be minimised: which candidates no
//! other candidate beats, and the non-dominated sorting that ranks them front by front.

/// A value as a cost to minimise: NaN (a value that is not known) counts as the worst.
fn cost(v: f64) -> f64 {
    if v.is_nan() { f64::INFINITY } else { v }
}

/// Whether cost vector `a` dominates `b`: no worse on every objective, better on one.
pub fn dominates(a: &[f64], b: &[f64]) -> bool {
    let mut better = false;
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (cost(x), cost(y));
        if x > y {
            return false;
        }
        better |= x < y;
    }
    better
}

/// Non-dominated sorting: the front number of each of `points` (cost vectors of one
/// length, lower is better): 0 for the points no other point dominates, 1 for those only
/// front-0 points dominate, and so on. Equal points share a front. O(n^2) per front.
pub fn fronts(points: &[Vec<f64>]) -> Vec<usize> {
    let mut front = vec![usize::MAX; points.len()];
    let mut left: Vec<usize> = (0..points.len()).collect();
    let mut number = 0;
    while !left.is_empty() {
        let on: Vec<usize> = left
            .iter()
            .copied()
            .filter(|&i| !left.iter().any(|&j| dominates(&points[j], &points[i])))
            .collect();
        for &i in &on {
            front[i] = number;
        }
        left.retain(|i| front[*i] == usize::MAX);
        number += 1;
    }
    front
}

/// The indices of `points` on the first front (none dominates them), in index order.
pub fn front(points: &[Vec<f64>]) -> Vec<usize> {
    fronts(points)
        .into_iter()
        .enumerate()
        .filter(|&(_, f)| f == 0)
        .map(|(i, _)| i)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_fronts() {
        let p = vec![
            vec![1.0, 5.0], // 0: front 0
            vec![2.0, 2.0], // 1: front 0
            vec![3.0, 3.0], // 2: dominated by 1
            vec![5.0, 1.0], // 3: front 0
            vec![4.0, 4.0], // 4: dominated by 1 and 2
            vec![1.0, 5.0], // 5: equal to 0: front 0
        ];
        assert_eq!(fronts(&p), [0, 0, 1, 0, 2, 0]);
        assert_eq!(front(&p), [0, 1, 3, 5]);
    }

    #[test]
    fn unknown_values_are_worst() {
        let p = vec![vec![f64::NAN], vec![3.0], vec![1.0]];
        assert_eq!(fronts(&p), [2, 1, 0]);
        assert!(fronts(&[]).is_empty());
    }
}
