//! The crates' layout holds: no import circle between the files of `system/src` or `sim/src` (a
//! file's `use crate::…`, `use super::…` and `crate::…` paths are its arrows to the files that
//! define those modules), no file of `system/` names the simulator, which only the harness may
//! know, no two types of the two crates share a name, and no function runs past a screenful and
//! a half. Reads source files only; no simulation.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A crate's source files by module path (`status::check` for `src/status/check.rs`, `` for
/// `lib.rs`), each with its text.
fn modules(src: &Path) -> BTreeMap<String, String> {
    fn walk(dir: &Path, src: &Path, out: &mut BTreeMap<String, String>) {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, src, out);
            } else if path.extension().is_some_and(|x| x == "rs") {
                let rel = path.strip_prefix(src).unwrap().with_extension("");
                let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
                if matches!(parts.last().map(String::as_str), Some("mod" | "lib" | "main")) {
                    parts.pop();
                }
                // A file's tests may import anything; its arrows are the code above them.
                let text = std::fs::read_to_string(&path).unwrap();
                let code = text.split("#[cfg(test)]").next().unwrap_or_default().to_string();
                out.insert(parts.join("::"), code);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(src, src, &mut out);
    out.remove("main").map(|main| out.insert("main".into(), main));
    out
}

/// The module paths a file's text reaches, before resolution: every `use` tree expanded, and every
/// `crate::`/`super::` path in code. Paths are relative to the crate root (`crate::`) or to the
/// file's parent module (`super::`), written as `crate::a::b` or `super::a`.
fn paths(text: &str) -> Vec<String> {
    fn expand(prefix: &str, tree: &str, out: &mut Vec<String>) {
        let tree = tree.trim();
        if let Some(open) = tree.find('{') {
            let head = tree[..open].trim().trim_end_matches("::");
            let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
            let mut depth = 0;
            let mut start = 0;
            for (i, c) in inner.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        expand(&join(prefix, head), &inner[start..i], out);
                        start = i + 1;
                    }
                    _ => {}
                }
            }
            expand(&join(prefix, head), &inner[start..], out);
        } else if !tree.is_empty() {
            out.push(join(prefix, tree.split(" as ").next().unwrap().trim()));
        }
    }
    fn join(prefix: &str, rest: &str) -> String {
        match (prefix.is_empty(), rest.is_empty()) {
            (true, _) => rest.into(),
            (_, true) => prefix.into(),
            _ => format!("{prefix}::{rest}"),
        }
    }
    let code: String = text.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n");
    let mut out = Vec::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("use ") {
        let before = rest[..at].chars().last();
        let tail = &rest[at + 4..];
        let end = tail.find(';').unwrap_or(tail.len());
        if before.is_none_or(|c| !c.is_alphanumeric() && c != '_') {
            let tree = tail[..end].trim();
            if tree.starts_with("crate::") || tree.starts_with("super::") || tree.starts_with("self::") {
                expand("", tree, &mut out);
            }
        }
        rest = &tail[end.min(tail.len())..];
    }
    for anchor in ["crate::", "super::"] {
        let mut rest = code.as_str();
        while let Some(at) = rest.find(anchor) {
            let tail = &rest[at..];
            let len = tail.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')).unwrap_or(tail.len());
            out.push(tail[..len].trim_end_matches(':').to_string());
            rest = &tail[anchor.len()..];
        }
    }
    out
}

/// The files a module's text imports, as module paths of the crate (without itself).
fn arrows(module: &str, text: &str, all: &BTreeMap<String, String>) -> BTreeSet<String> {
    let parent: Vec<&str> = module.split("::").filter(|p| !p.is_empty()).collect();
    let mut out = BTreeSet::new();
    for path in paths(text) {
        let mut parts: Vec<&str> = path.split("::").collect();
        let mut base: Vec<&str> = match parts.first().copied() {
            Some("crate") => Vec::new(),
            Some("super") => parent[..parent.len().saturating_sub(1)].to_vec(),
            Some("self") => parent.clone(),
            _ => continue,
        };
        parts.remove(0);
        while parts.first() == Some(&"super") {
            base.pop();
            parts.remove(0);
        }
        base.extend(parts);
        // The longest prefix that is a file of the crate defines what the path names.
        let target = (0..=base.len()).rev().map(|n| base[..n].join("::")).find(|m| all.contains_key(m));
        if let Some(target) = target.filter(|t| t != module && !t.is_empty()) {
            out.insert(target);
        }
    }
    out
}

