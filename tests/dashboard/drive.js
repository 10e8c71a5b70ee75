// Drives orch's dashboard in headless Chromium (puppeteer-core), as a person would, for
// tests/dashboard_test.cc. Usage: node drive.js <scenario> <config.json>
//
// The config names orch's page (login: a one-time URL from `orch dashboard`), the GitHub
// simulator's control URL, ORCH_HOME, where screenshots go, and what the scenario needs. The
// scenario acts (labels an issue on the simulator, clicks, types) and waits for the page to
// show the result; it prints one JSON line of figures on stdout and exits 0, or prints why it
// failed on stderr and exits 1. Screenshots are written whatever the outcome.
"use strict";

const fs = require("fs");
const path = require("path");

const [scenario, configPath] = process.argv.slice(2);
const config = JSON.parse(fs.readFileSync(configPath, "utf8"));
const puppeteer = require(path.join(config.modules, "node_modules", "puppeteer-core"));

const figures = {};
const started = Date.now();
function fail(why) { throw new Error(why); }
// What the scenario is doing, on stderr, so a failure says where it stood.
function step(what) { process.stderr.write("[" + (Date.now() - started) + " ms] " + what + "\n"); }
// The test that runs this gives up on it after 60 s: end before, saying where it stood.
setTimeout(() => { step("gave up after 50 s"); process.exit(1); }, 50000).unref();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function shot(page, name) {
  fs.mkdirSync(config.artifacts, {recursive: true});
  await page.screenshot({path: path.join(config.artifacts, name + ".png"), fullPage: true});
}

async function sim(method, p, body) {
  const res = await fetch(config.sim + p, {method, headers: {"Content-Type": "application/json"},
    body: body ? JSON.stringify(body) : undefined});
  if (!res.ok) fail(method + " " + p + ": " + res.status + " " + (await res.text()));
  return res.json();
}

// Waits until `fn` (run in the page) returns something truthy; its value.
async function until(page, what, timeoutMs, fn, ...args) {
  step("waiting for " + what);
  try {
    const handle = await page.waitForFunction(fn, {timeout: timeoutMs, polling: "mutation"}, ...args);
    return handle.jsonValue();
  } catch (e) {
    await shot(page, "failed-" + scenario);
    fail("timed out after " + timeoutMs + " ms waiting for " + what);
  }
}

// From now on the page notes each status (data-status) the element at `selector` shows, as it
// changes under element `root`, without a reload: window.seenStatuses.
function noteStatuses(page, root, selector) {
  return page.evaluate((rootId, sel) => {
    window.seenStatuses = [];
    const note = () => {
      const e = document.querySelector(sel);
      const last = window.seenStatuses[window.seenStatuses.length - 1];
      if (e && e.dataset.status !== last) window.seenStatuses.push(e.dataset.status);
    };
    note();
    new MutationObserver(note).observe(document.getElementById(rootId),
      {childList: true, subtree: true, attributes: true});
  }, root, selector);
}

const cardStatus = (id) => {
  const el = document.querySelector('.card[data-task="' + id + '"]');
  return el && el.dataset.status;
};

// The newest task's id for issue `number` on the board, from the page's own data.
const boardTaskFor = (number) => {
  const el = [...document.querySelectorAll(".card")].find((c) =>
    [...c.querySelectorAll(".links a")].some((a) => a.textContent === "issue #" + number));
  return el && el.dataset.task;
};

// Board: a newly labelled issue's task shows within 2 s and moves live; its task page shows an
// agent's line within 1 s of the agent writing it.
async function board(page, browser) {
  await page.goto(config.base + "/#/board");
  await until(page, "the board", 5000, () => document.querySelector("#board .column"));
  const issue = await sim("POST", "/_sim/repos/acme/widgets/issues",
    {user: "alice", title: "Greet the dashboard", body: config.body});
  const number = issue.issue.number;
  const labelled = Date.now();
  await sim("POST", "/_sim/repos/acme/widgets/issues/" + number + "/labels", {user: "bob", label: "orch"});
  const id = await until(page, "issue #" + number + "'s task on the board", 5000, boardTaskFor, number);
  figures.board_new_task_ms = Date.now() - labelled;
  if (figures.board_new_task_ms > 2000) fail("the task took " + figures.board_new_task_ms + " ms to show");
  // From here the board tab notes each status the card shows, as it changes, without a reload.
  await noteStatuses(page, "board", '.card[data-task="' + id + '"]');

  // The task page in a second tab, open (from the card's link) before the agent speaks.
  const href = await page.$eval('.card[data-task="' + id + '"]', (a) => a.href);
  const board = page;
  page = await browser.newPage();
  await page.setViewport({width: 1400, height: 900});
  step("opening " + href + " in a second tab");
  await page.goto(href);
  await until(page, "the task page", 5000, () => document.querySelector("#task-head h1"));
  const runs = path.join(config.home, "runs", String(id));
  let written = 0;
  const watch = (async () => {
    for (let i = 0; i < 3000 && !written; i++) {
      try {
        for (const attempt of fs.readdirSync(runs)) {
          const log = path.join(runs, attempt, "output.log");
          if (fs.existsSync(log) && fs.readFileSync(log, "utf8").includes(config.token)) written = Date.now();
        }
      } catch (e) { /* not there yet */ }
      await sleep(5);
    }
  })();
  await until(page, config.token + " on the task page", 30000,
    (token) => document.getElementById("stream").textContent.includes(token), config.token);
  const shown = Date.now();
  await watch;
  if (!written) fail("never saw " + config.token + " in output.log");
  // Both clocks are this process's; the page may even win the race against the 5 ms file poll.
  figures.task_line_ms = Math.max(0, shown - written);
  figures.task_line_raw_ms = shown - written;
  if (figures.task_line_ms > 1000) fail("the line took " + figures.task_line_ms + " ms to show");
  await until(page, "task " + id + " in_review", 30000,
    () => { const s = document.getElementById("task-status"); return s && s.textContent === "in_review"; });
  await shot(page, "task");
  figures.task_id = Number(id);
  await board.bringToFront();  // a background tab's timers may sleep, and with them the wait
  await until(board, "in_review on the board", 5000, (i) => {
    const e = document.querySelector('.card[data-task="' + i + '"]');
    return e && e.dataset.status === "in_review";
  }, id);
  figures.board_statuses = await board.evaluate(() => window.seenStatuses);
  await shot(board, "board");
}

