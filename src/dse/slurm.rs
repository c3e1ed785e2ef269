//! Slurm job scripts for a sweep: one array task per shard, then a merge job that runs when
//! every task has succeeded.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::plan::Plan;
use crate::report;

/// How to split and submit a sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct SlurmOptions {
    /// Array tasks (shards).
    pub shards: usize,
    /// At most this many tasks at once (`--array=...%K`).
    pub max_running: Option<usize>,
    /// CPUs per task; each shard runs this many trainings at once.
    pub cpus_per_task: usize,
    /// The sweep's output folder: shard `i` writes `OUT/shard-i`, the merge writes `OUT`.
    pub out: PathBuf,
    /// `--set` arguments for every point.
    pub sets: Vec<String>,
    /// Extra `#SBATCH` options (e.g. `--partition=gpu`, `--time=1:00:00`).
    pub sbatch: Vec<String>,
}

/// Quotes a word for a POSIX shell.
pub fn quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// `p` made absolute against the current folder (job scripts run elsewhere).
pub fn absolute(p: &Path) -> Result<PathBuf> {
    Ok(if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()?.join(p)
    })
}

/// Refuses `--sbatch` options that would not stay one `#SBATCH` line each.
pub fn check_sbatch(sbatch: &[String]) -> Result<(), crate::error::InputError> {
    // Each option becomes one `#SBATCH` line: a line break would start a shell line.
    if let Some(o) = sbatch.iter().find(|o| o.chars().any(char::is_control)) {
        return Err(crate::error::InputError::new(format!(
            "--sbatch {}: an option may not hold a line break or another control character; give one --sbatch per option",
            crate::error::clip(o)
        )));
    }
    Ok(())
}

/// The `#SBATCH` lines of the extra options.
pub fn extra_lines(sbatch: &[String]) -> String {
    sbatch.iter().map(|o| format!("#SBATCH {o}\n")).collect()
}

/// The `--set` arguments as words of a shell command line (each with a leading space).
pub fn set_words(sets: &[String]) -> String {
    sets.iter()
        .map(|s| format!(" --set {}", quote(s)))
        .collect()
}

/// The end of a `submit.sh`: with `--wait` (`$wait` = 1), waits until the job whose id is
/// in shell variable `var` has left the queue and exits 1 unless it completed; else
/// exits 0. Prints `done` when it completed.
pub fn wait_tail(var: &str, done: &str) -> String {
    format!(
        "[ \"$wait\" = 1 ] || exit 0\n\
# Until the job leaves the queue; a failing squeue (slurmctld busy) is retried for 2 min.\n\
fails=0\n\
while true; do if q=$(squeue -h -j \"${var}\" 2>/dev/null); then fails=0; [ -n \"$q\" ] || break; else fails=$((fails + 1)); [ \"$fails\" -lt 60 ] || break; fi; sleep 2; done\n\
state=$(scontrol show job \"${var}\" 2>/dev/null | sed -n 's/.*JobState=\\([A-Z_]*\\).*/\\1/p')\n\
if [ \"$state\" != COMPLETED ]; then echo \"{var} job ${var} ended ${{state:-in an unknown state}}; logs: $here/*.log\" >&2; exit 1; fi\n\
echo \"{done}\"\n"
    )
}

/// Writes job scripts as one set and makes them executable; returns their paths.
pub fn write_scripts(files: Vec<(PathBuf, Vec<u8>)>) -> Result<Vec<PathBuf>> {
    report::write_set(&files)?;
    #[cfg(unix)]
    for (p, _) in &files {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(p, fs::Permissions::from_mode(0o755))?;
    }
    Ok(files.into_iter().map(|(p, _)| p).collect())
}