/// The import circles of a crate: each a list of files that reach one another.
fn circles(src: &Path) -> Vec<Vec<String>> {
    let all = modules(src);
    let graph: BTreeMap<&str, BTreeSet<String>> =
        all.iter().map(|(m, text)| (m.as_str(), arrows(m, text, &all))).collect();
    let reaches = |from: &str| {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.to_string()];
        while let Some(m) = todo.pop() {
            for next in graph.get(m.as_str()).into_iter().flatten() {
                if seen.insert(next.clone()) {
                    todo.push(next.clone());
                }
            }
        }
        seen
    };
    let reach: BTreeMap<&str, BTreeSet<String>> = graph.keys().map(|m| (*m, reaches(m))).collect();
    let mut done = BTreeSet::new();
    let mut out = Vec::new();
    for m in graph.keys() {
        if done.contains(*m) || !reach[m].contains(*m) {
            continue;
        }
        let circle: Vec<String> = reach[m].iter().filter(|other| reach[other.as_str()].contains(*m)).cloned().collect();
        done.extend(circle.iter().cloned());
        out.push(circle);
    }
    out
}

fn crate_src(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().join(name).join("src")
}

fn report(circles: &[Vec<String>]) -> String {
    circles.iter().map(|c| format!("\n  circle: {}", c.join(" -> "))).collect()
}

#[test]
fn the_systems_have_no_import_circle() {
    let found = circles(&crate_src("system"));
    assert!(found.is_empty(), "import circles in system/src:{}", report(&found));
}

#[test]
fn the_harness_has_no_import_circle() {
    // Input never imports output, and of two modules sharing a record, only the upper one imports
    // the lower: the records (`events`, `check::request`) sit below the folds and the log.
    let found = circles(&crate_src("sim"));
    assert!(found.is_empty(), "import circles in sim/src:{}", report(&found));
}

#[test]
fn the_systems_never_name_the_simulator() {
    let named: Vec<String> = modules(&crate_src("system"))
        .iter()
        .filter(|(_, text)| text.to_lowercase().contains("turmoil"))
        .map(|(m, _)| format!("system::{m}"))
        .collect();
    assert!(named.is_empty(), "system/ files naming turmoil: {named:?}");
    let manifest = std::fs::read_to_string(crate_src("system").parent().unwrap().join("Cargo.toml")).unwrap();
    assert!(!manifest.contains("turmoil"), "system/Cargo.toml depends on turmoil");
}

#[test]
fn the_circle_finder_finds_a_planted_circle() {
    // A negative control: two files that import each other, and a third that only imports one.
    let dir = std::env::temp_dir().join(format!("edgesim-layout-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("edge")).unwrap();
    std::fs::write(dir.join("lib.rs"), "pub mod edge;\npub mod report;\npub mod html;\n").unwrap();
    std::fs::write(dir.join("edge/mod.rs"), "pub mod world;\n").unwrap();
    std::fs::write(dir.join("edge/world.rs"), "use crate::{report::{Report, self}, edge};\n").unwrap();
    std::fs::write(dir.join("report.rs"), "fn f() { let _ = crate::edge::world::run(); }\n").unwrap();
    std::fs::write(dir.join("html.rs"), "use crate::edge::report::Report as R;\n").unwrap();
    let found = circles(&dir);
    assert_eq!(found, vec![vec!["edge::world".to_string(), "report".to_string()]], "{}", report(&found));
    std::fs::write(dir.join("report.rs"), "use super::edge;\n").unwrap();
    assert!(circles(&dir).is_empty(), "{}", report(&circles(&dir)));
}

/// The tree `docs/ARCHITECTURE.md` draws of `sim/src/`: each entry at its top level (a file, or a
/// folder ending in `/`) with the text that describes it.
fn drawn_tree(architecture: &str) -> BTreeMap<String, String> {
    let block = architecture.split("```text\nsim/src/\n").nth(1).expect("ARCHITECTURE draws sim/src/");
    let block = block.split("```").next().unwrap();
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    let mut current = String::new();
    for line in block.lines() {
        if let Some(entry) = line.strip_prefix("  ").filter(|l| !l.starts_with(' ')) {
            let (name, text) = entry.split_once(' ').unwrap_or((entry, ""));
            current = name.to_string();
            out.insert(current.clone(), text.to_string());
        } else if let Some(text) = out.get_mut(&current) {
            text.push(' ');
            text.push_str(line.trim());
        }
    }
    out
}

/// What `drawn_tree` should find: every file and folder directly in `src`, and for a folder, the
/// names of its files (without `mod.rs`).
fn actual_tree(src: &Path) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(src).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            let mut files: Vec<String> = std::fs::read_dir(&path)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|f| f != "mod.rs")
                .collect();
            files.sort();
            out.insert(format!("{name}/"), files);
        } else {
            out.insert(name, Vec::new());
        }
    }
    out
}

