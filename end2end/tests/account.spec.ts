import { test, expect, type Page } from "@playwright/test";
import { collectConsoleErrors, firstAvailableSeat, openEvent, pick, waitForHydration } from "./helpers";

// A fresh address per run, so the suite can run again against the same
// database. Letters only: the API refuses any request carrying a run of
// digits that passes the card-number check, and a millisecond timestamp
// does so about one time in ten.
function freshEmail(label: string): string {
  const letters = Array.from({ length: 12 }, () => String.fromCharCode(97 + Math.floor(Math.random() * 26)));
  return `${label}-${letters.join("")}@example.com`;
}

async function register(page: Page, email: string, password: string, name = "Test Fan") {
  await page.goto("/account");
  await waitForHydration(page);
  await page.getByTestId("register-email").fill(email);
  await page.getByTestId("register-name").fill(name);
  await page.getByTestId("register-password").fill(password);
  await page.getByTestId("register").click();
}

test("a fan signs up, saves a card, buys with it, finds the ticket and refunds it", async ({ page }) => {
  const errors = collectConsoleErrors(page, [401, 409]);
  const email = freshEmail("fan");
  await register(page, email, "correct horse battery", "Robin");
  await expect(page.getByTestId("account-email")).toHaveText(email);
  await expect(page.getByTestId("account-name")).toHaveText("Robin");
  await expect(page.getByTestId("email-confirmed")).toContainText("Not confirmed");
  await expect(page.getByTestId("saved-card")).toContainText("No saved card");

  await page.getByTestId("new-card").selectOption("tok_visa");
  await page.getByTestId("save-card").click();
  await expect(page.getByTestId("saved-card")).toHaveText("visa •••• 4242");

  // Hold a seat and pay with the saved card, which checkout offers first.
  await openEvent(page, "Basement Tapes");
  const eventId = page.url().match(/\/events\/(\d+)/)?.[1];
  expect(eventId).toBeTruthy();
  const seatId = await firstAvailableSeat(page);
  await pick(page, page.locator(`.seat-picker .seat[data-seat="${seatId}"]`));
  await page.getByTestId("hold-selected").click();
  await expect(page).toHaveURL(/\/checkout\/\d+/);
  await expect(page.getByTestId("pay-saved")).toBeChecked();
  await expect(page.getByText("Pay with visa •••• 4242")).toBeVisible();
  await expect(page.getByTestId("email")).toHaveValue(email);
  await expect(page.getByTestId("card")).toHaveCount(0);
  await page.getByTestId("pay").click();
  await expect(page.getByTestId("confirmation")).toContainText("You're going");

  // The ticket is on "My tickets" with a QR code that really loaded.
  await page.getByRole("link", { name: "My tickets", exact: true }).click();
  await expect(page).toHaveURL(/\/my\/tickets$/);
  const tickets = page.getByTestId("my-ticket");
  await expect(tickets).toHaveCount(1);
  const ticket = tickets.first();
  await expect(ticket).toContainText("Basement Tapes Live");
  await expect(ticket.getByTestId("ticket-status")).toHaveText("Valid");
  await expect(ticket.getByTestId("ticket-code")).not.toBeEmpty();
  const qr = ticket.locator("img.qr");
  await expect(qr).toBeVisible();
  await expect(qr).toHaveAttribute("alt", /QR code for Basement Tapes Live/);
  await expect
    .poll(() => qr.evaluate((img: HTMLImageElement) => (img.complete ? img.naturalWidth : 0)))
    .toBeGreaterThan(0);

  // Refunding marks the ticket refunded and puts the seat back on sale.
  await ticket.getByTestId("refund").click();
  await expect(page.getByTestId("tickets-notice")).toContainText("refunded");
  await expect(ticket.getByTestId("ticket-status")).toHaveText("Refunded");
  await expect(ticket.getByTestId("refund")).toHaveCount(0);
  const response = await page.request.get(`/api/events/${eventId}/seats`);
  expect(response.ok()).toBeTruthy();
  const map = (await response.json()) as { seats: { id: number; status: string }[] };
  const seat = map.seats.find((s) => String(s.id) === seatId);
  expect(seat?.status).toBe("available");
  expect(errors).toEqual([]);
});

