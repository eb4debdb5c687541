//! The HTML report in a real browser: Debian's chromium (installed by `.ci/deps`) opens the
//! committed `reports/reference/report.html` headless. The page must log nothing to the console (no
//! error, no uncaught exception), every SVG drawing must have a size, and every timeline mark, every
//! labelled key moment and every row of the runs' budget tables must be in the DOM; a screenshot is
//! written to `reports/runs/report.png` (`reports/reference/report.png` is one kept), and one of
//! the page of each of the runs a person looks at first, `primary-crash-sync` and
//! `status-cdn-outage`, rendered alone from the committed summary, to `reports/runs/NAME.png`
//! (`reports/reference/NAME.png` are those kept). Without chromium the test fails: it never skips.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use edgesim::render::html;
use edgesim::render::summary::SuiteSummary;

const CHROMIUM: &str = "/usr/bin/chromium";

/// Flags that work on a closed network as root: no sandbox, GPU, first run or background services.
const FLAGS: [&str; 9] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").canonicalize().unwrap()
}

/// Runs chromium on `url` with a fresh profile and `extra` flags.
fn chromium(extra: &[&str], url: &str, profile: &Path) -> Output {
    let _ = std::fs::remove_dir_all(profile);
    let out = Command::new(CHROMIUM)
        .args(FLAGS)
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        .output()
        .unwrap_or_else(|e| panic!("{CHROMIUM} does not run ({e}): install it with .ci/deps"));
    assert!(out.status.success(), "chromium failed: {}", String::from_utf8_lossy(&out.stderr));
    out
}

/// The value of `key=N` in the `data-rendered` attribute the page's script sets.
fn rendered(dom: &str, key: &str) -> usize {
    let start = dom.find("data-rendered=\"").expect("the page's check ran and set data-rendered") + 15;
    let attr = &dom[start..start + dom[start..].find('"').unwrap()];
    let value = attr.split(' ').find_map(|kv| kv.strip_prefix(&format!("{key}="))).unwrap_or_else(|| panic!("{attr}"));
    value.parse().unwrap()
}

#[test]
fn the_reference_report_loads_without_console_output_and_draws_its_timelines() {
    assert!(Path::new(CHROMIUM).exists(), "{CHROMIUM} is missing: run .ci/deps, which installs Debian's chromium");
    let page = root().join("reports/reference/report.html");
    let html = std::fs::read_to_string(&page).expect("the committed report.html");
    let url = format!("file://{}", page.display());
    let profile = std::env::temp_dir().join(format!("edgesim-chromium-{}", std::process::id()));

    let out = chromium(&["--enable-logging=stderr", "--v=0", "--dump-dom"], &url, &profile);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let console: Vec<&str> = stderr.lines().filter(|l| l.contains(":CONSOLE")).collect();
    assert!(console.is_empty(), "the page logged to the console:\n{}", console.join("\n"));
    let dom = String::from_utf8(out.stdout).unwrap();
    let svgs = html.matches("<svg ").count();
    assert!(svgs > 10, "the reference has drawings: {svgs}");
    assert_eq!(rendered(&dom, "svgs"), svgs, "every drawing is in the DOM");
    assert_eq!(rendered(&dom, "blank"), 0, "every drawing has a size");
    let marks = html.matches("class=\"mark\"").count();
    assert!(marks > 50, "the timelines have marks: {marks}");
    assert_eq!(rendered(&dom, "marks"), marks);
    let budgets = html.matches("<tr class=\"budget\">").count();
    assert!(budgets > 20, "each run's budgets are in a table: {budgets}");
    assert_eq!(rendered(&dom, "budgets"), budgets, "every budget row is in the DOM");
    let moments = html.matches("class=\"moment\"").count();
    assert!(moments > 20, "the key moments are labelled: {moments}");
    assert_eq!(rendered(&dom, "moments"), moments, "every moment's label is in the DOM");
    for label in
        ["primary lost", "failure confirmed", "standby promoted", "routing updated", "first write on the new primary"]
    {
        assert!(html.contains(&format!("{label}</text>")), "a failover's moment is labelled: {label}");
    }

    let shot = root().join("reports/runs/report.png");
    std::fs::create_dir_all(shot.parent().unwrap()).unwrap();
    let _ = std::fs::remove_file(&shot);
    chromium(&[&format!("--screenshot={}", shot.display()), "--window-size=1400,1000"], &url, &profile);
    let png = std::fs::read(&shot).expect("chromium wrote the screenshot");
    assert!(png.starts_with(b"\x89PNG") && png.len() > 20_000, "a real screenshot: {} bytes", png.len());

    let summary = SuiteSummary::load(&root().join("reports/reference/summary.json")).expect("the committed summary");
    for name in ["primary-crash-sync", "status-cdn-outage"] {
        let entries: Vec<_> = summary.entries.iter().filter(|e| e.scenario == name).cloned().collect();
        assert_eq!(entries.len(), 1, "{name} is in the reference suite once");
        let alone = SuiteSummary::new(name, summary.plan.clone(), entries);
        let page = root().join(format!("reports/runs/{name}.html"));
        std::fs::write(&page, html::render(&alone)).unwrap();
        let shot = root().join(format!("reports/runs/{name}.png"));
        let _ = std::fs::remove_file(&shot);
        let url = format!("file://{}", page.display());
        chromium(&[&format!("--screenshot={}", shot.display()), "--window-size=1500,2000"], &url, &profile);
        let png = std::fs::read(&shot).expect("chromium wrote the screenshot");
        assert!(png.len() > 20_000, "a real screenshot of {name}: {} bytes", png.len());
    }
    let _ = std::fs::remove_dir_all(&profile);
}
