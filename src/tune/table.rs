//! `tune.csv` (every candidate, and the reference) and `front.csv` (the candidates on the
//! front at the full budget).

use anyhow::Result;

use super::exec::{Finished, Measured};
use super::front;
use super::plan::TunePlan;
use crate::dse::spec::{cell, tidy};

/// One row of `tune.csv`: a candidate at the last rung it reached, or the reference.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The candidate's index (`None` for the reference).
    pub candidate: Option<usize>,
    /// Its place in the search's final order, 1 the best (`None` for the reference).
    pub rank: Option<usize>,
    /// Its value of each axis.
    pub values: Vec<toml::Value>,
    /// The last rung it reached (0-based).
    pub rung: usize,
    /// What it measured there.
    pub measured: Measured,
    /// Reference accuracy minus its accuracy, at that rung.
    pub loss: f64,
    /// Whether the loss is within the budget.
    pub feasible: bool,
    /// Whether it is the best candidate (the one in `best.toml`).
    pub best: bool,
}

/// The rows of `tune.csv`: the reference first, then every candidate in index order.
pub fn rows(plan: &TunePlan, f: &Finished) -> Vec<Row> {
    let t = &plan.tune;
    let last = f.rungs.len() - 1;
    let order = f.search.order();
    let best = f.search.best().map(|e| e.candidate);
    let mut out = vec![Row {
        candidate: None,
        rank: None,
        values: plan.reference_values.clone(),
        rung: last,
        measured: f.rungs[last].reference.clone(),
        loss: 0.0,
        feasible: true,
        best: false,
    }];
    let mut cands: Vec<Row> = order
        .iter()
        .enumerate()
        .map(|(i, (k, e))| Row {
            candidate: Some(e.candidate),
            rank: Some(i + 1),
            values: t.sweep.coords(e.candidate).into_iter().cloned().collect(),
            rung: *k,
            measured: f.rungs[*k].candidates[&e.candidate].clone(),
            loss: e.loss,
            feasible: e.feasible,
            best: best == Some(e.candidate),
        })
        .collect();
    cands.sort_by_key(|r| r.candidate);
    out.extend(cands);
    out
}

/// The candidates of `rows` on the front: those feasible at the full budget that no other
/// such candidate beats on every objective and on mean accuracy; in rank order.
pub fn front_rows(plan: &TunePlan, rows: &[Row]) -> Vec<Row> {
    let last = plan.budgets.len() - 1;
    let mut on: Vec<&Row> = rows
        .iter()
        .filter(|r| r.candidate.is_some() && r.rung == last && r.feasible)
        .collect();
    let costs: Vec<Vec<f64>> = on
        .iter()
        .map(|r| {
            let mut c = r.measured.objectives.clone();
            c.push(-r.measured.accuracy());
            c
        })
        .collect();
    let keep = front::front(&costs);
    on = keep.into_iter().map(|i| on[i]).collect();
    on.sort_by_key(|r| r.rank);
    on.into_iter().cloned().collect()
}

/// The columns of `tune.csv` and `front.csv`.
pub fn header(plan: &TunePlan) -> Vec<String> {
    let t = &plan.tune;
    let mut h: Vec<String> = vec!["candidate".into(), "rank".into()];
    h.extend(t.axis_keys());
    h.extend(["rung", "budget", "epochs", "train_images"].map(String::from));
    h.extend(t.seeds.iter().map(|s| format!("accuracy_seed{s}")));
    h.extend(["accuracy_mean", "accuracy_loss", "feasible", "best"].map(String::from));
    h.extend(t.objectives.iter().cloned());
    h
}

/// A fraction with 6 decimals (no `-0.000000`).
fn fraction(v: f64) -> String {
    if v.is_nan() {
        return String::new();
    }
    let s = format!("{:.6}", v + 0.0);
    if s == "-0.000000" {
        "0.000000".into()
    } else {
        s
    }
}

/// An objective value: 12 significant digits, empty when unknown.
pub fn number(v: f64) -> String {
    if v.is_finite() {
        format!("{}", tidy(v))
    } else {
        String::new()
    }
}

/// The CSV text of `rows` under [`header`].
pub fn csv_text(plan: &TunePlan, rows: &[Row]) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header(plan))?;
    for r in rows {
        let b = &plan.budgets[r.rung];
        let mut rec: Vec<String> = vec![
            r.candidate.map_or("reference".into(), |c| c.to_string()),
            r.rank.map_or(String::new(), |k| k.to_string()),
        ];
        rec.extend(r.values.iter().map(cell));
        rec.extend([
            r.rung.to_string(),
            format!("{}", b.fraction),
            b.epochs.to_string(),
            b.train_images.to_string(),
        ]);
        rec.extend(r.measured.accuracies.iter().map(|&a| fraction(a)));
        rec.extend([
            fraction(r.measured.accuracy()),
            fraction(r.loss),
            r.feasible.to_string(),
            r.best.to_string(),
        ]);
        rec.extend(r.measured.objectives.iter().map(|&v| number(v)));
        w.write_record(&rec)?;
    }
    Ok(w.into_inner()?)
}
