//! docs/reports.md against the reports the binary writes: every column of every CSV of a
//! run (and of `nandspin device` and `nandspin map --csv`) has a row in a table of
//! docs/reports.md, and the column counts the prose gives ("fifteen columns", "27 columns")
//! are the counts of the code.

mod common;

use std::collections::BTreeSet;
use std::fs;

use common::*;
use tempfile::TempDir;

fn reports_md() -> String {
    fs::read_to_string(manifest().join("docs/reports.md")).expect("docs/reports.md")
}

/// The names in backticks in the first cell of every table row of `text` (header rows and
/// separators have none).
fn documented(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix('|') else {
            continue;
        };
        let cell = rest.split('|').next().unwrap_or("");
        names.extend(
            cell.split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_string)
                .filter(|n| !n.is_empty() && n != "..."),
        );
    }
    names
}

/// The part of `md` from the heading line starting with `heading` to the next `## ` heading.
fn section<'a>(md: &'a str, heading: &str) -> &'a str {
    let start = md
        .find(&format!("\n{heading}"))
        .unwrap_or_else(|| panic!("no section {heading:?} in docs/reports.md"))
        + 1;
    let body = &md[start + heading.len()..];
    let end = body
        .find("\n## ")
        .map_or(md.len(), |e| start + heading.len() + e);
    &md[start..end]
}

/// The first count the prose of `text` gives, as a word (`fifteen`) or digits (`27`),
/// right before the word `columns`.
fn stated_count(text: &str) -> usize {
    const WORDS: [&str; 31] = [
        "zero",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
        "twenty",
        "twenty-one",
        "twenty-two",
        "twenty-three",
        "twenty-four",
        "twenty-five",
        "twenty-six",
        "twenty-seven",
        "twenty-eight",
        "twenty-nine",
        "thirty",
    ];
    let words: Vec<&str> = text.split_whitespace().collect();
    for w in words.windows(2) {
        if w[1].trim_end_matches([',', '.', ':']) == "columns" {
            let n = w[0].to_lowercase();
            if let Ok(k) = n.parse() {
                return k;
            }
            if let Some(k) = WORDS.iter().position(|x| *x == n) {
                return k;
            }
        }
    }
    panic!("no `<count> columns` in:\n{text}");
}

/// The header of a CSV text.
fn header(text: &str) -> Vec<String> {
    text.lines()
        .next()
        .unwrap_or("")
        .split(',')
        .map(str::to_string)
        .collect()
}

#[test]
fn every_column_written_is_documented_and_counts_match() {
    let md = reports_md();
    let tmp = TempDir::new().unwrap();
    let out = tmp.path().join("out");
    tiny_run(&out, &[]);

    // Every CSV of the run folder.
    let mut csvs: Vec<(String, Vec<String>)> = fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, header(&fs::read_to_string(&p).unwrap()))
        })
        .collect();
    csvs.sort();
    let names: Vec<&str> = csvs.iter().map(|c| c.0.as_str()).collect();
    for f in ["epochs.csv", "summary.csv", "layers.csv", "components.csv"] {
        assert!(names.contains(&f), "{f} not written: {names:?}");
    }
    let device = nandspin(&["device", "--pulse-ns", "1"]);
    assert_eq!(device.code, Some(0), "{}", device.stderr);
    csvs.push(("nandspin device".into(), header(&device.stdout)));
    let map = nandspin(&["map", "--csv"]);
    assert_eq!(map.code, Some(0), "{}", map.stderr);
    csvs.push(("nandspin map --csv".into(), header(&map.stdout)));

    // Each file's columns are in the tables of its own section (or, for the columns that
    // epochs.csv and summary.csv share, of the device and chip sections).
    let shared: BTreeSet<String> = documented(section(&md, "## Device columns"))
        .into_iter()
        .chain(documented(section(&md, "## Chip columns of `summary.csv`")))
        .collect();
    let mut missing = Vec::new();
    for (file, cols) in &csvs {
        let heading = format!("## `{}`", file.trim_end_matches(" --csv"));
        let own: BTreeSet<String> = documented(section(&md, &heading)).into_iter().collect();
        for c in cols {
            if !own.contains(c) && !shared.contains(c) {
                missing.push(format!("{file}: {c}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "columns written but not documented in docs/reports.md:\n{}",
        missing.join("\n")
    );

    // The device and chip columns: the counts stated, the tables and summary.csv agree.
    let summary = &csvs.iter().find(|c| c.0 == "summary.csv").unwrap().1;
    let pos = |name: &str| {
        summary
            .iter()
            .position(|c| c == name)
            .unwrap_or_else(|| panic!("summary.csv has no {name}: {summary:?}"))
    };
    let device_cols = &summary[pos("best_test_accuracy") + 1..pos("tiles")];
    let chip_cols = &summary[pos("tiles")..=pos("engine_events")];
    for (heading, cols) in [
        ("## Device columns", device_cols),
        ("## Chip columns of `summary.csv`", chip_cols),
    ] {
        let text = section(&md, heading);
        let table = documented(text);
        assert_eq!(
            table, cols,
            "{heading}: the table's columns, in order, are summary.csv's"
        );
        assert_eq!(
            stated_count(text),
            cols.len(),
            "{heading}: the count in the text is the number of columns"
        );
    }
}

#[test]
fn helpers_read_tables_and_counts() {
    let md = "intro\n## A\nthe fifteen columns:\n\n| column | unit |\n|---|---|\n| `a`, `b` | x |\n| `c` | y (`not`) |\n## B\n27 columns\n";
    assert_eq!(documented(section(md, "## A")), ["a", "b", "c"]);
    assert_eq!(stated_count(section(md, "## A")), 15);
    assert_eq!(stated_count(section(md, "## B")), 27);
}
