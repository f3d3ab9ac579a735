//! Command line of `swarm-bench`: the load options, the target kind, the operation mix (parsed
//! in `mix`) and the `lzo` and `stream` modes, validated before any socket opens (the `scan`
//! mode's options are `scan::ScanArgs`).

use super::mix::{Family, Mix, Op};
use super::scan::ScanArgs;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;

/// Load generator for the legacy dht, queue and logfiles protocols, Redis (RESP) and the swarm-echo server.
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
    /// One producer and one consumer connection: records/s from the producer's first write to
    /// the consumer's last record (queue Produce to Consume; Redis LPUSH to `RPOP key count`).
    Stream(StreamArgs),
    /// Prefill a log with --records records (logfiles PutBatch; Redis XADD), then time reading
    /// all of them back (logfiles GetRange; Redis `XRANGE key - + COUNT n` pages), --rounds times.
    Scan(ScanArgs),
}

/// What the server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Target {
    /// A dht node, legacy binary protocol.
    Dht,
    /// A Redis server, RESP: dht operations as strings (SET, GET, ...), queue operations on
    /// the list named by --channel (LPUSH, RPOP), appends on the stream named by --channel
    /// (`XADD key * v value`).
    Redis,
    /// `swarm-echo`: fixed-size requests and replies of a dht or queue request's sizes.
    Echo,
    /// A queue node, legacy binary protocol: Push and Pop on the channel --channel.
    Queue,
    /// A logfiles node, legacy binary protocol: Put (`--mix append`, or `put`) and PutBatch
    /// (`--mix putbatch`) on the channel --channel.
    Logfiles,
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
    /// What the values are made of (text: LZO shrinks a GetAll batch of them to about 0.93;
    /// random: uniform random bytes, which do not compress).
    #[arg(long, value_enum, default_value = "text")]
    pub values: ValueKind,
    /// Key space: keys are drawn uniformly from this many keys. For queue operations: the
    /// records --load pushes before measuring (the prefill that keeps Pop off an empty queue).
    #[arg(long, default_value_t = 1_000_000)]
    pub keys: u64,
    /// Operation mix: get, put, exists, remove, push, pop, append, putbatch, a ratio like
    /// get:put=9:1 or push:pop=1:1 (one family: dht, queue or log), or getall. With --target
    /// logfiles, put means append.
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
    /// Put every key of the key space once (pipelined, as fast as possible) before measuring;
    /// with queue operations, push --keys records.
    #[arg(long)]
    pub load: bool,
    /// The server's pid: its CPU time (/proc/PID/stat) is read before and after the run.
    #[arg(long)]
    pub node_pid: Option<u32>,
    /// Channel name (dht, queue), and Redis's list key for queue operations. Every connection
    /// uses this one channel (the job-queue case: many clients, one queue).
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
    /// Log appends: the key of a connection's n-th record is this + n / 100, a timestamp-like
    /// counter (100 records a "second"), so a run's records fall into a few buckets as a log's
    /// do. Default: the current Unix time in seconds.
    #[arg(long)]
    pub key_base: Option<u64>,
    /// PutBatch: uncompressed bytes per batch (full batches of --value-size records).
    #[arg(long, default_value_t = swarm_protocol::batch::DEFAULT_BATCH_SIZE)]
    pub batch_size: usize,
}

/// What the benchmark's values are cut from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ValueKind {
    /// A pseudo-random text of 66 letters, digits and signs.
    Text,
    /// Uniform pseudo-random bytes.
    Random,
}

/// What `swarm-bench stream` streams through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StreamTarget {
    /// A queue node: Produce on one connection, Consume on the other.
    Queue,
    /// Redis: LPUSH pipelined --redis-pipeline deep, a consumer looping `RPOP key --redis-count`.
    Redis,
}

/// Options of `swarm-bench stream`.
#[derive(Debug, Clone, Args)]
pub struct StreamArgs {
    /// Server kind.
    #[arg(long, value_enum, default_value = "queue")]
    pub target: StreamTarget,
    /// Server address.
    #[arg(long, default_value = "127.0.0.1:10000")]
    pub addr: SocketAddr,
    /// Channel (queue) or list key (Redis); removed before the run, so it starts empty.
    #[arg(long, default_value = "bench_stream")]
    pub channel: String,
    /// Record size in bytes, at least 16 (each record starts with its sequence number and the
    /// producer's clock, so the consumer checks the order and the end-to-end latency).
    #[arg(long, default_value_t = 100)]
    pub value_size: usize,
    /// Records the producer sends and the consumer must receive.
    #[arg(long, default_value_t = 2_000_000)]
    pub records: u64,
    /// Redis producer: LPUSH commands per write, their replies read before the next write.
    #[arg(long, default_value_t = 16)]
    pub redis_pipeline: usize,
    /// Redis consumer: records asked for per `RPOP key count` (Redis 6.2 or later).
    #[arg(long, default_value_t = 100)]
    pub redis_count: usize,
    /// Redis consumer: send --redis-count plain `RPOP key` commands in one write instead of
    /// one `RPOP key count` (for Redis before 6.2).
    #[arg(long)]
    pub redis_plain_rpop: bool,
    /// The server's pid: its CPU time (/proc/PID/stat) is read before and after the run.
    #[arg(long)]
    pub node_pid: Option<u32>,
    /// Print one JSON object with every figure on stdout instead of the text report.
    #[arg(long)]
    pub json: bool,
}

