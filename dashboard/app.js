// orch's dashboard: one page, hash routes, no dependencies. Everything live is pushed by
// orch serve as Server-Sent Events (the board, a task's output, a run's steps); nothing polls.
"use strict";

const STATUSES = ["new", "routed", "in_progress", "in_review", "blocked", "needs_review", "done"];
let csrf = null;        // X-CSRF-Token for writes (GET /api/session)
let cleanup = [];       // what the current page closes when it is left
let lastBoard = null;   // the newest board, shared by the pages that show tasks

// h("a", {href: "#"}, "text", child...): an element; text is never parsed as HTML.
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function age(unix) {
  const s = Math.max(0, Math.floor(Date.now() / 1000 - unix));
  if (s < 60) return s + "s";
  if (s < 3600) return Math.floor(s / 60) + "m";
  if (s < 86400) return Math.floor(s / 3600) + "h";
  return Math.floor(s / 86400) + "d";
}

async function api(path, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  if (options.method && options.method !== "GET" && csrf) headers["X-CSRF-Token"] = csrf;
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(path, Object.assign({}, options, {headers, credentials: "same-origin"}));
  let body = null;
  try { body = await res.json(); } catch (e) { body = null; }
  return {status: res.status, ok: res.ok, body};
}

// An EventSource closed when the page is left.
function listen(path, handlers) {
  const es = new EventSource(path);
  for (const [event, fn] of Object.entries(handlers)) {
    es.addEventListener(event, (e) => fn(e.data ? JSON.parse(e.data) : null, e));
  }
  es.onopen = () => setLive(true);
  es.onerror = () => setLive(false);
  cleanup.push(() => es.close());
  return es;
}

// on: connected; false: reconnecting; null: this page has nothing live.
function setLive(on) {
  const el = document.getElementById("live");
  el.textContent = on ? "live" : on === null ? "" : "reconnecting";
  el.classList.toggle("on", on);
}

// The board's SSE, which every page uses to see that something changed.
function onBoard(fn) {
  listen("/api/board/events", {board: (tasks) => { lastBoard = tasks; fn(tasks); }});
}

function main() { return document.getElementById("main"); }

function show(...children) {
  const m = main();
  m.replaceChildren(...children);
  return m;
}

// ---- Board
function boardPage(params) {
  const project = params.get("project") || "";
  const select = h("select", {id: "project-filter", onchange: (e) => {
    location.hash = "#/board" + (e.target.value ? "?project=" + encodeURIComponent(e.target.value) : "");
  }}, h("option", {value: ""}, "all projects"));
  const grid = h("div", {class: "board", id: "board"});
  show(h("div", {class: "toolbar"}, h("h1", {}, "Board"), select), grid);
  onBoard((tasks) => {
    const projects = [...new Set(tasks.map((t) => t.project))].sort();
    select.replaceChildren(h("option", {value: ""}, "all projects"),
      ...projects.map((p) => h("option", {value: p, selected: p === project}, p)));
    const shown = tasks.filter((t) => !project || t.project === project);
    grid.replaceChildren(...STATUSES.map((status) => {
      const list = shown.filter((t) => t.status === status);
      return h("section", {class: "column", "data-status": status},
        h("h3", {}, status.replace("_", " "), " ", h("span", {class: "muted"}, list.length)),
        ...list.map(card));
    }));
  });
}

function card(t) {
  return h("a", {class: "card", href: "#/task/" + t.id, "data-task": t.id, "data-status": t.status},
    h("div", {class: "title"}, "#" + t.id + " " + t.title),
    h("div", {class: "meta"}, t.project, " · ", age(t.created_at), " old"),
    h("div", {class: "meta"}, t.agent ? t.agent + (t.model ? " / " + t.model : "") : "not routed",
      " · attempts ", t.attempts),
    h("div", {class: "links"},
      t.issue_url ? h("a", {href: t.issue_url, target: "_blank", rel: "noopener"}, "issue #" + t.issue) : null,
      t.pr_url ? h("a", {href: t.pr_url, target: "_blank", rel: "noopener"}, "PR #" + t.pr) : null,
      t.run_id ? h("a", {href: "#/run/" + t.run_id}, "run " + t.run_id) : null));
}

