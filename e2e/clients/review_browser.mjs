// A real Chromium (Debian's /usr/bin/chromium, driven by playwright-core)
// that the Go tests of the review page steer one step at a time: they
// start plangate processes between the steps (the registration ceremony,
// `config accept`, apply_plan), so the browser runs as a small server.
//
// Usage: node review_browser.mjs [--chromium /usr/bin/chromium]
//
// Reads one JSON command per line on stdin, {"id": N, "op": "...", ...},
// and answers each with one JSON line on stdout, {"id": N, "ok": true,
// "result": ...} or {"id": N, "ok": false, "error": "..."}. The first line
// it prints is {"ready": true, "version": "<Chromium version>"}.
//
// One browser for the whole run; named pages ("alice", "mallory", ...),
// each in a browser context of its own (its own cookies) and with a CDP
// virtual authenticator of its own when asked for one (CTAP2, internal,
// resident keys, user verification that always succeeds: a Touch ID that
// says yes). Network: none but loopback; the flags below turn off every
// request Chromium makes by itself.

import { createInterface } from 'node:readline';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';

import { chromium } from 'playwright-core';

const { values: opts } = parseArgs({ options: { chromium: { type: 'string', default: '/usr/bin/chromium' } } });

const VIEWPORT = { width: 1280, height: 800 };
// playwright-core launches with a fresh --user-data-dir of its own (a
// temporary profile it deletes on close) and --headless; these make sure a
// closed network stays quiet.
const browser = await chromium.launch({
  executablePath: opts.chromium,
  headless: true,
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-default-apps',
    '--disable-extensions',
    '--metrics-recording-only',
    '--no-default-browser-check',
  ],
});

// name -> {context, page, cdp, authenticatorId, console: [], responses: []}
const pages = new Map();

async function getPage(name, { authenticator = false } = {}) {
  let p = pages.get(name);
  if (!p) {
    const context = await browser.newContext({ viewport: VIEWPORT, deviceScaleFactor: 1 });
    const page = await context.newPage();
    p = { context, page, cdp: null, authenticatorId: null, console: [], responses: [] };
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') p.console.push(`${m.type()}: ${m.text()} (${m.location()?.url ?? ''})`);
    });
    page.on('pageerror', (e) => p.console.push(`pageerror: ${e.message}`));
    page.on('request', (req) => {
      if (req.method() === 'POST' && /\/review\/api\/plans\/[^/]+\/approve$/.test(new URL(req.url()).pathname)) {
        p.lastApprove = { url: req.url(), body: req.postData() };
      }
    });
    page.on('response', (r) => {
      const req = r.request();
      p.responses.push({ url: r.url(), method: req.method(), status: r.status(), frameUrl: safeFrameUrl(req) });
    });
    page.on('requestfailed', (req) => {
      p.responses.push({ url: req.url(), method: req.method(), status: 0, failure: req.failure()?.errorText ?? '' });
    });
    pages.set(name, p);
  }
  if (authenticator && !p.authenticatorId) {
    p.cdp = await p.context.newCDPSession(p.page);
    await p.cdp.send('WebAuthn.enable');
    const { authenticatorId } = await p.cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: {
        protocol: 'ctap2',
        transport: 'internal',
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
        automaticPresenceSimulation: true,
      },
    });
    p.authenticatorId = authenticatorId;
  }
  return p;
}

function safeFrameUrl(req) {
  try {
    return req.frame().url();
  } catch {
    return '';
  }
}

// What a reviewer sees of each plan on the page, with where it is on the
// screen (a box within the viewport is visible without scrolling).
async function inspect(page) {
  return page.evaluate(() => {
    const box = (el) => {
      const r = el.getBoundingClientRect();
      const s = getComputedStyle(el);
      return {
        top: r.top,
        bottom: r.bottom,
        left: r.left,
        right: r.right,
        width: r.width,
        height: r.height,
        visible: s.visibility !== 'hidden' && s.display !== 'none' && r.width > 0 && r.height > 0,
        color: s.color,
      };
    };
    const plans = [...document.querySelectorAll('article.plan')].map((a) => {
      const q = (sel) => a.querySelector(sel);
      const select = q('select[name="approver"]');
      return {
        id: a.dataset.planId ?? '',
        status: a.dataset.status ?? '',
        summary: q('.summary-line')?.textContent ?? null,
        summaryBox: q('.summary-line') ? box(q('.summary-line')) : null,
        deletions: [...a.querySelectorAll('ul.deletions > li')].map((li) => ({ text: li.textContent, box: box(li) })),
        diff: q('pre.diff')?.textContent ?? null,
        moreDiff: !!q('button[data-action="more-diff"]:not([hidden])'),
        approveCommand: q('code.approve-command')?.textContent ?? null,
        passkeyButton: q('button[data-action="approve-passkey"]')
          ? { disabled: q('button[data-action="approve-passkey"]').disabled, text: q('button[data-action="approve-passkey"]').textContent }
          : null,
        approvers: select ? [...select.options].map((o) => o.value) : null,
        token: q('output.token')?.textContent ?? null,
        errors: [...a.querySelectorAll('p.error[role="alert"]')].map((e) => e.textContent),
        text: a.innerText,
      };
    });
    return {
      url: location.href,
      title: document.title,
      viewport: { width: innerWidth, height: innerHeight },
      scroll: { x: scrollX, y: scrollY },
      plans,
      errors: [...document.querySelectorAll('p.error[role="alert"]')].map((e) => e.textContent),
      externalResources: performance
        .getEntriesByType('resource')
        .map((e) => e.name)
        .filter((u) => new URL(u).origin !== location.origin),
    };
  });
}