#[test]
fn the_architecture_draws_the_harness_as_it_is() {
    // Issue 10: docs/ARCHITECTURE.md draws sim/src/ (folders, what each holds); a file added,
    // moved or removed without redrawing it fails here, by name.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let drawn = drawn_tree(&std::fs::read_to_string(root.join("docs/ARCHITECTURE.md")).unwrap());
    let actual = actual_tree(&crate_src("sim"));
    let drawn_names: BTreeSet<&String> = drawn.keys().collect();
    let actual_names: BTreeSet<&String> = actual.keys().collect();
    assert_eq!(drawn_names, actual_names, "the tree in docs/ARCHITECTURE.md against sim/src/");
    for (folder, files) in &actual {
        for file in files {
            let named = file.trim_end_matches(".rs");
            assert!(drawn[folder].contains(named), "docs/ARCHITECTURE.md does not name {folder}{file}");
        }
    }
}

#[test]
fn the_tree_check_sees_a_file_the_drawing_leaves_out() {
    // The check above can fail: a drawing without `seed.rs` differs from a tree that has it.
    let drawing = "```text\nsim/src/\n  lib.rs  the map\n  edge/  world.rs\n```\n";
    let drawn = drawn_tree(drawing);
    assert_eq!(drawn.keys().collect::<Vec<_>>(), vec!["edge/", "lib.rs"]);
    assert!(drawn["edge/"].contains("world"));
    let dir = std::env::temp_dir().join(format!("edgesim-tree-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("edge")).unwrap();
    std::fs::write(dir.join("lib.rs"), "").unwrap();
    std::fs::write(dir.join("seed.rs"), "").unwrap();
    std::fs::write(dir.join("edge/world.rs"), "").unwrap();
    let actual = actual_tree(&dir);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_ne!(drawn.keys().collect::<BTreeSet<_>>(), actual.keys().collect::<BTreeSet<_>>());
}

/// Every `.rs` file below `src`, as (its path from the repository, the code above its tests).
fn files(src: &Path) -> Vec<(String, String)> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<(String, String)>) {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, root, out);
            } else if path.extension().is_some_and(|x| x == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                let code = text.split("#[cfg(test)]").next().unwrap_or_default().to_string();
                out.push((path.strip_prefix(root).unwrap().display().to_string(), code));
            }
        }
    }
    let mut out = Vec::new();
    walk(src, src.parent().unwrap().parent().unwrap(), &mut out);
    out
}

/// A line's item with its visibility taken off: `pub(crate) struct X` reads `struct X`.
fn item(line: &str) -> &str {
    let line = line.trim_start();
    ["pub(crate) ", "pub(super) ", "pub "].iter().find_map(|p| line.strip_prefix(p)).unwrap_or(line)
}

/// The types a file's code defines: each `struct`, `enum` and `trait`, and each type alias at the
/// top of the file (an indented `type` is an associated type, named by its trait), with its line.
fn types(code: &str) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    for (i, line) in code.lines().enumerate() {
        let item = item(line);
        let top = !line.starts_with(char::is_whitespace);
        let rest = ["struct ", "enum ", "trait "]
            .iter()
            .chain(if top { &["type "][..] } else { &[] })
            .find_map(|k| item.strip_prefix(k));
        let name: String = rest.unwrap_or_default().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        if name.starts_with(char::is_uppercase) {
            out.push((name, i + 1));
        }
    }
    out
}

/// The names more than one type of `crates` is defined under, each with where (`file:line`).
fn shared_type_names(crates: &[PathBuf]) -> BTreeMap<String, Vec<String>> {
    let mut all: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (file, code) in crates.iter().flat_map(|src| files(src)) {
        for (name, line) in types(&code) {
            all.entry(name).or_default().push(format!("{file}:{line}"));
        }
    }
    all.retain(|_, places| places.len() > 1);
    all
}