// ---- Task
// The agent's last message when it is all orch's contract (prompts/agent_system.md), as
// `orch stream` prints it: "■ done: summary"; "" otherwise.
function contractLine(text) {
  if (!text || text.trim()[0] !== "{") return "";
  try {
    const c = JSON.parse(text);
    if (typeof c.status !== "string" || typeof c.summary !== "string") return "";
    const list = (mark, items) => (Array.isArray(items) ? items : []).map((i) => "\n  " + mark + " " + i).join("");
    return "■ " + c.status + ": " + c.summary + list("✓", c.accomplished) + list("…", c.remaining) +
      list("!", c.blockers);
  } catch (e) { return ""; }
}

function streamLine(e) {
  switch (e.kind) {
    case "text": return contractLine(e.text) || e.text;
    case "tool_call":
      if (e.command) return "$ " + e.command;
      if (e.file) return "✎ " + e.file + (e.added >= 0 ? " +" + e.added : "") + (e.removed >= 0 ? " −" + e.removed : "");
      return "→ " + (e.tool || "tool");
    case "tool_result":
      return (e.failed ? "✗ " : "  ") + (e.exit_code !== undefined ? "exit " + e.exit_code + " " : "") +
        (e.output || "") + (e.more_lines ? " (+" + e.more_lines + " lines)" : "");
    case "error": return "error: " + (e.text || "");
    case "usage":
      return "tokens " + e.input_tokens + " in / " + e.output_tokens + " out" +
        (e.cost_usd !== undefined ? ", $" + e.cost_usd.toFixed(4) : "");
    case "start": return "started" + (e.model ? " (" + e.model + ")" : "");
    case "end": return "ended" + (e.failed ? " (failed)" : "") + (e.duration_ms ? " after " + (e.duration_ms / 1000).toFixed(1) + "s" : "");
    case "final": return "— end of output" + (e.duration_ms ? " (" + (e.duration_ms / 1000).toFixed(1) + "s)" : "") + " —";
    default: return e.text || JSON.stringify(e);
  }
}

function taskPage(id) {
  const head = h("div", {id: "task-head"});
  const out = h("div", {class: "stream", id: "stream"});
  const follow = h("input", {type: "checkbox", id: "follow", checked: true});
  const side = h("div", {id: "task-side"});
  // What the last action said; kept across the header's redraws, which the action itself causes.
  const result = h("span", {id: "action-result", class: "muted"});
  show(head, h("div", {class: "cols"},
    h("div", {}, h("div", {class: "toolbar"}, h("h2", {}, "Output"),
      h("label", {}, follow, " follow")), out),
    side));
  out.addEventListener("scroll", () => {
    const atEnd = out.scrollTop + out.clientHeight >= out.scrollHeight - 4;
    if (!atEnd && follow.checked) follow.checked = false;
  });
  // The stream ends after its final event; a new attempt (a retry) opens it again from the start.
  let stream = null;
  const open = () => {
    out.replaceChildren();
    stream = listen("/api/tasks/" + id + "/events", {message: (e) => {
      out.append(h("div", {class: e.kind + (e.failed ? " failed" : "")}, streamLine(e)));
      if (follow.checked) out.scrollTop = out.scrollHeight;
      if (e.kind === "final") { stream.close(); stream = null; }
    }});
  };
  open();
  const refresh = async () => {
    const r = await api("/api/tasks/" + id);
    if (!r.ok) { head.replaceChildren(h("h1", {}, "Task " + id + ": " + (r.body && r.body.error))); return; }
    renderTask(r.body, head, side, result);
  };
  let seen = "";
  onBoard((tasks) => {
    const t = tasks.find((x) => String(x.id) === String(id));
    const key = t ? t.status + "/" + t.updated_at + "/" + t.attempts : "";
    if (key === seen) return;
    if (t && !stream && seen && (t.status === "in_progress" || t.status === "routed")) open();
    seen = key;
    refresh();
  });
}

