"use strict";
// DreamStream control panel: every control sends a chat command line to /api/command.
const token = new URLSearchParams(location.search).get("token") || "";
const $ = (id) => document.getElementById(id);
let state = null;
let dragging = false;

async function api(path, options = {}) {
  const headers = Object.assign({ Authorization: "Bearer " + token }, options.headers || {});
  const response = await fetch(path, Object.assign({}, options, { headers }));
  const body = (response.headers.get("Content-Type") || "").includes("json") ? await response.json() : null;
  if (!response.ok) throw new Error((body && body.error) || response.statusText);
  return body;
}

async function send(text, shown) {
  try {
    const body = await api("/api/command", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ text }),
    });
    log(shown || text, body.reply || "done", false);
    if (body.state) render(body.state);
  } catch (e) {
    log(shown || text, e.message, true);
  }
}

function log(command, reply, error) {
  const li = document.createElement("li");
  if (error) li.className = "err";
  const t = document.createElement("span");
  t.className = "t";
  t.textContent = new Date().toLocaleTimeString() + "  " + command;
  li.append(t, document.createTextNode(" → " + reply));
  const list = $("replies");
  list.prepend(li);
  $("replies-empty").style.display = "none";
  while (list.children.length > 40) list.lastChild.remove();
}

function fmt(x, digits = 1) {
  return x === null || x === undefined ? "–" : Number(x).toFixed(digits);
}

function whatIsOn(c) {
  return c.target !== null ? c.target_name || "class " + c.target : "layer " + c.layer;
}

function render(s) {
  state = s;
  const c = s.controls;
  // on screen now
  $("now-what").textContent = whatIsOn(c);
  $("now-badge").textContent = whatIsOn(c);
  $("now-who").textContent = c.requested_by.length ? "asked by " + c.requested_by.slice(0, 5).join(", ")
    + (c.requested_by.length > 5 ? " +" + (c.requested_by.length - 5) : "") : "free dreaming (no request)";
  const left = c.seconds_left;
  $("now-left").textContent = left === null ? "" : left + " s left";
  $("now-bar").style.width = left === null ? "0%" : Math.min(100, (100 * left) / c.hold_s) + "%";
  const lock = $("btn-lock");
  lock.classList.toggle("on", c.locked);
  lock.textContent = c.locked ? "Unlock chat" : "Lock chat";
  // queue
  const q = $("queue");
  q.replaceChildren(...s.queue.map((item) => {
    const li = document.createElement("li");
    const pos = Object.assign(document.createElement("span"), { className: "pos", textContent: "#" + item.position });
    const lbl = Object.assign(document.createElement("span"), { className: "lbl", textContent: item.label });
    if (item.paid) {
      const star = Object.assign(document.createElement("span"), { className: "paid", textContent: "★ points" });
      star.title = item.paid + " channel-point redemption" + (item.paid > 1 ? "s" : "") + " (refunded if not shown)";
      lbl.append(" ", star);
    }
    const eta = Object.assign(document.createElement("span"), { className: "eta", textContent: "in ~" + item.starts_in_s + " s" });
    const who = Object.assign(document.createElement("span"), { className: "who", textContent: item.requested_by.join(", ") });
    li.append(pos, lbl, eta, who);
    return li;
  }));
  $("queue-count").textContent = s.queue.length;
  $("queue-empty").style.display = s.queue.length ? "none" : "block";
  // stats
  const st = s.stats || {};
  $("s-in").textContent = fmt(st.input_fps);
  $("s-dream").textContent = fmt(st.dreamed_fps);
  // the dream falling far behind the output (frames repeat) is worth a glance
  const slow = st.dreamed_fps !== null && st.output_fps && st.dreamed_fps < 0.5 * st.output_fps;
  $("s-dream").parentElement.classList.toggle("warn", Boolean(slow));
  $("s-out").textContent = fmt(st.output_fps);
  $("s-lat").textContent = fmt(st.latency_p50_ms, 0) + " / " + fmt(st.latency_p95_ms, 0);
  $("s-dreaming").textContent = st.dreaming || "–";
  $("s-drop").textContent = (st.dropped ?? "–") + " / " + (st.repeated ?? "–");
  // adaptive quality: "full", or the level it stepped down to so the dream holds its rate
  const qu = st.quality || {};
  $("s-quality").textContent = !qu.adaptive ? "fixed" : qu.level === 0 ? "full" : `step ${qu.level} of ${qu.levels - 1}`;
  $("s-quality").parentElement.title = !qu.adaptive ? "adaptive quality is off (live.target_fps: 0)" :
    `holding ${qu.target_fps} dreamed fps: steps on 1 frame in ${qu.step_every}, dream at most ${qu.dream_max_side} px` +
    (qu.class_crops ? `, class steps ${qu.class_crops} crop(s) at ${qu.class_size} px` : "");
  $("s-quality").parentElement.classList.toggle("warn", Boolean(qu.adaptive && qu.level > 0));
  // outputs
  $("outputs").replaceChildren(...s.outputs.map((o) => {
    const chip = document.createElement("span");
    chip.className = "out" + (o.connected ? "" : " down");
    chip.title = `${o.frames_written} frames written, ${o.frames_dropped} dropped, ${o.reconnects} reconnects`;
    const dot = Object.assign(document.createElement("span"), { className: "dot" });
    const n = Object.assign(document.createElement("span"), { className: "n",
      textContent: o.failed ? "stopped" : o.connected ? o.frames_written + " fr" : "reconnecting" });
    if (o.failed) chip.title = o.failed;
    chip.append(dot, document.createTextNode(o.name), n);
    return chip;
  }));
  renderControls(s);
}

