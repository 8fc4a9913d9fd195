// Shared helpers of the pages: the API is the only source of data.
"use strict";
const api = {
  async json(path, options) {
    const response = await fetch(path, options);
    let body = null;
    try { body = await response.json(); } catch (e) { body = null; }
    if (!response.ok) throw new Error((body && body.error) || `${response.status} ${response.statusText}`);
    return body;
  },
};
function say(element, text, kind) {
  element.textContent = text || "";
  element.className = "message" + (kind ? " " + kind : "");
}
function param(name) { return new URLSearchParams(location.search).get(name); }
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "onclick") node.addEventListener("click", v); else node.setAttribute(k, v);
  }
  for (const child of children) node.append(child);
  return node;
}
function fmtSeconds(s) { return s == null ? "?" : `${Math.floor(s / 60)}:${String(Math.floor(s % 60)).padStart(2, "0")}`; }
