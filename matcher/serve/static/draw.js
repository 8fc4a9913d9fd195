// Canvas drawings of the live page: waveform with the bar grid and cursor, tempo gauge, tempo curve.
"use strict";
function fitCanvas(canvas) {
  const ratio = window.devicePixelRatio || 1;
  const w = canvas.clientWidth, h = canvas.clientHeight;
  if (canvas.width !== Math.round(w * ratio) || canvas.height !== Math.round(h * ratio)) {
    canvas.width = Math.round(w * ratio); canvas.height = Math.round(h * ratio);
  }
  const g = canvas.getContext("2d");
  g.setTransform(ratio, 0, 0, ratio, 0, 0);
  return { g, w, h };
}

// Bars of the reference: [{bar, t}] for whole bar numbers, from the beats' (time, bar) pairs.
function barStarts(beats) {
  const out = [];
  for (let k = 0; k < beats.bars.length; k++) {
    const b = beats.bars[k];
    if (Math.abs(b - Math.round(b)) < 1e-6) out.push({ bar: Math.round(b), t: beats.times[k] });
  }
  return out;
}

// Fractional bar at a reference time (linear between beats, as the server's Beats.bar_at).
function barAt(beats, t) {
  const ts = beats.times, bs = beats.bars, n = ts.length;
  if (n < 2) return null;
  if (t <= ts[0]) return bs[0] + (t - ts[0]) * (bs[1] - bs[0]) / (ts[1] - ts[0]);
  for (let k = 1; k < n; k++) if (t <= ts[k]) return bs[k - 1] + (t - ts[k - 1]) * (bs[k] - bs[k - 1]) / (ts[k] - ts[k - 1]);
  return bs[n - 1] + (t - ts[n - 1]) * (bs[n - 1] - bs[n - 2]) / (ts[n - 1] - ts[n - 2]);
}

function drawWaveform(canvas, ref, cursorT, tappedBar) {
  const { g, w, h } = fitCanvas(canvas);
  g.clearRect(0, 0, w, h);
  const top = 22, mid = top + (h - top) / 2, half = (h - top) / 2 - 4;
  const x = (t) => (t / ref.duration) * w;
  // beats (light) and bars (dark, numbered)
  g.strokeStyle = "#ece9e2"; g.lineWidth = 1;
  for (const t of ref.beats.times) { g.beginPath(); g.moveTo(x(t) + .5, top); g.lineTo(x(t) + .5, h); g.stroke(); }
  const bars = barStarts(ref.beats);
  if (tappedBar != null) {
    const k = bars.findIndex((b) => b.bar === tappedBar);
    if (k >= 0) {
      const end = k + 1 < bars.length ? bars[k + 1].t : ref.duration;
      g.fillStyle = "rgba(31,111,235,.12)"; g.fillRect(x(bars[k].t), top, x(end) - x(bars[k].t), h - top);
    }
  }
  g.font = "13px system-ui, sans-serif"; g.fillStyle = "#6b6b70"; g.textBaseline = "top";
  let lastLabel = -1e9;
  for (const b of bars) {
    g.strokeStyle = "#b9b4a9"; g.beginPath(); g.moveTo(x(b.t) + .5, top - 4); g.lineTo(x(b.t) + .5, h); g.stroke();
    if (x(b.t) - lastLabel >= 26) { g.fillText(String(b.bar), x(b.t) + 3, 4); lastLabel = x(b.t); }
  }
  // level envelope
  const level = ref.overview.level, dt = ref.overview.seconds_per_point;
  g.fillStyle = "#8a8f98";
  for (let i = 0; i < level.length; i++) {
    const x0 = x(i * dt), x1 = Math.max(x((i + 1) * dt), x0 + 1), a = level[i] * half;
    g.fillRect(x0, mid - a, x1 - x0, 2 * a);
  }
  if (cursorT != null) {
    g.fillStyle = "rgba(31,111,235,.18)"; g.fillRect(0, top, x(cursorT), h - top);
    g.strokeStyle = "#1f6feb"; g.lineWidth = 3;
    g.beginPath(); g.moveTo(x(cursorT), top - 6); g.lineTo(x(cursorT), h); g.stroke();
  }
}

function drawGauge(canvas, devPct) {
  const { g, w, h } = fitCanvas(canvas);
  g.clearRect(0, 0, w, h);
  const cx = w / 2, cy = h - 12, r = Math.min(w / 2 - 10, h - 22), span = 30;
  const angle = (pct) => Math.PI + (Math.max(-span, Math.min(span, pct)) + span) / (2 * span) * Math.PI;
  const zones = [[-span, -10, "#c62828"], [-10, -3, "#b7791f"], [-3, 3, "#1a7f37"], [3, 10, "#b7791f"], [10, span, "#c62828"]];
  g.lineWidth = 12;
  for (const [a, b, c] of zones) { g.strokeStyle = c; g.beginPath(); g.arc(cx, cy, r, angle(a), angle(b)); g.stroke(); }
  g.fillStyle = "#6b6b70"; g.font = "12px system-ui, sans-serif";
  g.textAlign = "right"; g.fillText("slower", cx - r - 10, cy);
  g.textAlign = "left"; g.fillText("faster", cx + r + 10, cy);
  if (devPct != null) {
    const a = angle(devPct);
    g.strokeStyle = "#1d1d1f"; g.lineWidth = 3;
    g.beginPath(); g.moveTo(cx, cy); g.lineTo(cx + Math.cos(a) * (r - 8), cy + Math.sin(a) * (r - 8)); g.stroke();
  }
}

function drawTempoCurve(canvas, points, nowT) {
  const { g, w, h } = fitCanvas(canvas);
  g.clearRect(0, 0, w, h);
  const window_s = 30, span = 30, y = (pct) => h / 2 - Math.max(-span, Math.min(span, pct)) / span * (h / 2 - 6);
  g.strokeStyle = "#d9d6cf"; g.lineWidth = 1;
  for (const p of [-20, -10, 0, 10, 20]) { g.beginPath(); g.moveTo(0, y(p)); g.lineTo(w, y(p)); g.stroke(); }
  g.fillStyle = "#6b6b70"; g.font = "11px system-ui, sans-serif";
  g.fillText("+20 %", 4, y(20) - 2); g.fillText("0", 4, y(0) - 2); g.fillText("−20 %", 4, y(-20) - 2);
  g.strokeStyle = "#1f6feb"; g.lineWidth = 2; g.beginPath();
  let started = false;
  for (const [t, pct] of points) {
    if (t < nowT - window_s) continue;
    const px = w - (nowT - t) / window_s * w;
    if (!started) { g.moveTo(px, y(pct)); started = true; } else g.lineTo(px, y(pct));
  }
  g.stroke();
}
