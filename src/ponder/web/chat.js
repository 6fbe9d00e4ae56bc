// Ponder's chat page: plain JS, no build step, nothing fetched from outside this server (works offline).
// It speaks the same OpenAI-compatible API as any client: POST /v1/chat/completions with stream=true,
// plus Ponder's `progress` flag for sub-agent and tool progress, and `include_usage` for the figures.
// The conversation lives on the server: each request carries the session id (X-Ponder-Session) and only the
// new user turn; a reload shows the stored session again (GET /v1/sessions/{id}); "New chat" starts another.
"use strict";

const $ = (id) => document.getElementById(id);
const log = $("log"), input = $("input"), keyInput = $("key"), modeSelect = $("mode");
const history = [];          // the conversation as shown, in OpenAI message shape
let sessionId = localStorage.getItem("ponder.session") || newSessionId();
let pending = [];            // attachments of the next user turn: content parts
let controller = null;       // aborts the running request (Stop)
let recorder = null;

keyInput.value = localStorage.getItem("ponder.key") || "";
keyInput.addEventListener("change", () => { localStorage.setItem("ponder.key", keyInput.value.trim()); loadModes(); restore(); agentOrders(); });
modeSelect.addEventListener("change", () => localStorage.setItem("ponder.mode", modeSelect.value));

// The modes (and presets, such as shopping) the server offers: its ponder-* models (GET /v1/models), so the
// page never keeps a list of its own. Until they arrive (or without the key a server needs): Auto only.
async function loadModes() {
  const response = await fetch("/v1/models", { headers: authHeaders() }).catch(() => null);
  if (!response || !response.ok) return;
  const names = (await response.json()).data
    .filter((card) => card.ponder && card.ponder.kind === "mode")
    .map((card) => card.ponder.mode);
  if (!names.includes("auto")) return;
  const chosen = localStorage.getItem("ponder.mode") || modeSelect.value;
  modeSelect.replaceChildren(...names.map((name) => {
    const option = el("option", "", name.charAt(0).toUpperCase() + name.slice(1));
    option.value = name;
    return option;
  }));
  modeSelect.value = names.includes(chosen) ? chosen : "auto";
}

function newSessionId() {
  const bytes = crypto.getRandomValues(new Uint8Array(12));  // (randomUUID needs https off localhost)
  const id = "web-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  localStorage.setItem("ponder.session", id);
  return id;
}

function authHeaders() {
  const headers = { "X-Ponder-Session": sessionId };
  if (keyInput.value.trim()) headers.Authorization = "Bearer " + keyInput.value.trim();
  return headers;
}

// The stored conversation of this session, shown again after a reload (quietly nothing when there is none
// yet, or the key is missing: the first turn creates the session).
async function restore() {
  if (history.length) return;
  const response = await fetch("/v1/sessions/" + encodeURIComponent(sessionId), { headers: authHeaders() }).catch(() => null);
  if (!response || !response.ok || history.length) return;
  const session = await response.json();
  log.textContent = "";
  for (const m of session.messages) {
    if (m.role !== "user" && m.role !== "assistant") continue;
    if (m.role === "assistant" && !m.content) continue;  // a tool-calling step
    history.push({ role: m.role, content: m.content });
    if (m.role === "user") renderUser(m.content);
    else bubble("assistant").appendChild(el("div", "answer", m.content));
  }
}

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}

function bubble(role) {
  const node = el("div", "msg " + role);
  log.appendChild(node);
  log.scrollTop = log.scrollHeight;
  return node;
}

function showAttachments() {
  $("attachments").textContent = pending.length ? `${pending.length} attachment(s) with the next message` : "";
}

$("image").addEventListener("change", (event) => {
  const file = event.target.files[0];
  if (!file) return;
  const reader = new FileReader();
  reader.onload = () => { pending.push({ type: "image_url", image_url: { url: reader.result } }); showAttachments(); };
  reader.readAsDataURL(file);
  event.target.value = "";
});

