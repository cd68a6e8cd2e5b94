// The status page, opened in the reporter's browser (issue 10, item 5): the typed
// code is derived here (argon2id, docs/receipt.md); only the lookup value goes to the
// host (POST /status/sealed), which answers with the replies still sealed; they are
// opened here with the reporter's key. Without JavaScript or WebAssembly the form
// posts the code as before and the host opens them in memory.

import sodium from "libsodium-wrappers-sumo";

import { openEnvelope } from "./envelope.js";
import { deriveReporterSecrets, normaliseCode } from "./receipt.js";

const unb64 = (text) => sodium.from_base64(text, sodium.base64_variants.ORIGINAL);

/** Open the replies the host returned; { replies: [...], unreadable: n }. */
export async function openReplies(items, boxSecretKey) {
  const replies = [];
  let unreadable = 0;
  for (const item of items) {
    try {
      const opened = await openEnvelope(unb64(item.envelope), [boxSecretKey]);
      if (opened.metadata.kind !== "reply") throw new Error("not a reply");
      const content = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(opened.content));
      replies.push({
        receivedHour: item.received_hour,
        status: typeof content.status === "string" ? content.status : null,
        reason: typeof content.reason === "string" ? content.reason : null,
        message: typeof content.message === "string" && content.message.trim() ? content.message : null,
      });
    } catch {
      unreadable += 1;
    }
  }
  return { replies, unreadable };
}

function render(view, template, lang) {
  const labels = JSON.parse(template.dataset.statusLabels);
  const reasons = JSON.parse(template.dataset.reasonLabels);
  const page = template.content.cloneNode(true);
  let current = "received";
  for (const reply of view.replies) if (reply.status) current = reply.status;
  page.querySelector("[data-current]").textContent = labels[current] ?? current;
  page.querySelector("[data-awaiting]").hidden = !view.awaitingPickup;
  page.querySelector("[data-unreadable]").hidden = !view.unreadable;
  page.querySelector("[data-none]").hidden = view.replies.length > 0;
  const list = page.querySelector("[data-replies]");
  const dates = new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short", timeZone: "UTC" });
  const row = page.querySelector("template[data-reply]");
  for (const reply of view.replies) {
    const item = row.content.cloneNode(true);
    item.querySelector("[data-when]").textContent = dates.format(new Date(reply.receivedHour));
    const status = item.querySelector("[data-status]");
    if (reply.status) {
      status.querySelector("strong").textContent = labels[reply.status] ?? reply.status;
      status.querySelector("[data-reason]").textContent = reply.reason
        ? ` — ${reasons[reply.reason] ?? reply.reason}`
        : "";
    } else {
      status.remove();
    }
    const message = item.querySelector("[data-message]");
    if (reply.message) message.textContent = reply.message;
    else message.remove();
    list.append(item);
  }
  list.hidden = view.replies.length === 0;
  const main = document.querySelector("main") ?? document.body;
  main.replaceChildren(page);
  main.querySelector("h1")?.focus();
}

function showError(form, text) {
  const status = document.getElementById("opening-status");
  status.hidden = false;
  status.textContent = text;
  form.querySelector('button[type="submit"]').disabled = false;
}

async function enhance(form, template) {
  await sodium.ready;
  const messages = document.getElementById("opening-status").dataset;
  form.dataset.opening = "ready";
  form.addEventListener("submit", async (event) => {
    let digits;
    try {
      digits = normaliseCode(form.elements.namedItem("code").value);
    } catch {
      return; // not a code: the host's form explains (nothing secret in it)
    }
    event.preventDefault();
    form.querySelector('button[type="submit"]').disabled = true;
    const status = document.getElementById("opening-status");
    status.hidden = false;
    status.textContent = messages.msgOpening;
    let secrets;
    try {
      secrets = await deriveReporterSecrets(digits);
      const response = await fetch("/status/sealed", {
        method: "POST",
        credentials: "same-origin",
        headers: {
          "Content-Type": "application/octet-stream",
          "X-CSRFToken": form.elements.namedItem("csrf_token").value,
        },
        body: secrets.lookupValue,
      });
      if (response.status === 404) return showError(form, messages.msgUnknown);
      if (response.status !== 200) return showError(form, messages.msgFailed);
      const answer = await response.json();
      const opened = await openReplies(answer.replies, secrets.boxSecretKey);
      render(
        { ...opened, awaitingPickup: answer.awaiting_pickup },
        template,
        document.documentElement.lang || "ar",
      );
    } catch (error) {
      console.error(error);
      showError(form, messages.msgFailed);
    } finally {
      if (secrets) {
        sodium.memzero(secrets.boxSecretKey);
        sodium.memzero(secrets.signSecretKey);
      }
    }
  });
}

const form = document.querySelector('main form[method="post"]');
const template = document.getElementById("status-view");
if (form && template && typeof WebAssembly === "object" && typeof fetch === "function") {
  enhance(form, template).catch((error) => {
    form.dataset.opening = "off";
    console.error(error);
  });
}
