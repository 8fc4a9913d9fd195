// The live page: microphone -> AudioWorklet -> WebSocket (float32 PCM at the context's
// rate); positions come back as the JSON lines of `matcher follow --jsonl`.
"use strict";
const refName = param("ref");
const $ = (id) => document.getElementById(id);
const message = $("message");
const BLOCK = 384; // samples per WebSocket message (8 ms at 48 kHz)
const TEMPO_SETTLES_S = 2.0; // the tempo shown after a start or a tap needs this much take
let ref = null, socket = null, audio = null, last = null, tappedBar = null, heldSince = null;
const curve = [];
// What the page showed, for the browser tests and anyone curious (window.matcherLog).
const log = { sampleRate: null, blocks: [], positions: [], seeks: [], take: null, ended: false };
window.matcherLog = log;

async function loadReference() {
  ref = await api.json(`/api/references/${encodeURIComponent(refName)}`);
  $("title").textContent = `matcher · ${ref.name}`;
  $("takesLink").href = `/takes.html?ref=${encodeURIComponent(ref.name)}`;
  draw();
}

function draw() {
  if (!ref) return;
  drawWaveform($("waveform"), ref, last ? last.ref_t : null, tappedBar);
  const settled = last && last.t - (log.tempoFrom || 0) >= TEMPO_SETTLES_S;
  drawGauge($("gauge"), settled ? last.tempo_dev_pct : null);
  drawTempoCurve($("tempoCurve"), curve, last ? last.t : 0);
}
let drawPending = false;
function drawSoon() {
  if (drawPending) return;
  drawPending = true;
  requestAnimationFrame((now) => {
    drawPending = false;
    draw();
    for (let k = log.positions.length - 1; k >= 0 && log.positions[k].drawnAt == null; k--) log.positions[k].drawnAt = now;
  });
}

function show(p) {
  const state = p.state === "following" && heldSince != null && p.t - heldSince > 0.6 ? "paused" : p.state;
  if (last && Math.abs(p.ref_t - last.ref_t) < 1e-4) { if (heldSince == null) heldSince = last.t; } else heldSince = null;
  last = p;
  const bpb = ref.beats_per_bar || 4;
  if (p.bar != null) {
    const bar = Math.floor(p.bar + 1e-6);
    $("bar").textContent = String(bar);
    $("beat").textContent = String(Math.min(bpb, Math.floor((p.bar - bar) * bpb + 1e-6) + 1));
  } else { $("bar").textContent = "–"; $("beat").textContent = "–"; }
  const settled = p.t - (log.tempoFrom || 0) >= TEMPO_SETTLES_S;
  $("tempo").textContent = settled ? `${p.tempo_dev_pct >= 0 ? "+" : ""}${p.tempo_dev_pct.toFixed(0)} %` : "…";
  $("clock").textContent = fmtSeconds(p.t);
  $("state").textContent = state; $("state").className = state;
  // The tempo is the slope of the last seconds of path: before there are some, it says little.
  if (p.t - (log.tempoFrom || 0) >= TEMPO_SETTLES_S) curve.push([p.t, p.tempo_dev_pct]);
  while (curve.length && curve[0][0] < p.t - 35) curve.shift();
}

function onMessage(event) {
  const now = performance.now();
  if (event.data.startsWith('{"event"')) return onEvent(JSON.parse(event.data));
  const lines = event.data.trim().split("\n");
  let p = null;
  for (const line of lines) {
    p = JSON.parse(line);
    log.positions.push({ t: p.t, ref_t: p.ref_t, bar: p.bar, state: p.state, receivedAt: now, drawnAt: null });
  }
  if (p) { show(p); drawSoon(); }
}

