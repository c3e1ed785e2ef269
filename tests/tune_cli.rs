//! `nandspin tune`: the search run as a user runs it on a tiny workload: outputs, the best
//! policy run as an arch file, the same `tune.csv` whatever `--jobs`, after an interrupted
//! run, and from shards of each rung merged; Slurm scripts; and the bad-input contract.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::*;
use tempfile::TempDir;

/// A tune file in `tmp` over the bundled arch and workload, tiny trainings (2 epochs of
/// 200 images, 100 test images), with `body` (axes and tune keys).
fn tune_file(tmp: &TempDir, name: &str, body: &str) -> PathBuf {
    let root = manifest();
    let text = format!(
        "name = \"{name}\"\narch = \"{}\"\nworkload = \"{}\"\n{body}\n[set]\ntraining.epochs = 2\ntraining.max_train_images = 200\ntraining.max_test_images = 100\n",
        root.join("arch/nandspin.toml").display(),
        root.join("workloads/lenet5-mnist.toml").display()
    );
    write(tmp, &format!("{name}.toml"), &text)
}

/// Four candidates (pulse width x encoding), two seeds, two rungs, half kept.
const SMALL: &str = "seeds = [0, 1]\nmax_accuracy_loss = 1.0\nrungs = [0.5, 1.0]\nkeep = 0.5\n\n[[axis]]\nkey = \"update.program_pulse_ns\"\nvalues = [3.0, 1.0]\n\n[[axis]]\nkey = \"weights.encoding\"\nvalues = [\"twos_complement\", \"sign_magnitude\"]\n";

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn tune(args: &[&str]) -> Outcome {
    subcommand("tune", args)
}

#[test]
fn finds_the_cheapest_feasible_policy_and_best_toml_runs() {
    let tmp = TempDir::new().unwrap();
    let file = tune_file(&tmp, "small", SMALL);
    let out = tmp.path().join("out");
    let r = tune(&[s(&file), "--out", s(&out), "--jobs", "2", "--quiet"]);
    ok(&r);
    assert_contains(&r.stdout, "best: candidate ");
    assert_contains(&r.stdout, "training work: ");
    for f in [
        "tune.csv",
        "front.csv",
        "front.svg",
        "best.toml",
        "rung-0",
        "rung-1",
    ] {
        assert!(out.join(f).exists(), "{f} missing");
    }
    let (header, _) = read_csv(&out.join("tune.csv"));
    assert_eq!(
        header,
        [
            "candidate",
            "rank",
            "update.program_pulse_ns",
            "weights.encoding",
            "rung",
            "budget",
            "epochs",
            "train_images",
            "accuracy_seed0",
            "accuracy_seed1",
            "accuracy_mean",
            "accuracy_loss",
            "feasible",
            "best",
            "program_energy_pJ"
        ]
    );
    let rows = records(&out.join("tune.csv"));
    assert_eq!(rows.len(), 5, "the reference and 4 candidates");
    assert_eq!(rows[0]["candidate"], "reference");
    assert_eq!(rows[0]["update.program_pulse_ns"], "3.0");
    // Rung 0 at half the budget (1 epoch), the two best go on to the full 2 epochs.
    let full: Vec<_> = rows[1..].iter().filter(|r| r["rung"] == "1").collect();
    assert_eq!(full.len(), 2);
    for r in &rows[1..] {
        let rung1 = r["rung"] == "1";
        assert_eq!(r["epochs"], if rung1 { "2" } else { "1" });
        assert_eq!(r["budget"], if rung1 { "1" } else { "0.5" });
    }
    // Everything is feasible (max_accuracy_loss = 1): the best is the cheapest at full budget.
    let best: Vec<_> = rows.iter().filter(|r| r["best"] == "true").collect();
    assert_eq!(best.len(), 1);
    let cheapest = full
        .iter()
        .min_by(|a, b| num(a, "program_energy_pJ").total_cmp(&num(b, "program_energy_pJ")))
        .unwrap();
    assert_eq!(best[0]["candidate"], cheapest["candidate"]);
    assert_eq!(best[0]["rank"], "1");
    let front = records(&out.join("front.csv"));
    assert!(
        front.iter().any(|r| r["best"] == "true"),
        "the best is on the front"
    );
    let svg = fs::read_to_string(out.join("front.svg")).unwrap();
    assert_contains(&svg, "reference");

    // best.toml: comment lines saying how it was found, then an arch that runs as is.
    let text = fs::read_to_string(out.join("best.toml")).unwrap();
    let comments: Vec<&str> = text.lines().take_while(|l| l.starts_with('#')).collect();
    assert!(comments.len() >= 6, "{text}");
    assert_contains(&text, &format!("# tune file: {}", file.display()));
    assert_contains(&text, "# command: nandspin tune ");
    assert_contains(&text, &format!("# candidate {}", best[0]["candidate"]));
    assert_contains(&text, "name = \"small-best\"");
    assert_contains(
        &text,
        &format!("program_pulse_ns = {}", best[0]["update.program_pulse_ns"]),
    );
    assert_contains(
        &text,
        &format!("encoding = \"{}\"", best[0]["weights.encoding"]),
    );
    let run = tmp.path().join("run");
    tiny_run(&run, &["--arch", s(&out.join("best.toml"))]);
    assert_eq!(summary(&run)["arch"], "small-best");
    let v = nandspin(&["validate", s(&out.join("best.toml"))]);
    ok(&v);
}

