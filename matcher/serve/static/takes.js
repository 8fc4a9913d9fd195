// Take history of a reference, the practice score of a take, comparisons as pictures.
"use strict";
const refName = param("ref");
const base = `/api/references/${encodeURIComponent(refName)}`;
const message = document.getElementById("message");
const scoreBox = document.getElementById("score");

function colourOf(errorMs, tol) {
  if (errorMs == null) return "#bbb";
  const a = Math.abs(errorMs);
  return a <= tol ? "#1a7f37" : a <= 2 * tol ? "#b7791f" : "#c62828";
}
function heatOf(meanMs, tol) {  // early: blue, late: red, in time: green
  if (meanMs == null) return "#bbb";
  const k = Math.min(1, Math.abs(meanMs) / (3 * tol));
  if (Math.abs(meanMs) <= tol / 2) return "#1a7f37";
  return meanMs < 0 ? `rgb(${40 - 20 * k}, ${100 - 40 * k}, ${200 + 30 * k})` : `rgb(${200 + 30 * k}, ${70 - 40 * k}, ${40})`;
}

async function showScore(take) {
  document.getElementById("comparePlot").hidden = true;
  scoreBox.replaceChildren(el("p", { class: "hint" }, "scoring the take…"));
  document.getElementById("scoreTitle").textContent = `Score of ${take.date.replace("T", " ").slice(0, 19)}`;
  try {
    const s = await api.json(`${base}/takes/${take.take}/score`);
    const tol = s.tolerance_ms;
    const beats = el("div", { class: "beats" });
    for (const b of s.beats) {
      const cents = b.cents == null ? "" : `, ${b.cents > 0 ? "+" : ""}${b.cents} ct`;
      beats.append(el("span", { style: `background:${colourOf(b.error_ms, tol)}`, title: `bar ${b.bar} beat ${b.beat}: ${b.error_ms} ms${cents}` }));
    }
    const heat = el("div", { class: "heat" });
    for (const bar of s.bars) {
      const cents = bar.cents == null ? "" : `\n${bar.cents > 0 ? "+" : ""}${Math.round(bar.cents)} ct`;
      heat.append(el("div", { style: `background:${heatOf(bar.mean_error_ms, tol)}`, title: `bar ${bar.bar}: mean ${bar.mean_error_ms} ms` },
        `${bar.bar}\n${bar.mean_error_ms == null ? "–" : (bar.mean_error_ms > 0 ? "+" : "") + Math.round(bar.mean_error_ms)}${cents}`));
    }
    scoreBox.replaceChildren(
      el("p", { class: "sentence" }, s.sentence),
      el("h3", {}, `Beats (green within ±${tol} ms, orange within ±${2 * tol}, red beyond)`), beats,
      el("h3", {}, "Bars: mean error [ms] (blue early, red late)"), heat,
      el("h3", {}, "Timing and tempo"), el("img", { class: "plot", src: `${base}/takes/${take.take}/score.png`, alt: "score plot" }));
  } catch (e) { scoreBox.replaceChildren(el("p", { class: "message error" }, e.message)); }
}

async function load() {
  document.getElementById("title").textContent = `matcher · ${refName} · takes`;
  document.getElementById("liveLink").href = `/live.html?ref=${encodeURIComponent(refName)}`;
  const takes = await api.json(`${base}/takes`);
  const tbody = document.querySelector("#history tbody");
  tbody.replaceChildren();
  if (!takes.length) tbody.append(el("tr", {}, el("td", { colspan: "3" }, "No takes yet: follow one live.")));
  const a = document.getElementById("compareA"), b = document.getElementById("compareB");
  a.replaceChildren(el("option", { value: "reference" }, "the reference"));
  b.replaceChildren();
  for (const t of takes) {
    const f = t.follow || {};
    const when = t.date.replace("T", " ").slice(0, 16);
    const tempo = f.mean_tempo_dev_pct == null ? "?" : `${f.mean_tempo_dev_pct >= 0 ? "+" : ""}${f.mean_tempo_dev_pct} %`;
    tbody.append(el("tr", {}, el("td", {}, el("a", { href: "#", onclick: (e) => { e.preventDefault(); showScore(t); } }, when)),
      el("td", {}, fmtSeconds(t.seconds)), el("td", {}, tempo)));
    a.append(el("option", { value: t.take }, `take ${when}`));
    b.append(el("option", { value: t.take }, `take ${when}`));
  }
  const wanted = param("take");
  const chosen = takes.find((t) => t.take === wanted) || takes[0];
  if (chosen) showScore(chosen);
}

document.getElementById("compare").addEventListener("click", () => {
  const a = document.getElementById("compareA").value, b = document.getElementById("compareB").value;
  if (!b) { say(message, "no take to compare yet", "error"); return; }
  const img = document.getElementById("comparePlot");
  say(message, "comparing…");
  img.onload = () => say(message, "");
  img.onerror = () => say(message, "could not compare these two", "error");
  img.src = `${base}/compare.png?a=${encodeURIComponent(a)}&b=${encodeURIComponent(b)}`;
  img.hidden = false;
});
load().catch((e) => say(message, e.message, "error"));
