//! Report folders that hold one run's complete set of files or none.
//!
//! A set is written into a fresh hidden sibling (`.NAME.new-PID`), synced, and then moved
//! into place: an existing folder is first renamed aside (`.NAME.old-PID`), the new one
//! renamed to its name, the old one removed. A process killed at any point leaves the
//! folder with the old complete set, with no set, or with the new complete set, never a
//! mix; the hidden siblings it may leave are removed by the next write of that folder.
//! Readers check that every file of the set is there ([`missing`]).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::error::InputError;

/// The files of one run's report, in the order they are written (`summary.csv` last).
pub const REPORT_FILES: [&str; 5] = [
    "run.toml",
    "epochs.csv",
    "layers.csv",
    "components.csv",
    "summary.csv",
];

/// Other entries a report folder may hold: figures drawn by `nandspin plot`.
pub const REPORT_EXTRAS: [&str; 1] = ["plots"];

/// Whether the process `pid` is alive (on systems without `/proc`, assumed dead).
fn alive(pid: u32) -> bool {
    pid == std::process::id() || Path::new("/proc").join(pid.to_string()).exists()
}

/// The pid in a temporary's name `...-PID`, if any.
fn pid_of(name: &str) -> Option<u32> {
    name.rsplit_once('-')?.1.parse().ok()
}

/// Removes what killed writers left: hidden siblings `.NAME.new-PID` / `.NAME.old-PID` of
/// `dir` and `.FILE.tmp-PID` files inside it whose process is gone.
pub fn remove_stale(dir: &Path) {
    let (parent, name) = split(dir);
    if let (Some(name), Ok(entries)) = (name, fs::read_dir(&parent)) {
        for e in entries.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            let ours = [".new-", ".old-"]
                .iter()
                .any(|k| n.starts_with(&format!(".{name}{k}")));
            if ours && pid_of(&n).is_some_and(|p| !alive(p)) {
                let _ = fs::remove_dir_all(e.path());
            }
        }
    }
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.starts_with('.') && n.contains(".tmp-") && pid_of(&n).is_none_or(|p| !alive(p)) {
                let _ = fs::remove_file(e.path());
            }
        }
    }
}

/// The parent folder and the last component of `dir` (`None` for `.`, `..` or `/`).
fn split(dir: &Path) -> (PathBuf, Option<String>) {
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = match dir.components().next_back() {
        Some(std::path::Component::Normal(n)) => Some(n.to_string_lossy().into_owned()),
        _ => None,
    };
    (parent, name)
}

/// Syncs a folder so that renames inside it survive a crash (best effort).
fn sync_dir(dir: &Path) {
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Writes `files` (names and bytes) as the whole content of folder `dir`, replacing what
/// it held: see the module docs.
pub fn write_folder(dir: &Path, files: &[(&str, Vec<u8>)]) -> Result<()> {
    let (parent, Some(name)) = split(dir) else {
        return Err(InputError::new(format!(
            "{}: name a report folder (not `.`, `..` or `/`)",
            dir.display()
        ))
        .into());
    };
    fs::create_dir_all(&parent).with_context(|| format!("creating {}", parent.display()))?;
    remove_stale(dir);
    let pid = std::process::id();
    let new = parent.join(format!(".{name}.new-{pid}"));
    if new.exists() {
        fs::remove_dir_all(&new).with_context(|| format!("removing {}", new.display()))?;
    }
    let staged = (|| -> Result<()> {
        fs::create_dir(&new).with_context(|| format!("creating {}", new.display()))?;
        for (file, bytes) in files {
            let path = new.join(file);
            let mut f =
                fs::File::create(&path).with_context(|| format!("writing {}", path.display()))?;
            f.write_all(bytes)
                .and_then(|()| f.sync_all())
                .with_context(|| format!("writing {}", path.display()))?;
        }
        sync_dir(&new);
        Ok(())
    })();
    if let Err(e) = staged {
        let _ = fs::remove_dir_all(&new);
        return Err(e);
    }
    if fs::symlink_metadata(dir).is_ok() {
        let old = parent.join(format!(".{name}.old-{pid}"));
        if let Err(e) = fs::rename(dir, &old) {
            let _ = fs::remove_dir_all(&new);
            return Err(e).with_context(|| format!("moving {} aside", dir.display()));
        }
        fs::rename(&new, dir).with_context(|| format!("renaming to {}", dir.display()))?;
        let _ = fs::remove_dir_all(&old);
    } else {
        fs::rename(&new, dir).with_context(|| format!("renaming to {}", dir.display()))?;
    }
    sync_dir(&parent);
    Ok(())
}

/// Checks, before any work, that the report folder `dir` can be written: makes the folder
/// that holds it and a hidden probe folder beside it (removed at once).
pub fn check_writable(dir: &Path) -> std::io::Result<()> {
    let (parent, name) = split(dir);
    let name = name.ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "name a report folder (not `.`, `..` or `/`)",
        )
    })?;
    fs::create_dir_all(&parent)?;
    let probe = parent.join(format!(".{name}.new-{}", std::process::id()));
    fs::create_dir(&probe)?;
    fs::remove_dir(&probe)
}

/// The report files missing from `dir` (empty when the set is complete).
pub fn missing(dir: &Path) -> Vec<&'static str> {
    REPORT_FILES
        .iter()
        .copied()
        .filter(|f| !dir.join(f).is_file())
        .collect()
}