impl StreamArgs {
    /// Checks what clap cannot express.
    pub fn validate(&self) -> Result<(), String> {
        if self.value_size < 16 {
            return Err("--value-size must be at least 16 (sequence number and clock)".into());
        }
        if self.records == 0 || self.redis_pipeline == 0 || self.redis_count == 0 {
            return Err("--records, --redis-pipeline and --redis-count must be at least 1".into());
        }
        if self.channel.is_empty() {
            return Err("--channel must not be empty".into());
        }
        Ok(())
    }
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
    /// What the values are made of, as for `run --values`.
    #[arg(long, value_enum, default_value = "text")]
    pub values: ValueKind,
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

impl RunArgs {
    /// The options with `--mix put` against a logfiles node read as `append` (a logfiles Put
    /// appends).
    pub fn normalized(&self) -> RunArgs {
        let mut args = self.clone();
        if let (Target::Logfiles, Mix::Weighted(w)) = (args.target, &mut args.mix) {
            if w[Op::Append as usize] == 0 {
                w.swap(Op::Put as usize, Op::Append as usize);
            }
        }
        args
    }

    /// Which operation families the target speaks.
    fn check_family(&self) -> Result<(), String> {
        let family = self.mix.family();
        let batches = self.mix.used().iter().any(|(op, _)| *op == Op::PutBatch);
        let ok = match self.target {
            Target::Dht => family == Family::Dht,
            Target::Queue => family == Family::Queue,
            Target::Logfiles => family == Family::Log,
            Target::Redis | Target::Echo => self.mix != Mix::GetAll && !batches,
        };
        if ok {
            return Ok(());
        }
        Err(match self.target {
            Target::Dht => "--target dht takes dht operations: get, put, exists, remove, getall",
            Target::Queue => "--target queue takes queue operations: --mix push, pop, push:pop=..",
            Target::Logfiles => "--target logfiles takes log operations: --mix append (put), putbatch",
            Target::Redis | Target::Echo => {
                "getall and putbatch are dht and logfiles requests without a Redis or echo equivalent"
            }
        }
        .into())
    }

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
        self.check_family()?;
        if self.mix.used().iter().any(|(op, _)| *op == Op::PutBatch) {
            let pair = swarm_protocol::batch::pair_size(16, self.value_size);
            if self.batch_size < pair {
                return Err(format!(
                    "--batch-size {} cannot hold one record of --value-size {} ({pair} bytes)",
                    self.batch_size, self.value_size
                ));
            }
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
    fn echo_needs_one_operation() {
        let cli = Cli::try_parse_from(["swarm-bench", "--target", "echo", "--mix", "get:put=1:1"])
            .expect("parses");
        assert!(cli.run.validate().is_err());
        let cli = Cli::try_parse_from(["swarm-bench", "--target", "echo", "--mix", "put"])
            .expect("parses");
        assert_eq!(cli.run.validate(), Ok(()));
    }

    #[test]
    fn targets_take_their_family_of_operations() {
        let check = |target: &str, mix: &str| {
            Cli::try_parse_from(["swarm-bench", "--target", target, "--mix", mix])
                .expect("parses")
                .run
                .normalized()
                .validate()
        };
        for (target, mix) in [
            ("queue", "push"),
            ("queue", "push:pop=1:1"),
            ("redis", "pop"),
            ("redis", "get"),
            ("echo", "pop"),
            ("dht", "get:put=9:1"),
            ("logfiles", "append"),
            ("logfiles", "put"),
            ("logfiles", "putbatch"),
            ("redis", "append"),
            ("echo", "append"),
        ] {
            assert_eq!(check(target, mix), Ok(()), "{target} {mix}");
        }
        for (target, mix) in [
            ("queue", "get"),
            ("queue", "getall"),
            ("dht", "push"),
            ("redis", "getall"),
            ("echo", "push:pop=1:1"),
            ("logfiles", "get"),
            ("logfiles", "push"),
            ("dht", "append"),
            ("redis", "putbatch"),
            ("echo", "putbatch"),
        ] {
            assert!(check(target, mix).is_err(), "{target} {mix} was accepted");
        }
    }

    #[test]
    fn logfiles_put_is_an_append() {
        let cli = Cli::try_parse_from(["swarm-bench", "--target", "logfiles", "--mix", "put"])
            .expect("parses");
        assert_eq!(cli.run.normalized().mix.single(), Some(Op::Append));
        let cli = Cli::try_parse_from(["swarm-bench", "--target", "redis", "--mix", "put"])
            .expect("parses");
        assert_eq!(cli.run.normalized().mix.single(), Some(Op::Put));
        let cli = Cli::try_parse_from([
            "swarm-bench",
            "--target",
            "logfiles",
            "--mix",
            "putbatch",
            "--batch-size",
            "100",
        ])
        .expect("parses");
        assert!(cli.run.validate().is_err(), "a batch smaller than a record");
    }

    #[test]
    fn stream_subcommand() {
        let cli =
            Cli::try_parse_from(["swarm-bench", "stream", "--target", "redis"]).expect("parses");
        let Some(Command::Stream(args)) = cli.command else {
            panic!("not the stream mode: {:?}", cli.command);
        };
        assert_eq!(args.target, StreamTarget::Redis);
        assert_eq!((args.redis_pipeline, args.redis_count), (16, 100));
        assert_eq!(args.validate(), Ok(()));
        let cli =
            Cli::try_parse_from(["swarm-bench", "stream", "--value-size", "15"]).expect("parses");
        let Some(Command::Stream(args)) = cli.command else {
            panic!("not the stream mode");
        };
        assert!(args.validate().is_err());
        assert!(Cli::try_parse_from(["swarm-bench", "stream", "--target", "dht"]).is_err());
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