function fillSelect(select, options, value) {
  const wanted = options.map(([v, label]) => v + "\u0000" + label).join("\u0001");
  if (select.dataset.options !== wanted) {
    select.replaceChildren(...options.map(([v, label]) => new Option(label, v)));
    select.dataset.options = wanted;
  }
  if (document.activeElement !== select) select.value = value;
}

function segmented(box, values, current, command) {
  const wanted = values.join("|");
  if (box.dataset.values !== wanted) {
    box.replaceChildren(...values.map((v) => {
      const b = Object.assign(document.createElement("button"), { type: "button", textContent: v });
      b.dataset.value = v;
      b.addEventListener("click", () => send(command + " " + v));
      return b;
    }));
    box.dataset.values = wanted;
  }
  for (const b of box.children) b.classList.toggle("on", b.dataset.value === String(current));
}

function renderControls(s) {
  const c = s.controls, ch = s.choices;
  const byName = Object.fromEntries(Object.entries(ch.aliases).map(([a, n]) => [n, a]));
  fillSelect($("layer"), ch.layers.map((n) => [n, byName[n] ? `${n} (${byName[n]})` : n]), c.layer);
  const chips = $("aliases");
  const aliasKey = Object.keys(ch.aliases).join("|");
  if (chips.dataset.aliases !== aliasKey) {
    chips.replaceChildren(...Object.entries(ch.aliases).map(([alias, name]) => {
      const b = Object.assign(document.createElement("button"), { type: "button", className: "chip", textContent: alias });
      b.title = name;
      b.dataset.layer = name;
      b.addEventListener("click", () => send("!layer " + alias));
      return b;
    }));
    chips.dataset.aliases = aliasKey;
  }
  for (const b of chips.children) b.classList.toggle("on", c.target === null && b.dataset.layer === c.layer);
  const range = $("strength");
  range.min = ch.strength[0];
  range.max = ch.strength[1];
  if (!dragging) range.value = c.strength;
  $("strength-val").textContent = "×" + Number(dragging ? range.value : c.strength).toFixed(2);
  const octaves = [];
  for (let i = ch.octaves[0]; i <= ch.octaves[1]; i++) octaves.push(String(i));
  segmented($("octaves"), octaves, c.octaves, "!octaves");
  fillSelect($("model"), ch.models.map((m) => [m, m]), c.model);
  segmented($("flow"), ch.flows, c.flow, "!flow");
}

// ---- target search with suggestions
const input = $("target"), list = $("suggestions");
let suggestions = [], active = -1, pending = null, picked = null;

function highlight(name, query) {
  const i = name.toLowerCase().indexOf(query.toLowerCase());
  const frag = document.createDocumentFragment();
  if (!query || i < 0) { frag.append(name); return frag; }
  const mark = document.createElement("mark");
  mark.textContent = name.slice(i, i + query.length);
  frag.append(name.slice(0, i), mark, name.slice(i + query.length));
  return frag;
}

