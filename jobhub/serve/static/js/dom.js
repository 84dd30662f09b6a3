// Building the page's elements. Every value from a backend goes in as text (a Text node or
// textContent), never as markup: nothing here parses HTML.

const SVG = "http://www.w3.org/2000/svg";

function build(node, attrs, children) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "text") node.textContent = String(value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** An HTML element: el("td", {class: "mono"}, "text", otherNode). */
export function el(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

/** An SVG element, the same way. */
export function svg(tag, attrs, ...children) {
  return build(document.createElementNS(SVG, tag), attrs, children);
}

export function clear(node) {
  node.replaceChildren();
  return node;
}

export function stateBadge(state) {
  return el("span", { class: `state state-${state}` }, state);
}

export function when(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso) : date.toLocaleString();
}

export function seconds(value) {
  if (value === null || value === undefined) return "";
  const s = Number(value);
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
}

export function percent(value) {
  return value === null || value === undefined ? "" : `${Math.round(Number(value) * 100)} %`;
}

export const STATES = ["pending", "queued", "running", "succeeded", "failed", "cancelled", "skipped", "unknown"];
