//! Best available handed out in turn: the free seats are ranked once per
//! version of an event's seat map (for each kind of request: party size,
//! section, price cap), and each request takes the next placement of that
//! list instead of walking the stadium. Under an onsale flood dozens of
//! requests come between two versions; walking 50,000 seats for each was
//! most of best available's cost.
//!
//! Within one version, the seats handed out are marked gone, and a
//! placement is handed out only if it still strands no single seat among
//! the seats left (its rank was worked out before the others were handed
//! out); when the best tier of a list is used up, the list is ranked again
//! from what is left. What the list cannot serve — only placements that strand a seat
//! are left, or only seats others are claiming — goes to the walk
//! ([`best_available::walk`]), which weighs every free seat. A placement
//! only steers the choice: the claim in the database still decides.

use super::best_available::{self, Filter, Placement, Want};
use crate::live::FreeSeats;
use rustc_hash::FxHashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How many placements one list ranks. A version lasts one tick of the
/// live map (40 ms), in which an onsale flood asks for a few dozen; a list
/// whose best tier is used up is ranked again from what is left.
const DEPTH: usize = 512;
/// Kinds of request ranked per version; others walk.
const MAX_LISTS: usize = 8;
/// An event's hand-out unused for this long is dropped with its seat list.
const IDLE: Duration = Duration::from_secs(60);

#[derive(Debug, Default)]
pub struct HandOut {
    events: Mutex<FxHashMap<i64, Arc<Turns>>>,
}

impl HandOut {
    /// The seat ids of the next placement for `want` among the free seats
    /// of `free` (or of a newer version another request has already
    /// ranked), skipping seats `unavailable` says are taken or being
    /// claimed; `None` if the list cannot serve it (walk instead).
    pub fn next(
        &self,
        event_id: i64,
        free: Arc<FreeSeats>,
        want: &Want,
        unavailable: &dyn Fn(i64) -> bool,
    ) -> Option<Vec<i64>> {
        let turns = self.turns(event_id, free);
        let mut state = turns.state.lock().unwrap_or_else(|p| p.into_inner());
        state.next(&turns.free, want, unavailable)
    }

    /// The event's turns at the newest version seen.
    fn turns(&self, event_id: i64, free: Arc<FreeSeats>) -> Arc<Turns> {
        let mut events = self.events.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(turns) = events.get(&event_id) {
            if turns.free.version() >= free.version() {
                return turns.clone();
            }
        }
        let now = Instant::now();
        events.retain(|_, turns| now.duration_since(turns.made) < IDLE);
        let turns = Arc::new(Turns {
            made: now,
            state: Mutex::new(TurnState {
                gone: vec![false; free.seats().len()],
                lists: Vec::new(),
            }),
            free,
        });
        events.insert(event_id, turns.clone());
        turns
    }
}

/// The hand-out of one event at one version of its seat map.
#[derive(Debug)]
struct Turns {
    free: Arc<FreeSeats>,
    made: Instant,
    state: Mutex<TurnState>,
}

#[derive(Debug)]
struct TurnState {
    /// By position in the free seats: handed out, or found unavailable,
    /// since the version was listed.
    gone: Vec<bool>,
    lists: Vec<List>,
}

/// The ranked placements for one kind of request.
#[derive(Debug)]
struct List {
    want: Want,
    filter: Filter,
    placements: Vec<Placement>,
    /// By index in `placements`: handed out, or no longer possible.
    dead: Vec<bool>,
    /// Every placement before this one is dead.
    next: usize,
}

impl TurnState {
    fn next(
        &mut self,
        free: &FreeSeats,
        want: &Want,
        unavailable: &dyn Fn(i64) -> bool,
    ) -> Option<Vec<i64>> {
        let index = match self.lists.iter().position(|list| list.want == *want) {
            Some(index) => index,
            None if self.lists.len() < MAX_LISTS => {
                let list = List::rank(free, want, &self.gone, unavailable);
                self.lists.push(list);
                self.lists.len() - 1
            }
            None => return None,
        };
        match self.lists[index].take(free, &mut self.gone, unavailable) {
            Turn::Take(ids) => Some(ids),
            Turn::Walk => None,
            Turn::RankAgain => {
                let list = List::rank(free, want, &self.gone, unavailable);
                self.lists[index] = list;
                match self.lists[index].take(free, &mut self.gone, unavailable) {
                    Turn::Take(ids) => Some(ids),
                    Turn::Walk | Turn::RankAgain => None,
                }
            }
        }
    }
}