#[test]
fn no_two_types_share_a_name() {
    // Issue 10: names say which side they are on. Two types of `system/` and `sim/` under one
    // name (a request record and the wire's request, a load step and a fault step) fail here,
    // with both places.
    let shared = shared_type_names(&[crate_src("system"), crate_src("sim")]);
    let listed: Vec<String> =
        shared.iter().map(|(name, places)| format!("\n  {name}: {}", places.join(", "))).collect();
    assert!(listed.is_empty(), "types sharing a name:{}", listed.concat());
}

#[test]
fn the_name_check_sees_two_types_of_one_name() {
    // A negative control: a struct and an enum named alike in two crates are found; an associated
    // type named like a trait is not a definition.
    let dir = std::env::temp_dir().join(format!("edgesim-names-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for krate in ["a", "b"] {
        std::fs::create_dir_all(dir.join(krate).join("src")).unwrap();
    }
    std::fs::write(dir.join("a/src/lib.rs"), "pub struct Step {}\nimpl X for Y {\n    type Step = u8;\n}\n").unwrap();
    std::fs::write(dir.join("b/src/load.rs"), "/// A step.\npub(crate) enum Step {}\n#[cfg(test)]\nstruct Only;\n")
        .unwrap();
    let shared = shared_type_names(&[dir.join("a/src"), dir.join("b/src")]);
    std::fs::remove_dir_all(&dir).unwrap();
    let places = vec!["a/src/lib.rs:1".to_string(), "b/src/load.rs:2".to_string()];
    assert_eq!(shared, BTreeMap::from([("Step".to_string(), places)]));
}

/// The functions of a file's code and their lengths in lines, from the `fn` line to the closing
/// brace at its indentation (a one-line function is 1).
fn function_lengths(code: &str) -> Vec<(String, usize)> {
    let lines: Vec<&str> = code.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let item = ["const ", "async ", "unsafe "].iter().fold(item(line), |l, q| l.strip_prefix(q).unwrap_or(l));
        let Some(rest) = item.strip_prefix("fn ") else { continue };
        let trimmed = line.trim_end();
        if trimmed.ends_with(';') {
            continue;
        }
        let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        if trimmed.ends_with('}') && trimmed.matches('{').count() == trimmed.matches('}').count() {
            out.push((name, 1));
            continue;
        }
        let indent = &line[..line.len() - line.trim_start().len()];
        let close = format!("{indent}}}");
        if let Some(end) = lines[i + 1..].iter().position(|l| l.trim_end() == close) {
            out.push((name, end + 2));
        }
    }
    out
}

/// The longest a function may be, in lines. A function past ~80 lines is split where a name
/// explains the part; the check holds a margin above that for a flat table (a `match` with one arm
/// per metric, which splitting would only cut where the compiler's exhaustiveness check stops).
const LONGEST: usize = 100;

fn long_functions(crates: &[PathBuf]) -> Vec<(String, String, usize)> {
    let mut out = Vec::new();
    for (file, code) in crates.iter().flat_map(|src| files(src)) {
        for (name, lines) in function_lengths(&code) {
            if lines > LONGEST {
                out.push((file.clone(), name, lines));
            }
        }
    }
    out
}

#[test]
fn no_function_runs_past_a_hundred_lines() {
    // Issue 10: functions over ~80 lines are split where a name explains the part; one over
    // `LONGEST` (outside test modules) fails here with its file, name and length.
    let long = long_functions(&[crate_src("system"), crate_src("sim")]);
    let listed: Vec<String> =
        long.iter().map(|(file, name, lines)| format!("\n  {file}: fn {name}, {lines} lines")).collect();
    assert!(listed.is_empty(), "functions over {LONGEST} lines:{}", listed.concat());
}

#[test]
fn the_length_check_measures_a_function_to_its_closing_brace() {
    // A negative control: a function of 3 lines, a one-line one, a declaration (not measured) and
    // a method in an impl, each measured to the brace at its own indentation.
    let code = "fn three() {\n    1\n}\nfn one() { 1 }\ntrait T {\n    fn f();\n}\nimpl S {\n    pub(crate) async fn m(\n        a: u8,\n    ) {\n        if a {\n        }\n    }\n}\n";
    let lengths = function_lengths(code);
    assert_eq!(lengths, [("three".to_string(), 3), ("one".to_string(), 1), ("m".to_string(), 6)]);
}