#[test]
fn same_table_for_any_jobs_and_after_an_interrupted_run() {
    let tmp = TempDir::new().unwrap();
    let file = tune_file(&tmp, "det", SMALL);
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    ok(&tune(&[s(&file), "--out", s(&a), "--jobs", "1", "--quiet"]));
    ok(&tune(&[s(&file), "--out", s(&b), "--jobs", "2", "--quiet"]));
    let table = fs::read(a.join("tune.csv")).unwrap();
    assert_eq!(
        table,
        fs::read(b.join("tune.csv")).unwrap(),
        "--jobs 1 vs 2"
    );
    assert_eq!(
        fs::read(a.join("front.csv")).unwrap(),
        fs::read(b.join("front.csv")).unwrap()
    );

    // As if killed: the outputs gone, a finished point of each rung gone, and a point
    // folder left half-written.
    for f in ["tune.csv", "front.csv", "best.toml", "front.svg"] {
        fs::remove_file(b.join(f)).unwrap();
    }
    for k in 0..2 {
        let points = b.join(format!("rung-{k}/points"));
        let first = fs::read_dir(&points)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        fs::remove_dir_all(&first).unwrap();
    }
    let points = b.join("rung-0/points");
    let half = fs::read_dir(&points)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    fs::remove_file(half.join("summary.csv")).unwrap();
    let r = tune(&[s(&file), "--out", s(&b), "--jobs", "2"]);
    ok(&r);
    assert_contains(&r.stdout, "rung 0 (budget 0.5: 1 epoch of 200 images)");
    assert_eq!(
        table,
        fs::read(b.join("tune.csv")).unwrap(),
        "after resuming"
    );

    // A rerun of a finished tune trains nothing and writes the same table.
    let r = tune(&[s(&file), "--out", s(&b), "--quiet"]);
    ok(&r);
    assert_eq!(table, fs::read(b.join("tune.csv")).unwrap());
    let m = fs::read_to_string(b.join("rung-1/sweep.csv")).unwrap();
    assert!(m.lines().count() > 1);
}