test("sign-in and sign-up problems are explained, and signing out works", async ({ page }) => {
  const errors = collectConsoleErrors(page, [401, 409]);
  const email = freshEmail("returning");
  const password = "a long enough password";
  await register(page, email, password);
  await expect(page.getByTestId("account-email")).toHaveText(email);
  await page.getByTestId("sign-out").click();
  await expect(page.getByTestId("account-notice")).toContainText("signed out");

  // The same email again (never confirmed) mails a link to claim the
  // account instead, and signs nobody in.
  await page.getByTestId("register-email").fill(email);
  await page.getByTestId("register-name").fill("Someone Else");
  await page.getByTestId("register-password").fill(password);
  await page.getByTestId("register").click();
  await expect(page.getByTestId("account-notice")).toContainText("never confirmed");
  await expect(page.getByTestId("register-form")).toBeVisible();

  await page.getByTestId("sign-in-email").fill(email);
  await page.getByTestId("sign-in-password").fill("not the password");
  await page.getByTestId("sign-in").click();
  await expect(page.getByTestId("sign-in-error")).toContainText("do not match");

  await page.getByTestId("sign-in-password").fill(password);
  await page.getByTestId("sign-in").click();
  await expect(page.getByTestId("account-email")).toHaveText(email);

  // Signed out, "My tickets" points to the account page.
  await page.getByTestId("sign-out").click();
  await expect(page.getByTestId("account-notice")).toContainText("signed out");
  await page.getByRole("link", { name: "My tickets", exact: true }).click();
  await expect(page.getByTestId("signed-out")).toBeVisible();
  await expect(page.getByTestId("signed-out").getByRole("link")).toHaveAttribute("href", "/account");
  expect(errors).toEqual([]);
});

test("a fan changes their password: the old one stops working, other browsers are signed out", async ({ page, browser }) => {
  const errors = collectConsoleErrors(page, [401, 409]);
  const email = freshEmail("changer");
  await register(page, email, "the first password");
  await expect(page.getByTestId("account-email")).toHaveText(email);
  // A second browser signed in to the same account.
  const other = await browser.newContext();
  const signIn = await other.request.post("/api/auth/login", { data: { email, password: "the first password" } });
  expect(signIn.ok(), await signIn.text()).toBeTruthy();

  await page.getByTestId("current-password").fill("not the password");
  await page.getByTestId("new-password").fill("the second password");
  await page.getByTestId("change-password").click();
  await expect(page.getByTestId("account-notice")).toContainText("not right");

  await page.getByTestId("current-password").fill("the first password");
  await page.getByTestId("change-password").click();
  await expect(page.getByTestId("account-notice")).toContainText("password was changed");
  // This browser stays signed in; the other one is not any more.
  await page.reload();
  await expect(page.getByTestId("account-email")).toHaveText(email);
  expect((await other.request.get("/api/me")).status()).toBe(401);
  const oldPassword = await other.request.post("/api/auth/login", { data: { email, password: "the first password" } });
  expect(oldPassword.status()).toBe(401);
  const newPassword = await other.request.post("/api/auth/login", { data: { email, password: "the second password" } });
  expect(newPassword.ok(), await newPassword.text()).toBeTruthy();
  await other.close();
  expect(errors).toEqual([]);
});

test("a signed-in fan without a saved card can save the card they pay with", async ({ page }) => {
  const errors = collectConsoleErrors(page, [401, 409]);
  const email = freshEmail("saver");
  await register(page, email, "another good password");
  await expect(page.getByTestId("saved-card")).toContainText("No saved card");

  await openEvent(page, "Open Mic Finals");
  const seatId = await firstAvailableSeat(page);
  await pick(page, page.locator(`.seat-picker .seat[data-seat="${seatId}"]`));
  await page.getByTestId("hold-selected").click();
  await expect(page).toHaveURL(/\/checkout\/\d+/);
  await expect(page.getByTestId("email")).toHaveValue(email);
  // No saved card yet: the card list is shown, with the offer to keep it.
  await expect(page.getByTestId("pay-saved")).toHaveCount(0);
  await page.getByTestId("card").selectOption("tok_visa");
  await page.getByTestId("save-card").check();
  await page.getByTestId("pay").click();
  await expect(page.getByTestId("confirmation")).toContainText("You're going");

  await page.getByRole("link", { name: "Account", exact: true }).click();
  await expect(page.getByTestId("saved-card")).toHaveText("visa •••• 4242");
  expect(errors).toEqual([]);
});

test("a confirmation link that is not valid says so", async ({ page }) => {
  await page.goto(`/account/confirm?token=${"0".repeat(32)}`);
  await expect(page.getByTestId("confirm-result")).toContainText("not valid");
});
