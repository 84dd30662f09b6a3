// One job in full: summary, error, task graph, timeline, history, raw beside normalized.
import { getJSON, jobPath, postJSON } from "./api.js";
import { clear, el, percent, seconds, stateBadge, when } from "./dom.js";
import { taskGraph, timeline } from "./graph.js";

const $ = (id) => document.getElementById(id);

export class Detail {
  constructor({ onClose }) {
    this.panel = $("detail");
    this.ref = null;
    this.onClose = onClose;
    $("close").addEventListener("click", () => this.close());
    $("cancel").addEventListener("click", () => this.cancel());
    this.panel.addEventListener("keydown", (event) => {
      if (event.key === "Escape") this.close();
    });
  }

  async open(ref) {
    this.ref = ref;
    this.panel.hidden = false;
    $("detail-title").textContent = ref;
    $("detail-message").textContent = "";
    this.panel.focus();
    await this.refresh();
  }

  /** Read the job again (after an event for it). */
  async refresh() {
    const ref = this.ref;
    if (!ref) return;
    try {
      const [job, history] = await Promise.all([
        getJSON(jobPath(ref)), getJSON(`${jobPath(ref)}/events`),
      ]);
      if (ref === this.ref) this.show(job, history.events);
    } catch (error) {
      $("detail-message").textContent = error.message;
    }
  }

  show(job, events) {
    const rows = [
      ["State", stateBadge(job.state)], ["Backend's word", job.status ?? ""],
      ["Backend", `${job.backend} (${job.type})`], ["Workflow", job.workflow ?? ""],
      ["User", job.user ?? ""], ["Created", when(job.created_at)],
      ["Started", when(job.started_at)], ["Finished", when(job.finished_at)],
      ["Duration", seconds(job.duration)], ["Progress", percent(job.progress)],
    ];
    clear($("summary")).append(...rows.flatMap(([name, value]) => [el("dt", {}, name), el("dd", {}, value)]));
    $("error").textContent = job.error ?? "none";
    const graph = taskGraph(job.tasks || []);
    clear($("graph")).append(graph ?? el("p", { class: "muted" }, "This job has no tasks."));
    const bars = timeline(job.tasks || []);
    clear($("timeline")).append(bars ?? el("p", { class: "muted" }, "No task has started."));
    clear($("history")).append(...events.map((e) => el("li", {},
      el("span", { class: "muted" }, when(e.at)), " ",
      e.kind === "task" ? `task ${e.task}: ` : `${e.kind}: `,
      `${JSON.stringify(e.old)} → ${JSON.stringify(e.new)}`)));
    const { raw, ...normalized } = job;
    $("normalized").textContent = JSON.stringify(normalized, null, 2);
    $("raw").textContent = JSON.stringify(raw, null, 2);
    $("cancel").disabled = ["succeeded", "failed", "cancelled", "skipped"].includes(job.state);
  }

  async cancel() {
    try {
      await postJSON(`${jobPath(this.ref)}/cancel`);
      $("detail-message").textContent = "Cancel asked; the state follows when the backend reports it.";
    } catch (error) {
      $("detail-message").textContent = error.message;
    }
  }

  close() {
    this.panel.hidden = true;
    this.ref = null;
    this.onClose();
  }
}
