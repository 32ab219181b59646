//! `tempora-sim`: runs seeds of the whole-system simulation (or the causal-delivery
//! scale run), prints each seed's figures, and exits non-zero on any invariant
//! violation after printing the seed and the command that replays it.

use std::process::ExitCode;
use std::time::Instant as WallClock;

use clap::{Parser, Subcommand};
use tempora_sim::scale::{self, ScaleConfig};
use tempora_sim::system::{self, SystemConfig, SystemReport, MAX_NODES};
use tempora_sim::trace::Fact;

#[derive(Parser, Debug)]
#[command(
    name = "tempora-sim",
    about = "Seeded whole-system simulation of tempora with invariant checks"
)]
struct Cli {
    /// One seed to run.
    #[arg(long, conflicts_with = "seeds")]
    seed: Option<u64>,
    /// A range of seeds, `A..B` (B excluded).
    #[arg(long, value_parser = parse_range)]
    seeds: Option<(u64, u64)>,
    /// Nodes (3 to 16).
    #[arg(long, default_value_t = MAX_NODES)]
    nodes: usize,
    /// Simulated time per seed, e.g. `60s`, `2m`.
    #[arg(long, default_value = "60s", value_parser = humantime_secs)]
    duration: u64,
    /// Chance that the PTP network holds a packet back by 50 µs, % (reordering event
    /// messages: a one-off path asymmetry the filter must reject or bound).
    #[arg(long, default_value_t = 2)]
    ptp_reorder: u64,
    /// Also print every fact of this node's trace between `--from` and `--to` (s of
    /// simulated time): for looking into a failing seed.
    #[arg(long)]
    trace_node: Option<u32>,
    /// Start of the printed trace window, s.
    #[arg(long, default_value_t = 0.0)]
    from: f64,
    /// End of the printed trace window, s.
    #[arg(long, default_value_t = f64::MAX)]
    to: f64,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Causal delivery at scale: broadcasts through causal queues on a lossy network.
    Causal {
        /// Nodes (2 to 64).
        #[arg(long, default_value_t = scale::MAX_NODES)]
        nodes: usize,
        /// Messages broadcast in all.
        #[arg(long, default_value_t = 1_000_000)]
        messages: u64,
        /// The seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

/// `A..B` as a half-open range of seeds.
fn parse_range(s: &str) -> Result<(u64, u64), String> {
    let (a, b) = s
        .split_once("..")
        .ok_or_else(|| format!("`{s}`: expected A..B"))?;
    let a = a.trim().parse::<u64>().map_err(|e| format!("`{a}`: {e}"))?;
    let b = b.trim().parse::<u64>().map_err(|e| format!("`{b}`: {e}"))?;
    if b <= a {
        return Err(format!("`{s}`: empty range"));
    }
    Ok((a, b))
}

/// A duration such as `60s`, `1m30s` or `500ms`, in whole nanoseconds.
fn humantime_secs(s: &str) -> Result<u64, String> {
    let (digits, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = digits.parse().map_err(|e| format!("`{s}`: {e}"))?;
    let scale = match unit {
        "" | "s" => 1_000_000_000,
        "ms" => 1_000_000,
        "m" | "min" => 60_000_000_000,
        other => return Err(format!("`{s}`: unknown unit `{other}` (s, ms, m)")),
    };
    n.checked_mul(scale)
        .ok_or_else(|| format!("`{s}`: too long"))
}

fn print_system(r: &SystemReport, wall_s: f64) {
    let inv = &r.invariants;
    println!(
        "seed {}: {} nodes, {:.0} s simulated in {:.2} s: sent {} delivered {} (lost copies {}, retransmitted {}, duplicated {}, held back {}), switches {}, ptp parent changes {}, faults {}, readings judged {} excused {}, matches {} late {}, digest {:016x}",
        r.config.seed,
        r.config.nodes,
        r.config.duration_ns as f64 / 1e9,
        wall_s,
        r.sent,
        r.delivered,
        r.net.lost,
        r.net.retransmitted,
        r.net.duplicated,
        r.net.held,
        r.switches,
        r.parent_changes,
        r.faults,
        inv.bounds_honest.checked + inv.bounds_honest.violations,
        inv.bounds_excused,
        r.matches,
        r.late,
        r.digest,
    );
    for (name, tally) in inv.each() {
        if tally.violations > 0 {
            println!(
                "  {name}: {} violation(s) of {}",
                tally.violations,
                tally.checked + tally.violations
            );
            for e in &tally.examples {
                println!("    {e}");
            }
        }
    }
}

/// Prints `node`'s facts with a true time in `[from, to]` seconds (facts without a
/// time, pattern bookkeeping, are left out).
fn print_trace(trace: &[Fact], node: u32, from: f64, to: f64) {
    for fact in trace {
        let (t, who) = match *fact {
            Fact::Send { t, node, .. }
            | Fact::Deliver { t, node, .. }
            | Fact::Reading { t, node, .. }
            | Fact::Switch { t, node, .. }
            | Fact::Parent { t, node, .. }
            | Fact::Fault { t, node, .. } => (t, node),
            _ => continue,
        };
        let s = t as f64 / 1e9;
        if who == node && s >= from && s <= to {
            if let Fact::Reading {
                truth,
                earliest,
                latest,
                ..
            } = *fact
            {
                let middle = earliest / 2 + latest / 2;
                let half = (latest - earliest) / 2;
                println!(
                    "  {s:.6} {fact:?} error {:+} bound {half}",
                    i128::from(middle) - i128::from(truth)
                );
            } else {
                println!("  {s:.6} {fact:?}");
            }
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Causal {
        nodes,
        messages,
        seed,
    }) = cli.command
    {
        let r = scale::run(ScaleConfig {
            nodes,
            ..ScaleConfig::new(seed, messages)
        });
        println!(
            "causal seed {}: {} nodes, {} messages, {} deliveries in {:.2} s wall ({:.0} messages/s, {:.0} deliveries/s), {:.1} s simulated; copies {} lost {} retransmitted {} duplicated {} reordered {} held {} refused-full {} duplicates-refused {} max-held {}; causal checks {} violations {}, once {}/{}, complete {}/{}; digest {:016x}",
            seed,
            r.config.nodes,
            r.sent,
            r.delivered,
            r.wall_s,
            r.messages_per_s(),
            r.deliveries_per_s(),
            r.simulated_ns as f64 / 1e9,
            r.net.copies,
            r.net.lost,
            r.net.retransmitted,
            r.net.duplicated,
            r.net.reordered,
            r.net.held,
            r.net.refused_full,
            r.net.duplicates_refused,
            r.net.max_held,
            r.causal.checked,
            r.causal.violations,
            r.once.checked,
            r.once.violations,
            r.complete.checked,
            r.complete.violations,
            r.digest,
        );
        for e in r
            .causal
            .examples
            .iter()
            .chain(&r.once.examples)
            .chain(&r.complete.examples)
        {
            println!("  {e}");
        }
        if r.violations() > 0 {
            println!(
                "FAILED: replay with `cargo run --release -p tempora-sim -- causal --nodes {} --messages {} --seed {}`",
                r.config.nodes, messages, seed
            );
            return ExitCode::FAILURE;
        }
        return ExitCode::SUCCESS;
    }
    let (first, end) = match (cli.seed, cli.seeds) {
        (Some(s), _) => (s, s.saturating_add(1)),
        (None, Some(range)) => range,
        (None, None) => (0, 1),
    };
    let mut failed = Vec::new();
    let mut totals = (0u64, 0u64, 0u64);
    for seed in first..end {
        let started = WallClock::now();
        let (r, trace) = system::run(SystemConfig {
            nodes: cli.nodes,
            duration_ns: cli.duration,
            ptp_reorder_percent: cli.ptp_reorder,
            ..SystemConfig::new(seed)
        });
        if let Some(node) = cli.trace_node {
            print_trace(&trace, node, cli.from, cli.to);
        }
        print_system(&r, started.elapsed().as_secs_f64());
        totals.0 += r.sent;
        totals.1 += r.delivered;
        totals.2 += r.invariants.violations();
        if r.invariants.violations() > 0 {
            failed.push((seed, r.config.nodes));
        }
    }
    println!(
        "{} seed(s): sent {} delivered {}, violations {}",
        end - first,
        totals.0,
        totals.1,
        totals.2
    );
    for (seed, nodes) in &failed {
        println!(
            "FAILED seed {seed}: replay with `cargo run --release -p tempora-sim -- --seed {seed} --nodes {nodes} --duration {}ms --ptp-reorder {}`",
            cli.duration / 1_000_000,
            cli.ptp_reorder
        );
    }
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
