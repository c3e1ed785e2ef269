//! The event engine: time in integer picoseconds, a queue of events ordered by (time,
//! sequence number), resources that serve operations first come first served, and
//! operations that start when their dependencies complete. Nothing ticks: time jumps from
//! one completion event to the next.
//!
//! A resource is either a single server (a tile's compute unit, the network, DRAM) or a
//! subarray with a pool of K write drivers. An operation on a driver pool writes a list of
//! strings; each string takes the earliest free driver (list scheduling, in list order), and
//! each string's completion is an event of the pool. The operation ends when its last
//! string does. An operation may instead give only the strings' total and longest time
//! ([`Work::Shared`]: the operand writes of in-memory MACs, millions of strings per batch):
//! it then takes the even share of the drivers, or the longest string if that is longer.
//!
//! Time saturates at the end of the u64 range (about 213 days) instead of wrapping.
//!
//! The engine runs in rounds (one per training batch): operations are added with their
//! dependencies and an earliest start (from earlier rounds), then [`Engine::run`] executes
//! them all. Resources keep their state between rounds, so a round's operations queue
//! behind the previous round's on a shared resource.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

/// Time, in picoseconds.
pub type Ps = u64;

/// Index of a resource in the engine.
pub type ResourceId = u32;

/// Index of an operation in the current round.
pub type OpId = u32;

/// How long an operation holds its resource once it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Work {
    /// A fixed duration, in ps.
    Fixed(Ps),
    /// Strings to write through the resource's driver pool: a range of
    /// [`Engine::push_string`] durations.
    Strings {
        /// First duration of the range.
        first: u32,
        /// One past the last.
        end: u32,
    },
    /// Strings written through the resource's driver pool, shared out evenly: the
    /// operation takes the longer of its longest string and `busy_ps / drivers` (rounded
    /// up), which is within one string's time of list-scheduling them.
    Shared {
        /// Sum of the strings' write durations, in ps.
        busy_ps: Ps,
        /// Longest string write, in ps.
        longest_ps: Ps,
    },
}

/// An operation of the current round.
#[derive(Debug, Clone)]
struct Op {
    resource: ResourceId,
    work: Work,
    /// Earliest start, in ps (from earlier rounds).
    ready_ps: Ps,
    /// Dependencies not yet complete.
    pending: u32,
    /// Operations that wait for this one.
    dependents: Vec<OpId>,
    start_ps: Ps,
    end_ps: Ps,
}

/// A resource: one server, or a subarray with `drivers` write drivers.
#[derive(Debug, Clone, Default)]
struct Resource {
    drivers: u32,
    free_ps: Ps,
    running: bool,
    waiting: VecDeque<OpId>,
    busy_ps: Ps,
    /// Sum of string-write durations over all drivers, in ps.
    driver_busy_ps: Ps,
}

/// When an operation ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    /// Start, in ps.
    pub start_ps: Ps,
    /// End, in ps.
    pub end_ps: Ps,
}

impl Span {
    /// Duration, in ps.
    pub fn len_ps(&self) -> Ps {
        self.end_ps - self.start_ps
    }
}

/// Busy time of one resource over the whole simulation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    /// Time the resource held an operation, in ps.
    pub busy_ps: Ps,
    /// Write drivers (0 for single servers).
    pub drivers: u32,
    /// Sum over drivers of the time each spent writing strings, in ps.
    pub driver_busy_ps: Ps,
}

/// The event engine.
#[derive(Debug, Clone, Default)]
pub struct Engine {
    resources: Vec<Resource>,
    ops: Vec<Op>,
    strings_ps: Vec<Ps>,
    queue: BinaryHeap<Reverse<(Ps, u64, u64)>>,
    seq: u64,
    events: u64,
    drivers: BinaryHeap<Reverse<Ps>>,
    end_ps: Ps,
}

const READY: u64 = 0;
const DONE: u64 = 1;

impl Engine {
    /// An engine without resources.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a single-server resource.
    pub fn add_resource(&mut self) -> ResourceId {
        self.add_pool(0)
    }

