//! The invariants a crash must never break, checked against what the
//! database and the processor's books say once everything has settled,
//! and against what the buyers were answered. Pure: it reads a snapshot,
//! so it can be tested on fabricated books.

use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// Counterexamples listed per invariant; the count covers them all.
const COUNTEREXAMPLES: usize = 10;

/// A purchase as the database has it after the run.
#[derive(Clone, Debug)]
pub struct Purchase {
    pub id: i64,
    pub hold_id: i64,
    pub request_key: String,
    pub status: String,
    pub total_cents: i64,
    pub payment_ref: Option<String>,
    pub next_check_at: Option<i64>,
    /// How often a retry took it over.
    pub attempt: i64,
}

/// A ticket, with the status of its seat.
#[derive(Clone, Debug)]
pub struct Ticket {
    pub id: i64,
    pub purchase_id: i64,
    pub event_id: i64,
    pub seat_id: i64,
    pub status: String,
    pub seat_status: String,
}

impl Ticket {
    /// A ticket that admits (or admitted) someone.
    fn is_live(&self) -> bool {
        matches!(self.status.as_str(), "valid" | "used")
    }
}

/// A payment as the processor's books have it.
#[derive(Clone, Debug)]
pub struct Charge {
    pub id: String,
    pub amount: i64,
    pub status: String,
    pub amount_refunded: i64,
    /// The purchase it was created for (its metadata).
    pub purchase_id: Option<i64>,
    /// Could still be charged: never confirmed and never canceled.
    pub open: bool,
}

impl Charge {
    /// The processor took money and kept (some of) it.
    pub fn is_kept(&self) -> bool {
        self.status == "succeeded" && self.amount_refunded < self.amount
    }

    pub fn is_refunded_in_full(&self) -> bool {
        self.status == "succeeded" && self.amount_refunded == self.amount
    }
}

/// Everything the checks read after the run.
#[derive(Clone, Debug, Default)]
pub struct Books {
    pub purchases: Vec<Purchase>,
    /// Hold id → how many seats it held.
    pub hold_seats: HashMap<i64, i64>,
    pub tickets: Vec<Ticket>,
    /// (event, seat) of every seat the database says is sold.
    pub sold_seats: Vec<(i64, i64)>,
    pub charges: Vec<Charge>,
}

/// The definite answer a buyer got (after retrying under the same key).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    Status(u16),
    /// `503` asking for a new `Idempotency-Key`: the attempt failed for good.
    NewKey,
    /// Still no definite answer when the buyers were stopped.
    GaveUp,
    /// The fan never asked again after the server died under it.
    Abandoned,
}

impl Answer {
    pub fn label(self) -> String {
        match self {
            Self::Status(status) => status.to_string(),
            Self::NewKey => "503_new_key".into(),
            Self::GaveUp => "gave_up".into(),
            Self::Abandoned => "abandoned".into(),
        }
    }
}

/// What a purchase attempt (one `Idempotency-Key`) was answered.
#[derive(Clone, Debug)]
pub struct PurchaseAnswer {
    pub key: String,
    pub answer: Answer,
    /// From the body of a `201`.
    pub purchase_id: Option<i64>,
}

/// What a buyer's refund request was answered.
#[derive(Clone, Debug)]
pub struct RefundAnswer {
    pub purchase_id: i64,
    pub answer: Answer,
}

#[derive(Clone, Debug, Default)]
pub struct Answers {
    pub purchases: Vec<PurchaseAnswer>,
    pub refunds: Vec<RefundAnswer>,
}

/// One invariant's result.
#[derive(Clone, Debug, Serialize)]
pub struct Verdict {
    pub name: &'static str,
    pub holds: bool,
    pub violations: usize,
    pub counterexamples: Vec<String>,
}

impl Verdict {
    fn of(name: &'static str, found: Vec<String>) -> Self {
        Self {
            name,
            holds: found.is_empty(),
            violations: found.len(),
            counterexamples: found.into_iter().take(COUNTEREXAMPLES).collect(),
        }
    }
}

