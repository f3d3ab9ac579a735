use super::*;

fn node<'a>(address: &'a [u8], port: u16) -> RedistributeNode<'a> {
    RedistributeNode { address, port }
}

#[test]
fn destinations_are_ip_addresses_and_ports() {
    assert_eq!(
        destinations(&[node(b"127.0.0.1", 1), node(b"::1", 2)]).unwrap(),
        vec![
            "127.0.0.1:1".parse::<SocketAddr>().unwrap(),
            "[::1]:2".parse().unwrap()
        ]
    );
    assert!(destinations(&[]).is_err());
    let bad = destinations(&[node(b"127.0.0.1", 1), node(b"dls-3.example", 2)]).unwrap_err();
    assert!(bad.contains("dls-3.example"), "{bad}");
}
