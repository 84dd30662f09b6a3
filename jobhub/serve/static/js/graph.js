// A job's tasks drawn as the dependency graph they form (columns by depth: a task sits one
// column right of the deepest task it depends on) and as a timeline of their run times.
import { svg } from "./dom.js";

const NODE_W = 150, NODE_H = 30, GAP_X = 50, GAP_Y = 14, PAD = 8;

function depths(tasks) {
  const byName = new Map(tasks.map((t) => [t.name, t]));
  const depth = new Map();
  const visiting = new Set();
  function of(task) {
    if (depth.has(task.name)) return depth.get(task.name);
    if (visiting.has(task.name)) return 0; // a cycle: the backend said so; do not loop
    visiting.add(task.name);
    let d = 0;
    for (const name of task.depends_on || []) {
      const parent = byName.get(name);
      if (parent) d = Math.max(d, of(parent) + 1);
    }
    visiting.delete(task.name);
    depth.set(task.name, d);
    return d;
  }
  tasks.forEach(of);
  return depth;
}

function short(text, room) {
  return text.length > room ? `${text.slice(0, room - 1)}…` : text;
}

/** The dependency graph of `tasks` as an SVG element (null when there are none). */
export function taskGraph(tasks) {
  if (!tasks.length) return null;
  const depth = depths(tasks);
  const columns = [];
  for (const task of tasks) {
    const d = depth.get(task.name);
    (columns[d] ||= []).push(task);
  }
  const place = new Map();
  columns.forEach((column, x) => column.forEach((task, y) => {
    place.set(task.name, { x: PAD + x * (NODE_W + GAP_X), y: PAD + y * (NODE_H + GAP_Y) });
  }));
  const width = PAD * 2 + columns.length * (NODE_W + GAP_X) - GAP_X;
  const height = PAD * 2 + Math.max(...columns.map((c) => c.length)) * (NODE_H + GAP_Y) - GAP_Y;
  const root = svg("svg", {
    viewBox: `0 0 ${width} ${height}`, width, height, role: "img",
    "aria-label": `${tasks.length} tasks and their dependencies`,
  });
  root.append(svg("defs", {}, svg("marker", {
    id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 6, markerHeight: 6,
    orient: "auto-start-reverse",
  }, svg("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "arrow" }))));
  for (const task of tasks) {
    const to = place.get(task.name);
    for (const name of task.depends_on || []) {
      const from = place.get(name);
      if (!from) continue;
      const x1 = from.x + NODE_W, y1 = from.y + NODE_H / 2, x2 = to.x, y2 = to.y + NODE_H / 2;
      const mid = (x1 + x2) / 2;
      root.append(svg("path", {
        class: "edge", d: `M ${x1} ${y1} C ${mid} ${y1}, ${mid} ${y2}, ${x2} ${y2}`,
        "marker-end": "url(#arrow)", "data-from": name, "data-to": task.name,
      }));
    }
  }
  for (const task of tasks) {
    const { x, y } = place.get(task.name);
    root.append(svg("g", { class: `node state-${task.state}`, "data-task": task.name },
      svg("title", {}, `${task.name}: ${task.state}`),
      svg("rect", { x, y, width: NODE_W, height: NODE_H, rx: 5 }),
      svg("text", { x: x + 8, y: y + NODE_H / 2 + 4 }, short(task.name, 19))));
  }
  return root;
}

/** Bars from each task's start to its end (now, while it runs); null without times. */
export function timeline(tasks, now = Date.now()) {
  const timed = tasks.filter((t) => t.started_at);
  if (!timed.length) return null;
  const start = (t) => Date.parse(t.started_at);
  const end = (t) => (t.finished_at ? Date.parse(t.finished_at) : now);
  const first = Math.min(...timed.map(start));
  const last = Math.max(...timed.map(end), first + 1);
  const LABEL = 160, BAR_W = 520, ROW = 22;
  const scale = (ms) => LABEL + ((ms - first) / (last - first)) * BAR_W;
  const height = timed.length * ROW + 24;
  const root = svg("svg", {
    viewBox: `0 0 ${LABEL + BAR_W + 10} ${height}`, width: LABEL + BAR_W + 10, height,
    role: "img", "aria-label": "when each task ran",
  });
  timed.forEach((task, i) => {
    const y = i * ROW + 4;
    const x = scale(start(task));
    root.append(svg("text", { x: 0, y: y + 13 }, short(task.name, 22)));
    root.append(svg("rect", {
      class: `bar state-${task.state}`, x, y, height: ROW - 8, rx: 3,
      width: Math.max(2, scale(end(task)) - x), "data-task": task.name,
    }, svg("title", {}, `${task.name}: ${task.started_at} → ${task.finished_at || "running"}`)));
  });
  const seconds = ((last - first) / 1000).toFixed(1);
  root.append(svg("text", { x: LABEL, y: height - 4, class: "muted" }, `0 s … ${seconds} s`));
  return root;
}
