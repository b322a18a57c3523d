//! Best available: `count` adjacent seats in one row, cheapest first, never
//! leaving a single orphan seat beside the group when a placement without
//! one exists. Pure selection here; the claim itself is the usual
//! all-or-nothing compare-and-set, retried if someone got there first.

use crate::live::FreeSeat;
use std::collections::BinaryHeap;

/// Picks seats for `count` buyers sitting together, or `None` if no row has
/// that many adjacent free seats. `seats` must come in venue order
/// (section, row and number).
pub fn choose(seats: impl IntoIterator<Item = FreeSeat>, count: usize) -> Option<Vec<i64>> {
    ranked(seats, count, 1).into_iter().next()
}

/// Up to `limit` of the best placements, all equally good (none strands a
/// single seat if any placement avoids it, and all cost the least), earliest
/// in the venue first. Buyers arriving together are spread over these (see
/// the caller), so an onsale flood does not all aim at the same two seats,
/// and nobody is offered a worse placement than the best.
///
/// The seats are streamed, one row's run at a time, and only the best
/// `limit` placements are kept: collecting a stadium's free seats and every
/// placement among them for each request was about 5 MB a request, and
/// 128 buyers asking at once took the server to 577 MiB.
pub fn ranked(
    seats: impl IntoIterator<Item = FreeSeat>,
    count: usize,
    limit: usize,
) -> Vec<Vec<i64>> {
    if count == 0 || limit == 0 {
        return Vec::new();
    }
    let mut best = Best {
        kept: BinaryHeap::with_capacity(limit + 1),
        count,
        limit,
    };
    let mut run: Vec<FreeSeat> = Vec::new();
    for seat in seats {
        let continues = run
            .last()
            .is_some_and(|last| seat.row == last.row && seat.number == last.number + 1);
        if !continues {
            best.offer_run(&run);
            run.clear();
        }
        run.push(seat);
    }
    best.offer_run(&run);
    let placements = best.kept.into_sorted_vec();
    let top = placements
        .first()
        .map(|((orphan, price, _), _)| (*orphan, *price));
    placements
        .into_iter()
        .take_while(|((orphan, price, _), _)| Some((*orphan, *price)) == top)
        .map(|(_, ids)| ids)
        .collect()
}

/// How good a placement is: (strands a single seat, total price, first seat
/// id); lower is better.
type Rank = (bool, i64, i64);

/// The best placements seen so far, the worst of them on top.
struct Best {
    kept: BinaryHeap<(Rank, Vec<i64>)>,
    count: usize,
    limit: usize,
}

impl Best {
    /// Offers every placement of `count` seats within one maximal run of
    /// consecutive seats of a row.
    fn offer_run(&mut self, run: &[FreeSeat]) {
        if run.len() < self.count {
            return;
        }
        for offset in 0..=run.len() - self.count {
            let right_gap = run.len() - self.count - offset;
            let leaves_orphan = offset == 1 || right_gap == 1;
            let group = &run[offset..offset + self.count];
            let price: i64 = group.iter().map(|s| s.price_cents).sum();
            let rank = (leaves_orphan, price, group[0].id);
            if self.kept.len() == self.limit
                && self.kept.peek().is_some_and(|(worst, _)| rank >= *worst)
            {
                continue;
            }
            self.kept.push((rank, group.iter().map(|s| s.id).collect()));
            if self.kept.len() > self.limit {
                self.kept.pop();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A row of section `section_id` with these free seat numbers, all at `price`.
    fn row(numbers: &[i64], price: i64, section_id: i64, row_label: &str) -> Vec<FreeSeat> {
        let section = u32::try_from(section_id).expect("a small section id");
        let row = section * 1000 + u32::from(row_label.as_bytes()[0]);
        numbers
            .iter()
            .map(|&number| FreeSeat {
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
            ranked(seats.iter().copied(), 2, 10),
            vec![vec![2001, 2002]],
            "the one cheapest"
        );
        let mut seats = row(&[1, 2, 3, 4, 5, 6], 1000, 1, "A");
        seats.extend(row(&[1, 2, 3], 1000, 1, "B"));
        // Same price everywhere: the placements stranding nobody, in venue order.
        assert_eq!(
            ranked(seats.iter().copied(), 2, 10),
            vec![vec![1001, 1002], vec![1003, 1004], vec![1005, 1006]]
        );
        assert_eq!(ranked(seats.iter().copied(), 2, 2).len(), 2);
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
            ranked(seats.iter().copied(), 2, 2),
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