function renderTask(t, head, side, result) {
  const act = (action, question) => h("button", {class: action === "kill" ? "danger" : "",
    "data-action": action, onclick: async () => {
      if (!confirm(question)) return;
      const r = await api("/api/tasks/" + t.id + "/" + action, {method: "POST"});
      result.textContent = r.body ? (r.body.message || r.body.error) : "HTTP " + r.status;
    }}, action);
  head.replaceChildren(
    h("h1", {}, "#" + t.id + " " + t.title + " ", h("span", {class: "pill " + t.status, id: "task-status"}, t.status)),
    h("div", {class: "muted"}, t.project, t.reason ? " · " + t.reason : "", " · ",
      t.agent ? t.agent + (t.model ? " / " + t.model : "") : "not routed", " · attempts ", t.attempts,
      t.issue_url ? h("span", {}, " · ", h("a", {href: t.issue_url, target: "_blank"}, "issue #" + t.issue)) : null,
      t.pr_url ? h("span", {}, " · ", h("a", {href: t.pr_url, target: "_blank"}, "PR #" + t.pr)) : null),
    h("div", {class: "toolbar"},
      act("retry", "Send task " + t.id + " back to new for another attempt?"),
      act("unblock", "Unblock task " + t.id + " and reset its attempt count?"),
      act("kill", "Kill the running agent of task " + t.id + "?"),
      result));
  side.replaceChildren(
    h("h2", {}, "Attempts"),
    h("table", {}, h("tr", {}, ["#", "agent", "exit", "tokens", "cost", "time"].map((c) => h("th", {}, c))),
      t.attempts_list.map((a) => h("tr", {},
        h("td", {}, a.attempt), h("td", {}, a.agent + (a.model ? " / " + a.model : "")),
        h("td", {}, a.finished_at ? (a.exit_code === null ? "—" : a.exit_code) + " " + a.outcome : "running"),
        h("td", {}, a.input_tokens + "/" + a.output_tokens), h("td", {}, "$" + a.cost_usd.toFixed(4)),
        h("td", {}, a.finished_at ? (a.finished_at - a.started_at) + "s" : age(a.started_at))))),
    h("h2", {}, "Events"),
    h("table", {id: "task-events"}, t.events.map((e) => h("tr", {},
      h("td", {class: "muted"}, new Date(e.at * 1000).toLocaleTimeString()),
      h("td", {}, e.from ? e.from + " → " + e.to : e.kind + " " + e.to),
      h("td", {}, e.actor + (e.reason ? ": " + e.reason : ""))))));
}

// ---- Runs
// The list, pushed whenever a run starts, a step moves or a run ends.
function runsPage() {
  const body = h("div", {id: "runs-list"});
  show(h("h1", {}, "Runs"), body);
  listen("/api/runs/events", {runs: (list) => {
    const rows = list.map((run) => h("tr", {"data-run": run.id, "data-status": run.status},
      h("td", {}, h("a", {href: "#/run/" + run.id}, "run " + run.id)),
      h("td", {}, run.kind + (run.flow_name ? " " + run.flow_name : "")),
      h("td", {}, h("span", {class: "pill " + run.status}, run.status)),
      h("td", {}, run.steps.filter((s) => s.status === "completed").length + "/" + run.steps.length +
        " steps done"),
      h("td", {class: "muted"}, age(run.created_at) + " ago")));
    body.replaceChildren(rows.length ? h("table", {id: "runs"},
      h("tr", {}, ["run", "what", "status", "steps", "started"].map((c) => h("th", {}, c))), rows)
      : h("p", {class: "muted", id: "no-runs"}, "No runs yet (orch flow run, or a debug/plan label)."));
  }});
}

// Waves: a step's wave is one more than the latest of the steps it needs.
function waves(steps) {
  const byId = new Map(steps.map((s) => [s.step_id, s]));
  const depth = new Map();
  const of = (s, seen = new Set()) => {
    if (depth.has(s.step_id)) return depth.get(s.step_id);
    if (seen.has(s.step_id)) return 0;
    seen.add(s.step_id);
    const d = Math.max(-1, ...(s.needs || []).filter((n) => byId.has(n)).map((n) => of(byId.get(n), seen))) + 1;
    depth.set(s.step_id, d);
    return d;
  };
  const out = [];
  for (const s of steps) (out[of(s)] = out[of(s)] || []).push(s);
  return out;
}

