//! Shards: `--shard K/N` runs every N-th (scenario, seed) of a suite starting at the K-th, so N
//! CI jobs split a suite deterministically and `edgesim merge` joins their summaries.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Written `K/N` on the command line and in `summary.json`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Shard {
    /// 1-based.
    pub(crate) k: usize,
    pub(crate) n: usize,
}

impl Shard {
    /// Whether the run at `index` of the whole suite's list belongs to this shard.
    fn keeps(&self, index: usize) -> bool {
        index % self.n == self.k - 1
    }
}

/// The items of `shard` of a list (all of them when `None`), in order.
pub(crate) fn share<T>(items: impl IntoIterator<Item = T>, shard: Option<Shard>) -> impl Iterator<Item = T> {
    items.into_iter().enumerate().filter(move |(i, _)| shard.is_none_or(|s| s.keeps(*i))).map(|(_, item)| item)
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Shard, String> {
        let usage = || format!("`{text}` is not a shard: write K/N with 1 <= K <= N, such as 1/4");
        let (k, n) = text.split_once('/').ok_or_else(usage)?;
        let (k, n): (usize, usize) = (k.trim().parse().map_err(|_| usage())?, n.trim().parse().map_err(|_| usage())?);
        if k == 0 || k > n {
            return Err(usage());
        }
        Ok(Shard { k, n })
    }
}

impl TryFrom<String> for Shard {
    type Error = String;

    fn try_from(text: String) -> Result<Shard, String> {
        text.parse()
    }
}

impl From<Shard> for String {
    fn from(shard: Shard) -> String {
        shard.to_string()
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.k, self.n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_k_of_n_and_refuses_the_rest() {
        assert_eq!("2/3".parse(), Ok(Shard { k: 2, n: 3 }));
        assert_eq!(serde_json::to_string(&Shard { k: 2, n: 3 }).unwrap(), r#""2/3""#);
        assert_eq!(serde_json::from_str::<Shard>(r#""2/3""#).unwrap(), Shard { k: 2, n: 3 });
        assert!(serde_json::from_str::<Shard>(r#""4/3""#).is_err());
        for bad in ["0/2", "3/2", "1/0", "2", "a/b", "1/2/3", "-1/2"] {
            assert!(bad.parse::<Shard>().unwrap_err().contains("not a shard"), "{bad}");
        }
    }

    #[test]
    fn shards_split_the_runs_without_overlap() {
        let shards: Vec<Shard> = (1..=3).map(|k| Shard { k, n: 3 }).collect();
        for i in 0..10 {
            assert_eq!(shards.iter().filter(|s| s.keeps(i)).count(), 1);
        }
        assert!(Shard { k: 1, n: 3 }.keeps(3) && Shard { k: 2, n: 3 }.keeps(4));
        assert_eq!(share(1..=7, Some(Shard { k: 2, n: 3 })).collect::<Vec<_>>(), vec![2, 5]);
        assert_eq!(share(1..=3, None).count(), 3);
    }
}