// The task page's actions: kill asks first (dismissed: nothing happens), then stops the agent;
// unblock sends the task back to new, and it runs again.
async function actions(page) {
  const issue = await sim("POST", "/_sim/repos/acme/widgets/issues",
    {user: "alice", title: "Take your time", body: config.body});
  await sim("POST", "/_sim/repos/acme/widgets/issues/" + issue.issue.number + "/labels", {user: "bob", label: "orch"});
  await page.goto(config.base + "/#/board");
  const id = await until(page, "the task on the board", 5000, boardTaskFor, issue.issue.number);
  await page.goto(config.base + "/#/task/" + id);
  const status = () => { const s = document.getElementById("task-status"); return s && s.textContent; };
  await until(page, "in_progress", 20000, () => document.getElementById("task-status")?.textContent === "in_progress");
  let answer = false;
  figures.dialogs = [];
  page.on("dialog", (d) => { figures.dialogs.push(d.message()); answer ? d.accept() : d.dismiss(); });
  await page.click('button[data-action="kill"]');
  await sleep(1000);
  figures.after_dismiss = await page.evaluate(status);
  answer = true;
  await page.click('button[data-action="kill"]');
  await until(page, "needs_review after the kill", 20000,
    () => document.getElementById("task-status")?.textContent === "needs_review");
  figures.kill_result = await until(page, "the kill's answer", 5000,
    () => document.getElementById("action-result").textContent);
  await shot(page, "task-killed");
  await page.$eval("#action-result", (e) => { e.textContent = ""; });
  await page.click('button[data-action="unblock"]');
  figures.unblocked = await until(page, "the task running again", 20000, () => {
    const s = document.getElementById("task-status")?.textContent;
    return s && s !== "needs_review" && s;
  });
  figures.unblock_result = await until(page, "the unblock's answer", 5000,
    () => document.getElementById("action-result").textContent);
}

// A flow run's DAG: each step's node changes state live, then the report. Meanwhile a second tab
// shows the runs list, whose row for the run changes status live too. With no chat configured,
// "Send to chat" says so.
async function run(page, browser) {
  await page.goto(config.base + "/#/run/" + config.run_id);
  await until(page, "the DAG", 5000, () => document.querySelector("#dag .node"));
  // From here the page notes each state each step's node shows, as it changes.
  await page.evaluate(() => {
    window.seenSteps = {};
    const note = () => {
      for (const n of document.querySelectorAll("#dag .node")) {
        const seen = window.seenSteps[n.dataset.step] = window.seenSteps[n.dataset.step] || [];
        if (seen[seen.length - 1] !== n.dataset.status) seen.push(n.dataset.status);
      }
    };
    note();
    new MutationObserver(note).observe(document.getElementById("dag"),
      {childList: true, subtree: true, attributes: true});
  });
  const list = await browser.newPage();
  await list.setViewport({width: 1400, height: 900});
  await list.goto(config.base + "/#/runs");
  await until(list, "the run in the runs list", 5000,
    (id) => document.querySelector('#runs tr[data-run="' + id + '"]'), config.run_id);
  await noteStatuses(list, "runs-list", '#runs tr[data-run="' + config.run_id + '"]');
  await page.bringToFront();
  await until(page, "the run's end", 40000,
    () => document.getElementById("run-status").textContent !== "running");
  figures.steps = await page.evaluate(() => window.seenSteps);
  await until(page, "the report", 5000, () => document.querySelector("#report pre.report"));
  await shot(page, "run");
  figures.share = await share(page);
  await list.bringToFront();
  await until(list, "the run's row completed", 5000,
    (id) => document.querySelector('#runs tr[data-run="' + id + '"]')?.dataset.status === "completed", config.run_id);
  figures.runs_list_statuses = await list.evaluate(() => window.seenStatuses);
  await shot(list, "runs");
}

