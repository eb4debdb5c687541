//! Scenario composition: a line `include = "PATH"` in a scenario file is replaced by the lines of
//! the file at PATH (relative to the including file; its leading comment lines, which say what it
//! is, are left out), so that scenarios share a topology; what results is the resolved scenario
//! (`edgesim show` prints it), which is what is parsed and whose lines faults are numbered by.
//! Every resolved line remembers where it came from, so a problem is reported at the file and line
//! it was written on. An included file includes nothing further. Overrides from the command line
//! (`--set KEY=VALUE`, KEY dotted as `workload.session_rate`, VALUE a TOML value or else a string)
//! replace or add one key each in the resolved scenario, which is then written out again as TOML
//! (its comments dropped, its faults numbered by the lines of that text).

use std::path::Path;

use super::ScenarioError;

/// A scenario's text with its includes spliced in.
#[derive(Debug)]
pub struct ComposedText {
    pub text: String,
    /// Per line of `text`, from 1: the file and line it came from.
    origins: Vec<(String, usize)>,
}

impl ComposedText {
    /// The file and line a resolved line was written on.
    pub fn origin(&self, line: usize) -> Option<(&str, usize)> {
        self.origins.get(line.checked_sub(1)?).map(|(f, l)| (f.as_str(), *l))
    }

    /// `e`, a problem found in the resolved text, moved to the file and line it was written on.
    pub(crate) fn locate(&self, mut e: ScenarioError) -> ScenarioError {
        if let Some((file, line)) = self.origin(e.line) {
            (e.file, e.line) = (file.to_string(), line);
        }
        e
    }
}

/// The path a line includes, if it is an `include = "PATH"` line.
fn included(line: &str) -> Option<&str> {
    let rest = line.trim_start().strip_prefix("include")?.trim_start().strip_prefix('=')?.trim();
    let rest = rest.strip_prefix('"')?;
    let end = rest.find('"')?;
    let after = rest[end + 1..].trim();
    (after.is_empty() || after.starts_with('#')).then(|| &rest[..end])
}

fn read(path: &Path, file: &str) -> Result<String, ScenarioError> {
    std::fs::read_to_string(path).map_err(|e| ScenarioError {
        file: file.to_string(),
        line: 0,
        column: 0,
        message: format!("cannot read: {e}"),
    })
}

/// The scenario file at `path` with its includes spliced in.
pub fn resolve(path: &Path) -> Result<ComposedText, ScenarioError> {
    let file = path.display().to_string();
    let text = read(path, &file)?;
    let mut resolved = ComposedText { text: String::with_capacity(text.len()), origins: Vec::new() };
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let Some(include) = included(line) else {
            resolved.text.push_str(line);
            resolved.origins.push((file.clone(), i + 1));
            continue;
        };
        let at = |message: String| ScenarioError { file: file.clone(), line: i + 1, column: 1, message };
        let inner_path = path.parent().unwrap_or(Path::new(".")).join(include);
        let inner_file = inner_path.display().to_string();
        let inner = read(&inner_path, &inner_file).map_err(|e| at(format!("include `{include}`: {}", e.message)))?;
        let lines = inner.split_inclusive('\n').enumerate().skip_while(|(_, l)| l.trim_start().starts_with('#'));
        for (j, inner_line) in lines {
            if included(inner_line).is_some() {
                return Err(at(format!(
                    "include `{include}`: {inner_file}:{} includes again; an included file includes nothing",
                    j + 1
                )));
            }
            resolved.text.push_str(inner_line);
            if !inner_line.ends_with('\n') {
                resolved.text.push('\n');
            }
            resolved.origins.push((inner_file.clone(), j + 1));
        }
    }
    Ok(resolved)
}

/// One `--set KEY=VALUE` override.
#[derive(Clone, Debug, PartialEq)]
pub struct Override {
    pub key: Vec<String>,
    pub value: toml::Value,
    /// As given on the command line.
    pub text: String,
}

impl std::str::FromStr for Override {
    type Err = String;

