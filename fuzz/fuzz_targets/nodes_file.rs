//! Fuzzes the client's nodes file parser: the check and its invariants are
//! `swarm_fuzz_checks::nodes_file`, which the corpus-replay test also runs on stable Rust.
#![no_main]

#[global_allocator]
static ALLOC: swarm_fuzz_checks::CappedAlloc = swarm_fuzz_checks::CappedAlloc;

libfuzzer_sys::fuzz_target!(|data: &[u8]| swarm_fuzz_checks::nodes_file(data));
