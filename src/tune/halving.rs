//! Successive halving, as a pure algorithm: every candidate is evaluated at the first,
//! smallest budget; the best `keep` fraction go on to the next budget, and so on up to the
//! last. How a candidate is evaluated is not this module's business: [`Search`] says which
//! candidates to evaluate at which rung and takes their [`Score`]s.
//!
//! At every rung the candidates are ranked:
//!
//! 1. feasible ones (mean accuracy at most `max_loss` below the reference's at that rung)
//!    before infeasible ones;
//! 2. feasible ones by their objectives: non-dominated sorting (front 0 first), then the
//!    first objective, then the higher accuracy;
//! 3. infeasible ones by their accuracy loss, smallest first;
//! 4. ties by candidate index, so the result is a pure function of the scores.

use std::cmp::Ordering;

use super::front::fronts;

/// Accuracy losses within this of the budget count as within it (accuracies are ratios of
/// image counts, whose differences are not exact in binary).
const LOSS_TOLERANCE: f64 = 1e-9;

/// How a candidate (or the reference) did at one rung, averaged over the seeds.
#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    /// Mean test accuracy (fraction).
    pub accuracy: f64,
    /// Mean objective values, in the tune's order; lower is better, NaN ranks last.
    pub objectives: Vec<f64>,
}

/// The search's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Budgets of the rungs as fractions of the full training, increasing, the last 1.
    pub rungs: Vec<f64>,
    /// Fraction of a rung's candidates that go on to the next (rounded up, at least 1).
    pub keep: f64,
    /// Largest accuracy loss against the reference that is feasible (absolute fraction).
    pub max_loss: f64,
}

/// A candidate's place at one rung.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The candidate's index.
    pub candidate: usize,
    /// Its score at this rung.
    pub score: Score,
    /// Reference accuracy minus its accuracy (negative when it does better).
    pub loss: f64,
    /// Whether `loss` is within the budget.
    pub feasible: bool,
}

/// One evaluated rung: the reference's score and the candidates, best first.
#[derive(Debug, Clone, PartialEq)]
pub struct Rung {
    /// The reference's score at this rung.
    pub reference: Score,
    /// The candidates evaluated at this rung, ranked, best first.
    pub ranked: Vec<Entry>,
}

/// How many of `n` candidates go on when a fraction `keep` is kept: rounded up, at least
/// one, at most `n`.
pub fn keep_count(keep: f64, n: usize) -> usize {
    ((keep * n as f64 - 1e-9).ceil().max(1.0) as usize).min(n)
}

/// Whether an accuracy loss is within `max_loss`.
pub fn feasible(loss: f64, max_loss: f64) -> bool {
    loss <= max_loss + LOSS_TOLERANCE
}

/// Ranks the candidates of one rung (see the module documentation).
pub fn rank(reference: &Score, scores: &[(usize, Score)], max_loss: f64) -> Vec<Entry> {
    let entries: Vec<Entry> = scores
        .iter()
        .map(|(c, s)| {
            let loss = reference.accuracy - s.accuracy;
            Entry {
                candidate: *c,
                score: s.clone(),
                loss,
                feasible: !loss.is_nan() && feasible(loss, max_loss),
            }
        })
        .collect();
    let ok: Vec<usize> = (0..entries.len())
        .filter(|&i| entries[i].feasible)
        .collect();
    let front_of = {
        let f = fronts(
            &ok.iter()
                .map(|&i| entries[i].score.objectives.clone())
                .collect::<Vec<_>>(),
        );
        let mut all = vec![usize::MAX; entries.len()];
        for (k, &i) in ok.iter().enumerate() {
            all[i] = f[k];
        }
        all
    };
    let worst = |v: f64| if v.is_nan() { f64::INFINITY } else { v };
    let mut order: Vec<usize> = (0..entries.len()).collect();
    order.sort_by(|&a, &b| {
        let (x, y) = (&entries[a], &entries[b]);
        let by = match (x.feasible, y.feasible) {
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
            (true, true) => front_of[a]
                .cmp(&front_of[b])
                .then_with(|| {
                    let first =
                        |e: &Entry| worst(e.score.objectives.first().copied().unwrap_or(0.0));
                    first(x).total_cmp(&first(y))
                })
                .then_with(|| worst(-x.score.accuracy).total_cmp(&worst(-y.score.accuracy))),
            (false, false) => worst(x.loss).total_cmp(&worst(y.loss)),
        };
        by.then(x.candidate.cmp(&y.candidate))
    });
    order.into_iter().map(|i| entries[i].clone()).collect()
}