/// Checks every invariant; each verdict lists its first counterexamples.
pub fn check(books: &Books, answers: &Answers) -> Vec<Verdict> {
    let index = Index::new(books);
    vec![
        Verdict::of(
            "every_kept_charge_has_a_paid_purchase_with_live_tickets",
            kept_charges_are_sold(books, &index),
        ),
        Verdict::of(
            "every_paid_purchase_has_exactly_one_charge_of_its_amount",
            paid_purchases_are_charged_once(books, &index),
        ),
        Verdict::of("no_hold_charged_twice", holds_charged_once(books, &index)),
        Verdict::of("nothing_left_pending", nothing_pending(books)),
        Verdict::of("no_seat_with_two_live_tickets", seats_sold_once(books)),
        Verdict::of("sold_seats_match_live_tickets", seats_match_tickets(books)),
        Verdict::of(
            "every_purchase_answered_201_still_paid",
            answered_201_still_paid(answers, &index),
        ),
        Verdict::of(
            "no_purchase_answered_402_409_or_failed_was_charged",
            refused_not_charged(answers, &index),
        ),
        Verdict::of(
            "every_refunded_purchase_was_refunded_in_full",
            refunds_made(books, &index),
        ),
    ]
}

/// Lookups shared by the checks.
struct Index<'a> {
    purchases: HashMap<i64, &'a Purchase>,
    by_key: HashMap<&'a str, &'a Purchase>,
    live_tickets: HashMap<i64, usize>,
    /// Purchase id → the charges kept for it.
    kept: BTreeMap<i64, Vec<&'a Charge>>,
    charges: HashMap<&'a str, &'a Charge>,
}

impl<'a> Index<'a> {
    fn new(books: &'a Books) -> Self {
        let mut live_tickets = HashMap::new();
        for ticket in books.tickets.iter().filter(|t| t.is_live()) {
            *live_tickets.entry(ticket.purchase_id).or_default() += 1;
        }
        let mut kept: BTreeMap<i64, Vec<&Charge>> = BTreeMap::new();
        for charge in books.charges.iter().filter(|c| c.is_kept()) {
            if let Some(purchase_id) = charge.purchase_id {
                kept.entry(purchase_id).or_default().push(charge);
            }
        }
        Self {
            purchases: books.purchases.iter().map(|p| (p.id, p)).collect(),
            by_key: books
                .purchases
                .iter()
                .map(|p| (p.request_key.as_str(), p))
                .collect(),
            live_tickets,
            kept,
            charges: books.charges.iter().map(|c| (c.id.as_str(), c)).collect(),
        }
    }

    fn kept_for(&self, purchase_id: i64) -> &[&'a Charge] {
        self.kept.get(&purchase_id).map_or(&[], Vec::as_slice)
    }
}

/// Every succeeded, unrefunded charge has a paid purchase (paid with that
/// very charge) with a live ticket for each seat of its hold.
fn kept_charges_are_sold(books: &Books, index: &Index) -> Vec<String> {
    let mut found = Vec::new();
    for charge in books.charges.iter().filter(|c| c.is_kept()) {
        let purchase = charge
            .purchase_id
            .and_then(|id| index.purchases.get(&id).copied());
        let Some(purchase) = purchase else {
            found.push(format!(
                "charge {} ({} cents) kept for no purchase (purchase_id {:?})",
                charge.id, charge.amount, charge.purchase_id
            ));
            continue;
        };
        if purchase.status != "paid" {
            found.push(format!(
                "charge {} ({} cents) kept, but purchase {} is {}",
                charge.id, charge.amount, purchase.id, purchase.status
            ));
            continue;
        }
        if purchase.payment_ref.as_deref() != Some(charge.id.as_str()) {
            found.push(format!(
                "charge {} kept, but purchase {} is paid with {:?}",
                charge.id, purchase.id, purchase.payment_ref
            ));
            continue;
        }
        let live = index.live_tickets.get(&purchase.id).copied().unwrap_or(0);
        let seats = books
            .hold_seats
            .get(&purchase.hold_id)
            .copied()
            .unwrap_or(0);
        if live == 0 || live as i64 != seats {
            found.push(format!(
                "charge {} kept, but paid purchase {} has {live} live tickets for a hold of {seats} seats",
                charge.id, purchase.id
            ));
        }
    }
    found
}