function onEvent(e) {
  if (e.event === "ready") { log.take = e.take; say(message, "listening — play!", "ok"); flushQueue(); }
  else if (e.event === "seeked") { log.seeks.push({ ...e, at: performance.now() }); log.tempoFrom = e.t; }
  else if (e.event === "error") say(message, e.message, "error");
  else if (e.event === "ended") {
    log.ended = true;
    const box = $("ended"); box.hidden = false; box.replaceChildren();
    if (e.take) {
      const f = e.summary.follow || {};
      box.append(el("strong", {}, `Take saved (${fmtSeconds(e.summary.seconds)}). `),
        `Mean tempo ${f.mean_tempo_dev_pct != null ? (f.mean_tempo_dev_pct >= 0 ? "+" : "") + f.mean_tempo_dev_pct + " %" : "?"}. `,
        el("a", { class: "button primary", href: `/takes.html?ref=${encodeURIComponent(refName)}&take=${e.take}` }, "See the score"));
    } else box.append("The take was too short to keep.");
  }
}

const queue = [];
let ready = false;
function send(pcm) {
  if (ready && socket && socket.readyState === WebSocket.OPEN) socket.send(pcm.buffer);
  else queue.push(pcm);
}
function flushQueue() { ready = true; while (queue.length) socket.send(queue.shift().buffer); }

// The server's own input devices join the choice (the browser's microphone stays the default).
async function loadDevices() {
  const devices = await api.json("/api/devices");
  for (const d of devices) {
    $("source").append(el("option", { value: `server:${d.index}` }, `the server's: ${d.name}${d.default ? " (default)" : ""}`));
  }
}

function openSocket(start) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  socket = new WebSocket(`${scheme}://${location.host}/api/follow/${encodeURIComponent(refName)}`);
  socket.onopen = () => socket.send(JSON.stringify(start));
  socket.onmessage = onMessage;
  socket.onclose = () => { stopAudio(); if (!log.ended && message.className !== "message error") say(message, "the take ended"); };
  $("stop").disabled = false; $("restart").disabled = false;
}

async function listen() {
  $("listen").disabled = true;
  $("ended").hidden = true;
  const choice = $("source").value;
  if (choice.startsWith("server:")) {  // the server listens; the page only shows and steers
    openSocket({ type: "start", source: "server", device: Number(choice.slice(7)) });
    return;
  }
  try {
    const stream = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false, channelCount: 1 } });
    const context = new AudioContext({ latencyHint: "interactive" });
    await context.audioWorklet.addModule("/worklet.js");
    const source = context.createMediaStreamSource(stream);
    const node = new AudioWorkletNode(context, "pcm-blocks", { processorOptions: { blockSize: BLOCK } });
    const mute = context.createGain(); mute.gain.value = 0;
    source.connect(node); node.connect(mute); mute.connect(context.destination);
    log.sampleRate = context.sampleRate;
    node.port.onmessage = (e) => { log.blocks.push([e.data.end, performance.now()]); send(e.data.pcm); };
    audio = { stream, context };
    openSocket({ type: "start", sample_rate: context.sampleRate, format: "f32" });
  } catch (e) {
    say(message, `cannot listen: ${e.message}`, "error");
    $("listen").disabled = false;
  }
}

function stopAudio() {
  if (audio) { audio.stream.getTracks().forEach((t) => t.stop()); audio.context.close(); audio = null; }
  ready = false; queue.length = 0;
  $("listen").disabled = false; $("stop").disabled = true; $("restart").disabled = true;
}

function control(msg) { if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(msg)); }

$("listen").addEventListener("click", listen);
$("stop").addEventListener("click", () => { if (audio) { audio.stream.getTracks().forEach((t) => t.stop()); } say(message, "saving the take…"); control({ type: "stop" }); });
$("restart").addEventListener("click", () => { tappedBar = 1; control({ type: "restart" }); $("tapped").textContent = "from the start"; draw(); });
$("waveform").addEventListener("click", (e) => {
  if (!ref) return;
  const box = e.currentTarget.getBoundingClientRect();
  const t = (e.clientX - box.left) / box.width * ref.duration;
  const bar = barAt(ref.beats, t);
  if (bar == null) { control({ type: "seek", ref_t: t }); return; }
  tappedBar = Math.max(1, Math.floor(bar));
  $("tapped").textContent = `you start at bar ${tappedBar}`;
  control({ type: "seek", bar: tappedBar });
  draw();
});
window.addEventListener("resize", draw);
loadReference().catch((e) => say(message, e.message, "error"));
loadDevices().catch(() => {});  // no sound system on the server: the browser's microphone only