// Voice: record with MediaRecorder, decode, and send as 16-bit PCM WAV (the API takes wav or mp3).
$("mic").addEventListener("click", async () => {
  const button = $("mic");
  if (recorder) { recorder.stop(); return; }
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  } catch (err) {
    bubble("error").textContent = "Microphone unavailable: " + err.message;
    return;
  }
  const chunks = [];
  recorder = new MediaRecorder(stream);
  recorder.ondataavailable = (e) => chunks.push(e.data);
  recorder.onstop = async () => {
    stream.getTracks().forEach((t) => t.stop());
    button.classList.remove("recording");
    button.textContent = "Record";
    recorder = null;
    try {
      const wav = await toWav(new Blob(chunks));
      pending.push({ type: "input_audio", input_audio: { data: wav, format: "wav" } });
      showAttachments();
      if (!input.value.trim()) send();
    } catch (err) {
      bubble("error").textContent = "Could not read the recording: " + err.message;
    }
  };
  recorder.start();
  button.classList.add("recording");
  button.textContent = "Stop recording";
});

async function toWav(blob) {
  const context = new AudioContext();
  const audio = await context.decodeAudioData(await blob.arrayBuffer());
  const samples = audio.getChannelData(0), rate = audio.sampleRate;
  const buffer = new ArrayBuffer(44 + samples.length * 2), view = new DataView(buffer);
  const text = (offset, s) => [...s].forEach((c, i) => view.setUint8(offset + i, c.charCodeAt(0)));
  text(0, "RIFF"); view.setUint32(4, 36 + samples.length * 2, true); text(8, "WAVE"); text(12, "fmt ");
  view.setUint32(16, 16, true); view.setUint16(20, 1, true); view.setUint16(22, 1, true);
  view.setUint32(24, rate, true); view.setUint32(28, rate * 2, true); view.setUint16(32, 2, true);
  view.setUint16(34, 16, true); text(36, "data"); view.setUint32(40, samples.length * 2, true);
  samples.forEach((s, i) => view.setInt16(44 + i * 2, Math.max(-1, Math.min(1, s)) * 0x7fff, true));
  let binary = "";
  new Uint8Array(buffer).forEach((b) => { binary += String.fromCharCode(b); });
  await context.close();
  return btoa(binary);
}

function userContent(text) {
  if (!pending.length) return text;
  const parts = text ? [{ type: "text", text }] : [];
  return parts.concat(pending);
}

function renderUser(content) {
  const node = bubble("user");
  if (typeof content === "string") { node.textContent = content; return; }
  for (const part of content) {
    if (part.type === "text") node.appendChild(el("div", "", part.text));
    if (part.type === "image_url") { const img = el("img"); img.src = part.image_url.url; img.alt = "attached image"; node.appendChild(img); }
    if (part.type === "input_audio") { const a = el("audio"); a.controls = true; a.src = "data:audio/wav;base64," + part.input_audio.data; node.appendChild(a); }
  }
}

async function send() {
  const text = input.value.trim();
  if (!text && !pending.length) return;
  const content = userContent(text);
  history.push({ role: "user", content });
  renderUser(content);
  input.value = ""; pending = []; showAttachments();
  await reply();
}