// waitFor polls until one of the selectors matches inside root (a CSS
// selector), or times out; returns which matched.
async function waitForAny(page, root, selectors, timeout = 15_000) {
  const handle = await page.waitForFunction(
    ([root, selectors]) => {
      const r = root ? document.querySelector(root) : document;
      if (!r) return false;
      for (const s of selectors) {
        const el = r.querySelector(s);
        if (el && (el.textContent ?? '').trim() !== '') return s;
      }
      return false;
    },
    [root, selectors],
    { timeout, polling: 50 },
  );
  return handle.jsonValue();
}

const planSel = (id) => `article.plan[data-plan-id="${CSS_escape(id)}"]`;
function CSS_escape(s) {
  return String(s).replace(/["\\]/g, '\\$&');
}

const ops = {
  // open: a page (made when first named) goes to url.
  async open({ page: name, url, authenticator }) {
    const p = await getPage(name, { authenticator });
    p.console.length = 0;
    p.responses.length = 0;
    const r = await p.page.goto(url, { waitUntil: 'load' });
    return { status: r?.status() ?? 0, url: p.page.url() };
  },

  async inspect({ page: name }) {
    const p = await getPage(name);
    return { ...(await inspect(p.page)), console: [...p.console] };
  },

  // expandDiff presses "more diff" until the whole diff is on the page,
  // then returns it.
  async expandDiff({ page: name, planId }) {
    const p = await getPage(name);
    const sel = planSel(planId);
    let presses = 0;
    for (; presses < 1000; presses++) {
      const more = p.page.locator(`${sel} button[data-action="more-diff"]:not([hidden])`);
      if ((await more.count()) === 0) break;
      const before = await p.page.locator(`${sel} pre.diff`).textContent();
      await more.first().click();
      await p.page.waitForFunction(
        ([sel, before]) => {
          const a = document.querySelector(sel);
          return !a?.querySelector('button[data-action="more-diff"]:not([hidden])') || a.querySelector('pre.diff')?.textContent !== before;
        },
        [sel, before],
        { timeout: 15_000, polling: 50 },
      );
    }
    return { presses, diff: await p.page.locator(`${sel} pre.diff`).textContent() };
  },

  // register presses the registration page's button; the virtual
  // authenticator makes the credential; returns the approver block shown.
  async register({ page: name, approver }) {
    const p = await getPage(name, { authenticator: true });
    if (approver) {
      // The review page's own registration asks for the approver's name.
      await p.page.locator('input[name="name"]').fill(approver);
    }
    await p.page.locator('button[data-action="register"]').click();
    const which = await waitForAny(p.page, null, ['pre.approver-block', 'p.error[role="alert"]']);
    const block = await p.page.locator('pre.approver-block').textContent().catch(() => null);
    const errors = await p.page.locator('p.error[role="alert"]').allTextContents();
    return { shown: which, block, errors, credentials: await credentials(p) };
  },

  // approve presses "Approve with passkey" on one plan (choosing the
  // approver when the page asks) and returns the token or the error shown.
  // forceApprover rewrites the button's approver first, as someone
  // editing the page in devtools would.
  async approve({ page: name, planId, approver, forceApprover }) {
    const p = await getPage(name, { authenticator: true });
    const sel = planSel(planId);
    if (forceApprover) {
      await p.page.locator(`${sel} button[data-action="approve-passkey"]`).evaluate((b, who) => {
        b.dataset.approver = who;
      }, forceApprover);
    }
    const select = p.page.locator(`${sel} select[name="approver"]`);
    if (approver && (await select.count()) > 0) await select.selectOption(approver);
    await p.page.locator(`${sel} button[data-action="approve-passkey"]`).click();
    const which = await waitForAny(p.page, sel, ['output.token', 'p.error[role="alert"]']);
    const token = await p.page.locator(`${sel} output.token`).textContent().catch(() => null);
    const errors = await p.page.locator(`${sel} p.error[role="alert"]`).allTextContents();
    return { shown: which, token: which === 'output.token' ? token.trim() : null, errors, credentials: await credentials(p) };
  },

  // approveByKeyboard does the same with the keyboard alone: Tab until
  // the plan's approve button has focus (choosing the approver on the way
  // with the arrow keys when the page asks), then Enter.
  async approveByKeyboard({ page: name, planId, approver, maxTabs = 80 }) {
    const p = await getPage(name, { authenticator: true });
    const sel = planSel(planId);
    const focused = () =>
      p.page.evaluate((sel) => {
        const el = document.activeElement;
        const art = el?.closest('article.plan');
        return { inPlan: !!art && art.matches(sel), action: el?.dataset?.action ?? null, tag: el?.tagName.toLowerCase() ?? null, name: el?.getAttribute('name') ?? null };
      }, sel);
    let tabs = 0;
    for (; tabs < maxTabs; tabs++) {
      const f = await focused();
      if (f.inPlan && f.tag === 'select' && f.name === 'approver' && approver) {
        await p.page.locator(`${sel} select[name="approver"]`).selectOption(approver);
      }
      if (f.inPlan && f.action === 'approve-passkey') break;
      await p.page.keyboard.press('Tab');
    }
    if (tabs === maxTabs) return { tabs, shown: null, token: null, errors: [`no approve button took focus in ${maxTabs} Tab presses`] };
    await p.page.keyboard.press('Enter');
    const which = await waitForAny(p.page, sel, ['output.token', 'p.error[role="alert"]']);
    const token = await p.page.locator(`${sel} output.token`).textContent().catch(() => null);
    const errors = await p.page.locator(`${sel} p.error[role="alert"]`).allTextContents();
    const approvals = await p.page.locator(`${sel} .approvals-needed`).textContent().catch(() => null);
    return { tabs, shown: which, token: which === 'output.token' ? token.trim() : null, errors, approvals, credentials: await credentials(p) };
  },

  // replayApprove sends the page's last approve request (the browser's
  // assertion) again, from the page itself, with its CSRF token; with
  // challengeFirst, after asking the server for a new challenge.
  async replayApprove({ page: name, challengeFirst = false, approver }) {
    const p = await getPage(name);
    if (!p.lastApprove) throw new Error('this page sent no approval yet');
    return p.page.evaluate(
      async ({ url, body, challengeFirst, approver }) => {
        const headers = { 'Content-Type': 'application/json', 'X-Plangate-CSRF': document.body.dataset.csrf };
        const out = {};
        if (challengeFirst) {
          const c = await fetch(url.replace(/\/approve$/, '/challenge'), { method: 'POST', headers, body: JSON.stringify({ approver }) });
          out.challengeStatus = c.status;
        }
        const r = await fetch(url, { method: 'POST', headers, body });
        out.status = r.status;
        out.body = await r.text();
        return out;
      },
      { ...p.lastApprove, challengeFirst, approver },
    );
  },

  // credentials lists what the page's virtual authenticator holds.
  async credentials({ page: name }) {
    const p = await getPage(name, { authenticator: true });
    return credentials(p);
  },

  // forgeCredential puts into the page's authenticator a credential with
  // the id of a registered one (credentialId, base64) but a key pair of its
  // own: what an attacker who learnt the public credential id could hold.
  async forgeCredential({ page: name, credentialId, rpId, userHandle }) {
    const p = await getPage(name, { authenticator: true });
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    await p.cdp.send('WebAuthn.addCredential', {
      authenticatorId: p.authenticatorId,
      credential: {
        credentialId,
        isResidentCredential: true,
        rpId,
        privateKey: privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64'),
        userHandle: userHandle || randomBytes(16).toString('base64'),
        signCount: 0,
      },
    });
    return credentials(p);
  },

  // script opens url (a page of the test's own, on another origin) and
  // waits for the result its script leaves in window.__result.
  async script({ page: name, url, authenticator, timeout = 20_000 }) {
    const p = await getPage(name, { authenticator });
    p.console.length = 0;
    p.responses.length = 0;
    await p.page.goto(url, { waitUntil: 'load' });
    const h = await p.page.waitForFunction(() => window.__result, null, { timeout, polling: 50 });
    return { result: await h.jsonValue(), responses: [...p.responses], console: [...p.console] };
  },

  // responses: what the page's network saw since it last opened a URL.
  async responses({ page: name }) {
    const p = await getPage(name);
    return [...p.responses];
  },

  async screenshot({ page: name, path, fullPage = false }) {
    const p = await getPage(name);
    await p.page.screenshot({ path, fullPage, animations: 'disabled', caret: 'hide' });
    return { path };
  },
};

async function credentials(p) {
  if (!p.cdp) return [];
  const { credentials } = await p.cdp.send('WebAuthn.getCredentials', { authenticatorId: p.authenticatorId });
  return credentials.map((c) => ({ credentialId: c.credentialId, rpId: c.rpId, signCount: c.signCount, userHandle: c.userHandle }));
}

const out = (v) => process.stdout.write(JSON.stringify(v) + '\n');
out({ ready: true, version: browser.version() });

const rl = createInterface({ input: process.stdin });
// One command at a time, in order.
let chain = Promise.resolve();
rl.on('line', (line) => {
  chain = chain.then(async () => {
    let cmd;
    try {
      cmd = JSON.parse(line);
      const fn = ops[cmd.op];
      if (!fn) throw new Error(`unknown op ${JSON.stringify(cmd.op)}`);
      out({ id: cmd.id, ok: true, result: await fn(cmd) });
    } catch (err) {
      out({ id: cmd?.id ?? null, ok: false, error: String(err?.stack ?? err) });
    }
  });
});
rl.on('close', () => {
  chain.then(() => browser.close()).then(() => process.exit(0));
});