    /// Adds a subarray resource with `drivers` write drivers (0: a single server).
    pub fn add_pool(&mut self, drivers: u32) -> ResourceId {
        self.resources.push(Resource {
            drivers,
            ..Resource::default()
        });
        (self.resources.len() - 1) as ResourceId
    }

    /// Records the duration (ps) of one string write for a [`Work::Strings`] operation;
    /// returns its index.
    pub fn push_string(&mut self, duration_ps: Ps) -> u32 {
        self.strings_ps.push(duration_ps);
        (self.strings_ps.len() - 1) as u32
    }

    /// Index the next [`Engine::push_string`] will return.
    pub fn strings_len(&self) -> u32 {
        self.strings_ps.len() as u32
    }

    /// Adds an operation of the current round on `resource`, starting no earlier than
    /// `ready_ps` and after all its dependencies (see [`Engine::depend`]).
    pub fn add(&mut self, resource: ResourceId, work: Work, ready_ps: Ps) -> OpId {
        self.ops.push(Op {
            resource,
            work,
            ready_ps,
            pending: 0,
            dependents: Vec::new(),
            start_ps: 0,
            end_ps: 0,
        });
        (self.ops.len() - 1) as OpId
    }

    /// Makes `after` wait for `before` (both of the current round).
    pub fn depend(&mut self, before: OpId, after: OpId) {
        self.ops[before as usize].dependents.push(after);
        self.ops[after as usize].pending += 1;
    }

    fn push(&mut self, t: Ps, kind: u64, op: OpId) {
        self.seq += 1;
        self.queue
            .push(Reverse((t, self.seq, (u64::from(op) << 1) | kind)));
    }

    /// Duration of `work` on resource `r` started at `start`: list scheduling of the
    /// strings over the pool's drivers, one event per string completion.
    fn duration(&mut self, r: ResourceId, work: Work) -> Ps {
        match work {
            Work::Fixed(d) => d,
            Work::Strings { first, end } => {
                let k = self.resources[r as usize].drivers.max(1) as usize;
                let strings = &self.strings_ps[first as usize..end as usize];
                let total: Ps = strings.iter().fold(0, |a, &d| a.saturating_add(d));
                let pool = &mut self.resources[r as usize];
                pool.driver_busy_ps = pool.driver_busy_ps.saturating_add(total);
                self.events += strings.len() as u64;
                if strings.len() <= k {
                    return strings.iter().copied().max().unwrap_or(0);
                }
                self.drivers.clear();
                self.drivers.extend(std::iter::repeat_n(Reverse(0), k));
                let mut makespan = 0;
                for &d in strings {
                    let Reverse(free) = self.drivers.pop().expect("k >= 1 drivers");
                    let end = free.saturating_add(d);
                    makespan = makespan.max(end);
                    self.drivers.push(Reverse(end));
                }
                makespan
            }
            Work::Shared {
                busy_ps,
                longest_ps,
            } => {
                let k = Ps::from(self.resources[r as usize].drivers.max(1));
                let pool = &mut self.resources[r as usize];
                pool.driver_busy_ps = pool.driver_busy_ps.saturating_add(busy_ps);
                self.events += 1;
                longest_ps.max(busy_ps.div_ceil(k))
            }
        }
    }

    fn start(&mut self, op: OpId, t: Ps) {
        let (r, work) = {
            let o = &self.ops[op as usize];
            (o.resource, o.work)
        };
        let start = t.max(self.resources[r as usize].free_ps);
        let d = self.duration(r, work);
        let res = &mut self.resources[r as usize];
        res.running = true;
        res.busy_ps = res.busy_ps.saturating_add(d);
        let o = &mut self.ops[op as usize];
        o.start_ps = start;
        o.end_ps = start.saturating_add(d);
        let end = o.end_ps;
        self.push(end, DONE, op);
    }