async function reply() {
  const node = bubble("assistant");
  const reasoning = el("details", "reasoning"); reasoning.appendChild(el("summary", "", "Reasoning"));
  const reasoningText = el("div"); reasoning.appendChild(reasoningText);
  const agents = el("ul", "agents"), answer = el("div", "answer"), stats = el("div", "stats");
  node.append(agents, reasoning, answer, stats);
  reasoning.hidden = true;
  const agentLines = new Map();
  const started = performance.now();
  let firstToken = null, text = "";
  controller = new AbortController();
  $("stop").disabled = false; $("send").disabled = true;
  const headers = { "Content-Type": "application/json", ...authHeaders() };
  const body = {  // the server holds the rest of the conversation
    model: "ponder-" + modeSelect.value, messages: [history[history.length - 1]], stream: true,
    stream_options: { include_usage: true }, progress: true,
  };
  try {
    const response = await fetch("/v1/chat/completions", { method: "POST", headers, body: JSON.stringify(body), signal: controller.signal });
    if (!response.ok) {
      const err = await response.json().catch(() => ({ error: { message: response.statusText } }));
      throw new Error(`${response.status}: ${err.error ? err.error.message : response.statusText}`);
    }
    for await (const event of sse(response)) {
      if (event.error) throw new Error(event.error.message);
      if (event.ponder) { progress(event.ponder, agents, agentLines, node); continue; }
      if (event.usage) { stats.textContent = figures(event.usage, firstToken, started); continue; }
      const delta = (event.choices[0] || {}).delta || {};
      if (delta.reasoning_content) { reasoning.hidden = false; reasoningText.textContent += delta.reasoning_content; }
      if (delta.content) {
        if (firstToken === null) firstToken = performance.now();
        text += delta.content; answer.textContent = text; log.scrollTop = log.scrollHeight;
      }
    }
    history.push({ role: "assistant", content: text });
  } catch (err) {
    if (err.name === "AbortError") {
      stats.textContent = "stopped";
      if (text) history.push({ role: "assistant", content: text });
    } else {
      node.classList.add("error"); answer.textContent = err.message;
      history.pop();  // the failed turn leaves no trace in the conversation
    }
  } finally {
    controller = null; $("stop").disabled = true; $("send").disabled = false;
  }
}

// Shopping: products a search found, as cards; an action the assistant proposed, with the buttons that
// confirm or decline it. The token in the event is for this page (the person), never shown to the model.
function productCards(content) {
  let products;
  try { products = JSON.parse(content); } catch (err) { return null; }
  if (!Array.isArray(products) || !products.length) return null;
  const row = el("div", "products");
  for (const p of products) {
    const card = el("div", "product");
    card.append(el("strong", "", p.name), el("div", "price", p.price));
    const options = (p.items || []).map((i) => Object.values(i.options || {}).join(" ")).filter(Boolean);
    if (options.length) card.appendChild(el("div", "options", options.join(" · ")));
    row.appendChild(card);
  }
  return row;
}