/// Every paid purchase has exactly one kept charge: its own, of its total,
/// not refunded at all.
fn paid_purchases_are_charged_once(books: &Books, index: &Index) -> Vec<String> {
    let mut found = Vec::new();
    for purchase in books.purchases.iter().filter(|p| p.status == "paid") {
        match index.kept_for(purchase.id) {
            [charge] => {
                if charge.amount != purchase.total_cents || charge.amount_refunded != 0 {
                    found.push(format!(
                        "purchase {} of {} cents paid with charge {} of {} cents ({} refunded)",
                        purchase.id,
                        purchase.total_cents,
                        charge.id,
                        charge.amount,
                        charge.amount_refunded
                    ));
                } else if purchase.payment_ref.as_deref() != Some(charge.id.as_str()) {
                    found.push(format!(
                        "purchase {} records payment {:?}, but its charge is {}",
                        purchase.id, purchase.payment_ref, charge.id
                    ));
                }
            }
            charges => found.push(format!(
                "purchase {} is paid with {} kept charges {:?}",
                purchase.id,
                charges.len(),
                charges.iter().map(|c| &c.id).collect::<Vec<_>>()
            )),
        }
    }
    found
}

/// No hold has more than one kept charge, over all its purchase attempts.
fn holds_charged_once(books: &Books, index: &Index) -> Vec<String> {
    let mut per_hold: BTreeMap<i64, Vec<&str>> = BTreeMap::new();
    for charge in books.charges.iter().filter(|c| c.is_kept()) {
        let hold = charge
            .purchase_id
            .and_then(|id| index.purchases.get(&id))
            .map(|p| p.hold_id);
        if let Some(hold) = hold {
            per_hold.entry(hold).or_default().push(&charge.id);
        }
    }
    per_hold
        .into_iter()
        .filter(|(_, charges)| charges.len() > 1)
        .map(|(hold, charges)| format!("hold {hold} charged {} times: {charges:?}", charges.len()))
        .collect()
}

/// Nothing pending or being refunded, nothing left for the reconciler,
/// and no payment left that could still be charged.
fn nothing_pending(books: &Books) -> Vec<String> {
    let mut found = Vec::new();
    for purchase in &books.purchases {
        if matches!(purchase.status.as_str(), "pending" | "refunding") {
            found.push(format!("purchase {} left {}", purchase.id, purchase.status));
        } else if purchase.next_check_at.is_some() {
            found.push(format!(
                "purchase {} ({}) still waits for the reconciler",
                purchase.id, purchase.status
            ));
        }
    }
    for charge in books.charges.iter().filter(|c| c.open) {
        found.push(format!(
            "payment {} ({}) left open for purchase {:?}",
            charge.id, charge.status, charge.purchase_id
        ));
    }
    found
}

fn seats_sold_once(books: &Books) -> Vec<String> {
    let mut per_seat: BTreeMap<(i64, i64), Vec<i64>> = BTreeMap::new();
    for ticket in books.tickets.iter().filter(|t| t.is_live()) {
        per_seat
            .entry((ticket.event_id, ticket.seat_id))
            .or_default()
            .push(ticket.id);
    }
    per_seat
        .into_iter()
        .filter(|(_, tickets)| tickets.len() > 1)
        .map(|((event, seat), tickets)| {
            format!("seat {seat} of event {event} has live tickets {tickets:?}")
        })
        .collect()
}