    /// Executes every operation of the current round; afterwards [`Engine::span`] tells
    /// when each ran. Panics on a dependency cycle (the scheduler never makes one).
    pub fn run(&mut self) {
        for i in 0..self.ops.len() {
            if self.ops[i].pending == 0 {
                let t = self.ops[i].ready_ps;
                self.push(t, READY, i as OpId);
            }
        }
        let mut done = 0usize;
        while let Some(Reverse((t, _, code))) = self.queue.pop() {
            self.events += 1;
            let op = (code >> 1) as OpId;
            let r = self.ops[op as usize].resource as usize;
            if code & 1 == READY {
                if self.resources[r].running {
                    self.resources[r].waiting.push_back(op);
                } else {
                    self.start(op, t);
                }
                continue;
            }
            done += 1;
            self.end_ps = self.end_ps.max(t);
            self.resources[r].running = false;
            self.resources[r].free_ps = t;
            if let Some(next) = self.resources[r].waiting.pop_front() {
                self.start(next, t);
            }
            let dependents = std::mem::take(&mut self.ops[op as usize].dependents);
            for &d in &dependents {
                let o = &mut self.ops[d as usize];
                o.ready_ps = o.ready_ps.max(t);
                o.pending -= 1;
                if o.pending == 0 {
                    let ready = o.ready_ps;
                    self.push(ready, READY, d);
                }
            }
            self.ops[op as usize].dependents = dependents;
        }
        assert_eq!(
            done,
            self.ops.len(),
            "dependency cycle in the operation graph"
        );
    }

    /// When operation `op` of the last round ran.
    pub fn span(&self, op: OpId) -> Span {
        let o = &self.ops[op as usize];
        Span {
            start_ps: o.start_ps,
            end_ps: o.end_ps,
        }
    }

    /// Starts a new round: forgets the last round's operations (resources keep their state).
    pub fn clear_round(&mut self) {
        self.ops.clear();
        self.strings_ps.clear();
    }

    /// Events processed so far: operation ready and completion events, and string
    /// completions in driver pools.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// The latest completion so far, in ps.
    pub fn end_ps(&self) -> Ps {
        self.end_ps
    }

    /// Busy time of resource `r` so far.
    pub fn usage(&self, r: ResourceId) -> Usage {
        let res = &self.resources[r as usize];
        Usage {
            busy_ps: res.busy_ps,
            drivers: res.drivers,
            driver_busy_ps: res.driver_busy_ps,
        }
    }
}

