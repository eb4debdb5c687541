//! The progress bar a suite draws on a terminal while its runs finish.

/// The progress bar of a suite on a terminal: `[#####-----] 12/24 runs, 3 failed, eta 40s`, the
/// estimate from the wall time the finished runs took.
pub fn progress(done: usize, total: usize, failed: usize, elapsed_s: f64) -> String {
    const WIDTH: usize = 20;
    let filled = (done * WIDTH).checked_div(total).unwrap_or(WIDTH);
    let eta = if done == 0 { 0.0 } else { elapsed_s / done as f64 * total.saturating_sub(done) as f64 };
    format!(
        "[{}{}] {done}/{total} runs, {failed} failed, eta {eta:.0}s  ",
        "#".repeat(filled),
        "-".repeat(WIDTH - filled)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_progress_bar_fills_and_estimates_what_is_left() {
        assert_eq!(progress(5, 20, 1, 10.0), "[#####---------------] 5/20 runs, 1 failed, eta 30s  ");
        assert_eq!(progress(20, 20, 0, 40.0), "[####################] 20/20 runs, 0 failed, eta 0s  ");
        assert_eq!(progress(0, 0, 0, 0.0), "[####################] 0/0 runs, 0 failed, eta 0s  ");
    }
}
