//! The repository stands on its own: no source, doc, setting or script names a path outside it,
//! and every citation of a section of the design (`docs/DESIGN.md` then a comma and the section)
//! names a heading it has, so someone who clones the repository can follow every reference. Reads
//! files only; no simulation.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The sibling directory the design documents once lived in, written in two parts so that this
/// file does not name it.
const SHARED: &str = concat!("..", "/shared");
/// The design's file name, written in two parts so that this file does not cite it bare.
const FILE_NAME: &str = concat!("DESIGN", ".md");
const DESIGN: &str = concat!("docs/", "DESIGN", ".md");
/// Top-level directories of a machine that hold installed software, not documents: a path into
/// one of them (a library search path, a browser) names a dependency, not a reference to follow.
const SYSTEM_ROOTS: [&str; 12] =
    ["usr", "lib", "lib64", "bin", "sbin", "etc", "dev", "proc", "sys", "tmp", "opt", "var"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("sim/ is inside the workspace").to_path_buf()
}

/// The files checked, relative to the root: tracked or new (not ignored) `.rs`, `.md`, `.toml` and
/// `.sh` files and everything in `.ci/`.
fn checked_files(root: &Path) -> Vec<String> {
    let out = Command::new("git")
        .args(["ls-files", "--cached", "--others", "--exclude-standard"])
        .current_dir(root)
        .output()
        .expect("git runs: this test reads the repository's file list");
    assert!(out.status.success(), "git ls-files failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout)
        .expect("file names are UTF-8")
        .lines()
        .filter(|p| p.starts_with(".ci/") || [".rs", ".md", ".toml", ".sh"].iter().any(|ext| p.ends_with(ext)))
        .filter(|p| root.join(p).is_file())
        .map(String::from)
        .collect()
}

/// Whether `c` can be part of a path component.
fn path_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

/// The paths in `text`, the content of the file at `path` (relative to the root), that lead
/// outside the repository, as `path:line: problem`: the old design directory, a relative path with
/// more `../` than the file is deep, or an absolute path outside the system's software directories.
fn outside_paths(path: &str, text: &str) -> Vec<String> {
    let depth = path.matches('/').count();
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let mut flag = |what: String| found.push(format!("{path}:{}: {what}", n + 1));
        if line.contains(SHARED) {
            flag(format!("names {SHARED}, which is not in the repository"));
        }
        let chars: Vec<char> = line.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let ups = chars[i..].chunks(3).take_while(|c| *c == ['.', '.', '/']).count();
            if ups > 0 && (i == 0 || chars[i - 1] != '.') {
                if ups > depth {
                    flag(format!("a relative path climbs {ups} levels from a file {depth} deep: {}", line.trim()));
                }
                i += 3 * ups;
                continue;
            }
            let starts_path = i == 0 || matches!(chars[i - 1], ' ' | '`' | '"' | '\'' | '(' | '=' | '[' | '<' | ',');
            if chars[i] == '/' && starts_path {
                let component: String = chars[i + 1..].iter().take_while(|c| path_char(**c)).collect();
                let rooted = chars.get(i + 1 + component.chars().count()) == Some(&'/');
                let relative = component.is_empty() || component == "." || component == "..";
                if rooted && !relative && !SYSTEM_ROOTS.contains(&component.as_str()) {
                    flag(format!("an absolute path outside the repository: {}", line.trim()));
                }
            }
            i += 1;
        }
    }
    found
}

/// The headings of the design, without their `#`s.
fn headings(design: &str) -> Vec<String> {
    design.lines().filter(|l| l.starts_with('#')).map(|l| l.trim_start_matches('#').trim().to_string()).collect()
}

/// The names a citation may give a heading: the heading, or its part before `: ` (`System A` for
/// `System A: the edge platform`).
fn names(heading: &str) -> Vec<&str> {
    let mut out = vec![heading];
    out.extend(heading.split_once(": ").map(|(short, _)| short));
    out
}

/// `text` with line breaks, indentation and comment markers (`//!`, `///`, `//`, `#`) at the start of
/// each following line turned into one space, so that a citation wrapped over two comment lines
/// reads as one.
fn unwrapped(text: &str) -> String {
    let mut lines = text.lines();
    let mut out = lines.next().unwrap_or_default().to_string();
    for line in lines {
        let line = line.trim_start();
        let line = ["//!", "///", "//", "#"].iter().find_map(|m| line.strip_prefix(m)).unwrap_or(line);
        out.push(' ');
        out.push_str(line.trim_start());
    }
    out
}

