//! Loading and running the committed scenarios as a user would.

use std::path::Path;

use edgesim::report::{RunReport, analyze};
use edgesim::scenario::Scenario;
use edgesim::world::simulate;

pub fn load(name: &str) -> Scenario {
    Scenario::load(Path::new(&format!("{}/../scenarios/{name}.toml", env!("CARGO_MANIFEST_DIR")))).unwrap()
}

pub fn run_seed(s: &Scenario, seed: u64) -> RunReport {
    let log = simulate(s, seed, &mut |_| {}).unwrap();
    analyze(s, seed, &log)
}

pub fn run(s: &Scenario) -> RunReport {
    run_seed(s, s.seed)
}