/// Refuses a report folder that is not complete, in one line naming what is missing.
pub fn check_complete(dir: &Path) -> Result<(), InputError> {
    let gone = missing(dir);
    if gone.is_empty() {
        return Ok(());
    }
    Err(InputError::new(format!(
        "{}: an incomplete report folder (no {}); a run writing it was interrupted or it was edited by hand: rerun it",
        dir.display(),
        gone.join(", ")
    )))
}

/// The id recorded in `dir/run.toml` (`[run] id`), if there is one.
pub fn recorded_id(dir: &Path) -> Option<String> {
    let text = fs::read_to_string(dir.join("run.toml")).ok()?;
    let table: toml::Table = toml::from_str(&text).ok()?;
    Some(table.get("run")?.get("id")?.as_str()?.to_string())
}

/// Checks that writing the reports of the configuration `id` into `dir` replaces nothing
/// it should not: `dir` is absent, empty or a report folder (only report files, `plots/`
/// and hidden temporaries), and a complete report in it is of the same configuration
/// unless `force`. `what` names the folder's origin in messages (`--out X`, `runs/X`).
pub fn check_replace(dir: &Path, id: &str, force: bool) -> Result<(), InputError> {
    let Ok(meta) = fs::metadata(dir) else {
        return Ok(());
    };
    if !meta.is_dir() {
        return Err(InputError::new(format!(
            "{}: exists and is not a folder; give --out a folder for the reports",
            dir.display()
        )));
    }
    let entries = fs::read_dir(dir)
        .map_err(|e| InputError::new(format!("{}: cannot read the folder: {e}", dir.display())))?;
    let mut others: Vec<String> = entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| {
            !n.starts_with('.')
                && !REPORT_FILES.contains(&n.as_str())
                && !REPORT_EXTRAS.contains(&n.as_str())
        })
        .collect();
    others.sort();
    if let Some(first) = others.first() {
        return Err(InputError::new(format!(
            "{}: holds {} entr{} that no run report has (`{}`{}); reports replace their folder whole, so give --out a new or empty folder",
            dir.display(),
            others.len(),
            if others.len() == 1 { "y" } else { "ies" },
            crate::error::clip(first),
            if others.len() > 1 { ", ..." } else { "" }
        )));
    }
    if force || !missing(dir).is_empty() {
        return Ok(());
    }
    match recorded_id(dir) {
        Some(old) if old == id => Ok(()),
        old => Err(InputError::new(format!(
            "{}: holds the reports of a different configuration (id {}; this run's is {id}); pass --force to replace them, or --out to write elsewhere",
            dir.display(),
            old.as_deref().unwrap_or("not recorded")
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(tag: &str) -> Vec<(&'static str, Vec<u8>)> {
        REPORT_FILES
            .iter()
            .map(|&f| (f, format!("{tag} {f}").into_bytes()))
            .collect()
    }

    #[test]
    fn replaces_a_folder_whole_and_leaves_no_temporaries() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("r");
        write_folder(&dir, &set("a")).unwrap();
        fs::create_dir(dir.join("plots")).unwrap();
        write_folder(&dir, &set("b")).unwrap();
        for f in REPORT_FILES {
            assert_eq!(fs::read_to_string(dir.join(f)).unwrap(), format!("b {f}"));
        }
        assert!(!dir.join("plots").exists(), "stale figures survive");
        let names: Vec<_> = fs::read_dir(tmp.path()).unwrap().flatten().collect();
        assert_eq!(names.len(), 1, "temporaries left beside the folder");
        assert!(missing(&dir).is_empty());
    }

    #[test]
    fn removes_what_a_killed_writer_left() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("r");
        // A pid that cannot be alive (above the kernel's pid_max).
        let dead = 4_194_305 + 7;
        fs::create_dir_all(tmp.path().join(format!(".r.new-{dead}"))).unwrap();
        fs::create_dir_all(tmp.path().join(format!(".r.old-{dead}"))).unwrap();
        fs::create_dir_all(tmp.path().join(format!(".other.new-{dead}"))).unwrap();
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(format!(".epochs.csv.tmp-{dead}")), "x").unwrap();
        remove_stale(&dir);
        let mut left: Vec<String> = fs::read_dir(tmp.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, [format!(".other.new-{dead}"), "r".to_string()]);
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 0);
    }

    #[test]
    fn refuses_other_configurations_and_foreign_folders() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("r");
        assert!(check_replace(&dir, "abc", false).is_ok(), "absent folder");
        let mut files = set("a");
        files[0].1 = b"[run]\nid = \"abc\"\n".to_vec();
        write_folder(&dir, &files).unwrap();
        assert!(
            check_replace(&dir, "abc", false).is_ok(),
            "same configuration"
        );
        let e = check_replace(&dir, "def", false).unwrap_err().message;
        assert!(e.contains("id abc") && e.contains("--force"), "{e}");
        assert!(check_replace(&dir, "def", true).is_ok());
        fs::remove_file(dir.join("summary.csv")).unwrap();
        assert!(check_replace(&dir, "def", false).is_ok(), "incomplete set");
        fs::write(dir.join("notes.txt"), "mine").unwrap();
        let e = check_replace(&dir, "abc", true).unwrap_err().message;
        assert!(e.contains("notes.txt"), "{e}");
        assert!(check_replace(&dir.join("run.toml"), "abc", true).is_err());
        assert!(
            check_complete(&dir)
                .unwrap_err()
                .message
                .contains("summary.csv")
        );
    }
}
