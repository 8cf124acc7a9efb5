// Debian's Firefox ESR through puppeteer-core over WebDriver BiDi: no geckodriver and no
// downloaded browser. Puppeteer's page is close to playwright's; the one difference the
// tests meet is `waitForFunction`'s argument order, which `FirefoxPage` turns around.
import puppeteer from 'puppeteer-core';

const FIREFOX = process.env.FIREFOX_PATH ?? '/usr/bin/firefox-esr';

class FirefoxPage {
  constructor(page) {
    this.page = page;
  }
  goto(url) {
    return this.page.goto(url);
  }
  evaluate(fn, arg) {
    return this.page.evaluate(fn, arg);
  }
  /** playwright's order: `(fn, arg, {timeout})`. */
  async waitForFunction(fn, arg, { timeout = 30_000 } = {}) {
    await this.page.waitForFunction(fn, { timeout, polling: 50 }, arg);
  }
  reload() {
    return this.page.reload();
  }
  addScriptTag(options) {
    return this.page.addScriptTag(options);
  }
  on(event, listener) {
    this.page.on(event, listener);
  }
  close() {
    return this.page.close();
  }
}

/** A browser on `profile` (Firefox keeps IndexedDB there, so a relaunch sees the data). */
export async function launchFirefox(profile) {
  const options = {
    browser: 'firefox',
    executablePath: FIREFOX,
    headless: true,
    userDataDir: profile,
    // Keep Firefox off the network it cannot reach (updates, telemetry, safe browsing).
    extraPrefsFirefox: {
      'app.update.enabled': false,
      'browser.safebrowsing.malware.enabled': false,
      'browser.safebrowsing.phishing.enabled': false,
      'datareporting.policy.dataSubmissionEnabled': false,
      'network.captive-portal-service.enabled': false,
    },
  };
  let browser;
  for (let attempt = 1; !browser; attempt++) {
    try {
      browser = await puppeteer.launch(options);
    } catch (e) {
      // After a killed browser, puppeteer restores the profile's user.js from its exit
      // handler, which can race the next launch's backup of that file (ENOENT): wait, retry.
      if (e.code !== 'ENOENT' || attempt >= 5) throw e;
      await new Promise((ok) => setTimeout(ok, 200 * attempt));
    }
  }
  const context = {
    async newPage() {
      return new FirefoxPage(await browser.newPage());
    },
    close: () => browser.close(),
    async clearCookies() {
      await browser.deleteCookie(...(await browser.cookies()));
    },
    pid: () => browser.process()?.pid,
  };
  return { context, version: await browser.version() };
}
