import { test, expect, type Page } from "@playwright/test";
import { collectConsoleErrors, waitForHydration } from "./helpers";

test("home page lists upcoming demo events and searches them", async ({ page }) => {
  const errors = collectConsoleErrors(page);
  await page.goto("/");
  await expect(page.getByRole("heading", { name: "Upcoming events" })).toBeVisible();
  const cards = page.locator(".event-card");
  expect(await cards.count()).toBeGreaterThanOrEqual(20);
  await expect(page.locator(".event-card", { hasText: "Northgate Stadium" }).first()).toBeVisible();

  await waitForHydration(page);
  await page.getByPlaceholder("Artist, event, venue or city").fill("hamlet");
  await page.getByRole("button", { name: "Search" }).click();
  await expect(page).toHaveURL(/q=hamlet/);
  await expect(cards).toHaveCount(1);
  await expect(cards.first()).toContainText("Hamlet");
  await expect(cards.first()).toContainText("Royal Meridian Theatre");
  expect(errors).toEqual([]);
});

test("event page shows tiers, sections and the live seat map", async ({ page }) => {
  const errors = collectConsoleErrors(page);
  await page.goto("/?q=aurora");
  await page.locator(".event-card a").first().click();
  await expect(page.getByRole("heading", { level: 1, name: /Aurora Skies/ })).toBeVisible();
  await expect(page.locator("table.tiers tbody tr")).toHaveCount(4);
  await expect(page.getByTestId("seats-available")).toContainText("of 50000 seats available");
  // The map only connects once the wasm bundle has hydrated the page.
  await expect(page.locator('.seat-picker[data-live="live"]')).toBeVisible({ timeout: 30_000 });
  expect(errors).toEqual([]);
});

test("an unknown event shows a friendly not-found page", async ({ page }) => {
  const response = await page.goto("/events/999999");
  expect(response?.status()).toBe(404);
  await expect(page.getByRole("heading", { name: "Event not available" })).toBeVisible();
});

test("pages hydrate and the live map connects under the Content-Security-Policy", async ({ page }) => {
  // Chromium reports every blocked script, style, connection or wasm
  // compilation on the console as a CSP violation.
  const violations: string[] = [];
  page.on("console", (message: ConsoleMessage) => {
    if (/Content[- ]Security[- ]Policy|Refused to/i.test(message.text())) violations.push(message.text());
  });
  const response = await page.goto("/?q=aurora");
  const policy = response?.headers()["content-security-policy"] ?? "";
  expect(policy).toContain("default-src 'self'");
  expect(policy).toContain("frame-ancestors 'none'");
  await waitForHydration(page);
  await page.locator(".event-card a").first().click();
  await expect(page.locator('.seat-picker[data-live="live"]')).toBeVisible({ timeout: 30_000 });
  expect(violations).toEqual([]);
});
