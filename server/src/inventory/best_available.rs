//! Best available: `count` adjacent seats in one row, cheapest first, never
//! leaving a single orphan seat beside the group when a placement without
//! one exists. Pure selection here; the claim itself is the usual
//! all-or-nothing compare-and-set, retried if someone got there first.

use crate::live::{FreeSeats, OfferableSeat};
use std::collections::BinaryHeap;

/// What a best-available request asks for.
#[derive(Clone, Debug, PartialEq)]
pub struct Want {
    pub count: usize,
    pub section: Option<String>,
    pub max_price_cents: Option<i64>,
}

/// A [`Want`]'s section and price, resolved against one list of free seats.
#[derive(Debug)]
pub struct Filter {
    /// The indexes of the sections named, if one was.
    sections: Option<Vec<u32>>,
    max_price_cents: Option<i64>,
}

impl Filter {
    pub fn new(section_names: &[String], want: &Want) -> Self {
        let sections = want.section.as_deref().map(|name| {
            (0..)
                .zip(section_names)
                .filter(|(_, section)| *section == name)
                .map(|(index, _)| index)
                .collect()
        });
        Self {
            sections,
            max_price_cents: want.max_price_cents,
        }
    }

    pub fn admits(&self, seat: &OfferableSeat) -> bool {
        self.sections
            .as_ref()
            .is_none_or(|s| s.contains(&seat.section))
            && self
                .max_price_cents
                .is_none_or(|max| seat.price_cents <= max)
    }
}

/// How good a placement is; lower is better: first those that strand no
/// single seat, then the cheapest, then the earliest in the venue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Rank {
    pub strands_one: bool,
    pub price_cents: i64,
    pub first_seat: i64,
}

impl Rank {
    /// Equally good for a buyer: the same on everything but where.
    pub fn ties(&self, other: &Rank) -> bool {
        (self.strands_one, self.price_cents) == (other.strands_one, other.price_cents)
    }
}

/// `count` adjacent seats, from the seat at position `start` of the list
/// the placements were ranked from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Placement {
    pub rank: Rank,
    pub start: u32,
}

/// The seat ids of `placement`, a placement of `count` seats in `seats`.
pub fn seat_ids(seats: &[OfferableSeat], placement: Placement, count: usize) -> Vec<i64> {
    let start = placement.start as usize;
    seats[start..start + count].iter().map(|s| s.id).collect()
}

/// Best available by walking every free seat `want` admits and that is not
/// `unavailable`: one of the equally best placements, at random, so
/// buyers asking together do not all aim at the same seats. The slow way,
/// for what the hand-out in turn ([`super::handout`]) does not serve.
pub fn walk(free: &FreeSeats, want: &Want, unavailable: impl Fn(i64) -> bool) -> Option<Vec<i64>> {
    let filter = Filter::new(free.sections(), want);
    let seats = free
        .free()
        .filter(|(_, seat)| filter.admits(seat) && !unavailable(seat.id));
    let mut best = ranked(seats, want.count, SPREAD);
    let top = best.first()?.rank;
    best.retain(|placement| placement.rank.ties(&top));
    let pick = best.swap_remove(rand::random_range(0..best.len()));
    Some(seat_ids(free.seats(), pick, want.count))
}

/// How many of the equally best placements concurrent buyers are spread
/// over.
pub const SPREAD: usize = 8;

/// Up to `limit` of the best placements of `count` seats together in one
/// row, best first. `seats` are the free seats in venue order, each with
/// its position in the list the placements refer to.
///
/// The seats are streamed, one row's run at a time, and only the best
/// `limit` placements are kept: collecting a stadium's free seats and every
/// placement among them for each request was about 5 MB a request, and
/// 128 buyers asking at once took the server to 577 MiB.
pub fn ranked(
    seats: impl IntoIterator<Item = (u32, OfferableSeat)>,
    count: usize,
    limit: usize,
) -> Vec<Placement> {
    if count == 0 || limit == 0 {
        return Vec::new();
    }
    let mut best = Best {
        kept: BinaryHeap::with_capacity(limit + 1),
        count,
        limit,
    };
    let mut run: Vec<(u32, OfferableSeat)> = Vec::new();
    for (position, seat) in seats {
        let continues = run
            .last()
            .is_some_and(|(_, last)| seat.row == last.row && seat.number == last.number + 1);
        if !continues {
            best.offer_run(&run);
            run.clear();
        }
        run.push((position, seat));
    }
    best.offer_run(&run);
    best.kept.into_sorted_vec()
}

/// The best placements seen so far, the worst of them on top.
struct Best {
    kept: BinaryHeap<Placement>,
    count: usize,
    limit: usize,
}

