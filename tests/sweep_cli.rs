//! `nandspin sweep`: plan, run (parallel, resumable, sharded), merge, emit-slurm, and the
//! training reuse, run the way a user runs them.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use tempfile::TempDir;

/// A sweep file in `tmp` over the bundled arch and workload, with `body` (axes, `[set]`).
fn sweep_file(tmp: &TempDir, name: &str, body: &str) -> PathBuf {
    let root = manifest();
    let text = format!(
        "schema_version = 1\nname = \"{name}\"\narch = \"{}\"\nworkload = \"{}\"\n{body}",
        root.join("arch/nandspin.toml").display(),
        root.join("workloads/lenet5-mnist.toml").display()
    );
    write(tmp, &format!("{name}.toml"), &text)
}

/// Small training: one epoch on `train` images, 128 test images.
fn small(train: u32) -> String {
    format!(
        "[set]\ntraining.epochs = 1\ntraining.max_train_images = {train}\ntraining.max_test_images = 128\n"
    )
}

const TILES_PULSE: &str = "[[axis]]\nkey = \"chip.tiles\"\nvalues = [8, 32]\n\n[[axis]]\nkey = \"update.program_pulse_ns\"\nvalues = [3.0, 1.0]\n";

fn sweep(args: &[&str]) -> Outcome {
    subcommand("sweep", args)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `sweep.csv` as lines, without the two wall-clock columns (checked to be last).
fn table_without_wall(dir: &Path) -> Vec<String> {
    let (header, rows) = read_csv(&dir.join("sweep.csv"));
    assert_eq!(
        &header[header.len() - 2..],
        ["train_images_per_s", "wall_s"],
        "wall-clock columns last"
    );
    std::iter::once(header)
        .chain(rows)
        .map(|r| r[..r.len() - 2].join(","))
        .collect()
}

#[test]
fn two_axis_sweep_one_row_per_point_resumes_and_ignores_jobs() {
    let tmp = TempDir::new().unwrap();
    let file = sweep_file(&tmp, "tp", &format!("{}{TILES_PULSE}", small(256)));
    let a = tmp.path().join("a");
    let r = sweep(&["run", s(&file), "--out", s(&a), "--jobs", "2", "--quiet"]);
    ok(&r);
    assert_contains(
        &r.stdout,
        "4 points (4 run now in 2 trainings, 0 already complete)",
    );
    let rows = records(&a.join("sweep.csv"));
    assert_eq!(rows.len(), 4);
    let (header, _) = read_csv(&a.join("sweep.csv"));
    assert_eq!(
        header[..6],
        [
            "point",
            "id",
            "chip.tiles",
            "update.program_pulse_ns",
            "training",
            "replayed"
        ]
    );
    let cells: Vec<(&str, &str, &str)> = rows
        .iter()
        .map(|r| {
            (
                r["chip.tiles"].as_str(),
                r["update.program_pulse_ns"].as_str(),
                r["replayed"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        cells,
        [
            ("8", "3.0", "false"),
            ("8", "1.0", "false"),
            ("32", "3.0", "true"),
            ("32", "1.0", "true")
        ]
    );
    // Tile counts replay the training of the same pulse width; pulse widths train anew.
    assert_eq!(rows[2]["training"], rows[0]["id"]);
    assert_eq!(rows[3]["training"], rows[1]["id"]);
    assert_eq!(rows[0]["training"], rows[0]["id"]);
    for r in &rows {
        assert_eq!(r["tiles"], r["chip.tiles"]);
        assert!(
            a.join("points")
                .join(&r["id"])
                .join("summary.csv")
                .is_file()
        );
    }
    // Same numerics within a pulse width, different chip cost across tile counts.
    assert_eq!(
        rows[0]["final_test_accuracy"],
        rows[2]["final_test_accuracy"]
    );
    assert_eq!(rows[0]["bit_errors"], rows[2]["bit_errors"]);
    assert_ne!(rows[0]["total_cycles"], rows[2]["total_cycles"]);
    assert!(num(&rows[0], "total_cycles") > num(&rows[2], "total_cycles"));
    // The shorter pulse fails more bits.
    assert!(int(&rows[1], "program_failures") > int(&rows[0], "program_failures"));

    // Rerunning skips every point and changes nothing, byte for byte.
    let before = fs::read(a.join("sweep.csv")).unwrap();
    let r = sweep(&["run", s(&file), "--out", s(&a), "--jobs", "2", "--quiet"]);
    ok(&r);
    assert_contains(&r.stdout, "(0 run now in 0 trainings, 4 already complete)");
    assert_eq!(fs::read(a.join("sweep.csv")).unwrap(), before);

    // --jobs 1 gives the same table apart from the wall-clock columns.
    let b = tmp.path().join("b");
    ok(&sweep(&[
        "run",
        s(&file),
        "--out",
        s(&b),
        "--jobs",
        "1",
        "--quiet",
    ]));
    assert_eq!(table_without_wall(&a), table_without_wall(&b));
    assert_eq!(
        fs::read(a.join("sweep.toml")).unwrap(),
        fs::read(b.join("sweep.toml")).unwrap()
    );
}

#[test]
fn a_replayed_point_reports_what_a_full_run_reports() {
    let tmp = TempDir::new().unwrap();
    let file = sweep_file(&tmp, "rp", &format!("{}{TILES_PULSE}", small(256)));
    let out = tmp.path().join("sw");
    ok(&sweep(&["run", s(&file), "--out", s(&out), "--quiet"]));
    let rows = records(&out.join("sweep.csv"));
    let replayed = rows
        .iter()
        .find(|r| r["replayed"] == "true" && r["update.program_pulse_ns"] == "1.0")
        .expect("a replayed 1 ns point");
    let point = out.join("points").join(&replayed["id"]);
    let full = tmp.path().join("full");
    let r = nandspin(&[
        "run",
        "--out",
        s(&full),
        "--quiet",
        "--set",
        "training.epochs=1",
        "--set",
        "training.max_train_images=256",
        "--set",
        "training.max_test_images=128",
        "--set",
        &format!("chip.tiles={}", replayed["chip.tiles"]),
        "--set",
        "update.program_pulse_ns=1.0",
    ]);
    ok(&r);
    for f in ["epochs.csv", "layers.csv", "components.csv", "summary.csv"] {
        assert_eq!(
            csv_without_wall(&point.join(f)),
            csv_without_wall(&full.join(f)),
            "{f} of the replayed point differs from a full simulation"
        );
    }
    // The point's run.toml reruns it.
    let again = tmp.path().join("again");
    let run_toml = point.join("run.toml");
    ok(&nandspin(&[
        "run",
        "--from",
        s(&run_toml),
        "--out",
        s(&again),
        "--quiet",
    ]));
    assert_eq!(
        csv_without_wall(&again.join("summary.csv")),
        csv_without_wall(&point.join("summary.csv"))
    );
}

#[test]
fn a_killed_sweep_resumes_to_the_same_table() {
    let tmp = TempDir::new().unwrap();
    let body = format!(
        "{}[[axis]]\nkey = \"training.seed\"\nvalues = [0, 1, 2, 3, 4, 5]\n",
        small(2048)
    );
    let file = sweep_file(&tmp, "kill", &body);
    let whole = tmp.path().join("whole");
    ok(&sweep(&[
        "run",
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
        .args([
            "sweep",
            "run",
            s(&file),
            "--out",
            s(&cut),
            "--jobs",
            "1",
            "--quiet",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let complete = |dir: &Path| -> usize {
        fs::read_dir(dir.join("points"))
            .map(|rd| {
                rd.flatten()
                    // Hidden folders are reports being written, not yet swapped in.
                    .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                    .filter(|e| e.path().join("summary.csv").is_file())
                    .count()
            })
            .unwrap_or(0)
    };
    let t0 = Instant::now();
    while complete(&cut) == 0 && t0.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let done = complete(&cut);
    assert!(
        (1..6).contains(&done),
        "the sweep should have been killed part-way, with {done} of 6 points done"
    );
    // The table is written at the start and as trainings finish: it may lag behind the
    // point folders, never run ahead of them.
    let partial = records(&cut.join("sweep.csv"));
    assert!(
        partial.len() <= done,
        "the killed run's table lists only finished points"
    );
    let r = sweep(&["run", s(&file), "--out", s(&cut), "--jobs", "1", "--quiet"]);
    ok(&r);
    assert_contains(&r.stdout, &format!("{} already complete", done));
    assert_eq!(table_without_wall(&cut), table_without_wall(&whole));
}

#[test]
fn shards_merge_into_the_unsharded_table() {
    let tmp = TempDir::new().unwrap();
    let body = format!(
        "{}[[axis]]\nkey = \"training.seed\"\nvalues = [0, 1, 2]\n\n[[axis]]\nkey = \"chip.tiles\"\nvalues = [8, 16]\n",
        small(128)
    );
    let file = sweep_file(&tmp, "sh", &body);
    let local = tmp.path().join("local");
    ok(&sweep(&["run", s(&file), "--out", s(&local), "--quiet"]));

    let root = tmp.path().join("cluster");
    let shard = |i: usize| root.join(format!("shard-{i}"));
    // Shard 0 by flags, shards 1 and 2 by Slurm's environment variables.
    ok(&sweep(&[
        "run",
        s(&file),
        "--out",
        s(&shard(0)),
        "--shard-index",
        "0",
        "--shard-count",
        "3",
        "--quiet",
    ]));
    for i in 1..3 {
        let id = i.to_string();
        let r = nandspin_env(
            &["sweep", "run", s(&file), "--out", s(&shard(i)), "--quiet"],
            &[
                ("SLURM_ARRAY_TASK_ID", &id),
                ("SLURM_ARRAY_TASK_COUNT", "3"),
            ],
        );
        ok(&r);
        let m = fs::read_to_string(shard(i).join("sweep.toml")).unwrap();
        assert_contains(&m, &format!("shard_index = {i}"));
        assert_contains(&m, "shard_count = 3");
    }
    // Each shard ran one training and its replay: 2 rows each.
    for i in 0..3 {
        let rows = records(&shard(i).join("sweep.csv"));
        assert_eq!(rows.len(), 2, "shard {i}");
        assert_eq!(rows[1]["training"], rows[0]["id"]);
    }
    // Missing points: named, with their shard.
    let r = sweep(&[
        "merge",
        s(&shard(0)),
        s(&shard(1)),
        "--out",
        s(&tmp.path().join("m1")),
    ]);
    let line = assert_input_error(&r, None);
    assert_contains(&line, "2 of 6 points have no complete report");
    assert_contains(&line, "shard 2");
    // Duplicated points.
    let copy = root.join("copy");
    fs::create_dir_all(copy.join("points")).unwrap();
    fs::copy(shard(1).join("sweep.toml"), copy.join("sweep.toml")).unwrap();
    let row = &records(&shard(1).join("sweep.csv"))[0];
    let src = shard(1).join("points").join(&row["id"]);
    let dst = copy.join("points").join(&row["id"]);
    fs::create_dir_all(&dst).unwrap();
    for e in fs::read_dir(&src).unwrap() {
        let e = e.unwrap();
        fs::copy(e.path(), dst.join(e.file_name())).unwrap();
    }
    let r = sweep(&[
        "merge",
        s(&shard(0)),
        s(&shard(1)),
        s(&shard(2)),
        s(&copy),
        "--out",
        s(&tmp.path().join("m2")),
    ]);
    let line = assert_input_error(&r, None);
    assert_contains(&line, "is in both");
    assert_contains(&line, &row["id"]);
    fs::remove_dir_all(&copy).unwrap();
    // All three: the default output is their common parent; same table as the local run.
    let r = sweep(&["merge", s(&shard(0)), s(&shard(1)), s(&shard(2))]);
    ok(&r);
    assert_contains(&r.stdout, "6 points");
    assert!(!r.stderr.contains("warning"), "one kernel: {}", r.stderr);
    assert_eq!(table_without_wall(&root), table_without_wall(&local));
    // A shard from a node whose CPU picked other kernels: the merge warns in one line.
    let other = root.join("other-node");
    fs::create_dir_all(&other).unwrap();
    let mut from = vec![shard(2)];
    while let Some(d) = from.pop() {
        let to = other.join(d.strip_prefix(shard(2)).unwrap());
        fs::create_dir_all(&to).unwrap();
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                from.push(p);
            } else if p.file_name().unwrap() == "summary.csv" {
                // ...,kernel,train_images_per_s,wall_s
                let text = fs::read_to_string(&p).unwrap();
                let (head, row) = text.trim_end().split_once('\n').unwrap();
                let f: Vec<&str> = row.rsplitn(4, ',').collect();
                let row = format!("{},native-elsewhere,{},{}", f[3], f[1], f[0]);
                fs::write(to.join("summary.csv"), format!("{head}\n{row}\n")).unwrap();
            } else {
                fs::copy(&p, to.join(p.file_name().unwrap())).unwrap();
            }
        }
    }
    let mixed = tmp.path().join("mixed");
    let r = sweep(&[
        "merge",
        s(&shard(0)),
        s(&shard(1)),
        s(&other),
        "--out",
        s(&mixed),
    ]);
    ok(&r);
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{}", r.stderr);
    assert!(lines[0].starts_with("warning: "), "{}", lines[0]);
    assert_contains(lines[0], "native-elsewhere (2 points)");
    assert_contains(lines[0], "(4 points)");
    let kernels: Vec<String> = records(&mixed.join("sweep.csv"))
        .into_iter()
        .map(|r| r["kernel"].clone())
        .collect();
    assert_eq!(
        kernels.iter().filter(|k| *k == "native-elsewhere").count(),
        2
    );
    for row in records(&root.join("sweep.csv")) {
        assert!(
            root.join("points")
                .join(&row["id"])
                .join("summary.csv")
                .is_file()
        );
    }
    // A hand-edited manifest is refused, and so is a default --out for a whole sweep.
    let edited = root.join("edited");
    fs::create_dir_all(&edited).unwrap();
    let m = fs::read_to_string(shard(2).join("sweep.toml")).unwrap();
    let changed = m.replacen("values = [0, 8]", "values = [0, 99]", 1);
    assert_ne!(m, changed, "the manifest lists point 0's values as [0, 8]");
    fs::write(edited.join("sweep.toml"), changed).unwrap();
    let r = sweep(&[
        "merge",
        s(&shard(0)),
        s(&shard(1)),
        s(&edited),
        "--out",
        s(&tmp.path().join("m4")),
    ]);
    assert_contains(&assert_input_error(&r, None), "the file was edited");
    let r = sweep(&["merge", s(&local)]);
    assert_contains(&assert_input_error(&r, None), "not a shard; give --out");
    let r = sweep(&["merge", s(&tmp.path().join("nope"))]);
    assert_contains(&assert_input_error(&r, None), "no such folder");
    // A shard of another sweep is refused.
    let other = sweep_file(
        &tmp,
        "other",
        &format!(
            "{}[[axis]]\nkey = \"training.seed\"\nvalues = [7]\n",
            small(128)
        ),
    );
    let o = tmp.path().join("o");
    ok(&sweep(&["run", s(&other), "--out", s(&o), "--quiet"]));
    let r = sweep(&[
        "merge",
        s(&shard(0)),
        s(&o),
        "--out",
        s(&tmp.path().join("m3")),
    ]);
    assert_contains(
        &assert_input_error(&r, None),
        "merge the shards of one sweep only",
    );
}

#[test]
fn bad_sweep_files_fail_before_running_and_name_the_axis() {
    let tmp = TempDir::new().unwrap();
    let cases: [(&str, &str, &[&str]); 8] = [
        (
            "unknown key",
            "[[axis]]\nkey = \"chip.tilez\"\nvalues = [4]\n",
            &["bad.toml:", "axis chip.tilez = 4", "tilez"],
        ),
        (
            "unknown section",
            "[[axis]]\nkey = \"chipz.tiles\"\nvalues = [4]\n",
            &["axis chipz.tiles = 4", "unknown key `chipz`"],
        ),
        (
            "empty axis",
            "[[axis]]\nkey = \"chip.tiles\"\nvalues = []\n",
            &["bad.toml:7:", "axis chip.tiles", "empty"],
        ),
        (
            "wrong type",
            "[[axis]]\nkey = \"chip.tiles\"\nvalues = [8, \"many\"]\n",
            &["bad.toml:5:", "axis chip.tiles = \"many\"", "chip.tiles"],
        ),
        (
            "rejected value",
            "[[axis]]\nkey = \"chip.tiles\"\nvalues = [8, 0]\n",
            &["axis chip.tiles = 0", "at least 1"],
        ),
        (
            "rejected range",
            "[[axis]]\nkey = \"update.program_pulse_ns\"\nrange = { start = -1.0, stop = 1.0, step = 1.0 }\n",
            &["axis update.program_pulse_ns = -1.0"],
        ),
        (
            "bad range",
            "[[axis]]\nkey = \"chip.tiles\"\nrange = { start = 4, stop = 2, step = 1 }\n",
            &["bad.toml:7:", "axis chip.tiles", "below start"],
        ),
        ("no axis", "", &["at least one [[axis]]"]),
    ];
    for (what, body, needles) in cases {
        let file = sweep_file(&tmp, "bad", body);
        let out = tmp.path().join("out");
        for cmd in ["plan", "run", "emit-slurm"] {
            let mut args = vec![cmd, s(&file)];
            if cmd != "plan" {
                args.extend(["--out", s(&out)]);
            }
            if cmd == "emit-slurm" {
                args.extend(["--shards", "2"]);
            }
            let line = assert_input_error(&sweep(&args), Some(&out));
            for n in needles {
                assert!(
                    line.contains(n),
                    "{what} ({cmd}): expected {n:?} in {line:?}"
                );
            }
        }
    }
    // A --set on an axis key, and shard flags out of range.
    let file = sweep_file(&tmp, "ok", &format!("{}{TILES_PULSE}", small(64)));
    let out = tmp.path().join("out");
    let line = assert_input_error(
        &sweep(&["run", s(&file), "--out", s(&out), "--set", "chip.tiles=4"]),
        Some(&out),
    );
    assert_contains(&line, "is an axis");
    let line = assert_input_error(
        &sweep(&[
            "run",
            s(&file),
            "--out",
            s(&out),
            "--shard-index",
            "3",
            "--shard-count",
            "3",
        ]),
        Some(&out),
    );
    assert_contains(&line, "out of range");
}

#[test]
fn plan_lists_points_with_stable_ids() {
    let tmp = TempDir::new().unwrap();
    let file = sweep_file(&tmp, "pl", &format!("{}{TILES_PULSE}", small(64)));
    let plan = |extra: &[&str]| {
        let mut a = vec!["plan", s(&file), "--csv"];
        a.extend_from_slice(extra);
        let r = sweep(&a);
        ok(&r);
        parse_csv_text(
            &r.stdout,
            "point,id,chip.tiles,update.program_pulse_ns,training,replayed,shard",
        )
    };
    let a = plan(&["--shard-count", "2"]);
    assert_eq!(a.len(), 4);
    assert_eq!(plan(&["--shard-count", "2"]), a, "ids are stable");
    // A training and its replays share a shard; the two trainings go to different shards.
    assert_eq!(a[0]["shard"], a[2]["shard"]);
    assert_eq!(a[1]["shard"], a[3]["shard"]);
    assert_ne!(a[0]["shard"], a[1]["shard"]);
    let ids: Vec<&String> = a.iter().map(|r| &r["id"]).collect();
    assert!(
        ids.iter()
            .all(|id| id.len() == 12 && id.chars().all(|c| c.is_ascii_hexdigit()))
    );
    // A changed config value changes every id; a run's id matches its point folder.
    let b = plan(&["--shard-count", "2", "--set", "training.learning_rate=0.02"]);
    for (x, y) in a.iter().zip(&b) {
        assert_ne!(x["id"], y["id"]);
    }
    let r = sweep(&["plan", s(&file)]);
    ok(&r);
    assert_contains(&r.stdout, "4 points, 2 trainings");
}

#[test]
fn emit_slurm_writes_an_array_and_a_dependent_merge() {
    let tmp = TempDir::new().unwrap();
    let file = sweep_file(&tmp, "sl", &format!("{}{TILES_PULSE}", small(64)));
    let out = tmp.path().join("cl");
    let r = sweep(&[
        "emit-slurm",
        s(&file),
        "--shards",
        "3",
        "--max-running",
        "2",
        "--out",
        s(&out),
        "--set",
        "training.learning_rate=0.02",
        "--sbatch=--time=10",
    ]);
    ok(&r);
    let read = |n: &str| fs::read_to_string(out.join("slurm").join(n)).unwrap();
    let shards = read("shards.sbatch");
    for needle in [
        "#SBATCH --array=0-2%2",
        "#SBATCH --time=10",
        "sweep run",
        "--set training.learning_rate=0.02",
        "/shard-\"$SLURM_ARRAY_TASK_ID\"",
    ] {
        assert_contains(&shards, needle);
    }
    let merge = read("merge.sbatch");
    assert_contains(&merge, "--kill-on-invalid-dep=yes");
    assert_contains(&merge, "sweep merge");
    for i in 0..3 {
        assert_contains(&merge, &format!("shard-{i}"));
    }
    assert_contains(&read("submit.sh"), "--dependency=afterok:");
    for n in ["shards.sbatch", "merge.sbatch", "submit.sh"] {
        let st = Command::new("bash")
            .args(["-n", s(&out.join("slurm").join(n))])
            .status()
            .unwrap();
        assert!(st.success(), "{n} is not valid bash");
    }
    // The points per shard are announced; nothing ran.
    assert_contains(&r.stdout, "points per shard: 2, 2, 0");
    assert!(!out.join("sweep.csv").exists());
}