/// Makespan of `durations` (in list order) on `k` identical servers, each job going to the
/// earliest free server: the reference the driver pool must match. O(n k).
pub fn list_schedule_ps(durations: &[Ps], k: usize) -> Ps {
    let mut free = vec![0 as Ps; k.max(1)];
    let mut makespan = 0;
    for &d in durations {
        let (i, _) = free
            .iter()
            .enumerate()
            .min_by_key(|&(i, &f)| (f, i))
            .expect("k >= 1");
        free[i] += d;
        makespan = makespan.max(free[i]);
    }
    makespan
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn chain_on_one_resource_runs_back_to_back() {
        let mut e = Engine::new();
        let r = e.add_resource();
        let a = e.add(r, Work::Fixed(10), 0);
        let b = e.add(r, Work::Fixed(5), 0);
        e.depend(a, b);
        e.run();
        assert_eq!(
            e.span(a),
            Span {
                start_ps: 0,
                end_ps: 10
            }
        );
        assert_eq!(
            e.span(b),
            Span {
                start_ps: 10,
                end_ps: 15
            }
        );
        assert_eq!(e.end_ps(), 15);
    }

    #[test]
    fn independent_ops_on_one_resource_queue_in_ready_order() {
        let mut e = Engine::new();
        let r = e.add_resource();
        let a = e.add(r, Work::Fixed(10), 3);
        let b = e.add(r, Work::Fixed(10), 1);
        e.run();
        assert_eq!(e.span(b).start_ps, 1);
        assert_eq!(e.span(a).start_ps, 11);
        assert_eq!(e.usage(r).busy_ps, 20);
    }

    #[test]
    fn separate_resources_overlap() {
        let mut e = Engine::new();
        let (r1, r2) = (e.add_resource(), e.add_resource());
        let a = e.add(r1, Work::Fixed(10), 0);
        let b = e.add(r2, Work::Fixed(10), 0);
        let c = e.add(r1, Work::Fixed(1), 0);
        e.depend(a, c);
        e.depend(b, c);
        e.run();
        assert_eq!(e.span(c).start_ps, 10);
        assert_eq!(e.end_ps(), 11);
    }

    #[test]
    fn resources_carry_over_rounds() {
        let mut e = Engine::new();
        let r = e.add_resource();
        e.add(r, Work::Fixed(100), 0);
        e.run();
        e.clear_round();
        let b = e.add(r, Work::Fixed(1), 50);
        e.run();
        assert_eq!(e.span(b).start_ps, 100);
    }

    #[test]
    fn driver_pool_is_list_scheduling() {
        let mut e = Engine::new();
        let r = e.add_pool(2);
        let first = e.strings_len();
        for d in [5, 3, 4, 2, 6] {
            e.push_string(d);
        }
        let op = e.add(
            r,
            Work::Strings {
                first,
                end: e.strings_len(),
            },
            0,
        );
        e.run();
        // Drivers: [5, 3] -> 4 on driver 2 (3..7) -> 2 on driver 1 (5..7) -> 6 on 1 (7..13).
        assert_eq!(e.span(op).len_ps(), 13);
        assert_eq!(e.usage(r).driver_busy_ps, 20);
    }

    #[test]
    fn shared_strings_take_the_even_share_or_the_longest() {
        let mut e = Engine::new();
        let r = e.add_pool(4);
        let even = e.add(
            r,
            Work::Shared {
                busy_ps: 41,
                longest_ps: 3,
            },
            0,
        );
        let long = e.add(
            r,
            Work::Shared {
                busy_ps: 40,
                longest_ps: 25,
            },
            0,
        );
        e.run();
        assert_eq!(e.span(even).len_ps(), 11);
        assert_eq!(e.span(long).len_ps(), 25);
        assert_eq!(e.span(long).start_ps, 11);
        assert_eq!(e.usage(r).driver_busy_ps, 81);
        assert_eq!(e.usage(r).busy_ps, 36);
    }

    proptest! {
        #[test]
        fn shared_is_within_one_string_of_list_scheduling(durations in proptest::collection::vec(1u64..5000, 1..200), k in 1u32..12) {
            let mut e = Engine::new();
            let r = e.add_pool(k);
            let busy_ps = durations.iter().sum();
            let longest_ps = *durations.iter().max().unwrap();
            let op = e.add(r, Work::Shared { busy_ps, longest_ps }, 0);
            e.run();
            let list = list_schedule_ps(&durations, k as usize);
            prop_assert!(e.span(op).len_ps() <= list);
            prop_assert!(list <= e.span(op).len_ps() + longest_ps);
            prop_assert_eq!(e.usage(r).driver_busy_ps, busy_ps);
        }

        #[test]
        fn pool_matches_reference(durations in proptest::collection::vec(1u64..5000, 0..200), k in 1u32..12) {
            let mut e = Engine::new();
            let r = e.add_pool(k);
            let first = e.strings_len();
            for &d in &durations {
                e.push_string(d);
            }
            let op = e.add(r, Work::Strings { first, end: e.strings_len() }, 7);
            e.run();
            prop_assert_eq!(e.span(op).start_ps, 7);
            prop_assert_eq!(e.span(op).len_ps(), list_schedule_ps(&durations, k as usize));
        }

        #[test]
        fn same_graph_same_spans(n in 1usize..40, seed in 0u64..1000) {
            // Deterministic: building the same graph twice gives the same schedule.
            let build = || {
                let mut e = Engine::new();
                let rs: Vec<_> = (0..3).map(|_| e.add_resource()).collect();
                let mut ops = Vec::new();
                for i in 0..n {
                    let d = (seed.wrapping_mul(31).wrapping_add(i as u64 * 17)) % 50 + 1;
                    let op = e.add(rs[i % 3], Work::Fixed(d), 0);
                    if i >= 2 { e.depend(ops[i - 2], op); }
                    ops.push(op);
                }
                e.run();
                ops.iter().map(|&o| e.span(o)).collect::<Vec<_>>()
            };
            prop_assert_eq!(build(), build());
        }
    }
}