impl Best {
    /// Offers every placement of `count` seats within one maximal run of
    /// consecutive seats of a row.
    fn offer_run(&mut self, run: &[(u32, OfferableSeat)]) {
        if run.len() < self.count {
            return;
        }
        for offset in 0..=run.len() - self.count {
            let right_gap = run.len() - self.count - offset;
            let group = &run[offset..offset + self.count];
            let placement = Placement {
                rank: Rank {
                    strands_one: offset == 1 || right_gap == 1,
                    price_cents: group.iter().map(|(_, s)| s.price_cents).sum(),
                    first_seat: group[0].1.id,
                },
                start: group[0].0,
            };
            if self.kept.len() == self.limit
                && self.kept.peek().is_some_and(|worst| placement >= *worst)
            {
                continue;
            }
            self.kept.push(placement);
            if self.kept.len() > self.limit {
                self.kept.pop();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The seat ids of the best placement of `count` seats.
    fn choose(seats: impl IntoIterator<Item = OfferableSeat>, count: usize) -> Option<Vec<i64>> {
        ranked_ids(seats, count, 1).into_iter().next()
    }

    /// The seat ids of the equally best placements, up to `limit`.
    fn ranked_ids(
        seats: impl IntoIterator<Item = OfferableSeat>,
        count: usize,
        limit: usize,
    ) -> Vec<Vec<i64>> {
        let seats: Vec<OfferableSeat> = seats.into_iter().collect();
        let placements = ranked((0..).zip(seats.iter().copied()), count, limit);
        let Some(top) = placements.first().map(|p| p.rank) else {
            return Vec::new();
        };
        placements
            .into_iter()
            .take_while(|p| p.rank.ties(&top))
            .map(|p| seat_ids(&seats, p, count))
            .collect()
    }

    /// A row of section `section_id` with these free seat numbers, all at `price`.
    fn row(numbers: &[i64], price: i64, section_id: i64, row_label: &str) -> Vec<OfferableSeat> {
        let section = u32::try_from(section_id).expect("a small section id");
        let row = section * 1000 + u32::from(row_label.as_bytes()[0]);
        numbers
            .iter()
            .map(|&number| OfferableSeat {
                id: section_id * 1000 + number,
                section,
                row,
                number,
                price_cents: price,
            })
            .collect()
    }

    #[test]
    fn picks_adjacent_seats_in_one_row() {
        let seats = row(&[1, 3, 4, 5, 8], 1000, 1, "A");
        assert_eq!(
            choose(seats.iter().copied(), 3),
            Some(vec![1003, 1004, 1005])
        );
        assert_eq!(choose(seats.iter().copied(), 4), None, "no four together");
    }

    #[test]
    fn does_not_join_seats_across_rows_or_sections() {
        let mut seats = row(&[9, 10], 1000, 1, "A");
        seats.extend(row(&[1, 2], 1000, 1, "B"));
        assert_eq!(choose(seats.iter().copied(), 3), None);
    }

    #[test]
    fn prefers_the_cheapest_placement() {
        let mut seats = row(&[1, 2], 5000, 1, "A");
        seats.extend(row(&[1, 2], 3000, 2, "A"));
        assert_eq!(choose(seats.iter().copied(), 2), Some(vec![2001, 2002]));
    }

    #[test]
    fn never_leaves_a_single_orphan_when_it_can_avoid_it() {
        // Free run 1..=4: two seats at 2-3 would strand 1 and 4; 1-2 leaves 3-4 together.
        let seats = row(&[1, 2, 3, 4], 1000, 1, "A");
        assert_eq!(choose(seats.iter().copied(), 2), Some(vec![1001, 1002]));
        // Run of 3 for 2 buyers: any placement strands one seat, so one is
        // accepted, but a run elsewhere that fits exactly wins.
        let mut seats = row(&[1, 2, 3], 1000, 1, "A");
        assert_eq!(choose(seats.iter().copied(), 2), Some(vec![1001, 1002]));
        seats.extend(row(&[5, 6], 1000, 1, "B"));
        assert_eq!(choose(seats.iter().copied(), 2), Some(vec![1005, 1006]));
    }

    #[test]
    fn only_equally_good_placements_are_offered() {
        let mut seats = row(&[1, 2, 3, 4], 1000, 1, "A");
        seats.extend(row(&[1, 2], 900, 2, "A"));
        assert_eq!(
            ranked_ids(seats.iter().copied(), 2, 10),
            vec![vec![2001, 2002]],
            "the one cheapest"
        );
        let mut seats = row(&[1, 2, 3, 4, 5, 6], 1000, 1, "A");
        seats.extend(row(&[1, 2, 3], 1000, 1, "B"));
        // Same price everywhere: the placements stranding nobody, in venue order.
        assert_eq!(
            ranked_ids(seats.iter().copied(), 2, 10),
            vec![vec![1001, 1002], vec![1003, 1004], vec![1005, 1006]]
        );
        assert_eq!(ranked_ids(seats.iter().copied(), 2, 2).len(), 2);
    }

    #[test]
    fn the_best_placements_are_kept_wherever_they_come_in_the_venue() {
        // Dearer sections first: the cheapest pairs come last, after many
        // placements that had to be let go.
        let mut seats = Vec::new();
        for section in 1..=20 {
            seats.extend(row(&[1, 2, 3, 4], 3000 - section * 100, section, "A"));
        }
        assert_eq!(
            ranked_ids(seats.iter().copied(), 2, 2),
            vec![vec![20001, 20002], vec![20003, 20004]]
        );
        assert_eq!(
            choose(seats.iter().copied(), 4),
            Some(vec![20001, 20002, 20003, 20004])
        );
    }

    #[test]
    fn an_orphan_free_placement_wins_even_if_slightly_dearer() {
        let mut seats = row(&[1, 2, 3], 1000, 1, "A"); // 2 of 3 strands one
        seats.extend(row(&[1, 2], 1100, 2, "A")); // exact fit
        assert_eq!(choose(seats.iter().copied(), 2), Some(vec![2001, 2002]));
    }
}
