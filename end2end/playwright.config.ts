import { defineConfig } from "@playwright/test";

// The server is started by scripts/test.sh (or by you) before the tests run;
// TESSERA_BASE_URL says where. Chromium comes from Debian, never a download.

// The specs that spend most of their time waiting on a clock (the waiting
// room's onsale and admissions) or in axe-core's walk over the stadium's
// nodes, and that need nothing another spec leaves behind. scripts/e2e.sh
// runs this project beside the other, each against its own server: they
// took 86 of the suite's 186 s one after the other.
const SOLO = ["**/queue.spec.ts", "**/axe.spec.ts"];

export default defineConfig({
  testDir: "./tests",
  projects: [
    { name: "shared", testIgnore: SOLO, outputDir: "test-results/shared" },
    {
      name: "solo",
      testMatch: SOLO,
      outputDir: "test-results/solo",
      use: { baseURL: process.env.TESSERA_SOLO_URL ?? process.env.TESSERA_BASE_URL ?? "http://127.0.0.1:3000" },
    },
  ],
  timeout: 60_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [["list"]],
  use: {
    baseURL: process.env.TESSERA_BASE_URL ?? "http://127.0.0.1:3000",
    trace: "retain-on-failure",
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
  },
});
