//! Command line of `swarm-bench`: the load options, the target kind and the operation mix
//! (`get`, `put`, `get:put=9:1`, `getall`), parsed and validated before any socket opens.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

/// Load generator for the legacy dht protocol, Redis (RESP) and the swarm-echo server.
#[derive(Debug, Parser)]
#[command(
    name = "swarm-bench",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// Options of the default mode: run a load against a server.
    #[command(flatten)]
    pub run: RunArgs,
    /// Other modes.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Modes other than the load run.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Time LZO1X-1 alone over the batches a GetAll of the loaded key space would carry.
    Lzo(LzoArgs),
}

/// What the server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Target {
    /// A dht node, legacy binary protocol.
    Dht,
    /// A Redis server, RESP.
    Redis,
    /// `swarm-echo`: fixed-size requests and replies of a dht request's sizes.
    Echo,
}

/// Options of a load run.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Server kind.
    #[arg(long, value_enum, default_value = "dht")]
    pub target: Target,
    /// Server address.
    #[arg(long, default_value = "127.0.0.1:10000")]
    pub addr: SocketAddr,
    /// Connections, all driven by the same event loop(s).
    #[arg(long, default_value_t = 50)]
    pub connections: usize,
    /// Value size in bytes.
    #[arg(long, default_value_t = 100)]
    pub value_size: usize,
    /// Key space: keys are drawn uniformly from this many keys.
    #[arg(long, default_value_t = 1_000_000)]
    pub keys: u64,
    /// Operation mix: get, put, exists, remove, a ratio like get:put=9:1, or getall.
    #[arg(long, default_value = "get")]
    pub mix: Mix,
    /// Requests to measure in total (0 with --load: load only). Default: --duration 10.
    #[arg(long, conflicts_with = "duration")]
    pub requests: Option<u64>,
    /// Seconds to measure for.
    #[arg(long)]
    pub duration: Option<f64>,
    /// Total request rate limit (requests per second); none by default.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Requests in flight per connection: K requests written with one write, K replies read in
    /// order, then the next K. 1 is the legacy protocol's one request at a time.
    #[arg(long, default_value_t = 1)]
    pub pipeline: usize,
    /// Put every key of the key space once (pipelined, as fast as possible) before measuring.
    #[arg(long)]
    pub load: bool,
    /// The server's pid: its CPU time (/proc/PID/stat) is read before and after the run.
    #[arg(long)]
    pub node_pid: Option<u32>,
    /// Channel name (dht).
    #[arg(long, default_value = "bench")]
    pub channel: String,
    /// Client threads, each with its own event loop and a share of the connections.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Print one JSON object with every figure on stdout instead of the text report.
    #[arg(long)]
    pub json: bool,
    /// Seed of the key and operation choice.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// Options of `swarm-bench lzo`.
#[derive(Debug, Clone, Args)]
pub struct LzoArgs {
    /// Records: the same keys and values `--load` puts.
    #[arg(long, default_value_t = 1_000_000)]
    pub keys: u64,
    /// Value size in bytes.
    #[arg(long, default_value_t = 100)]
    pub value_size: usize,
    /// Uncompressed batch capacity (the node's batch_size).
    #[arg(long, default_value_t = swarm_protocol::batch::DEFAULT_BATCH_SIZE)]
    pub batch_size: usize,
    /// Passes over all records; the figures are of all passes together.
    #[arg(long, default_value_t = 1)]
    pub passes: u32,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

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
}

impl Op {
    /// Every operation, in the order of the weights of a [`Mix::Weighted`].
    pub const ALL: [Op; 4] = [Op::Get, Op::Put, Op::Exists, Op::Remove];

    /// Lowercase name as written in `--mix`.
    pub fn name(self) -> &'static str {
        match self {
            Op::Get => "get",
            Op::Put => "put",
            Op::Exists => "exists",
            Op::Remove => "remove",
        }
    }

    fn from_name(name: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|op| op.name() == name)
    }
}

/// The operation mix: a weight per operation, or a GetAll run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mix {
    /// Single-record operations drawn at random with these weights (indexed like [`Op::ALL`]).
    Weighted([u32; 4]),
    /// Full-channel GetAll, one connection, `--requests` times (default once).
    GetAll,
}

impl Mix {
    /// The only operation of the mix, if it has exactly one.
    pub fn single(&self) -> Option<Op> {
        match self {
            Mix::Weighted(w) => {
                let mut used = Op::ALL.into_iter().zip(w).filter(|(_, &w)| w > 0);
                match (used.next(), used.next()) {
                    (Some((op, _)), None) => Some(op),
                    _ => None,
                }
            }
            Mix::GetAll => None,
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
        let mut weights = [0u32; 4];
        for (name, ratio) in names.iter().zip(ratios) {
            let op = Op::from_name(name).ok_or_else(|| {
                MixError(format!(
                    "{s}: unknown operation {name:?} (get, put, exists, remove, getall)"
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
        Ok(Mix::Weighted(weights))
    }
}

impl RunArgs {
    /// Checks the combinations clap cannot express.
    pub fn validate(&self) -> Result<(), String> {
        if self.connections == 0 || self.pipeline == 0 || self.threads == 0 {
            return Err("--connections, --pipeline and --threads must be at least 1".into());
        }
        if self.keys == 0 {
            return Err("--keys must be at least 1".into());
        }
        if self.value_size == 0 {
            return Err("--value-size must be at least 1 (the dht refuses empty values)".into());
        }
        if self.target == Target::Echo && self.mix.single().is_none() {
            return Err(
                "--target echo needs a single operation in --mix (it sets the message sizes)"
                    .into(),
            );
        }
        if self.mix == Mix::GetAll && self.target != Target::Dht {
            return Err("--mix getall is a dht request".into());
        }
        if let Some(r) = self.rate {
            if r.is_nan() || r <= 0.0 {
                return Err("--rate must be positive".into());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_operations() {
        assert_eq!("get".parse(), Ok(Mix::Weighted([1, 0, 0, 0])));
        assert_eq!("Remove".parse(), Ok(Mix::Weighted([0, 0, 0, 1])));
        assert_eq!("getall".parse(), Ok(Mix::GetAll));
        assert_eq!("put".parse::<Mix>().map(|m| m.single()), Ok(Some(Op::Put)));
    }

    #[test]
    fn ratios() {
        let mix: Mix = "get:put=9:1".parse().expect("valid mix");
        assert_eq!(mix, Mix::Weighted([9, 1, 0, 0]));
        assert_eq!(mix.single(), None);
        assert_eq!(
            "exists:get=0:3".parse::<Mix>().map(|m| m.single()),
            Ok(Some(Op::Get))
        );
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
        ] {
            assert!(bad.parse::<Mix>().is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn echo_needs_one_operation() {
        let cli = Cli::try_parse_from(["swarm-bench", "--target", "echo", "--mix", "get:put=1:1"])
            .expect("parses");
        assert!(cli.run.validate().is_err());
        let cli = Cli::try_parse_from(["swarm-bench", "--target", "echo", "--mix", "put"])
            .expect("parses");
        assert_eq!(cli.run.validate(), Ok(()));
    }

    #[test]
    fn lzo_subcommand() {
        let cli = Cli::try_parse_from(["swarm-bench", "lzo", "--keys", "10"]).expect("parses");
        assert!(matches!(
            cli.command,
            Some(Command::Lzo(LzoArgs { keys: 10, .. }))
        ));
    }
}