// Clicks the report's "Send to chat"; what the page answered.
async function share(page) {
  await page.click("#report-share");
  return until(page, "the share's answer", 20000, () => {
    const r = document.getElementById("report-share-result");
    return r && r.dataset.status && r.textContent;
  });
}

// A finished run's page: its report sent to the configured chat.
async function sendReport(page) {
  await page.goto(config.base + "/#/run/" + config.run_id);
  await until(page, "the report", 5000, () => document.querySelector("#report pre.report"));
  figures.share = await share(page);
  figures.share_status = await page.$eval("#report-share-result", (r) => Number(r.dataset.status));
  await shot(page, "run-shared");
}

// Settings: an edit with an error shows it (line and key); a good edit is saved.
async function settings(page) {
  await page.goto(config.base + "/#/settings");
  const area = 'textarea[data-target="global"]';
  await until(page, "the settings", 5000, (a) => document.querySelector(a), area);
  const original = await page.$eval(area, (t) => t.value);
  const setText = (text) => page.$eval(area, (t, v) => { t.value = v; }, text);
  await setText(original + "engine:\n  max_parallel: lots\n");
  await page.click('button[data-save="global"]');
  const error = await until(page, "the error", 5000,
    () => { const e = document.querySelector('[data-file="global"] .errors'); return e && e.textContent; });
  figures.error = error;
  await shot(page, "settings-error");
  await setText(original.replace(config.replace_from, config.replace_to));
  await page.click('button[data-save="global"]');
  figures.saved = await until(page, "the save", 5000,
    () => { const e = document.querySelector('[data-file="global"] .saved'); return e && e.textContent; });
  await shot(page, "settings");
}

// Fleet: the agents and their breakers, the webhook's mode; a new webhook delivery shows
// without a reload.
async function fleet(page) {
  await page.goto(config.base + "/#/fleet");
  figures.agents = await until(page, "the agents", 5000,
    () => { const t = document.querySelector("#agents"); return t && t.rows.length > 1 && t.innerText; });
  figures.mode = await page.$eval("#webhook-mode", (p) => p.innerText);
  const counts = await page.$eval("#webhook-counts", (p) => p.textContent);
  const opened = Date.now();
  await sim("POST", "/_sim/repos/acme/widgets/issues", {user: "alice", title: "Fleet, look", body: "."});
  figures.counts_after = await until(page, "the new delivery counted", 5000,
    (before) => { const p = document.getElementById("webhook-counts"); return p && p.textContent !== before && p.textContent; },
    counts);
  figures.fleet_delivery_ms = Date.now() - opened;
  figures.counts_before = counts;
  await shot(page, "fleet");
}

// Without a session: the page asks to sign in.
async function signedOut(page) {
  await page.goto(config.base + "/#/board");
  figures.notice = await until(page, "the sign-in notice", 5000,
    () => { const n = document.getElementById("signed-out"); return n && n.innerText; });
  await shot(page, "signed-out");
}

// First paint: from navigation start to the board's first card, in the page's own clock.
async function paint(page) {
  const t0 = Date.now();
  await page.goto(config.base + "/#/board");
  await until(page, "a card", 5000, () => document.querySelector(".card"));
  figures.board_first_card_ms = Date.now() - t0;
  figures.first_contentful_paint_ms = await page.evaluate(() => {
    const p = performance.getEntriesByName("first-contentful-paint")[0];
    return p ? Math.round(p.startTime) : null;
  });
}

// An open dashboard, left alone for hold_ms (the benchmark measures the daemon meanwhile).
async function hold(page) {
  await page.goto(config.base + "/#/board");
  await until(page, "a card", 5000, () => document.querySelector(".card"));
  await sleep(config.hold_ms);
  figures.cards = await page.$$eval(".card", (c) => c.length);
}

const scenarios = {board, actions, run, "send-report": sendReport, settings, fleet, "signed-out": signedOut,
  paint, hold};

(async () => {
  const browser = await puppeteer.launch({
    executablePath: config.chromium,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"],
  });
  let code = 0;
  try {
    const page = await browser.newPage();
    await page.setViewport({width: 1400, height: 900});
    page.on("pageerror", (e) => { figures.page_errors = (figures.page_errors || []).concat(String(e)); });
    if (config.login) {
      const res = await page.goto(config.login);
      if (!res.ok()) fail("login answered " + res.status());
    }
    if (!scenarios[scenario]) fail("no scenario " + scenario);
    await scenarios[scenario](page, browser);
    if (figures.page_errors) fail("errors in the page: " + figures.page_errors.join("; "));
    process.stdout.write(JSON.stringify(figures) + "\n");
  } catch (e) {
    process.stderr.write(scenario + ": " + e.message + "\n" + JSON.stringify(figures) + "\n");
    code = 1;
  } finally {
    await browser.close();
  }
  process.exit(code);
})();