// Every value is set with textContent (el): a product name or the assistant's words never become markup.
// The summary holds the store's records; what the assistant said about the action is shown apart, labelled.
function actionCard(action, user) {
  const card = el("div", "action");
  card.append(el("div", "summary", action.summary));
  if (action.assistant_note) {
    const note = el("div", "note");
    note.append(el("span", "label", "The assistant's words (not checked): "), el("q", "", action.assistant_note));
    card.append(note);
  }
  if (action.held) {  // for a customer this conversation identified: confirmed in their own app, not here
    card.append(el("div", "status", "Waiting for the customer's confirmation in their own app."));
    return card;
  }
  const buttons = el("div", "buttons"), status = el("div", "status", "Waiting for your confirmation.");
  const decide = async (verb) => {
    buttons.querySelectorAll("button").forEach((b) => { b.disabled = true; });
    const headers = { "Content-Type": "application/json", ...authHeaders() };
    const response = await fetch(`/v1/actions/${encodeURIComponent(action.id)}/${verb}`, {
      method: "POST", headers, body: JSON.stringify(user ? { token: action.token, user } : { token: action.token }),
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) { status.textContent = "Not done: " + (body.error ? body.error.message : response.statusText); return; }
    const order = body.result && body.result.id ? ` Order ${body.result.id} (${body.result.status}).` : "";
    status.textContent = verb === "confirm" ? `Confirmed: done.${order}` : "Declined: nothing was done.";
    card.classList.add(verb === "confirm" ? "confirmed" : "declined");
  };
  const yes = el("button", "confirm", "Confirm"), no = el("button", "decline", "Decline");
  yes.type = no.type = "button";
  yes.addEventListener("click", () => decide("confirm"));
  no.addEventListener("click", () => decide("decline"));
  buttons.append(yes, no);
  card.append(buttons, status);
  return card;
}

// Orders an outside shopping agent prepared for this page's user (the key's default one, or ?user=EMAIL, the
// buyer an agent named) wait here for the person: GET /v1/actions gives their token to the store's own
// client only (the agent never had it), and only the person decides.
const pageUser = new URLSearchParams(location.search).get("user") || "";
const shownActions = new Set();
async function agentOrders() {
  const query = pageUser ? "?user=" + encodeURIComponent(pageUser) : "";
  const response = await fetch("/v1/actions" + query, { headers: authHeaders() }).catch(() => null);
  if (!response || !response.ok) return;
  const listing = await response.json().catch(() => ({}));
  for (const action of listing.data || []) {
    if (!action.origin || !action.token || shownActions.has(action.id)) continue;
    shownActions.add(action.id);
    const node = bubble("assistant");
    const who = action.origin.kind === "ucp_agent" ? `A shopping agent (${action.origin.agent})`
      : "A conversation with the store's assistant";
    node.appendChild(el("div", "answer", `${who} prepared this. Nothing happens unless you confirm it here.`));
    node.appendChild(actionCard(action, pageUser));
  }
}

function progress(p, list, lines, node) {
  if (p.type === "pending_action") { node.appendChild(actionCard(p.action)); return; }
  if (p.type === "tool_result" && p.name === "search_products" && !p.is_error) {
    const cards = productCards(p.content);
    if (cards) node.insertBefore(cards, node.querySelector(".answer"));
  }
  if (p.type === "perception") {
    const r = p.report;
    const text = r.kind === "audio" ? `heard (${r.engine}): “${r.transcript}”`
      : r.path === "native" ? `${r.label}: sent to the vision model as it is`
      : `${r.label}: ${r.lines} text line${r.lines === 1 ? "" : "s"} read by OCR + image analysis; the picture itself was not seen`;
    list.appendChild(el("li", "perception", text));
    return;
  }
  if (p.type !== "agent") {
    list.appendChild(el("li", "", p.type === "tool_call" ? `tool ${p.name} called` : `tool ${p.name} answered`));
    return;
  }
  let line = lines.get(p.agent);
  if (!line) { line = el("li"); lines.set(p.agent, line); list.appendChild(line); }
  const answer = p.answer ? ` → ${p.answer}` : "";
  line.textContent = `agent ${p.agent + 1}: ${p.status}, ${p.tokens} tokens${answer}${p.detail ? " (" + p.detail + ")" : ""}`;
}

function figures(usage, firstToken, started) {
  const ponder = usage.ponder || {};
  const ttft = ponder.time_to_first_token_s != null ? ponder.time_to_first_token_s
    : firstToken !== null ? (firstToken - started) / 1000 : null;
  const router = ponder.router ? ` (auto: ${ponder.router.reason})` : "";
  const reasoning = usage.completion_tokens_details ? usage.completion_tokens_details.reasoning_tokens : 0;
  return `${ponder.mode || "?"}${router} · first token ${ttft == null ? "–" : ttft.toFixed(2) + " s"} · ` +
    `${usage.completion_tokens} tokens (${reasoning} reasoning) · prompt ${usage.prompt_tokens}`;
}

async function* sse(response) {
  const reader = response.body.getReader(), decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut); buffer = buffer.slice(cut + 2);
      for (const line of block.split("\n")) {
        if (!line.startsWith("data: ")) continue;
        const data = line.slice(6);
        if (data === "[DONE]") return;
        yield JSON.parse(data);
      }
    }
  }
}

$("composer").addEventListener("submit", (e) => { e.preventDefault(); send(); });
input.addEventListener("keydown", (e) => { if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); send(); } });
$("stop").addEventListener("click", () => { if (controller) controller.abort(); });
$("clear").addEventListener("click", () => { history.length = 0; log.textContent = ""; sessionId = newSessionId(); });
loadModes();
restore();
agentOrders();
