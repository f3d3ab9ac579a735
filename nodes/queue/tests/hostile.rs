//! Hostile clients against the real `queuenode`: the harness's cases at their CI sizes
//! ([`swarm_testkit::hostile`]): connection and idle floods, slowloris, never-read Consumes,
//! mutated frames, held 10 MiB - 1 arrays, each asserting RSS growth under the input budget
//! plus a margin, the control client's p99 against its baseline, and the stored records
//! unchanged. One case runs at a time (`swarm_testkit::hostile::cases::serial`), so latencies compare.

use swarm_testkit::hostile::{cases::check_ci, Case, QueueTarget};

fn queue_case(case: Case) {
    check_ci(case, |limits| {
        QueueTarget::start(env!("CARGO_BIN_EXE_queuenode"), limits)
    });
}

#[test]
fn a_connection_flood_over_the_limit_leaves_the_control_client_served() {
    queue_case(Case::ConnFlood);
}

#[test]
fn slowloris_connections_are_cut_after_the_request_timeout() {
    queue_case(Case::Slowloris);
}

#[test]
fn an_idle_flood_is_closed_after_the_idle_timeout() {
    queue_case(Case::IdleFlood);
}

#[test]
fn consumes_that_are_never_read_keep_the_node_bounded() {
    queue_case(Case::NeverReading);
}

#[test]
fn mutated_frames_each_get_a_status_or_a_close() {
    queue_case(Case::MutatedFrames);
}

#[test]
fn connections_holding_10_mib_arrays_stay_under_the_input_budget() {
    queue_case(Case::HeldArrays);
}