async function runPage(id) {
  const r = await api("/api/runs/" + id);
  if (!r.ok) { show(h("h1", {}, "Run " + id + ": " + (r.body && r.body.error))); return; }
  const run = r.body;
  const status = h("span", {class: "pill " + run.status, id: "run-status"}, run.status);
  const nodes = new Map();
  const dag = h("div", {class: "dag", id: "dag"}, waves(run.steps).map((wave, i) => h("div", {class: "wave"},
    h("h3", {}, "wave " + (i + 1)), wave.map((s) => {
      const node = h("div", {class: "node " + s.status, "data-step": s.step_id, "data-status": s.status});
      nodes.set(s.step_id, {node, step: s});
      drawNode(node, s);
      return node;
    }))));
  const report = h("div", {id: "report"});
  show(h("h1", {}, "Run " + run.id + " ", run.flow_name || run.kind, " ", status), dag, report);
  const renderReport = (text) => {
    if (!text) { report.replaceChildren(); return; }
    report.replaceChildren(h("h2", {}, "Report"),
      h("div", {class: "toolbar"},
        h("button", {id: "report-download", onclick: () => {
          const a = h("a", {href: URL.createObjectURL(new Blob([text], {type: "text/markdown"})),
            download: "run-" + run.id + ".md"});
          a.click();
        }}, "Download Markdown"),
        h("button", {id: "report-copy", onclick: () => navigator.clipboard.writeText(text)}, "Copy"),
        shareButton(run.id)),
      h("pre", {class: "report"}, text));
  };
  renderReport(run.report);
  if (run.status !== "running") return;
  const es = listen("/api/runs/" + id + "/events", {
    run_step_updated: (u) => {
      const n = nodes.get(u.step_id);
      if (n && u.status) {
        n.step = Object.assign({}, n.step, {status: u.status, task_id: u.task_id ?? n.step.task_id});
        n.node.className = "node " + u.status;
        n.node.dataset.status = u.status;
        drawNode(n.node, n.step);
      }
      if (u.run_status) {
        status.textContent = u.run_status;
        status.className = "pill " + u.run_status;
        renderReport(u.report);
        es.close();  // the run has ended, and so has its stream: no reconnecting
        setLive(null);
      }
    }});
}

// Sends the report to the configured Telegram/Discord chat; says what happened beside it (also
// when no chat is configured: the server answers 409 and says so).
function shareButton(runId) {
  const result = h("span", {id: "report-share-result", class: "muted"});
  const button = h("button", {id: "report-share", onclick: async () => {
    button.disabled = true;
    result.textContent = "sending…";
    const r = await api("/api/runs/" + runId + "/share", {method: "POST"});
    button.disabled = false;
    result.textContent = r.body ? (r.body.message || r.body.error) : "HTTP " + r.status;
    result.dataset.status = r.status;
  }}, "Send to chat");
  return h("span", {}, button, " ", result);
}

function drawNode(node, s) {
  node.replaceChildren(...[
    h("div", {}, h("b", {}, s.label || s.step_id), " ", h("span", {class: "pill " + s.status}, s.status)),
    h("div", {class: "muted"}, s.kind + (s.agent ? " · " + s.agent : "")),
    s.needs && s.needs.length ? h("div", {class: "needs"}, "needs " + s.needs.join(", ")) : null,
    s.task_id ? h("a", {href: "#/task/" + s.task_id}, "task " + s.task_id + " stream") : null,
  ].filter(Boolean));
}

// ---- Fleet
// Pushed whenever what it shows changes (a breaker, a session, a delivery, the mode).
function fleetPage() {
  const body = h("div", {id: "fleet"});
  show(h("h1", {}, "Fleet"), body);
  listen("/api/fleet/events", {fleet: (f) => {
    const w = f.webhooks;
    body.replaceChildren(
      ...(f.hosts.length ? [h("h2", {}, "Hosts"),
        h("table", {id: "hosts"}, h("tr", {}, ["host", "heartbeat", "agents", "leases", "version"].map((c) => h("th", {}, c))),
          f.hosts.map((x) => h("tr", {"data-host": x.id},
            h("td", {}, x.id, x.leader ? h("span", {class: "pill leader"}, "leader") : null),
            h("td", {class: "muted"}, age(x.heartbeat_at) + " ago"),
            h("td", {}, x.running + " of " + x.max_parallel), h("td", {}, x.leases), h("td", {class: "muted"}, x.version))))] : []),
      h("h2", {}, "Agents"),
      h("table", {id: "agents"}, h("tr", {}, ["agent", "breaker", "running sessions"].map((c) => h("th", {}, c))),
        f.agents.map((a) => h("tr", {"data-agent": a.name},
          h("td", {}, a.name),
          h("td", {}, h("span", {class: "pill " + a.breaker}, a.breaker), " ", h("span", {class: "muted"}, a.breaker_detail)),
          h("td", {class: "sessions"}, a.sessions.length ? a.sessions.map((s) => h("div", {"data-session-task": s.task_id},
            h("a", {href: "#/task/" + s.task_id}, "task " + s.task_id), " ", s.session, s.host ? " on " + s.host : "", " · ", age(s.started_at)))
            : h("span", {class: "muted"}, "none"))))),
      h("h2", {}, "Webhooks"),
      h("p", {id: "webhook-mode"}, "mode ", h("span", {class: "pill " + (w.mode.startsWith("polling") ? "polling" : w.mode)}, w.mode),
        w.enabled ? "" : " (receiver disabled: polling)", w.reason ? h("span", {}, " — why: " + w.reason) : null),
      h("p", {class: "muted", id: "webhook-counts"}, "last 24 h: received " + w.received + ", duplicates " + w.duplicates +
        ", applied " + w.applied + ", failed " + w.failed + ", pending " + w.pending),
      deliveries("Failures", w.failures), deliveries("Recent deliveries", w.recent));
  }});
}

