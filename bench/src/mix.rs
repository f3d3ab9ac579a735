//! The benchmarked operations and `--mix`: a single operation (`get`, `push`), a weighted mix
//! (`get:put=9:1`, `push:pop=1:1`) or `getall`. Operations come in two families, the dht's
//! keyed ones and the queue's, and a mix stays within one family.

use std::fmt;
use std::str::FromStr;

/// One benchmarked operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// dht Get / Redis GET.
    Get,
    /// dht Put / Redis SET.
    Put,
    /// dht Exists / Redis EXISTS.
    Exists,
    /// dht Remove / Redis DEL.
    Remove,
    /// queue Push / Redis LPUSH.
    Push,
    /// queue Pop / Redis RPOP.
    Pop,
}

impl Op {
    /// Every operation, in the order of the weights of a [`Mix::Weighted`].
    pub const ALL: [Op; 6] = [Op::Get, Op::Put, Op::Exists, Op::Remove, Op::Push, Op::Pop];

    /// Lowercase name as written in `--mix`.
    pub fn name(self) -> &'static str {
        match self {
            Op::Get => "get",
            Op::Put => "put",
            Op::Exists => "exists",
            Op::Remove => "remove",
            Op::Push => "push",
            Op::Pop => "pop",
        }
    }

    /// Whether this is a queue operation (Push, Pop) rather than a keyed dht one.
    pub fn is_queue(self) -> bool {
        matches!(self, Op::Push | Op::Pop)
    }

    fn from_name(name: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|op| op.name() == name)
    }
}

/// The operation mix: a weight per operation, or a GetAll run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mix {
    /// Single-record operations drawn at random with these weights (indexed like [`Op::ALL`]),
    /// all of one family (see [`Op::is_queue`]).
    Weighted([u32; 6]),
    /// Full-channel GetAll, one connection, `--requests` times (default once).
    GetAll,
}

impl Mix {
    /// The operations with a weight above zero, with their weights.
    pub fn used(&self) -> Vec<(Op, u32)> {
        match self {
            Mix::Weighted(w) => Op::ALL
                .into_iter()
                .zip(*w)
                .filter(|&(_, w)| w > 0)
                .collect(),
            Mix::GetAll => Vec::new(),
        }
    }

    /// The only operation of the mix, if it has exactly one.
    pub fn single(&self) -> Option<Op> {
        match self.used().as_slice() {
            [(op, _)] => Some(*op),
            _ => None,
        }
    }

    /// Whether the mix is of queue operations (a weighted mix holds one family only).
    pub fn is_queue(&self) -> bool {
        self.used().iter().any(|(op, _)| op.is_queue())
    }

    /// `--mix` as the user would write it.
    pub fn describe(&self) -> String {
        let used = self.used();
        match (self, used.as_slice()) {
            (Mix::GetAll, _) => "getall".into(),
            (_, [(op, _)]) => op.name().into(),
            _ => {
                let names: Vec<&str> = used.iter().map(|(op, _)| op.name()).collect();
                let ratios: Vec<String> = used.iter().map(|(_, w)| w.to_string()).collect();
                format!("{}={}", names.join(":"), ratios.join(":"))
            }
        }
    }
}

/// Why a `--mix` value was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MixError(String);

impl fmt::Display for MixError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for MixError {}

impl FromStr for Mix {
    type Err = MixError;

    fn from_str(s: &str) -> Result<Mix, MixError> {
        let s = s.trim().to_ascii_lowercase();
        if s == "getall" {
            return Ok(Mix::GetAll);
        }
        let (names, ratios) = match s.split_once('=') {
            Some((n, r)) => (n, Some(r)),
            None => (s.as_str(), None),
        };
        let names: Vec<&str> = names.split(':').collect();
        let ratios: Vec<u32> = match ratios {
            None if names.len() == 1 => vec![1],
            None => {
                return Err(MixError(format!(
                    "{s}: a mix of several operations needs ratios, as in get:put=9:1"
                )))
            }
            Some(r) => r
                .split(':')
                .map(|x| {
                    x.parse::<u32>()
                        .map_err(|_| MixError(format!("{s}: ratio {x:?} is not a whole number")))
                })
                .collect::<Result<_, _>>()?,
        };
        if names.len() != ratios.len() {
            return Err(MixError(format!(
                "{s}: {} operations but {} ratios",
                names.len(),
                ratios.len()
            )));
        }
        let mut weights = [0u32; 6];
        for (name, ratio) in names.iter().zip(ratios) {
            let op = Op::from_name(name).ok_or_else(|| {
                MixError(format!(
                    "{s}: unknown operation {name:?} (get, put, exists, remove, push, pop, getall)"
                ))
            })?;
            let slot = &mut weights[op as usize];
            if *slot > 0 {
                return Err(MixError(format!("{s}: {name} given twice")));
            }
            *slot = ratio;
        }
        if weights.iter().all(|&w| w == 0) {
            return Err(MixError(format!("{s}: every ratio is zero")));
        }
        let mix = Mix::Weighted(weights);
        let used = mix.used();
        if used.iter().any(|(op, _)| op.is_queue()) && used.iter().any(|(op, _)| !op.is_queue()) {
            return Err(MixError(format!(
                "{s}: queue operations (push, pop) and dht operations cannot be mixed"
            )));
        }
        Ok(mix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_operations() {
        assert_eq!("get".parse(), Ok(Mix::Weighted([1, 0, 0, 0, 0, 0])));
        assert_eq!("Remove".parse(), Ok(Mix::Weighted([0, 0, 0, 1, 0, 0])));
        assert_eq!("push".parse(), Ok(Mix::Weighted([0, 0, 0, 0, 1, 0])));
        assert_eq!("getall".parse(), Ok(Mix::GetAll));
        assert_eq!("put".parse::<Mix>().map(|m| m.single()), Ok(Some(Op::Put)));
        assert_eq!("pop".parse::<Mix>().map(|m| m.single()), Ok(Some(Op::Pop)));
    }

    #[test]
    fn ratios() {
        let mix: Mix = "get:put=9:1".parse().expect("valid mix");
        assert_eq!(mix, Mix::Weighted([9, 1, 0, 0, 0, 0]));
        assert_eq!(mix.single(), None);
        assert!(!mix.is_queue());
        assert_eq!(
            "exists:get=0:3".parse::<Mix>().map(|m| m.single()),
            Ok(Some(Op::Get))
        );
        let mix: Mix = "pop:push=1:2".parse().expect("valid mix");
        assert_eq!(mix, Mix::Weighted([0, 0, 0, 0, 2, 1]));
        assert!(mix.is_queue());
        assert_eq!(mix.describe(), "push:pop=2:1");
    }

    #[test]
    fn refused_mixes() {
        for bad in [
            "",
            "fetch",
            "get:put",
            "get:put=1",
            "get:put=1:x",
            "get:get=1:1",
            "get:put=0:0",
            "get=-1",
            "push:get=1:1",
            "pop:remove=1:1",
            "push:pop",
        ] {
            assert!(bad.parse::<Mix>().is_err(), "{bad:?} was accepted");
        }
        // A zero weight leaves the other family out entirely, so it is not a mix of families.
        assert_eq!(
            "push:get=1:0".parse::<Mix>().map(|m| m.single()),
            Ok(Some(Op::Push))
        );
    }

    #[test]
    fn describe_round_trips() {
        for text in ["get", "pop", "get:put=9:1", "push:pop=1:1", "getall"] {
            let mix: Mix = text.parse().expect("valid mix");
            assert_eq!(mix.describe(), text);
            assert_eq!(mix.describe().parse::<Mix>(), Ok(mix));
        }
    }
}
