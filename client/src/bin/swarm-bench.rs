//! `swarm-bench`: load generator for dht nodes, Redis and swarm-echo (see `src/bench/mod.rs`).
//! Example: `swarm-bench --addr 127.0.0.1:10000 --mix get:put=9:1 --duration 10 --node-pid PID`.

#[path = "../bench/mod.rs"]
mod bench;

fn main() -> std::process::ExitCode {
    bench::main()
}
