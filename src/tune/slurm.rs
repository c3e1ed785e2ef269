//! Slurm job scripts for a tune: per rung, a job array (one shard per task) and a merge of
//! its shards; then a final job that writes the outputs. Rung K+1's array waits for rung
//! K's merge (`afterok`): its candidates are known only from rung K's results.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::exec::rung_dir;
use super::halving::keep_count;
use super::plan::TunePlan;
use crate::dse::slurm::{
    absolute, check_sbatch, extra_lines, quote, set_words, wait_tail, write_scripts,
};

/// How to split and submit a tune: the sweep's options, with `shards` the most array
/// tasks per rung (a rung with fewer trainings gets fewer).
pub use crate::dse::slurm::SlurmOptions;

/// The number of candidates at each rung.
pub fn rung_sizes(plan: &TunePlan) -> Vec<usize> {
    let t = &plan.tune;
    let mut n = t.candidates();
    let mut sizes = Vec::new();
    for _ in &t.rungs {
        sizes.push(n);
        n = keep_count(t.keep, n);
    }
    sizes
}

/// The array tasks of each rung: `shards`, but no more than the rung's trainings can use
/// (its candidates and the reference, times the seeds).
pub fn rung_shards(plan: &TunePlan, shards: usize) -> Vec<usize> {
    rung_sizes(plan)
        .into_iter()
        .map(|n| shards.clamp(1, (n + 1) * plan.tune.seeds.len()))
        .collect()
}

/// Writes `OUT/slurm/rung-K.sbatch` and `merge-K.sbatch` for every rung, `final.sbatch`
/// and `submit.sh`; returns their paths. `exe` is the `nandspin` binary the jobs run.
pub fn emit(plan: &TunePlan, opts: &SlurmOptions, exe: &Path) -> Result<Vec<PathBuf>> {
    check_sbatch(&opts.sbatch)?;
    let t = &plan.tune;
    let out = absolute(&opts.out)?;
    let dir = out.join("slurm");
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let file = fs::canonicalize(&t.sweep.file)
        .with_context(|| format!("resolving {}", t.sweep.file.display()))?;
    let cwd = std::env::current_dir()?;
    let name = format!("nandspin-{}", t.sweep.name);
    let sets = set_words(&opts.sets);
    let extra = extra_lines(&opts.sbatch);
    let q = |p: &Path| quote(&p.display().to_string());
    let head = |job: &str, log: &str, more: &str| {
        format!(
            "#!/bin/bash\n#SBATCH --job-name={job}\n{more}#SBATCH --output={}\n#SBATCH --chdir={}\n#SBATCH --kill-on-invalid-dep=yes\n{extra}",
            q(&dir.join(log)),
            q(&cwd)
        )
    };
    let shards = rung_shards(plan, opts.shards);
    let sizes = rung_sizes(plan);
    let mut files = Vec::new();
    for (k, (&n, &size)) in shards.iter().zip(&sizes).enumerate() {
        let array = match opts.max_running {
            Some(m) => format!("0-{}%{m}", n - 1),
            None => format!("0-{}", n - 1),
        };
        let rung = format!(
            "{}\
# Rung {k} of tune {tname} (budget {b}: {size} candidates and the reference) in {n} shards,\n\
# one per array task; the task computes the rung's candidates from the rungs before, which\n\
# must be complete in {outd}. A rerun task skips the points it has already finished.\n\
set -euo pipefail\n\
exec {exe} tune {file} --out {outq} --rung {k} --shard-count {n} --jobs \"${{SLURM_CPUS_PER_TASK:-1}}\" --quiet{sets}\n",
            head(
                &format!("{name}-rung{k}"),
                &format!("rung-{k}-%a.log"),
                &format!(
                    "#SBATCH --array={array}\n#SBATCH --cpus-per-task={}\n",
                    opts.cpus_per_task
                )
            ),
            tname = t.sweep.name,
            b = plan.budgets[k].fraction,
            outd = out.display(),
            exe = q(exe),
            file = q(&file),
            outq = q(&out),
        );
        let rdir = rung_dir(&out, k);
        let shard_dirs: String = (0..n)
            .map(|i| format!(" {}", q(&rdir.join(format!("shard-{i}")))))
            .collect();
        let merge = format!(
            "{}\
# Joins the shards of rung {k} into {rd}, where the next rung reads them.\n\
set -euo pipefail\n\
exec {exe} sweep merge{shard_dirs} --out {rdq}\n",
            head(&format!("{name}-merge{k}"), &format!("merge-{k}.log"), ""),
            rd = rdir.display(),
            exe = q(exe),
            rdq = q(&rdir),
        );
        files.push((dir.join(format!("rung-{k}.sbatch")), rung.into_bytes()));
        files.push((dir.join(format!("merge-{k}.sbatch")), merge.into_bytes()));
    }
    let last = format!(
        "{}\
# Writes the outputs of tune {tname} into {outd} once every rung is merged: every training\n\
# is then finished, so it trains nothing.\n\
set -euo pipefail\n\
exec {exe} tune {file} --out {outq} --jobs \"${{SLURM_CPUS_PER_TASK:-1}}\" --quiet{sets}\n",
        head(&format!("{name}-final"), "final.log", ""),
        tname = t.sweep.name,
        outd = out.display(),
        exe = q(exe),
        file = q(&file),
        outq = q(&out),
    );
    files.push((dir.join("final.sbatch"), last.into_bytes()));
    let mut chain = String::new();
    let mut dep = String::new();
    for k in 0..shards.len() {
        chain.push_str(&format!(
            "rung{k}=$(sbatch --parsable{dep} \"${{args[@]}}\" \"$here/rung-{k}.sbatch\")\n\
rung{k}=${{rung{k}%%;*}}\n\
merge{k}=$(sbatch --parsable --dependency=afterok:\"$rung{k}\" \"${{args[@]}}\" \"$here/merge-{k}.sbatch\")\n\
merge{k}=${{merge{k}%%;*}}\n\
echo \"rung {k}: job array $rung{k}, merge job $merge{k}\"\n"
        ));
        dep = format!(" --dependency=afterok:\"$merge{k}\"");
    }
    let submit = format!(
        "#!/usr/bin/env bash\n\
# Submits tune {tname}: for each rung a job array and the merge of its shards, each rung\n\
# after the merge of the one before (afterok), then the job that writes the outputs. A\n\
# failed job cancels the ones after it. With --wait, waits until the final job has ended\n\
# and exits non-zero unless it completed. Other arguments go to every sbatch call.\n\
set -euo pipefail\n\
here=$(cd \"$(dirname \"$0\")\" && pwd)\n\
wait=0\n\
args=()\n\
for a in \"$@\"; do if [ \"$a\" = --wait ]; then wait=1; else args+=(\"$a\"); fi; done\n\
{chain}\
final=$(sbatch --parsable{dep} \"${{args[@]}}\" \"$here/final.sbatch\")\n\
final=${{final%%;*}}\n\
echo \"final: job $final\"\n\
{tail}",
        tname = t.sweep.name,
        tail = wait_tail("final", &format!("tuned: {}/tune.csv", out.display())),
    );
    files.push((dir.join("submit.sh"), submit.into_bytes()));
    write_scripts(files)
}
