//! A suite's outputs, rendered from its summary (`summary`): `summary.json`, `junit.xml`
//! (`junit`), `report.md` (`markdown`) and `report.html` (`html`, drawing with `svg`, escaping with
//! `markup`), and what the terminal shows (`table`, `progress`). `outputs` writes the four files.

pub mod html;
pub mod junit;
pub mod markdown;
pub(crate) mod markup;
pub mod outputs;
pub(crate) mod progress;
pub mod summary;
pub(crate) mod svg;
pub mod table;