    fn from_str(text: &str) -> Result<Override, String> {
        let (key, value) = text.split_once('=').ok_or_else(|| format!("`{text}` is not KEY=VALUE"))?;
        let key: Vec<String> = key.trim().split('.').map(|k| k.trim().to_string()).collect();
        if key.iter().any(String::is_empty) {
            return Err(format!("`{text}`: the key is empty or has an empty part"));
        }
        let value = value.trim();
        let parsed = toml::from_str::<toml::Table>(&format!("v = {value}")).ok().and_then(|mut t| t.remove("v"));
        let value = parsed.unwrap_or_else(|| toml::Value::String(value.to_string()));
        Ok(Override { key, value, text: text.to_string() })
    }
}

/// `resolved` with `overrides` applied in order, written out again as TOML; problems with an
/// override name it, and later problems the text with overrides (`FILE with --set ...`).
pub fn apply(resolved: ComposedText, file: &str, overrides: &[Override]) -> Result<ComposedText, ScenarioError> {
    if overrides.is_empty() {
        return Ok(resolved);
    }
    let refused = |o: &Override, message: String| ScenarioError {
        file: format!("--set {}", o.text),
        line: 0,
        column: 0,
        message,
    };
    let mut doc: toml::Table = toml::from_str(&resolved.text).map_err(|e| {
        resolved.locate(ScenarioError { file: file.to_string(), line: 0, column: 0, message: e.message().to_string() })
    })?;
    for o in overrides {
        let (last, path) = o.key.split_last().expect("a key has a part");
        let mut table = &mut doc;
        for part in path {
            let next = table.entry(part.clone()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
            table = next.as_table_mut().ok_or_else(|| refused(o, format!("`{part}` is not a table")))?;
        }
        table.insert(last.clone(), o.value.clone());
    }
    let text = toml::to_string(&doc).map_err(|e| refused(&overrides[0], e.to_string()))?;
    let sets: Vec<&str> = overrides.iter().map(|o| o.text.as_str()).collect();
    let origin = format!("{file} with --set {}", sets.join(" --set "));
    let origins = (1..=text.lines().count()).map(|line| (origin.clone(), line)).collect();
    Ok(ComposedText { text, origins })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_whole_include_line_includes() {
        assert_eq!(included("include = \"topologies/three.toml\"\n"), Some("topologies/three.toml"));
        assert_eq!(included("include=\"a.toml\"  # the shared regions"), Some("a.toml"));
        assert_eq!(included("included = \"a.toml\""), None);
        assert_eq!(included("include = \"a.toml\" x"), None);
        assert_eq!(included("# include = \"a.toml\""), None);
    }

    #[test]
    fn an_override_sets_a_dotted_key_to_a_toml_value_or_a_string() {
        let o: Override = "workload.session_rate=2.5".parse().unwrap();
        assert_eq!((o.key.join("."), o.value), ("workload.session_rate".into(), toml::Value::Float(2.5)));
        let o: Override = "duration = 90s".parse().unwrap();
        assert_eq!(o.value, toml::Value::String("90s".into()));
        assert!("duration".parse::<Override>().unwrap_err().contains("KEY=VALUE"));
        assert!("a..b=1".parse::<Override>().unwrap_err().contains("empty part"));

        let resolved = ComposedText { text: "name = \"x\"\n[workload]\nrate = 1\n".into(), origins: vec![] };
        let sets = ["workload.rate=2".parse().unwrap(), "seed=7".parse().unwrap()];
        let out = apply(resolved, "x.toml", &sets).unwrap();
        assert!(out.text.contains("seed = 7") && out.text.contains("rate = 2"), "{}", out.text);
        assert_eq!(out.origin(1), Some(("x.toml with --set workload.rate=2 --set seed=7", 1)));
        let resolved = ComposedText { text: "name = \"x\"\n".into(), origins: vec![] };
        let e = apply(resolved, "x.toml", &["name.first=1".parse().unwrap()]).unwrap_err();
        assert_eq!(e.to_string(), "--set name.first=1: `name` is not a table");
    }
}