#[test]
fn shards_of_each_rung_merge_into_the_same_table() {
    let tmp = TempDir::new().unwrap();
    let file = tune_file(&tmp, "sh", SMALL);
    let local = tmp.path().join("local");
    ok(&tune(&[s(&file), "--out", s(&local), "--quiet"]));
    let out = tmp.path().join("cluster");
    // Rung 1 before rung 0 is complete: an input error naming the rung to run.
    let r = tune(&[s(&file), "--out", s(&out), "--rung", "1", "--quiet"]);
    let line = assert_input_error(&r, None);
    assert_contains(&line, "rung 0 is not complete");
    for k in 0..2 {
        let rung = k.to_string();
        for i in 0..2 {
            let id = i.to_string();
            let r = nandspin_env(
                &[
                    "tune",
                    s(&file),
                    "--out",
                    s(&out),
                    "--rung",
                    &rung,
                    "--quiet",
                ],
                &[
                    ("SLURM_ARRAY_TASK_ID", &id),
                    ("SLURM_ARRAY_TASK_COUNT", "2"),
                ],
            );
            ok(&r);
            assert_contains(&r.stdout, &format!("rung {k} shard {i} of 2"));
        }
        let dir = out.join(format!("rung-{k}"));
        ok(&nandspin(&[
            "sweep",
            "merge",
            s(&dir.join("shard-0")),
            s(&dir.join("shard-1")),
            "--out",
            s(&dir),
        ]));
    }
    let r = tune(&[s(&file), "--out", s(&out), "--quiet"]);
    ok(&r);
    assert_eq!(
        fs::read(local.join("tune.csv")).unwrap(),
        fs::read(out.join("tune.csv")).unwrap()
    );

    // The Slurm scripts chain the rungs and merges, then the final job.
    let slurm_out = tmp.path().join("slurm-out");
    let r = tune(&[
        s(&file),
        "--emit-slurm",
        "--shards",
        "3",
        "--out",
        s(&slurm_out),
        "--sbatch=--time=1:00:00",
    ]);
    ok(&r);
    let dir = slurm_out.join("slurm");
    let rung1 = fs::read_to_string(dir.join("rung-1.sbatch")).unwrap();
    assert_contains(&rung1, "#SBATCH --array=0-2\n");
    assert_contains(&rung1, " --rung 1 --shard-count 3 ");
    assert_contains(&rung1, "#SBATCH --time=1:00:00\n");
    let merge = fs::read_to_string(dir.join("merge-1.sbatch")).unwrap();
    assert_contains(&merge, " sweep merge ");
    assert_contains(&merge, "rung-1/shard-2 --out ");
    let submit = fs::read_to_string(dir.join("submit.sh")).unwrap();
    assert_contains(&submit, "--dependency=afterok:\"$merge0\"");
    assert_contains(&submit, "$here/final.sbatch");
    let fin = fs::read_to_string(dir.join("final.sbatch")).unwrap();
    assert!(!fin.contains("--rung"), "{fin}");
}

#[test]
fn plan_and_validate_read_tune_files() {
    let tmp = TempDir::new().unwrap();
    let file = tune_file(&tmp, "pl", SMALL);
    let r = tune(&[s(&file), "--plan"]);
    ok(&r);
    assert_contains(&r.stdout, "4 candidates");
    assert_contains(
        &r.stdout,
        "reference: candidate 0 (update.program_pulse_ns=3.0, weights.encoding=twos_complement)",
    );
    assert_contains(&r.stdout, "1     1       2       200");
    let v = nandspin(&[
        "validate",
        s(&file),
        s(&manifest().join("arch/tune/example.toml")),
    ]);
    ok(&v);
    assert_contains(&v.stdout, "tune: 4 candidates, 2 seeds, rungs 0.5, 1");
    assert_contains(&v.stdout, "tune: 12 candidates, 3 seeds, rungs 0.1, 0.3, 1");
}