function deliveries(title, list) {
  return h("div", {}, h("h2", {}, title), list.length ? h("table", {},
    h("tr", {}, ["id", "event", "repo", "state", "result", "received"].map((c) => h("th", {}, c))),
    list.map((d) => h("tr", {}, h("td", {}, d.id), h("td", {}, d.event + (d.action ? "." + d.action : "")),
      h("td", {}, d.repo), h("td", {}, h("span", {class: "pill " + d.state}, d.state)),
      h("td", {}, d.error || d.result), h("td", {class: "muted"}, age(d.created_at) + " ago"))))
    : h("p", {class: "muted"}, "none"));
}

// ---- Settings
async function settingsPage() {
  const r = await api("/api/settings");
  if (!r.ok) return;
  show(h("h1", {}, "Settings"),
    h("p", {class: "muted"}, "Checked by the parser of orch config validate before anything is written; the previous file is kept as .bak."),
    ...r.body.files.map(settingsFile));
}

function settingsFile(f) {
  const text = h("textarea", {"data-target": f.target, spellcheck: "false", readonly: !f.editable}, f.text);
  const result = h("div", {class: "result"});
  const save = h("button", {"data-save": f.target, disabled: !f.editable, onclick: async () => {
    save.disabled = true;
    const r = await api("/api/settings", {method: "PUT", body: JSON.stringify({target: f.target, text: text.value})});
    save.disabled = false;
    if (r.ok) {
      result.replaceChildren(h("div", {class: "saved"}, "Saved " + r.body.saved + " (previous kept as " +
        r.body.backup + "). " + (r.body.restart ? "Needs a restart: " : "") + r.body.applies));
    } else if (r.body && r.body.errors) {
      result.replaceChildren(h("div", {class: "errors"}, h("div", {}, r.body.error),
        h("ul", {}, r.body.errors.map((e) => h("li", {},
          (e.line ? "line " + e.line + ": " : "") + (e.key ? e.key + ": " : "") + e.message +
          (e.file && e.file !== f.path ? " (in " + e.file + ")" : ""))))));
    } else {
      result.replaceChildren(h("div", {class: "errors"}, (r.body && r.body.error) || "HTTP " + r.status));
    }
  }}, "Save");
  return h("section", {class: "settings", "data-file": f.target},
    h("h2", {}, f.target === "global" ? "Global (" + f.path + ")" : f.target + " (" + f.path + ")"),
    h("p", {class: "muted"}, (f.exists ? "" : "Not present yet: defaults apply. ") + f.applies),
    text, h("div", {class: "toolbar"}, save), result);
}

// ---- Router
function route() {
  cleanup.forEach((c) => c());
  cleanup = [];
  setLive(null);
  const [path, query] = (location.hash.slice(1) || "/board").split("?");
  const params = new URLSearchParams(query || "");
  const parts = path.split("/").filter(Boolean);
  document.querySelectorAll("[data-nav]").forEach((a) =>
    a.classList.toggle("on", a.dataset.nav === parts[0] || (parts[0] === "task" && a.dataset.nav === "board") ||
      (parts[0] === "run" && a.dataset.nav === "runs")));
  document.body.dataset.page = parts[0] || "board";
  switch (parts[0]) {
    case "task": return taskPage(parts[1]);
    case "runs": return runsPage();
    case "run": return runPage(parts[1]);
    case "fleet": return fleetPage();
    case "settings": return settingsPage();
    default: return boardPage(params);
  }
}

async function start() {
  const r = await api("/api/session");
  if (r.status === 401) {
    document.getElementById("live").textContent = "signed out";
    show(h("div", {class: "notice", id: "signed-out"}, h("h1", {}, "Sign in"),
      h("p", {}, "Run ", h("code", {}, "orch dashboard"), " on the machine orch serves from: it prints a one-time link that signs this browser in.")));
    return;
  }
  csrf = r.body && r.body.csrf;
  const out = document.getElementById("logout");
  if (csrf) {
    out.hidden = false;
    out.addEventListener("click", async (e) => {
      e.preventDefault();
      await api("/api/logout", {method: "POST"});
      location.reload();
    });
  }
  window.addEventListener("hashchange", route);
  route();
}

start();
