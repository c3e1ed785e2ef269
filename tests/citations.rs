//! Sources a user can look up. The text a user reads (arch files, docs, workloads, the
//! README, scripts, the sources) cites papers, datasheets or says "assumed"; it never points
//! at notes or files outside the repository. And every default of the arch files has a
//! comment that gives its source or says it is assumed.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::manifest;

/// Phrases that point at material a user who clones the repository does not have. Built
/// from pieces so that this file does not match itself.
fn unreadable() -> Vec<String> {
    vec![
        ["design", " notes"].concat(),
        ["design", " note"].concat(),
        ["DESIGN", ".md"].concat(),
        ["..", "/shared"].concat(),
    ]
}

/// Every text file under `dir` (recursively): valid UTF-8 without NUL bytes. Data files
/// (gzipped MNIST, say) are skipped that way.
fn text_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            text_files(&p, out);
        } else if fs::read_to_string(&p).is_ok_and(|text| !text.contains('\0')) {
            out.push(p);
        }
    }
}

/// `file:line: text` for every line of the scanned files that contains one of `needles`
/// (case-insensitive).
fn find(needles: &[String]) -> Vec<String> {
    let root = manifest();
    let mut files = Vec::new();
    for dir in ["arch", "docs", "workloads", "scripts", "src", "tests"] {
        text_files(&root.join(dir), &mut files);
    }
    files.push(root.join("README.md"));
    let needles: Vec<String> = needles.iter().map(|n| n.to_lowercase()).collect();
    let mut hits = Vec::new();
    for f in files {
        let text = fs::read_to_string(&f).unwrap();
        for (i, line) in text.lines().enumerate() {
            let lower = line.to_lowercase();
            if needles.iter().any(|n| lower.contains(n.as_str())) {
                let rel = f.strip_prefix(root).unwrap_or(&f).display().to_string();
                hits.push(format!("{rel}:{}: {}", i + 1, line.trim()));
            }
        }
    }
    hits
}

#[test]
fn no_citation_points_outside_the_repository() {
    let hits = find(&unreadable());
    assert!(
        hits.is_empty(),
        "cite the paper or datasheet, or say \"assumed\", instead of:\n{}",
        hits.join("\n")
    );
}

#[test]
fn the_scan_finds_what_it_looks_for() {
    // The scan itself works: it finds a phrase known to be there (the seed study's DOI,
    // cited in docs/reproduction.md and the arch files).
    let hits = find(&["10.1145/3565478.3572537".to_string()]);
    assert!(
        hits.iter().any(|h| h.starts_with("docs/reproduction.md:")),
        "{hits:?}"
    );
    assert!(hits.iter().any(|h| h.starts_with("arch/")), "{hits:?}");
}

/// Whether a comment gives a source: it says "assumed", or names a publication (a year
/// from 1900 to 2099) or a standard.
fn gives_source(comment: &str) -> bool {
    let lower = comment.to_lowercase();
    // A published source, an assumption said as such, or a search this project ships.
    if lower.contains("assumed") || lower.contains("jedec") || lower.contains("arch/tune/") {
        return true;
    }
    let b = comment.as_bytes();
    b.windows(4).enumerate().any(|(i, w)| {
        let year =
            w.iter().all(u8::is_ascii_digit) && (w.starts_with(b"19") || w.starts_with(b"20"));
        let alone = |j: Option<&u8>| j.is_none_or(|c| !c.is_ascii_digit());
        year && alone(i.checked_sub(1).and_then(|j| b.get(j))) && alone(b.get(i + 4))
    })
}

/// For every `key = value` line of a TOML text: (line number, key, the comment block that
/// covers it). A block covers the keys that follow it up to the next comment line, blank
/// line or section header, so one comment may explain a group of keys.
fn keys_and_comments(text: &str) -> Vec<(usize, String, String)> {
    let mut out = Vec::new();
    let mut block = String::new();
    let mut after_comment = false;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if let Some(c) = line.strip_prefix('#') {
            if !after_comment {
                block.clear();
            }
            block.push_str(c);
            block.push('\n');
            after_comment = true;
            continue;
        }
        if line.is_empty() || line.starts_with('[') {
            block.clear();
            after_comment = false;
            continue;
        }
        if let Some((key, _)) = line.split_once('=') {
            out.push((i + 1, key.trim().to_string(), block.clone()));
        }
        after_comment = false;
    }
    out
}

#[test]
fn every_default_of_the_arch_files_has_a_source() {
    let mut files: Vec<_> = fs::read_dir(manifest().join("arch"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 2, "{files:?}");
    for path in files {
        let text = fs::read_to_string(&path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let keys = keys_and_comments(&text);
        // Every shipped arch spells its defaults out (sram.toml, without MTJs, has fewest).
        assert!(keys.len() > 40, "{name}'s keys: {}", keys.len());
        let missing: Vec<String> = keys
            .iter()
            // The file's format version and name are no design values.
            .filter(|(_, key, _)| key != "schema_version" && key != "name")
            .filter(|(_, _, comment)| !gives_source(comment))
            .map(|(line, key, comment)| {
                format!("arch/{name}:{line}: {key} (comment: {:?})", comment.trim())
            })
            .collect();
        assert!(
            missing.is_empty(),
            "each default needs a comment that cites a paper or datasheet, the search that found it, or says \"assumed\":\n{}",
            missing.join("\n")
        );
    }
}

#[test]
fn source_rules() {
    assert!(gives_source("0.3 T. Assumed."));
    assert!(gives_source("Wang et al., IEEE EDL 2018"));
    assert!(gives_source("One DDR4-3200 channel (JEDEC JESD79-4)"));
    assert!(!gives_source("4 x I_c0, 120 uA"));
    assert!(!gives_source("12000 ohm"), "a number is no year");
    let keys = keys_and_comments(
        "# Top.\nschema_version = 1\n\n[a]\n# Group. Assumed.\nx = 1\ny = 2\n# Other.\nz = 3\n\nw = 4\n",
    );
    let got: Vec<(&str, bool)> = keys
        .iter()
        .map(|(_, k, c)| (k.as_str(), gives_source(c)))
        .collect();
    assert_eq!(
        got,
        [
            ("schema_version", false),
            ("x", true),
            ("y", true),
            ("z", false),
            ("w", false)
        ]
    );
}
