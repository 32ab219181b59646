//! `docs/getting-started.md`'s first causal queue (`examples/first_causal_queue.rs`),
//! run: what it prints is what the guide says it prints.

#[allow(dead_code)] // its `main` is the binary's; the test calls the function
#[path = "../examples/first_causal_queue.rs"]
mod first_causal_queue;

#[test]
fn first_causal_queue_holds_the_answer_until_the_question() {
    let mut out = Vec::new();
    first_causal_queue::first_causal_queue(&mut out).unwrap();
    let out = String::from_utf8(out).unwrap();
    let expected = "\
carol holds the answer, missing message 1 of node 1
carol delivers \"who has the lock?\", message 1 of node 1
carol delivers \"I do\", message 1 of node 2
";
    assert_eq!(out, expected);
    let guide = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/getting-started.md"),
    )
    .unwrap();
    assert!(guide.contains(expected), "the guide shows another output");
}
