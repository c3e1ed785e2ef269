//! `best.toml`: an arch file, the base arch with the best candidate's overrides applied
//! and resolved, headed by comment lines that say how it was found.

use anyhow::Result;

use super::exec::Finished;
use super::plan::{TunePlan, describe};
use super::table::number;
use crate::config::name::MAX_NAME_CHARS;
use crate::config::workload;
use crate::dse::slurm::quote;
use crate::run::DataCache;

/// The file name of the best policy in a tune's output folder.
pub const BEST: &str = "best.toml";

/// The name `best.toml` gives its arch: `<tune name>-best` (cut to fit a name).
pub fn best_name(tune_name: &str) -> String {
    let stem: String = tune_name.chars().take(MAX_NAME_CHARS - 5).collect();
    format!("{stem}-best")
}

/// The text of `best.toml` for the best candidate of `f`, or `None` when no candidate
/// keeps the accuracy at the full budget. `command` is the command line that ran the tune
/// and `out_best` the path `best.toml` is written to (for the comment lines).
pub fn best_toml(
    plan: &TunePlan,
    f: &Finished,
    command: &str,
    out_best: &std::path::Path,
    cache: &DataCache,
) -> Result<Option<Vec<u8>>> {
    let Some(best) = f.search.best() else {
        return Ok(None);
    };
    let t = &plan.tune;
    let c = best.candidate;
    let p = plan.prepare_candidate(c, cache)?;
    // As run.toml records it: a measured switching CSV by its absolute path, since
    // best.toml is written elsewhere than the arch file it names the CSV from.
    let (mut arch, _) = p.recorded_configs();
    arch.name = Some(best_name(&t.sweep.name));
    let last = f.rungs.len() - 1;
    let reference = &f.rungs[last].reference;
    let measured = &f.rungs[last].candidates[&c];
    let seeds: Vec<String> = t.seeds.iter().map(u64::to_string).collect();
    let objectives: Vec<String> = t
        .objectives
        .iter()
        .zip(&measured.objectives)
        .zip(&reference.objectives)
        .map(|((o, v), r)| format!("{o} = {} (reference {})", number(*v), number(*r)))
        .collect();
    // The workload keys the candidates trained with: to train this arch as it was tuned.
    let workload_sets: String = t
        .sweep
        .sets
        .iter()
        .filter(|o| workload::WORKLOAD_KEYS.contains(&o.path[0].as_str()))
        .map(|o| format!(" --set {}", quote(&o.raw)))
        .collect();
    // One comment line each, whatever the paths and values hold.
    let one_line = |s: String| format!("{}\n", s.trim_end().replace(['\n', '\r'], " "));
    let mut text = String::new();
    text.push_str("# nandspin tune: the cheapest update policy found that keeps the accuracy.\n");
    text.push_str(&one_line(format!(
        "# tune file: {} (tune {})",
        t.sweep.file.display(),
        t.sweep.name
    )));
    text.push_str(&one_line(format!("# command: {command}")));
    text.push_str(&one_line(format!("# {}", describe(t, c))));
    text.push_str(&format!(
        "# mean test accuracy {:.6} over seeds {} (reference {:.6}): loss {:.6}, budget {}\n",
        measured.accuracy(),
        seeds.join(", "),
        reference.accuracy(),
        best.loss + 0.0,
        t.max_loss
    ));
    text.push_str(&format!(
        "# at the full training ({}): {}\n",
        plan.budgets[last].describe(),
        objectives.join("; ")
    ));
    text.push_str(&one_line(format!(
        "# train it as tuned: nandspin run --arch {} --workload {}{workload_sets}",
        quote(&out_best.display().to_string()),
        quote(&t.sweep.workload.display().to_string()),
    )));
    text.push_str(&toml::to_string(&arch)?);
    Ok(Some(text.into_bytes()))
}