enum Turn {
    Take(Vec<i64>),
    /// Every placement left strands a seat: the walk decides.
    Walk,
    /// The best tier is used up: what is left may rank differently.
    RankAgain,
}

impl List {
    fn rank(
        free: &FreeSeats,
        want: &Want,
        gone: &[bool],
        unavailable: &dyn Fn(i64) -> bool,
    ) -> Self {
        let filter = Filter::new(free.sections(), want);
        let open = free.free().filter(|(position, seat)| {
            !gone[*position as usize] && filter.admits(seat) && !unavailable(seat.id)
        });
        let placements = best_available::ranked(open, want.count, DEPTH);
        Self {
            want: want.clone(),
            filter,
            dead: vec![false; placements.len()],
            placements,
            next: 0,
        }
    }

    /// Takes one of the next placements as good as the list's best that
    /// are still open and strand no seat, at random (so that servers
    /// handing out the same list do not all aim at the same seats).
    ///
    /// Only the list's best tier is served: once seats are handed out, a
    /// placement ranked below it may have become as good (the seat it
    /// stranded was taken), so a list whose best tier is used up is ranked
    /// again from what is left.
    fn take(
        &mut self,
        free: &FreeSeats,
        gone: &mut [bool],
        unavailable: &dyn Fn(i64) -> bool,
    ) -> Turn {
        let Some(best) = self.placements.first().map(|placement| placement.rank) else {
            return Turn::Walk;
        };
        if best.strands_one {
            return Turn::Walk;
        }
        let count = self.want.count;
        let mut choices: Vec<usize> = Vec::new();
        for index in self.next..self.placements.len() {
            if !self.placements[index].rank.ties(&best) || choices.len() == best_available::SPREAD {
                break;
            }
            if self.dead[index] {
                continue;
            }
            let start = self.placements[index].start as usize;
            let placed = &free.seats()[start..start + count];
            let mut open = true;
            for (gone, seat) in gone[start..start + count].iter_mut().zip(placed) {
                *gone = *gone || unavailable(seat.id);
                open &= !*gone;
            }
            let seat = Neighbours {
                free,
                gone,
                filter: &self.filter,
                unavailable,
            };
            if open && !seat.strands_one(start, count) {
                choices.push(index);
            } else {
                self.dead[index] = true;
            }
        }
        self.skip_dead();
        if choices.is_empty() {
            return Turn::RankAgain;
        }
        let index = choices[rand::random_range(0..choices.len())];
        let placement = self.placements[index];
        let start = placement.start as usize;
        gone[start..start + count].fill(true);
        self.dead[index] = true;
        self.skip_dead();
        Turn::Take(best_available::seat_ids(free.seats(), placement, count))
    }

    fn skip_dead(&mut self) {
        while self.dead.get(self.next) == Some(&true) {
            self.next += 1;
        }
    }
}

/// The seats beside a placement, as they are now.
struct Neighbours<'a> {
    free: &'a FreeSeats,
    gone: &'a [bool],
    filter: &'a Filter,
    unavailable: &'a dyn Fn(i64) -> bool,
}

