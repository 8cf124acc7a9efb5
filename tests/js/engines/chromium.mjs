// Debian's Chromium through playwright-core (CDP). Its pages and contexts are playwright's
// own objects: the other engines' drivers copy the part of that surface the tests use.
import { chromium } from 'playwright-core';

/**
 * Debian's Chromium, and the flags every headless run here needs (as root: --no-sandbox; off
 * the network it cannot reach: the background-networking flags).
 */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
  '--disable-dev-shm-usage',
];

/** A persistent context on `profile` (a user-data-dir); `extraArgs` are Chromium flags. */
export async function launchChromium(profile, extraArgs = []) {
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [...ARGS, ...extraArgs],
  });
  return { context, version: context.browser()?.version() ?? 'chromium' };
}