/// Writes `OUT/slurm/shards.sbatch`, `merge.sbatch` and `submit.sh`; returns their paths.
/// `exe` is the `nandspin` binary the jobs run.
pub fn emit(plan: &Plan, opts: &SlurmOptions, exe: &Path) -> Result<Vec<PathBuf>> {
    check_sbatch(&opts.sbatch)?;
    let out = absolute(&opts.out)?;
    let dir = out.join("slurm");
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let sweep = fs::canonicalize(&plan.sweep.file)
        .with_context(|| format!("resolving {}", plan.sweep.file.display()))?;
    let cwd = std::env::current_dir()?;
    let name = format!("nandspin-{}", plan.sweep.name);
    let sets = set_words(&opts.sets);
    let extra = extra_lines(&opts.sbatch);
    let q = |p: &Path| quote(&p.display().to_string());
    let array = match opts.max_running {
        Some(k) => format!("0-{}%{k}", opts.shards - 1),
        None => format!("0-{}", opts.shards - 1),
    };
    let shards = format!(
        "#!/bin/bash\n\
#SBATCH --job-name={name}\n\
#SBATCH --array={array}\n\
#SBATCH --cpus-per-task={cpus}\n\
#SBATCH --output={log}\n\
#SBATCH --chdir={cwd}\n\
{extra}\
# Sweep {sname} ({points} points, {trainings} trainings) in {n} shards, one per array task.\n\
# `nandspin sweep run` takes its shard index from SLURM_ARRAY_TASK_ID; the count is given\n\
# here, so a task resubmitted alone (sbatch --array=I) still knows it. A rerun task skips\n\
# the points it has already finished.\n\
set -euo pipefail\n\
exec {exe} sweep run {sweep} --out {out}/shard-\"$SLURM_ARRAY_TASK_ID\" --shard-count {n} --jobs \"${{SLURM_CPUS_PER_TASK:-1}}\" --quiet{sets}\n",
        cpus = opts.cpus_per_task,
        log = q(&dir.join("shard-%a.log")),
        cwd = q(&cwd),
        sname = plan.sweep.name,
        points = plan.points.len(),
        trainings = plan.groups.len(),
        n = opts.shards,
        exe = q(exe),
        sweep = q(&sweep),
        out = q(&out),
    );
    let shard_dirs: String = (0..opts.shards)
        .map(|i| format!(" {}", q(&out.join(format!("shard-{i}")))))
        .collect();
    let merge = format!(
        "#!/bin/bash\n\
#SBATCH --job-name={name}-merge\n\
#SBATCH --output={log}\n\
#SBATCH --chdir={cwd}\n\
#SBATCH --kill-on-invalid-dep=yes\n\
{extra}\
# Joins the shards of sweep {sname} into {outd}; submitted with --dependency=afterok on the\n\
# array, so it runs only when every shard succeeded.\n\
set -euo pipefail\n\
exec {exe} sweep merge{shard_dirs} --out {out}\n",
        log = q(&dir.join("merge.log")),
        cwd = q(&cwd),
        sname = plan.sweep.name,
        outd = out.display(),
        exe = q(exe),
        out = q(&out),
    );
    let submit = format!(
        "#!/usr/bin/env bash\n\
# Submits the shards of sweep {sname} as one job array, then the merge job, which runs only\n\
# when every shard succeeded (afterok; a failed shard cancels it). With --wait, waits until\n\
# the merge job has ended and exits non-zero unless it completed (Slurm's own\n\
# `sbatch --wait` reports a job cancelled for its dependency as a success). Other arguments\n\
# go to both sbatch calls (e.g. --partition=batch).\n\
set -euo pipefail\n\
here=$(cd \"$(dirname \"$0\")\" && pwd)\n\
wait=0\n\
args=()\n\
for a in \"$@\"; do if [ \"$a\" = --wait ]; then wait=1; else args+=(\"$a\"); fi; done\n\
array=$(sbatch --parsable \"${{args[@]}}\" \"$here/shards.sbatch\")\n\
array=${{array%%;*}}\n\
echo \"shards: job array $array\"\n\
merge=$(sbatch --parsable --dependency=afterok:\"$array\" \"${{args[@]}}\" \"$here/merge.sbatch\")\n\
merge=${{merge%%;*}}\n\
echo \"merge: job $merge\"\n\
{tail}",
        sname = plan.sweep.name,
        tail = wait_tail("merge", &format!("merged: {}/sweep.csv", out.display())),
    );
    let files = vec![
        (dir.join("shards.sbatch"), shards.into_bytes()),
        (dir.join("merge.sbatch"), merge.into_bytes()),
        (dir.join("submit.sh"), submit.into_bytes()),
    ];
    write_scripts(files)
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn quoting() {
        assert_eq!(quote("a/b.toml"), "a/b.toml");
        assert_eq!(quote("training.epochs=1"), "training.epochs=1");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), "'it'\\''s'");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("x=\"s\""), "'x=\"s\"'");
    }
}
