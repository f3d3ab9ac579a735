//! The benchmarked operations and `--mix`: a single operation (`get`, `push`, `append`), a
//! weighted mix (`get:put=9:1`, `push:pop=1:1`) or `getall`. Operations come in three families,
//! the dht's keyed ones, the queue's and the logfiles node's appends, and a mix stays within one
//! family.

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
    /// logfiles Put / Redis `XADD key * v value`: one record appended to a log.
    Append,
    /// logfiles PutBatch of a full batch of records (no Redis equivalent).
    PutBatch,
}

/// The kinds of operation a mix may not combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Keyed dht operations (Get, Put, Exists, Remove).
    Dht,
    /// Queue operations (Push, Pop).
    Queue,
    /// Log appends (Append, PutBatch).
    Log,
}

impl Op {
    /// Every operation, in the order of the weights of a [`Mix::Weighted`].
    pub const ALL: [Op; Op::COUNT] = [
        Op::Get,
        Op::Put,
        Op::Exists,
        Op::Remove,
        Op::Push,
        Op::Pop,
        Op::Append,
        Op::PutBatch,
    ];
    /// Number of operations.
    pub const COUNT: usize = 8;

    /// Lowercase name as written in `--mix`.
    pub fn name(self) -> &'static str {
        match self {
            Op::Get => "get",
            Op::Put => "put",
            Op::Exists => "exists",
            Op::Remove => "remove",
            Op::Push => "push",
            Op::Pop => "pop",
            Op::Append => "append",
            Op::PutBatch => "putbatch",
        }
    }

    /// The operation's family.
    pub fn family(self) -> Family {
        match self {
            Op::Get | Op::Put | Op::Exists | Op::Remove => Family::Dht,
            Op::Push | Op::Pop => Family::Queue,
            Op::Append | Op::PutBatch => Family::Log,
        }
    }

    fn from_name(name: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|op| op.name() == name)
    }
}

/// The operation mix: a weight per operation, or a GetAll run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mix {
    /// Single-record operations drawn at random with these weights (indexed like [`Op::ALL`]),
    /// all of one family (see [`Op::family`]).
    Weighted([u32; Op::COUNT]),
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

    /// The family of the mix's operations (a weighted mix holds one family only); GetAll is a
    /// dht request.
    pub fn family(&self) -> Family {
        self.used()
            .first()
            .map_or(Family::Dht, |(op, _)| op.family())
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
        let mut weights = [0u32; Op::COUNT];
        for (name, ratio) in names.iter().zip(ratios) {
            let op = Op::from_name(name).ok_or_else(|| {
                MixError(format!(
                    "{s}: unknown operation {name:?} (get, put, exists, remove, push, pop, append, putbatch, getall)"
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
        let family = mix.family();
        if mix.used().iter().any(|(op, _)| op.family() != family) {
            return Err(MixError(format!(
                "{s}: dht operations (get, put, exists, remove), queue operations (push, pop) \
                 and log operations (append, putbatch) cannot be mixed"
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
        assert_eq!("get".parse(), Ok(Mix::Weighted([1, 0, 0, 0, 0, 0, 0, 0])));
        assert_eq!(
            "Remove".parse(),
            Ok(Mix::Weighted([0, 0, 0, 1, 0, 0, 0, 0]))
        );
        assert_eq!("push".parse(), Ok(Mix::Weighted([0, 0, 0, 0, 1, 0, 0, 0])));
        assert_eq!(
            "append".parse::<Mix>().map(|m| (m.single(), m.family())),
            Ok((Some(Op::Append), Family::Log))
        );
        assert_eq!(
            "putbatch".parse::<Mix>().map(|m| m.single()),
            Ok(Some(Op::PutBatch))
        );
        assert_eq!("getall".parse(), Ok(Mix::GetAll));
        assert_eq!("put".parse::<Mix>().map(|m| m.single()), Ok(Some(Op::Put)));
        assert_eq!("pop".parse::<Mix>().map(|m| m.single()), Ok(Some(Op::Pop)));
    }

    #[test]
    fn ratios() {
        let mix: Mix = "get:put=9:1".parse().expect("valid mix");
        assert_eq!(mix, Mix::Weighted([9, 1, 0, 0, 0, 0, 0, 0]));
        assert_eq!(mix.single(), None);
        assert_eq!(mix.family(), Family::Dht);
        assert_eq!(
            "exists:get=0:3".parse::<Mix>().map(|m| m.single()),
            Ok(Some(Op::Get))
        );
        let mix: Mix = "pop:push=1:2".parse().expect("valid mix");
        assert_eq!(mix, Mix::Weighted([0, 0, 0, 0, 2, 1, 0, 0]));
        assert_eq!(mix.family(), Family::Queue);
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
            "append:put=1:1",
            "putbatch:pop=1:1",
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
        for text in [
            "get",
            "pop",
            "get:put=9:1",
            "push:pop=1:1",
            "append:putbatch=3:1",
            "getall",
        ] {
            let mix: Mix = text.parse().expect("valid mix");
            assert_eq!(mix.describe(), text);
            assert_eq!(mix.describe().parse::<Mix>(), Ok(mix));
        }
    }
}
