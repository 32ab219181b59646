//! Causal delivery at scale, at a size a debug test affords: 64 nodes, 20 000
//! messages through loss, duplication and reordering.

use tempora_sim::scale::{self, ScaleConfig};

#[test]
fn sixty_four_nodes_twenty_thousand_messages_in_causal_order_none_lost() {
    let r = scale::run(ScaleConfig::new(1, 20_000));
    assert_eq!(r.sent, 20_000);
    assert_eq!(r.delivered, 20_000 * 63);
    assert_eq!(
        r.violations(),
        0,
        "{:?} {:?} {:?}",
        r.causal,
        r.once,
        r.complete
    );
    assert_eq!(r.causal.checked, r.sent + r.delivered);
    assert_eq!(r.complete.checked, 20_000);
    // The network did what it is for: lost, duplicated and reordered copies, and the
    // queues held messages back and refused duplicates.
    let n = r.net;
    assert!(n.lost > 1_000 && n.retransmitted == n.lost, "{n:?}");
    assert!(
        n.duplicated > 1_000 && n.duplicates_refused == n.duplicated,
        "{n:?}"
    );
    assert!(n.reordered > 1_000 && n.held > 1_000, "{n:?}");
    assert_eq!(n.given_up, 0);
    println!(
        "{} messages, {} deliveries, {:.0} messages/s of wall time (debug)",
        r.sent,
        r.delivered,
        r.messages_per_s()
    );
}

#[test]
fn a_scale_seed_replays_exactly() {
    let config = ScaleConfig {
        nodes: 16,
        ..ScaleConfig::new(5, 2_000)
    };
    let (a, b) = (scale::run(config), scale::run(config));
    assert_eq!((a.digest, a.net), (b.digest, b.net));
    assert_ne!(
        a.digest,
        scale::run(ScaleConfig { seed: 6, ..config }).digest
    );
}