function showSuggestions(query) {
  list.replaceChildren(...suggestions.map((s, i) => {
    const li = document.createElement("li");
    li.setAttribute("role", "option");
    li.className = i === active ? "active" : "";
    const name = document.createElement("span");
    name.append(highlight(s.name, query));
    const idx = Object.assign(document.createElement("span"), { className: "idx", textContent: "#" + s.index });
    li.append(name, idx);
    li.addEventListener("mousedown", (e) => { e.preventDefault(); choose(i); });
    return li;
  }));
  const open = suggestions.length > 0 && document.activeElement === input;
  list.classList.toggle("open", open);
  input.setAttribute("aria-expanded", String(open));
}

function choose(i) {
  picked = suggestions[i];
  input.value = picked.name;
  suggestions = [];
  showSuggestions("");
}

input.addEventListener("input", () => {
  picked = null;
  clearTimeout(pending);
  const query = input.value.trim();
  pending = setTimeout(async () => {
    if (!query) { suggestions = []; showSuggestions(""); return; }
    try {
      const body = await api("/api/classes?q=" + encodeURIComponent(query) + "&limit=8");
      if (input.value.trim() !== query) return;
      suggestions = body.classes;
      active = suggestions.length ? 0 : -1;
      showSuggestions(query);
    } catch (e) { /* the next keystroke tries again */ }
  }, 120);
});
input.addEventListener("keydown", (e) => {
  if (!suggestions.length) return;
  if (e.key === "ArrowDown" || e.key === "ArrowUp") {
    e.preventDefault();
    active = (active + (e.key === "ArrowDown" ? 1 : -1) + suggestions.length) % suggestions.length;
    showSuggestions(input.value.trim());
  } else if (e.key === "Escape") {
    suggestions = []; showSuggestions("");
  } else if (e.key === "Enter" && active >= 0 && !picked) {
    e.preventDefault();
    choose(active);
    submitTarget();
  }
});
input.addEventListener("blur", () => list.classList.remove("open"));

function submitTarget() {
  const text = input.value.trim();
  if (!text) return;
  // a picked suggestion goes by its index: two classes can share a name (crane, the bird and the machine)
  send("!dream " + (picked && picked.name === text ? "#" + picked.index : text), "!dream " + text);
  input.value = "";
  picked = null;
  suggestions = [];
  showSuggestions("");
}
$("target-form").addEventListener("submit", (e) => { e.preventDefault(); submitTarget(); });

// ---- other controls
$("btn-layer").addEventListener("click", () => send("!layer " + $("layer").value));
$("model").addEventListener("change", (e) => send("!model " + e.target.value));
const range = $("strength");
range.addEventListener("input", () => { dragging = true; $("strength-val").textContent = "×" + Number(range.value).toFixed(2); });
range.addEventListener("change", () => { dragging = false; send("!strength " + range.value); });
$("btn-lock").addEventListener("click", () => send(state && state.controls.locked ? "!unlock" : "!lock"));
for (const b of document.querySelectorAll("[data-cmd]")) b.addEventListener("click", () => send(b.dataset.cmd));
$("btn-copy").addEventListener("click", async () => {
  const url = location.origin + "/overlay?token=" + encodeURIComponent(token);
  try {
    await navigator.clipboard.writeText(url);
    $("btn-copy").textContent = "Copied!";
  } catch (e) {
    window.prompt("Overlay URL for OBS:", url);
  }
  setTimeout(() => { $("btn-copy").textContent = "Copy overlay URL"; }, 2000);
});

// ---- live state (server-sent events) and preview
function connect() {
  const events = new EventSource("/api/events?token=" + encodeURIComponent(token));
  events.addEventListener("state", (e) => {
    $("link").classList.remove("off");
    $("link-text").textContent = "live";
    render(JSON.parse(e.data));
  });
  events.onerror = () => {
    $("link").classList.add("off");
    $("link-text").textContent = "reconnecting…";
  };
}

let previewUrl = null;
async function refreshPreview() {
  try {
    const response = await fetch("/api/preview.jpg", { headers: { Authorization: "Bearer " + token } });
    if (response.ok) {
      const url = URL.createObjectURL(await response.blob());
      const img = $("preview");
      img.onload = () => { if (previewUrl) URL.revokeObjectURL(previewUrl); previewUrl = url; };
      img.src = url;
      $("preview-empty").style.display = "none";
    }
  } catch (e) { /* the stream may be restarting */ }
  setTimeout(refreshPreview, 250);
}

api("/api/state").then(render).catch((e) => log("connect", e.message, true));
connect();
refreshPreview();