impl Neighbours<'_> {
    /// Taking `count` seats from position `start` would leave a single
    /// open seat between them and the end of their run, on either side.
    fn strands_one(&self, start: usize, count: usize) -> bool {
        let first = self.free.seats()[start];
        let last = self.free.seats()[start + count - 1];
        let left = |k: usize| {
            start
                .checked_sub(k)
                .is_some_and(|position| self.open(position, first.row, first.number - k as i64))
        };
        let right = |k: usize| self.open(start + count - 1 + k, last.row, last.number + k as i64);
        (left(1) && !left(2)) || (right(1) && !right(2))
    }

    /// The seat at `position` is seat `number` of `row`, and still open to
    /// this kind of request.
    fn open(&self, position: usize, row: u32, number: i64) -> bool {
        self.free.seats().get(position).is_some_and(|seat| {
            self.free.is_free(position)
                && seat.row == row
                && seat.number == number
                && !self.gone[position]
                && self.filter.admits(seat)
                && !(self.unavailable)(seat.id)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::OfferableSeat;
    use proptest::prelude::*;
    use rustc_hash::FxHashSet;

    /// Free seats of one section: rows of (seat numbers, price), in order.
    fn listed(version: i64, rows: &[(&[i64], i64)]) -> Arc<FreeSeats> {
        listed_but(version, rows, |_| false)
    }

    /// The same, but the seats `taken` says are not free at the version.
    fn listed_but(
        version: i64,
        rows: &[(&[i64], i64)],
        taken: impl Fn(i64) -> bool,
    ) -> Arc<FreeSeats> {
        let seats: Vec<OfferableSeat> = (0..)
            .zip(rows)
            .flat_map(|(row, (numbers, price))| {
                numbers.iter().map(move |&number| OfferableSeat {
                    id: i64::from(row) * 1000 + number,
                    section: 0,
                    row,
                    number,
                    price_cents: *price,
                })
            })
            .collect();
        let free = seats.iter().map(|seat| !taken(seat.id)).collect();
        Arc::new(FreeSeats::made_up(
            version,
            vec!["Stalls".into()],
            seats,
            free,
        ))
    }

    fn pairs() -> Want {
        Want {
            count: 2,
            section: None,
            max_price_cents: None,
        }
    }

    const NOTHING_TAKEN: &dyn Fn(i64) -> bool = &|_| false;

    #[test]
    fn requests_at_one_version_are_handed_different_seats_and_nobody_is_stranded() {
        // Row 0 has seats 1-5 and row 1 seats 1-2, all at one price: pairs
        // 1-2 and 4-5 of row 0 strand nobody, but once one of them is
        // handed out the other would strand seat 3.
        let free = listed(7, &[(&[1, 2, 3, 4, 5], 1000), (&[1, 2], 1000)]);
        let hand_out = HandOut::default();
        let first = hand_out.next(1, free.clone(), &pairs(), NOTHING_TAKEN);
        let second = hand_out.next(1, free.clone(), &pairs(), NOTHING_TAKEN);
        let mut handed: Vec<Vec<i64>> = [first, second].into_iter().flatten().collect();
        handed.sort();
        assert_eq!(handed.len(), 2, "{handed:?}");
        assert_eq!(handed[1], [1001, 1002], "the exact fit of row 1");
        assert!(
            handed[0] == [1, 2] || handed[0] == [4, 5],
            "one end of row 0: {handed:?}"
        );
        assert_eq!(
            hand_out.next(1, free.clone(), &pairs(), NOTHING_TAKEN),
            None,
            "only placements stranding a seat are left: the walk decides"
        );
    }

    #[test]
    fn the_cheapest_go_first_and_seats_being_claimed_are_skipped() {
        let free = listed(1, &[(&[1, 2], 5000), (&[1, 2], 3000), (&[1, 2], 3000)]);
        let hand_out = HandOut::default();
        let claimed_elsewhere = |id: i64| id == 1001;
        let first = hand_out.next(1, free.clone(), &pairs(), &claimed_elsewhere);
        assert_eq!(first, Some(vec![2001, 2002]));
        let second = hand_out.next(1, free.clone(), &pairs(), &claimed_elsewhere);
        assert_eq!(second, Some(vec![1, 2]), "row 1 is being claimed");
        assert_eq!(hand_out.next(1, free, &pairs(), &claimed_elsewhere), None);
    }

    #[test]
    fn a_new_version_is_ranked_afresh_and_an_older_one_is_not_gone_back_to() {
        let hand_out = HandOut::default();
        let v1 = listed(1, &[(&[1, 2], 1000)]);
        assert_eq!(
            hand_out.next(1, v1.clone(), &pairs(), NOTHING_TAKEN),
            Some(vec![1, 2])
        );
        // The claim failed, and the seat map moved on without it.
        let v2 = listed(2, &[(&[1, 2], 1000), (&[1, 2], 2000)]);
        assert_eq!(
            hand_out.next(1, v2.clone(), &pairs(), NOTHING_TAKEN),
            Some(vec![1, 2])
        );
        // A request still holding version 1 is served from version 2.
        assert_eq!(
            hand_out.next(1, v1, &pairs(), NOTHING_TAKEN),
            Some(vec![1001, 1002])
        );
        // Another event has its own turns.
        assert_eq!(
            hand_out.next(2, v2, &pairs(), NOTHING_TAKEN),
            Some(vec![1, 2])
        );
    }

    #[test]
    fn a_used_up_list_is_ranked_again_from_what_is_left() {
        // More exact-fit pairs than one list ranks.
        let rows: Vec<(&[i64], i64)> = vec![(&[1, 2], 1000); DEPTH + 3];
        let free = listed(1, &rows);
        let hand_out = HandOut::default();
        let mut handed = FxHashSet::default();
        while let Some(ids) = hand_out.next(1, free.clone(), &pairs(), NOTHING_TAKEN) {
            assert!(ids.iter().all(|id| handed.insert(*id)), "{ids:?} twice");
        }
        assert_eq!(handed.len(), 2 * (DEPTH + 3));
    }

    /// Rows of seats: each row a set of numbers in 1..=12, one price.
    fn rows() -> impl Strategy<Value = Vec<(Vec<i64>, i64)>> {
        let row = (
            proptest::collection::btree_set(1..=12i64, 0..=12),
            prop_oneof![Just(1000i64), Just(2000)],
        )
            .prop_map(|(numbers, price)| (numbers.into_iter().collect::<Vec<_>>(), price));
        proptest::collection::vec(row, 1..6)
    }

    proptest! {
        /// Whatever the seats, every hand-out is `count` adjacent seats of
        /// one row, nobody gets a seat twice, and no hand-out strands a
        /// single seat in what is left, nor is dearer than the cheapest
        /// placement then open that strands nobody.
        #[test]
        fn hand_outs_never_overlap_or_strand_a_seat(
            rows in rows(),
            taken in proptest::collection::hash_set((0..6i64, 1..=12i64).prop_map(|(r, n)| r * 1000 + n), 0..20),
            count in 1usize..4,
        ) {
            let borrowed: Vec<(&[i64], i64)> =
                rows.iter().map(|(n, p)| (n.as_slice(), *p)).collect();
            let free = listed_but(1, &borrowed, |id| taken.contains(&id));
            let want = Want { count, section: None, max_price_cents: None };
            let hand_out = HandOut::default();
            let mut left: FxHashSet<i64> = free.free().map(|(_, s)| s.id).collect();
            while let Some(ids) = hand_out.next(1, free.clone(), &want, NOTHING_TAKEN) {
                prop_assert_eq!(ids.len(), count);
                prop_assert!(ids.windows(2).all(|w| w[1] == w[0] + 1), "{:?}", ids);
                prop_assert!(ids.iter().all(|id| id / 1000 == ids[0] / 1000));
                let open: Vec<OfferableSeat> = free
                    .seats()
                    .iter()
                    .copied()
                    .filter(|s| left.contains(&s.id))
                    .collect();
                let best = best_available::ranked((0..).zip(open.iter().copied()), count, 1);
                let price: i64 = free
                    .seats()
                    .iter()
                    .filter(|s| ids.contains(&s.id))
                    .map(|s| s.price_cents)
                    .sum();
                prop_assert!(!best[0].rank.strands_one);
                prop_assert_eq!(price, best[0].rank.price_cents);
                for id in &ids {
                    prop_assert!(left.remove(id), "{} handed out twice", id);
                }
                let (row, first, last) = (ids[0] / 1000, ids[0] % 1000, ids[count - 1] % 1000);
                let open_seat = |number: i64| left.contains(&(row * 1000 + number));
                let strands_left = open_seat(first - 1) && !open_seat(first - 2);
                let strands_right = open_seat(last + 1) && !open_seat(last + 2);
                prop_assert!(!strands_left && !strands_right, "{:?} strands one", ids);
            }
        }
    }
}
