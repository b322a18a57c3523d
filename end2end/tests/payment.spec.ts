import { test, expect, type Page } from "@playwright/test";
import { collectConsoleErrors, firstAvailableSeat, openEvent, pick } from "./helpers";

// Paying in the processor's card form: a server configured with a Stripe
// publishable key (scripts/e2e.sh points it at the Stripe stand-in, which
// also serves a stand-in for Stripe.js) mounts the Payment Element on the
// checkout page; the card number goes from it to the processor, and a card
// that needs 3-D Secure opens the bank's challenge in the page.
const base = process.env.TESSERA_CARD_FORM_URL ?? "";
const THREE_D_SECURE_CARD = "4000 0027 6000 3184";

async function toCheckoutWithCard(page: Page, email: string) {
  await openEvent(page, "Open Mic Finals", base);
  const seatId = await firstAvailableSeat(page);
  await pick(page, page.locator(`.seat-picker .seat[data-seat="${seatId}"]`));
  await page.getByTestId("hold-selected").click();
  await expect(page).toHaveURL(/\/checkout\/\d+/);
  // The refund policy is shown before paying.
  await expect(page.getByTestId("refund-policy")).toContainText("Refunds");
  const form = page.getByTestId("payment-element");
  await expect(form.locator('[data-stripe-field="number"]')).toBeVisible();
  // No test-card list where the real form is.
  await expect(page.getByTestId("card")).toHaveCount(0);
  await page.getByTestId("email").fill(email);
  await form.locator('[data-stripe-field="number"]').fill(THREE_D_SECURE_CARD);
  await form.locator('[data-stripe-field="exp"]').fill("12 / 34");
  await form.locator('[data-stripe-field="cvc"]').fill("123");
  await page.getByTestId("pay").click();
  const challenge = page.getByRole("dialog", { name: "Authenticate your payment" });
  await expect(challenge).toBeVisible();
  return challenge;
}

test.describe("the processor's card form", () => {
  test.skip(!base, "TESSERA_CARD_FORM_URL is set by scripts/e2e.sh");

  test("a buyer pays through a 3-D Secure challenge and gets tickets", async ({ page }) => {
    const errors = collectConsoleErrors(page, [401]);
    const challenge = await toCheckoutWithCard(page, "card-form@example.com");
    await challenge.getByRole("button", { name: "Complete authentication" }).click();
    await expect(page.getByTestId("confirmation")).toContainText("You're going", { timeout: 15_000 });
    await expect(challenge).toHaveCount(0);
    expect(errors).toEqual([]);
  });

  test("the card form keeps what the buyer typed while the countdown runs", async ({ page }) => {
    await openEvent(page, "Open Mic Finals", base);
    const seatId = await firstAvailableSeat(page);
    await pick(page, page.locator(`.seat-picker .seat[data-seat="${seatId}"]`));
    await page.getByTestId("hold-selected").click();
    const number = page.getByTestId("payment-element").locator('[data-stripe-field="number"]');
    await expect(number).toBeVisible();
    await number.fill(THREE_D_SECURE_CARD);
    // The countdown redraws twice a second; wait for two changes of its text.
    const countdown = page.getByTestId("countdown");
    for (let tick = 0; tick < 2; tick++) {
      const shown = (await countdown.textContent()) ?? "";
      await expect(countdown).not.toHaveText(shown, { timeout: 5_000 });
    }
    await expect(number).toHaveValue(THREE_D_SECURE_CARD);
    await expect(page.locator(".stripe-standin-payment-element")).toHaveCount(1);
  });

  test("a failed challenge is a decline, and the seats stay held", async ({ page }) => {
    const errors = collectConsoleErrors(page, [401, 402]);
    const challenge = await toCheckoutWithCard(page, "card-form-fail@example.com");
    await challenge.getByRole("button", { name: "Fail authentication" }).click();
    await expect(page.getByTestId("notice")).toContainText("still held", { timeout: 15_000 });
    await expect(page.getByTestId("countdown")).toBeVisible();
    await expect(page.getByTestId("confirmation")).toHaveCount(0);
    expect(errors).toEqual([]);
  });
});