/// A live ticket's seat is sold, and a sold seat has a live ticket (a
/// refund put its seats back on sale; a sale left none unticketed).
fn seats_match_tickets(books: &Books) -> Vec<String> {
    let mut found = Vec::new();
    let mut ticketed = std::collections::HashSet::new();
    for ticket in books.tickets.iter().filter(|t| t.is_live()) {
        ticketed.insert((ticket.event_id, ticket.seat_id));
        if ticket.seat_status != "sold" {
            found.push(format!(
                "ticket {} is live on seat {} which is {}",
                ticket.id, ticket.seat_id, ticket.seat_status
            ));
        }
    }
    for (event, seat) in &books.sold_seats {
        if !ticketed.contains(&(*event, *seat)) {
            found.push(format!(
                "seat {seat} of event {event} is sold without a live ticket"
            ));
        }
    }
    found
}

/// A purchase answered `201` is still paid; unless its buyer asked for a
/// refund that was granted (then it is refunded) or whose answer never
/// came (then either).
fn answered_201_still_paid(answers: &Answers, index: &Index) -> Vec<String> {
    let refunds: HashMap<i64, Answer> = answers
        .refunds
        .iter()
        .map(|r| (r.purchase_id, r.answer))
        .collect();
    let mut found = Vec::new();
    for answered in answers
        .purchases
        .iter()
        .filter(|a| a.answer == Answer::Status(201))
    {
        let Some(purchase) = answered.purchase_id.and_then(|id| index.purchases.get(&id)) else {
            found.push(format!(
                "key {} answered 201 for purchase {:?}, which does not exist",
                answered.key, answered.purchase_id
            ));
            continue;
        };
        let expected: &[&str] = match refunds.get(&purchase.id) {
            None | Some(Answer::Status(409)) => &["paid"],
            Some(Answer::Status(200)) => &["refunded"],
            Some(_) => &["paid", "refunded"],
        };
        if !expected.contains(&purchase.status.as_str()) {
            found.push(format!(
                "purchase {} answered 201 (refund asked: {:?}) is {}",
                purchase.id,
                refunds.get(&purchase.id).map(|a| a.label()),
                purchase.status
            ));
        }
    }
    found
}

/// A purchase answered `402`, `409` or "failed, use a new key" is not
/// paid and kept no charge.
fn refused_not_charged(answers: &Answers, index: &Index) -> Vec<String> {
    let mut found = Vec::new();
    let refused = answers.purchases.iter().filter(|a| {
        matches!(
            a.answer,
            Answer::Status(402) | Answer::Status(409) | Answer::NewKey
        )
    });
    for answered in refused {
        let Some(purchase) = index.by_key.get(answered.key.as_str()) else {
            continue;
        };
        let kept = index.kept_for(purchase.id);
        if purchase.status == "paid" || !kept.is_empty() {
            found.push(format!(
                "purchase {} answered {} is {} with {} kept charges",
                purchase.id,
                answered.answer.label(),
                purchase.status,
                kept.len()
            ));
        }
    }
    found
}

