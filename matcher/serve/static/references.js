// The references page: list, add (upload or drag-and-drop), remove.
"use strict";
const tbody = document.querySelector("#references tbody");
const form = document.getElementById("upload");
const message = document.getElementById("message");
const progress = document.getElementById("progress");

async function refresh() {
  const refs = await api.json("/api/references");
  tbody.replaceChildren();
  if (!refs.length) tbody.append(el("tr", {}, el("td", { colspan: "5" }, "No references yet: add one below.")));
  for (const r of refs) {
    const q = encodeURIComponent(r.name);
    tbody.append(el("tr", {},
      el("td", {}, el("strong", {}, r.name)),
      el("td", {}, fmtSeconds(r.duration)),
      el("td", {}, `${r.beats_source || ""} · ${r.beats_per_bar || 4}/bar`),
      el("td", {}, (r.created || "").replace("T", " ").slice(0, 16)),
      el("td", {},
        el("a", { class: "button primary", href: `/live.html?ref=${q}` }, "Follow live"), " ",
        el("a", { class: "button", href: `/takes.html?ref=${q}` }, "Takes"), " ",
        el("button", { class: "danger", onclick: () => remove(r.name) }, "Remove"))));
  }
}

async function remove(name) {
  if (!confirm(`Remove ${name} and its takes?`)) return;
  try { await api.json(`/api/references/${encodeURIComponent(name)}`, { method: "DELETE" }); say(message, `removed ${name}`, "ok"); }
  catch (e) { say(message, e.message, "error"); }
  refresh();
}

function upload(data) {
  progress.hidden = false; progress.value = 0;
  const uploadId = Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, "0")).join("");
  data.set("upload_id", uploadId);
  let poll = null;
  say(message, "uploading…");
  const xhr = new XMLHttpRequest();
  xhr.open("POST", "/api/references");
  xhr.upload.onprogress = (e) => { if (e.lengthComputable) progress.value = e.loaded / e.total; };
  xhr.upload.onload = () => {
    progress.value = 0;
    say(message, "preprocessing (pitch, onsets, beats)…");
    poll = setInterval(async () => {
      try {
        const p = await api.json(`/api/uploads/${uploadId}`);
        if (p.total) { progress.value = p.done / p.total; say(message, `preprocessing (pitch, onsets, beats)… ${Math.round(100 * p.done / p.total)} %`); }
      } catch (e) { /* finished or not started yet */ }
    }, 300);
  };
  xhr.onloadend = () => { if (poll) clearInterval(poll); };
  xhr.onload = () => {
    progress.hidden = true;
    let body = {};
    try { body = JSON.parse(xhr.responseText); } catch (e) { body = {}; }
    if (xhr.status >= 200 && xhr.status < 300) { say(message, `stored ${body.name} (${fmtSeconds(body.duration)})`, "ok"); form.reset(); refresh(); }
    else say(message, body.error || `upload failed (${xhr.status})`, "error");
  };
  xhr.onerror = () => { progress.hidden = true; say(message, "upload failed: the server did not answer", "error"); };
  xhr.send(data);
}

form.addEventListener("submit", (e) => { e.preventDefault(); upload(new FormData(form)); });
form.addEventListener("dragover", (e) => { e.preventDefault(); form.classList.add("over"); });
form.addEventListener("dragleave", () => form.classList.remove("over"));
form.addEventListener("drop", (e) => {
  e.preventDefault(); form.classList.remove("over");
  const files = [...e.dataTransfer.files];
  const audio = files.find((f) => !/\.(txt|csv)$/i.test(f.name));
  if (!audio) { say(message, "drop an audio file (and optionally a beats .txt/.csv)", "error"); return; }
  const data = new FormData(form);
  data.set("audio", audio);
  const beats = files.find((f) => /\.(txt|csv)$/i.test(f.name));
  if (beats) data.set("beats", beats); else data.delete("beats");
  upload(data);
});
refresh().catch((e) => say(message, e.message, "error"));