/// The design citations in `text` that do not resolve, as `path:line: problem`: the design's file
/// named without its directory, or its path then a comma and a text that starts with no heading's
/// name. Returns the problems and how many citations with a section were found.
fn broken_citations(path: &str, text: &str, headings: &[String]) -> (Vec<String>, usize) {
    let (mut broken, mut cited) = (Vec::new(), 0);
    for (at, _) in text.match_indices(FILE_NAME) {
        let line = text[..at].matches('\n').count() + 1;
        if !text[..at].ends_with("docs/") {
            broken.push(format!("{path}:{line}: names {FILE_NAME} without its path; cite {DESIGN}, SECTION"));
            continue;
        }
        let after = &text[at + FILE_NAME.len()..];
        let after = after.strip_prefix('`').unwrap_or(after);
        let Some(rest) = after.strip_prefix(',') else { continue };
        cited += 1;
        let rest: String = unwrapped(&rest.chars().take(200).collect::<String>());
        let rest = rest.trim_start();
        let section = headings
            .iter()
            .flat_map(|h| names(h))
            .find(|name| rest.starts_with(name) && !rest[name.len()..].starts_with(|c: char| c.is_alphanumeric()));
        if section.is_none() {
            let shown: String = rest.chars().take(40).collect();
            broken.push(format!("{path}:{line}: \"{DESIGN}, {shown}...\" names no heading of {DESIGN}"));
        }
    }
    (broken, cited)
}

fn read(root: &Path, path: &str) -> String {
    std::fs::read_to_string(root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn no_file_names_a_path_outside_the_repository() {
    // Goal: a clone can follow every path its files name (issue 10).
    let root = root();
    let files = checked_files(&root);
    for expected in [DESIGN, "sim/tests/repo.rs", ".ci/run", ".cargo/config.toml"] {
        assert!(files.iter().any(|f| f == expected), "{expected} is not among the checked files");
    }
    let found: Vec<String> = files.iter().flat_map(|f| outside_paths(f, &read(&root, f))).collect();
    assert!(found.is_empty(), "paths outside the repository:\n{}", found.join("\n"));
}

#[test]
fn every_design_citation_names_a_section_of_the_design() {
    // Goal: a citation of a section of the design always lands on a heading it has; headings and
    // their short names are unique.
    let root = root();
    let headings = headings(&read(&root, DESIGN));
    let mut all: Vec<&str> = headings.iter().flat_map(|h| names(h)).collect();
    let count = all.len();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), count, "{DESIGN} repeats a heading or a heading's short name: {headings:?}");
    let (mut broken, mut cited) = (Vec::new(), 0);
    for f in checked_files(&root) {
        let (b, c) = broken_citations(&f, &read(&root, &f), &headings);
        broken.extend(b);
        cited += c;
    }
    assert!(broken.is_empty(), "citations that do not resolve:\n{}", broken.join("\n"));
    assert!(cited >= 30, "only {cited} citations of {DESIGN} with a section were found");
}

#[test]
fn the_checks_catch_what_they_are_for() {
    // Goal: each check fires on the mistake it guards against and passes the paths that are fine.
    assert_eq!(outside_paths("docs/A.md", &format!("see `{SHARED}/brief.md`")).len(), 1);
    assert_eq!(outside_paths("README.md", "see ../notes.md").len(), 1);
    for home in ["work", "home", "Users"] {
        assert_eq!(outside_paths("sim/tests/a.rs", &format!("(`/{home}/notes/x.md`)")).len(), 1, "{home}");
    }
    let fine =
        "include_str!(\"../../docs/A.md\"); \"/../scenarios/x.toml\"; \"/usr/bin/chromium\"; 1/2; https://x.org/a/b";
    assert!(outside_paths("sim/src/a.rs", fine).is_empty(), "{:?}", outside_paths("sim/src/a.rs", fine));
    assert!(outside_paths("benches/Cargo.toml", "path = \"../system\"").is_empty());

    let headings = headings("# Design\n## System A: the edge\n### Replication\n### Replication lag\n### Status page\n");
    let check = |text: String| broken_citations("x.rs", &text, &headings);
    assert_eq!(check(format!("({DESIGN}, Replication lag: applied minus committed)")), (vec![], 1));
    assert_eq!(check(format!("({DESIGN}, Replication)")), (vec![], 1));
    assert_eq!(check(format!("({DESIGN}, System A) and ({DESIGN}, System A: the edge)")), (vec![], 2));
    assert_eq!(check(format!("//! figures ({DESIGN}, Status\n//! page) and more")), (vec![], 1));
    assert_eq!(check(format!("see `{DESIGN}` for the design")), (vec![], 0));
    assert_eq!(check(format!("({DESIGN}, Replications)")).0.len(), 1);
    assert_eq!(check(format!("({DESIGN}, System B)")).0.len(), 1);
    assert_eq!(check(format!("({DESIGN},\n//! Replication)")).0.len(), 0);
    assert_eq!(check(format!("({FILE_NAME}, Replication)")).0.len(), 1);
}