/// A purchase recorded as refunded was refunded in full at the processor.
fn refunds_made(books: &Books, index: &Index) -> Vec<String> {
    books
        .purchases
        .iter()
        .filter(|p| p.status == "refunded")
        .filter_map(|purchase| {
            let charge = purchase
                .payment_ref
                .as_deref()
                .and_then(|id| index.charges.get(id));
            match charge {
                Some(charge) if charge.is_refunded_in_full() => None,
                Some(charge) => Some(format!(
                    "purchase {} is refunded, but its charge {} is {} with {} of {} cents refunded",
                    purchase.id, charge.id, charge.status, charge.amount_refunded, charge.amount
                )),
                None => Some(format!(
                    "purchase {} is refunded, but its payment {:?} is unknown to the processor",
                    purchase.id, purchase.payment_ref
                )),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn purchase(id: i64, hold: i64, status: &str, payment: Option<&str>) -> Purchase {
        Purchase {
            id,
            hold_id: hold,
            request_key: format!("key-{id}"),
            status: status.into(),
            total_cents: 5000,
            payment_ref: payment.map(str::to_string),
            next_check_at: None,
            attempt: 0,
        }
    }

    fn charge(id: &str, purchase: i64, status: &str, refunded: i64) -> Charge {
        Charge {
            id: id.into(),
            amount: 5000,
            status: status.into(),
            amount_refunded: refunded,
            purchase_id: Some(purchase),
            open: false,
        }
    }

    fn ticket(id: i64, purchase: i64, seat: i64, status: &str) -> Ticket {
        Ticket {
            id,
            purchase_id: purchase,
            event_id: 1,
            seat_id: seat,
            status: status.into(),
            seat_status: if status == "refunded" {
                "available"
            } else {
                "sold"
            }
            .into(),
        }
    }

    fn answered(key: &str, answer: Answer, purchase_id: Option<i64>) -> PurchaseAnswer {
        PurchaseAnswer {
            key: key.into(),
            answer,
            purchase_id,
        }
    }

    /// A sound run: a sale; a decline then a sale on the same hold; a
    /// refund the buyer asked for; a payment refunded because its purchase
    /// failed meanwhile; a payment that never moved money.
    fn sound() -> (Books, Answers) {
        let books = Books {
            purchases: vec![
                purchase(1, 10, "paid", Some("pi_1")),
                purchase(2, 20, "failed", Some("pi_2")),
                purchase(3, 20, "paid", Some("pi_3")),
                purchase(4, 40, "refunded", Some("pi_4")),
                purchase(5, 50, "failed", Some("pi_5")),
                purchase(6, 60, "failed", Some("pi_6")),
            ],
            hold_seats: HashMap::from([(10, 2), (20, 1), (40, 1), (50, 1), (60, 1)]),
            tickets: vec![
                ticket(100, 1, 1000, "valid"),
                ticket(101, 1, 1001, "valid"),
                ticket(102, 3, 1002, "valid"),
                ticket(103, 4, 1003, "refunded"),
            ],
            sold_seats: vec![(1, 1000), (1, 1001), (1, 1002)],
            charges: vec![
                charge("pi_1", 1, "succeeded", 0),
                charge("pi_2", 2, "requires_payment_method", 0),
                charge("pi_3", 3, "succeeded", 0),
                charge("pi_4", 4, "succeeded", 5000),
                charge("pi_5", 5, "succeeded", 5000),
                charge("pi_6", 6, "canceled", 0),
            ],
        };
        let answers = Answers {
            purchases: vec![
                answered("key-1", Answer::Status(201), Some(1)),
                answered("key-2", Answer::Status(402), None),
                answered("key-3", Answer::Status(201), Some(3)),
                answered("key-4", Answer::Status(201), Some(4)),
                answered("key-5", Answer::NewKey, None),
                answered("key-6", Answer::Abandoned, None),
            ],
            refunds: vec![RefundAnswer {
                purchase_id: 4,
                answer: Answer::Status(200),
            }],
        };
        (books, answers)
    }

    fn broken(verdicts: &[Verdict]) -> Vec<&'static str> {
        verdicts
            .iter()
            .filter(|v| !v.holds)
            .map(|v| v.name)
            .collect()
    }

    #[test]
    fn a_sound_run_breaks_nothing() {
        let (books, answers) = sound();
        let verdicts = check(&books, &answers);
        assert_eq!(broken(&verdicts), Vec::<&str>::new(), "{verdicts:#?}");
        assert_eq!(verdicts.len(), 9);
    }

    #[test]
    fn a_customer_charged_without_tickets_is_reported() {
        // The failure this test exists for: the payment succeeded, the
        // purchase was settled failed and nobody refunded it.
        let (mut books, answers) = sound();
        books.charges[5] = charge("pi_6", 6, "succeeded", 0);
        let verdicts = check(&books, &answers);
        assert_eq!(
            broken(&verdicts),
            ["every_kept_charge_has_a_paid_purchase_with_live_tickets"]
        );
        assert_eq!(
            verdicts[0].counterexamples,
            ["charge pi_6 (5000 cents) kept, but purchase 6 is failed"]
        );
    }

    #[test]
    fn a_paid_purchase_without_its_tickets_is_reported() {
        let (mut books, answers) = sound();
        books.tickets.retain(|t| t.purchase_id != 3);
        books.sold_seats.retain(|(_, seat)| *seat != 1002);
        let verdicts = check(&books, &answers);
        assert_eq!(
            broken(&verdicts),
            ["every_kept_charge_has_a_paid_purchase_with_live_tickets"]
        );
    }

    #[test]
    fn a_hold_charged_twice_is_reported() {
        // The declined attempt's payment succeeded after all.
        let (mut books, answers) = sound();
        books.charges[1] = charge("pi_2", 2, "succeeded", 0);
        let verdicts = check(&books, &answers);
        assert_eq!(
            broken(&verdicts),
            [
                "every_kept_charge_has_a_paid_purchase_with_live_tickets",
                "no_hold_charged_twice",
                "no_purchase_answered_402_409_or_failed_was_charged",
            ]
        );
    }

    #[test]
    fn a_purchase_charged_twice_or_not_at_all_is_reported() {
        let (mut books, answers) = sound();
        books.charges.push(charge("pi_7", 1, "succeeded", 0));
        books.charges[2] = charge("pi_3", 3, "canceled", 0);
        let verdicts = check(&books, &answers);
        assert_eq!(
            broken(&verdicts),
            [
                "every_kept_charge_has_a_paid_purchase_with_live_tickets",
                "every_paid_purchase_has_exactly_one_charge_of_its_amount",
                "no_hold_charged_twice",
            ]
        );
        assert_eq!(verdicts[1].violations, 2);
    }

    #[test]
    fn anything_left_pending_or_open_is_reported() {
        let (mut books, answers) = sound();
        books.purchases[4].status = "refunding".into();
        books.purchases[5].next_check_at = Some(1);
        books.charges[5].open = true;
        let verdicts = check(&books, &answers);
        assert_eq!(broken(&verdicts), ["nothing_left_pending"]);
        assert_eq!(verdicts[3].violations, 3);
    }

    #[test]
    fn a_seat_sold_twice_is_reported() {
        let (mut books, answers) = sound();
        books.tickets[2].seat_id = 1000;
        let verdicts = check(&books, &answers);
        assert!(broken(&verdicts).contains(&"no_seat_with_two_live_tickets"));
        assert!(broken(&verdicts).contains(&"sold_seats_match_live_tickets"));
    }

    #[test]
    fn a_201_whose_purchase_was_refunded_behind_the_buyers_back_is_reported() {
        let (mut books, mut answers) = sound();
        books.purchases[0].status = "refunded".into();
        books.charges[0].amount_refunded = 5000;
        for ticket in books.tickets.iter_mut().filter(|t| t.purchase_id == 1) {
            ticket.status = "refunded".into();
            ticket.seat_status = "available".into();
        }
        books.sold_seats.retain(|(_, seat)| *seat > 1001);
        let verdicts = check(&books, &answers);
        assert_eq!(
            broken(&verdicts),
            ["every_purchase_answered_201_still_paid"]
        );

        // Asked for by the buyer, it is what the buyer was told.
        answers.refunds.push(RefundAnswer {
            purchase_id: 1,
            answer: Answer::Status(200),
        });
        assert_eq!(broken(&check(&books, &answers)), Vec::<&str>::new());
    }

    #[test]
    fn a_refund_recorded_but_not_made_is_reported() {
        let (mut books, answers) = sound();
        books.charges[3].amount_refunded = 0;
        let verdicts = check(&books, &answers);
        assert!(broken(&verdicts).contains(&"every_refunded_purchase_was_refunded_in_full"));
    }
}