/// A successive-halving search over candidates `0..n`, rung by rung.
#[derive(Debug, Clone, PartialEq)]
pub struct Search {
    settings: Settings,
    current: Vec<usize>,
    done: Vec<Rung>,
}

impl Search {
    /// A search over `n` candidates; the first rung evaluates them all.
    pub fn new(n: usize, settings: Settings) -> Self {
        Self {
            settings,
            current: (0..n).collect(),
            done: Vec::new(),
        }
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The rung to evaluate next (0-based); the number of rungs once done.
    pub fn rung(&self) -> usize {
        self.done.len()
    }

    /// Whether every rung has been evaluated.
    pub fn is_done(&self) -> bool {
        self.done.len() == self.settings.rungs.len()
    }

    /// The candidates to evaluate at the current rung, in index order.
    pub fn candidates(&self) -> &[usize] {
        &self.current
    }

    /// Records the current rung: the reference's score and one score per candidate of
    /// [`Search::candidates`], in that order; ranks them and keeps the best for the next.
    pub fn record(&mut self, reference: Score, scores: Vec<Score>) {
        assert!(!self.is_done(), "every rung is recorded");
        assert_eq!(scores.len(), self.current.len(), "one score per candidate");
        let pairs: Vec<(usize, Score)> = self.current.iter().copied().zip(scores).collect();
        let ranked = rank(&reference, &pairs, self.settings.max_loss);
        let n = keep_count(self.settings.keep, ranked.len());
        let mut next: Vec<usize> = ranked[..n].iter().map(|e| e.candidate).collect();
        next.sort_unstable();
        self.current = next;
        self.done.push(Rung { reference, ranked });
    }

    /// The rungs recorded so far.
    pub fn rungs(&self) -> &[Rung] {
        &self.done
    }

    /// Every candidate evaluated, best first: those of the last rung reached in its
    /// order, then those dropped at the rung before in that rung's order, and so on; with
    /// the rung each reached (0-based) and its entry there.
    pub fn order(&self) -> Vec<(usize, &Entry)> {
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        for (k, rung) in self.done.iter().enumerate().rev() {
            for e in &rung.ranked {
                if seen.insert(e.candidate) {
                    out.push((k, e));
                }
            }
        }
        out
    }

    /// The best candidate: the first of the last rung's ranking when it is feasible at the
    /// full budget; `None` before the last rung or when no candidate is feasible there.
    pub fn best(&self) -> Option<&Entry> {
        if !self.is_done() {
            return None;
        }
        self.done.last()?.ranked.first().filter(|e| e.feasible)
    }
}

/// Runs a whole search: `evaluate(rung, candidates)` gives the reference's score and the
/// candidates' at that rung's budget.
pub fn search(
    n: usize,
    settings: Settings,
    mut evaluate: impl FnMut(usize, &[usize]) -> (Score, Vec<Score>),
) -> Search {
    let mut s = Search::new(n, settings);
    while !s.is_done() {
        let (reference, scores) = evaluate(s.rung(), s.candidates());
        s.record(reference, scores);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn score(accuracy: f64, objectives: &[f64]) -> Score {
        Score {
            accuracy,
            objectives: objectives.to_vec(),
        }
    }

    #[test]
    fn keeps_a_fraction_rounded_up() {
        assert_eq!(keep_count(0.5, 12), 6);
        assert_eq!(keep_count(1.0 / 3.0, 12), 4);
        assert_eq!(keep_count(1.0 / 3.0, 4), 2);
        assert_eq!(keep_count(0.1, 30), 3);
        assert_eq!(keep_count(0.01, 5), 1);
        assert_eq!(keep_count(1.0, 5), 5);
        assert_eq!(keep_count(0.5, 0), 0);
    }

    #[test]
    fn ranks_feasible_by_objective_then_infeasible_by_loss() {
        let r = score(0.90, &[10.0]);
        let scores = vec![
            (0, score(0.90, &[10.0])), // feasible, cost 10
            (1, score(0.70, &[1.0])),  // infeasible, loss 0.2
            (2, score(0.895, &[5.0])), // feasible, cost 5
            (3, score(0.80, &[2.0])),  // infeasible, loss 0.1
            (4, score(0.95, &[5.0])),  // feasible, cost 5, more accurate than 2
            (5, score(0.89, &[5.0])),  // loss exactly 0.01: feasible
        ];
        let ranked = rank(&r, &scores, 0.01);
        let order: Vec<usize> = ranked.iter().map(|e| e.candidate).collect();
        assert_eq!(order, [4, 2, 5, 0, 3, 1]);
        assert!(ranked[2].feasible && !ranked[4].feasible);
    }

    #[test]
    fn several_objectives_rank_by_front_then_first_objective() {
        let r = score(0.9, &[0.0, 0.0]);
        let scores = vec![
            (0, score(0.9, &[3.0, 3.0])),      // front 1 (dominated by 1)
            (1, score(0.9, &[2.0, 2.0])),      // front 0
            (2, score(0.9, &[1.0, 9.0])),      // front 0, lowest first objective
            (3, score(0.9, &[9.0, 1.0])),      // front 0
            (4, score(0.9, &[0.5, f64::NAN])), // front 0: nothing dominates it (unknown = worst on that one)
        ];
        let order: Vec<usize> = rank(&r, &scores, 0.0).iter().map(|e| e.candidate).collect();
        assert_eq!(order, [4, 2, 1, 3, 0]);
    }

    /// A synthetic problem with a known answer: candidate c has a true accuracy and cost;
    /// at a low budget the measured accuracy is lower and noisy (a deterministic hash of
    /// candidate and rung), the noise shrinking as the budget grows.
    #[test]
    fn finds_the_known_optimum_on_a_noisy_synthetic_problem() {
        let n = 27;
        // Cost falls with c; accuracy holds up to c = 17, then falls off a cliff.
        let cost = |c: usize| 100.0 - 3.0 * c as f64;
        let accuracy = |c: usize| {
            if c <= 17 {
                0.95 - 0.0002 * c as f64
            } else {
                0.95 - 0.05 * (c - 17) as f64
            }
        };
        let noise = |c: usize, rung: usize| {
            let h = (c as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
                ^ (rung as u64 + 7).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            (h >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        let rungs = vec![1.0 / 9.0, 1.0 / 3.0, 1.0];
        let mut evaluated = 0;
        let s = search(
            n,
            Settings {
                rungs: rungs.clone(),
                keep: 1.0 / 3.0,
                max_loss: 0.01,
            },
            |rung, cands| {
                let b = rungs[rung];
                // Short trainings reach less accuracy, the reference too.
                let at = |acc: f64| acc - 0.3 * (1.0 - b);
                // Noise of +-0.5 accuracy points and +-4 % cost at the first rung, none at
                // the full budget.
                let spread = (1.0 - b) / (1.0 - rungs[0]);
                evaluated += cands.len();
                (
                    score(at(0.95), &[cost(0) * b]),
                    cands
                        .iter()
                        .map(|&c| {
                            score(
                                at(accuracy(c)) + 0.01 * spread * noise(c, rung),
                                &[cost(c) * b * (1.0 + 0.08 * spread * noise(c, rung + 10))],
                            )
                        })
                        .collect(),
                )
            },
        );
        assert!(s.is_done());
        assert_eq!(s.rungs().len(), 3);
        assert_eq!(
            s.rungs().iter().map(|r| r.ranked.len()).collect::<Vec<_>>(),
            [27, 9, 3]
        );
        assert_eq!(evaluated, 39);
        let best = s.best().expect("a feasible candidate");
        assert_eq!(best.candidate, 17, "the cheapest candidate within 1 point");
        assert!(best.feasible && best.loss <= 0.01 + 1e-12);
        // The global order starts with the best and lists every candidate once.
        let order = s.order();
        assert_eq!(order.len(), n);
        assert_eq!(order[0].1.candidate, 17);
        assert_eq!(order[0].0, 2);
    }

    #[test]
    fn no_feasible_candidate_means_no_best() {
        let s = search(
            3,
            Settings {
                rungs: vec![0.5, 1.0],
                keep: 0.5,
                max_loss: 0.0,
            },
            |_, c| {
                (
                    score(0.9, &[1.0]),
                    c.iter()
                        .map(|&i| score(0.5 + i as f64 * 0.1, &[1.0]))
                        .collect(),
                )
            },
        );
        assert_eq!(s.rungs()[1].ranked.len(), 2);
        // The least-bad infeasible ones went on: 2 then 1.
        assert_eq!(s.rungs()[1].ranked[0].candidate, 2);
        assert!(s.best().is_none());
    }
}
