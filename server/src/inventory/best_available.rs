//! Best available: `count` adjacent seats in one row, cheapest first, never
//! leaving a single orphan seat beside the group when a placement without
//! one exists. Pure selection here; the claim itself is the usual
//! all-or-nothing compare-and-set, retried if someone got there first.

/// A seat that is free right now, in venue order (section, row, number).
/// It borrows its names from the live seat map: a stadium has 50,000 seats,
/// and copying their names for every request was most of the cost of best
/// available in an onsale.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FreeSeat<'a> {
    pub id: i64,
    pub section: &'a str,
    pub row_label: &'a str,
    pub number: i64,
    pub price_cents: i64,
}

/// Picks seats for `count` buyers sitting together, or `None` if no row has
/// that many adjacent free seats. `seats` must be sorted by section, row and
/// number (the order the venue lists them).
pub fn choose(seats: &[FreeSeat<'_>], count: usize) -> Option<Vec<i64>> {
    ranked(seats, count, 1).into_iter().next()
}

/// Up to `limit` of the best placements, all equally good (none strands a
/// single seat if any placement avoids it, and all cost the least), earliest
/// in the venue first. Buyers arriving together are spread over these (see
/// the caller), so an onsale flood does not all aim at the same two seats,
/// and nobody is offered a worse placement than the best.
pub fn ranked(seats: &[FreeSeat<'_>], count: usize, limit: usize) -> Vec<Vec<i64>> {
    if count == 0 || limit == 0 {
        return Vec::new();
    }
    let mut placements: Vec<(Rank, &[FreeSeat<'_>])> = Vec::new();
    for run in runs(seats) {
        if run.len() < count {
            continue;
        }
        for offset in 0..=run.len() - count {
            let left_gap = offset;
            let right_gap = run.len() - count - offset;
            let leaves_orphan = left_gap == 1 || right_gap == 1;
            let group = &run[offset..offset + count];
            let price: i64 = group.iter().map(|s| s.price_cents).sum();
            placements.push(((leaves_orphan, price, group[0].id), group));
        }
    }
    if placements.len() > limit {
        placements.select_nth_unstable_by_key(limit - 1, |(key, _)| *key);
        placements.truncate(limit);
    }
    placements.sort_unstable_by_key(|(key, _)| *key);
    let best = placements
        .first()
        .map(|((orphan, price, _), _)| (*orphan, *price));
    placements
        .into_iter()
        .take_while(|((orphan, price, _), _)| Some((*orphan, *price)) == best)
        .map(|(_, group)| group.iter().map(|s| s.id).collect())
        .collect()
}

/// How good a placement is: (strands a single seat, total price, first seat
/// id); lower is better.
type Rank = (bool, i64, i64);

/// Maximal runs of consecutive seat numbers within one row.
fn runs<'s, 'a>(seats: &'s [FreeSeat<'a>]) -> Vec<&'s [FreeSeat<'a>]> {
    let mut runs = Vec::new();
    let mut start = 0;
    for i in 1..=seats.len() {
        let continues = i < seats.len()
            && seats[i].section == seats[i - 1].section
            && seats[i].row_label == seats[i - 1].row_label
            && seats[i].number == seats[i - 1].number + 1;
        if !continues {
            runs.push(&seats[start..i]);
            start = i;
        }
    }
    runs.retain(|run| !run.is_empty());
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A row of section `section_id` with these free seat numbers, all at `price`.
    fn row(
        numbers: &[i64],
        price: i64,
        section_id: i64,
        row_label: &'static str,
    ) -> Vec<FreeSeat<'static>> {
        let section: &'static str = Box::leak(section_id.to_string().into_boxed_str());
        numbers
            .iter()
            .map(|&number| FreeSeat {
                id: section_id * 1000 + number,
                section,
                row_label,
                number,
                price_cents: price,
            })
            .collect()
    }

    #[test]
    fn picks_adjacent_seats_in_one_row() {
        let seats = row(&[1, 3, 4, 5, 8], 1000, 1, "A");
        assert_eq!(choose(&seats, 3), Some(vec![1003, 1004, 1005]));
        assert_eq!(choose(&seats, 4), None, "no four together");
    }

    #[test]
    fn does_not_join_seats_across_rows_or_sections() {
        let mut seats = row(&[9, 10], 1000, 1, "A");
        seats.extend(row(&[1, 2], 1000, 1, "B"));
        assert_eq!(choose(&seats, 3), None);
    }

    #[test]
    fn prefers_the_cheapest_placement() {
        let mut seats = row(&[1, 2], 5000, 1, "A");
        seats.extend(row(&[1, 2], 3000, 2, "A"));
        assert_eq!(choose(&seats, 2), Some(vec![2001, 2002]));
    }

    #[test]
    fn never_leaves_a_single_orphan_when_it_can_avoid_it() {
        // Free run 1..=4: two seats at 2-3 would strand 1 and 4; 1-2 leaves 3-4 together.
        let seats = row(&[1, 2, 3, 4], 1000, 1, "A");
        assert_eq!(choose(&seats, 2), Some(vec![1001, 1002]));
        // Run of 3 for 2 buyers: any placement strands one seat, so one is
        // accepted, but a run elsewhere that fits exactly wins.
        let mut seats = row(&[1, 2, 3], 1000, 1, "A");
        assert_eq!(choose(&seats, 2), Some(vec![1001, 1002]));
        seats.extend(row(&[5, 6], 1000, 1, "B"));
        assert_eq!(choose(&seats, 2), Some(vec![1005, 1006]));
    }

    #[test]
    fn only_equally_good_placements_are_offered() {
        let mut seats = row(&[1, 2, 3, 4], 1000, 1, "A");
        seats.extend(row(&[1, 2], 900, 2, "A"));
        assert_eq!(
            ranked(&seats, 2, 10),
            vec![vec![2001, 2002]],
            "the one cheapest"
        );
        let mut seats = row(&[1, 2, 3, 4, 5, 6], 1000, 1, "A");
        seats.extend(row(&[1, 2, 3], 1000, 1, "B"));
        // Same price everywhere: the placements stranding nobody, in venue order.
        assert_eq!(
            ranked(&seats, 2, 10),
            vec![vec![1001, 1002], vec![1003, 1004], vec![1005, 1006]]
        );
        assert_eq!(ranked(&seats, 2, 2).len(), 2);
    }

    #[test]
    fn an_orphan_free_placement_wins_even_if_slightly_dearer() {
        let mut seats = row(&[1, 2, 3], 1000, 1, "A"); // 2 of 3 strands one
        seats.extend(row(&[1, 2], 1100, 2, "A")); // exact fit
        assert_eq!(choose(&seats, 2), Some(vec![2001, 2002]));
    }
}
