//! What nodes report about themselves. The harness stamps each report with simulated time and the
//! node's name. Checkers use these reports only for what a node alone can know (when it committed
//! or applied a frame); correctness is judged from data that clients saw.
pub trait Telemetry: Clone + 'static {}