#[test]
fn bad_tune_files_fail_with_one_line_and_write_nothing() {
    let axis = "[[axis]]\nkey = \"update.program_pulse_ns\"\nvalues = [3.0, 1.0]\n";
    let cases: Vec<(String, &str)> = vec![
        (
            "max_accuracy_loss = 0.01\n".into(),
            ":1: axis: a tune file needs at least one [[axis]]",
        ),
        (
            format!("max_accuracy_loss = 0.01\nrungs = [0.5, 1.5]\n{axis}"),
            ":5: rungs: rungs[1] = 1.5: a budget is a fraction",
        ),
        (
            format!("max_accuracy_loss = 0.01\nrungs = [0.5]\n{axis}"),
            ":5: rungs: the last rung must be the full training",
        ),
        (
            format!("max_accuracy_loss = 0.01\nkeep = 0.0\n{axis}"),
            ":5: keep: ",
        ),
        (
            format!("max_accuracy_loss = 0.01\nkeep = 2\n{axis}"),
            ":5: keep: ",
        ),
        (
            format!("max_accuracy_loss = 0.01\nminimize = \"mapping\"\n{axis}"),
            ":5: minimize: `mapping` cannot be an objective",
        ),
        (
            format!(
                "max_accuracy_loss = 0.01\nminimize = [\"energy_pJ\", \"train_images_per_s\"]\n{axis}"
            ),
            ":5: minimize: `train_images_per_s` cannot be an objective",
        ),
        (
            format!("max_accuracy_loss = 0.01\nminimize = \"joules\"\n{axis}"),
            ":5: minimize: `joules` is not a column",
        ),
        (
            format!("max_accuracy_loss = 0.01\nbudget = 3\n{axis}"),
            ":5: ",
        ),
        (
            format!("max_accuracy_loss = 0.01\nseeds = []\n{axis}"),
            ":5: seeds: give at least one",
        ),
        (
            format!("max_accuracy_loss = -0.1\n{axis}"),
            ":4: max_accuracy_loss: must be an absolute fraction",
        ),
        (
            format!("max_accuracy_loss = 1.5\n{axis}"),
            ":4: max_accuracy_loss: must be an absolute fraction",
        ),
        (
            "max_accuracy_loss = 0.01\n[[axis]]\nkey = \"training.learning_rate\"\nvalues = [0.1, 0.2]\n".to_string(),
            ":6: axis[0].key: axis training.learning_rate: `training.learning_rate` is a workload key",
        ),
        (
            "max_accuracy_loss = 0.01\n[[axis]]\nkey = \"update.program_pulse_ns\"\nvalues = [3.0, -1.0]\n".to_string(),
            ": axis update.program_pulse_ns = -1.0: update.program_pulse_ns",
        ),
        (
            format!("max_accuracy_loss = 0.01\nrungs = [0.9, 1.0]\n{axis}"),
            ": rungs[1] = 1: trains no more than rungs[0] = 0.9 (2 epochs of 200 images against 2 epochs of 200 images",
        ),
    ];
    for (body, want) in cases {
        let tmp = TempDir::new().unwrap();
        let file = tune_file(&tmp, "bad", &body);
        let out = tmp.path().join("out");
        for extra in [&[][..], &["--plan"][..]] {
            let mut args = vec![s(&file), "--out", s(&out), "--quiet"];
            args.extend_from_slice(extra);
            let line = assert_input_error(&tune(&args), Some(&out));
            assert!(
                line.starts_with(&format!("error: {}", file.display())),
                "{body:?}: {line}"
            );
            assert_contains(&line, want);
        }
        let v = nandspin(&["validate", s(&file)]);
        let line = assert_input_error(&v, None);
        assert_contains(&line, want);
    }
    // A folder of something else is refused, and nothing is written into it.
    let tmp = TempDir::new().unwrap();
    let file = tune_file(&tmp, "x", SMALL);
    let out = tmp.path().join("mine");
    fs::create_dir(&out).unwrap();
    fs::write(out.join("notes.txt"), "mine").unwrap();
    let line = assert_input_error(&tune(&[s(&file), "--out", s(&out)]), None);
    assert_contains(&line, "holds `notes.txt`, which no tune writes");
    assert_eq!(fs::read_dir(&out).unwrap().count(), 1);
}

/// The sweep commands know a tune file when they see one: `emit-slurm` writes the tune's
/// scripts, the others point to `nandspin tune`.
#[test]
fn sweep_commands_recognise_tune_files() {
    let tmp = TempDir::new().unwrap();
    let file = tune_file(&tmp, "t", SMALL);
    let out = tmp.path().join("slurm-out");
    let r = subcommand(
        "sweep",
        &["emit-slurm", s(&file), "--shards", "2", "--out", s(&out)],
    );
    ok(&r);
    assert!(out.join("slurm/rung-0.sbatch").is_file(), "{}", r.stdout);
    assert!(out.join("slurm/submit.sh").is_file());
    for cmd in ["plan", "run"] {
        let r = subcommand("sweep", &[cmd, s(&file)]);
        let line = assert_input_error(&r, None);
        assert_contains(&line, "a tune file, not a sweep file");
        assert_contains(&line, "nandspin tune");
    }
}

/// A tune killed part-way (here once its first rung is done and the second has started)
/// resumes to the same `tune.csv` as an uninterrupted run.
#[test]
fn a_killed_tune_resumes_to_the_same_table() {
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};
    let tmp = TempDir::new().unwrap();
    let file = tune_file(&tmp, "kill", SMALL);
    let whole = tmp.path().join("whole");
    ok(&tune(&[
        s(&file),
        "--out",
        s(&whole),
        "--jobs",
        "1",
        "--quiet",
    ]));

    let cut = tmp.path().join("cut");
    let mut child = Command::new(env!("CARGO_BIN_EXE_nandspin"))
        .current_dir(manifest())
        .args(["tune", s(&file), "--out", s(&cut), "--jobs", "1", "--quiet"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = |dir: &Path| dir.join("rung-1/points").is_dir();
    let t0 = Instant::now();
    while !started(&cut) && t0.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        started(&cut),
        "the tune should have reached its second rung"
    );
    assert!(!cut.join("tune.csv").exists(), "killed before its outputs");
    ok(&tune(&[
        s(&file),
        "--out",
        s(&cut),
        "--jobs",
        "2",
        "--quiet",
    ]));
    assert_eq!(
        fs::read(cut.join("tune.csv")).unwrap(),
        fs::read(whole.join("tune.csv")).unwrap()
    );
}
