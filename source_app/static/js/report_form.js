// The report form, sealed in the reporter's browser (issue 10; docs/envelope.md,
// "Who writes envelopes"). Progressive enhancement: this module only takes over the
// form's submit when WebAssembly, fetch and crypto.getRandomValues are present and the
// signed recipient set verifies against the pinned unit key; otherwise it does nothing
// and the form posts as it always did (the server seals, in memory).
//
// What leaves the browser: the envelopes, the reporter's X25519 public key and the
// lookup value (docs/receipt.md), to POST /report/sealed. Each file's envelope goes
// first, as it is sealed, through the resumable uploads (resumable_upload.js), and the
// final POST names them. The receipt code is shown only once the host answered 201,
// after its commit (invariant 4).

import sodium from "libsodium-wrappers-sumo";

import { SNIFF_BYTES, numberedFileName, sanitiseFileName, sniffMediaType } from "./attachments.js";
import { sealBlob, sealBytes } from "./envelope_writer.js";
import { UploadChannel, UploadRefused, sealAndUpload } from "./resumable_upload.js";
import { normaliseIdentity } from "./identity.js";
import { MetadataNotRemoved, STRIPPABLE_TYPES, withoutMetadata } from "./strip_metadata.js";
import { pastedUrls } from "./urls.js";
import { bodyDocument, identityDocument, newBinding, signedBody } from "./report_body.js";
import { deriveMasterKey, generateCode, groupCode, secretsFromMasterKey } from "./receipt.js";

const JSON_TYPE = "application/json";
const RECIPIENT_SET_FORMAT = "iblagh-recipient-set/1";

// --- The signed recipient set -------------------------------------------------------

const b64 = (bytes) => sodium.to_base64(bytes, sodium.base64_variants.ORIGINAL);
const unb64 = (text) => sodium.from_base64(text, sodium.base64_variants.ORIGINAL);

/**
 * Verify a signed recipient set (crypto/recipients.py) against the pinned verify key;
 * returns { reportKeys, identityKeys } in the order the server path seals to.
 */
export async function verifyRecipientSet(signedText, verifyKeyText) {
  await sodium.ready;
  const document = JSON.parse(signedText);
  const payload = unb64(document.payload);
  const signature = unb64(document.signature);
  const verifyKey = unb64(verifyKeyText.trim());
  if (!sodium.crypto_sign_verify_detached(signature, payload, verifyKey)) {
    throw new Error("the recipient set is not signed by the unit key");
  }
  const set = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(payload));
  if (set.format !== RECIPIENT_SET_FORMAT) throw new Error("not a recipient set");
  const keysOf = (role) =>
    set.recipients
      .filter((recipient) => recipient.role === role || recipient.role === "recovery")
      .map((recipient) => unb64(recipient.public_key));
  const reportKeys = keysOf("intake");
  const identityKeys = keysOf("identity");
  if (reportKeys.length < 2 || identityKeys.length < 2) throw new Error("incomplete set");
  return { reportKeys, identityKeys };
}

// --- Sealing a whole report -----------------------------------------------------------

/**
 * Seal a report: returns { request: Blob (the POST body), code }. ``fields`` holds the
 * form's values, ``files`` File objects, ``identity`` the identity details or null.
 * With an UploadChannel, each file's envelope is sent as it is sealed and the request
 * names its upload; without one, the envelopes are in the request.
 */
export async function sealReport(
  keys,
  fields,
  identity,
  files,
  onProgress = () => {},
  channel = null,
) {
  await sodium.ready;
  const code = generateCode();
  const master = await deriveMasterKey(code);
  const secrets = await secretsFromMasterKey(master);
  sodium.memzero(master);
  const sealedFiles = [];
  const records = [];
  for (const [index, file] of files.entries()) {
    const head = new Uint8Array(await file.slice(0, SNIFF_BYTES).arrayBuffer());
    const metadata = {
      kind: "attachment",
      name: sanitiseFileName(file.name),
      type: sniffMediaType(head),
    };
    const sealed = channel
      ? await sealAndUpload(file, keys.reportKeys, metadata, channel, (done, sent, total) =>
          onProgress(index, done, file.size, sent, total),
        )
      : await sealBlob(file, keys.reportKeys, metadata, (done, total) =>
          onProgress(index, done, total),
        );
    sealedFiles.push(
      sealed.upload ? { size: sealed.envelopeSize, upload: sealed.upload } : sealed.envelope,
    );
    records.push({
      blob: `attachment-${index + 1}`,
      name: metadata.name,
      type: metadata.type,
      size: sealed.size,
      sha256: sodium.to_hex(sealed.sha256),
    });
  }
  // Body version 2 (docs/envelope.md), in its writing order: binding, identity
  // envelope, its SHA-256 in the body document, the document signed, the wrapper sealed.
  const encode = (text) => new TextEncoder().encode(text);
  const binding = await newBinding();
  const parts = [];
  let identitySha256 = null;
  if (identity !== null) {
    const section = await sealBytes(encode(identityDocument(identity, binding)), keys.identityKeys, {
      kind: "identity",
      type: JSON_TYPE,
    });
    identitySha256 = sodium.to_hex(sodium.crypto_hash_sha256(section));
    parts.push(["identity", section]);
  }
  const content = bodyDocument({
    ...fields,
    attachments: records,
    reporter_public_key: b64(secrets.boxPublicKey),
    binding,
    identity_sha256: identitySha256,
    reporter_verify_key: b64(secrets.signPublicKey),
  });
  const wrapper = await signedBody(content, secrets.signSecretKey);
  sodium.memzero(secrets.signSecretKey);
  sodium.memzero(secrets.boxSecretKey);
  const body = await sealBytes(encode(wrapper), keys.reportKeys, { kind: "report", type: JSON_TYPE });
  parts.unshift(["body", body]);
  sealedFiles.forEach((envelope, index) => parts.push([`attachment-${index + 1}`, envelope]));
  const manifest = encode(
    JSON.stringify({
      lookup_value: b64(secrets.lookupValue),
      reporter_public_key: b64(secrets.boxPublicKey),
      parts: parts.map(([name, envelope]) =>
        envelope.upload
          ? [name, envelope.size, envelope.upload]
          : [name, envelope.size ?? envelope.length],
      ),
    }),
  );
  const prefix = new Uint8Array(4);
  new DataView(prefix.buffer).setUint32(0, manifest.length);
  sodium.memzero(secrets.lookupValue);
  const inline = parts.map(([, envelope]) => envelope).filter((envelope) => !envelope.upload);
  const request = new Blob([prefix, manifest, ...inline]);
  return { request, code };
}

// --- The files as the reporter asked them sent (issue 10, item 10) -------------------

/**
 * The files to seal: photos (JPEG, PNG) without their location and device data when
 * ``strip`` is set, named attachment-1.jpg… when ``rename`` is. Throws
 * MetadataNotRemoved (with ``fileName``) for a photo whose container cannot be followed.
 */
export async function preparedFiles(files, { strip, rename }) {
  const prepared = [];
  for (const [index, file] of files.entries()) {
    let content = file;
    if (strip) {
      const head = new Uint8Array(await file.slice(0, SNIFF_BYTES).arrayBuffer());
      const type = sniffMediaType(head);
      if (STRIPPABLE_TYPES.has(type)) {
        try {
          content = await withoutMetadata(file, type);
        } catch (error) {
          if (error instanceof MetadataNotRemoved) error.fileName = sanitiseFileName(file.name);
          throw error;
        }
      }
    }
    const name = rename ? numberedFileName(index + 1, file.name) : file.name;
    prepared.push(content === file && !rename ? file : new File([content], name, { type: file.type }));
  }
  return prepared;
}

// --- The page -------------------------------------------------------------------------

function formFields(form, language) {
  const value = (name) => form.elements.namedItem(name)?.value ?? "";
  const checked = form.querySelector('input[name="category"]:checked');
  return {
    category: checked ? checked.value : "",
    urls: pastedUrls(value("urls")),
    // A form post sends a textarea's line breaks as CRLF: the server path gets those.
    description: value("description").replace(/\r?\n/g, "\r\n"),
    language,
    platform: value("platform").trim(),
    account: value("account").trim(),
    seen_on: value("seen_on"),
    good_faith: Boolean(form.elements.namedItem("good_faith")?.checked),
  };
}

/** The identity details in the host's standard form; null when none were given;
 * undefined when one is not valid (the host's form then explains). */
function identityFields(form) {
  const value = (name) => form.elements.namedItem(name)?.value ?? "";
  const chosen = form.querySelector('input[name="identity"]:checked');
  if (!chosen || chosen.value !== "identified") return null;
  const details = normaliseIdentity({
    full_name: value("full_name"),
    national_id: value("national_id"),
    phone: value("phone"),
    email: value("email"),
    city: value("city"),
  });
  if (details === null) return undefined;
  return Object.values(details).some(Boolean) ? details : null;
}

function identityTypedUnderAnonymous(form) {
  const chosen = form.querySelector('input[name="identity"]:checked');
  const typed = ["full_name", "national_id", "phone", "email", "city"].some(
    (name) => (form.elements.namedItem(name)?.value ?? "").trim() !== "",
  );
  return typed && (!chosen || chosen.value !== "identified");
}

/** What the browser path needs; without any of it the form posts as before. */
export function canSealHere() {
  return (
    typeof WebAssembly === "object" &&
    typeof fetch === "function" &&
    typeof globalThis.crypto?.getRandomValues === "function"
  );
}

const statusLine = () => document.getElementById("sealing-status");

/** A problem the page settles itself, shown as the host's error summary is: at the top of
 * the form, announced and focused, linking to the field (item 11). */
function showProblem(form, text, fieldId) {
  let summary = document.getElementById("error-summary");
  if (!summary) {
    summary = document.createElement("div");
    summary.id = "error-summary";
    summary.className = "alert error-summary";
    summary.setAttribute("role", "alert");
    summary.tabIndex = -1;
    form.before(summary);
  }
  const link = document.createElement("a");
  link.href = `#${fieldId}`;
  link.textContent = text;
  const item = document.createElement("li");
  item.append(link);
  const list = document.createElement("ul");
  list.append(item);
  summary.replaceChildren(list);
  summary.focus();
}

/** The option to strip photos, shown only here (the host cannot strip): on by default
 * while "stay anonymous" is chosen, until the reporter sets it themselves. */
function offerPhotoStripping(form) {
  const option = document.getElementById("strip-metadata-option");
  const box = document.getElementById("strip_metadata");
  if (!option || !box) return;
  option.hidden = false;
  let touched = false;
  box.addEventListener("change", () => {
    touched = true;
  });
  const follow = () => {
    const chosen = form.querySelector('input[name="identity"]:checked');
    if (!touched) box.checked = !chosen || chosen.value !== "identified";
  };
  form.querySelectorAll('input[name="identity"]').forEach((radio) => {
    radio.addEventListener("change", follow);
  });
  follow();
}

function showStatus(form, text) {
  const status = document.getElementById("sealing-status");
  if (status) {
    status.hidden = false;
    status.textContent = text;
  }
  form.setAttribute("aria-busy", text ? "true" : "false");
}

function showReceipt(code) {
  const template = document.getElementById("sealed-receipt");
  const receipt = template.content.cloneNode(true);
  receipt.querySelector("[data-code]").textContent = groupCode(code);
  receipt.querySelector('input[name="code"]').value = groupCode(code);
  const main = document.querySelector("main") ?? document.body;
  main.replaceChildren(receipt);
  main.querySelector("h1")?.focus();
}

async function loadKeys() {
  const [signed, verifyKey] = await Promise.all(
    ["/sealing/recipients.json", "/sealing/unit-verify-key.txt"].map(async (path) => {
      const response = await fetch(path, { credentials: "same-origin" });
      if (!response.ok) throw new Error(`${path}: ${response.status}`);
      return response.text();
    }),
  );
  return verifyRecipientSet(signed, verifyKey);
}

async function enhance(form) {
  await sodium.ready;
  const keys = await loadKeys();
  const messages = document.getElementById("sealing-status").dataset;
  offerPhotoStripping(form);
  form.dataset.sealing = "ready";
  form.addEventListener("submit", async (event) => {
    const fields = formFields(form, document.documentElement.lang || "ar");
    // An empty file input part is no attachment on the server path either.
    const files = [...(form.elements.namedItem("attachments")?.files ?? [])].filter(
      (file) => file.size > 0,
    );
    // What the browser path cannot settle is left to the server's form, which names
    // each problem and keeps every field: a missing category or good-faith box, an
    // identity detail the host would refuse.
    const identity = identityFields(form);
    if (!fields.category || !fields.good_faith) return;
    // Identity typed under "stay anonymous" (item 9): never dropped, never sent; the
    // reporter chooses. Said here, so the details do not leave the browser at all.
    const anonymousTyped = form.querySelector("fieldset[data-msg-anonymous-typed]");
    if (identityTypedUnderAnonymous(form)) {
      if (!anonymousTyped) return; // the host's form explains
      event.preventDefault();
      showProblem(form, anonymousTyped.dataset.msgAnonymousTyped, "identity-0");
      return;
    }
    if (identity === undefined) return;
    const limits = document.getElementById("sealing-status").dataset;
    const total = files.reduce((sum, file) => sum + file.size, 0);
    const attachmentsField = document.getElementById("attachments-field")?.dataset ?? {};
    // Over a limit: said here, with the limit, and nothing sent (the host would refuse).
    const overLimit =
      files.length > Number(limits.maxFiles)
        ? attachmentsField.msgTooMany
        : total > Number(limits.maxBytes)
          ? attachmentsField.msgTooLarge
          : null;
    if (overLimit !== null) {
      if (!overLimit) return; // no message on the page: the host's form explains
      event.preventDefault();
      showProblem(form, overLimit, "attachments");
      return;
    }
    event.preventDefault();
    const button = form.querySelector('button[type="submit"]');
    button.disabled = true;
    let toSeal;
    try {
      toSeal = await preparedFiles(files, {
        strip: Boolean(form.elements.namedItem("strip_metadata")?.checked),
        rename: Boolean(form.elements.namedItem("rename_files")?.checked),
      });
    } catch (error) {
      const template = document.getElementById("strip-metadata-option")?.dataset.msgNotStripped;
      button.disabled = false;
      if (!(error instanceof MetadataNotRemoved) || !template) throw error;
      showProblem(form, template.replace("{name}", error.fileName), "attachments");
      return;
    }
    const csrfToken = form.elements.namedItem("csrf_token").value;
    const sending = files.length ? messages.msgUploading : messages.msgSealing;
    const channel = new UploadChannel({
      csrfToken,
      language: document.documentElement.lang || "",
      onRetry: () => showStatus(form, messages.msgResuming),
    });
    try {
      showStatus(form, sending);
      const progress = document.getElementById("sealing-progress");
      progress.hidden = false;
      const sizes = toSeal.map((file) => file.size);
      const whole = Math.max(1, sizes.reduce((sum, size) => sum + size, 0));
      // One bar for both: half for the bytes sealed, half for the bytes the host holds.
      const { request, code } = await sealReport(
        keys,
        fields,
        identity,
        toSeal,
        (index, done, size, sent = 0, envelopeTotal = 1) => {
          const before = sizes.slice(0, index).reduce((sum, s) => sum + s, 0);
          const held = (sent / envelopeTotal) * size;
          progress.value = (before + (done + held) / 2) / whole;
          if (sent && statusLine().textContent !== sending) showStatus(form, sending);
        },
        channel,
      );
      progress.value = 1;
      showStatus(form, messages.msgSending);
      // Sent again after a cut: a 409 that says "committed" means the first one was
      // stored and only its answer was lost (the lookup value is this page's alone).
      await channel.withRetries(async () => {
        const response = await fetch("/report/sealed", {
          method: "POST",
          credentials: "same-origin",
          headers: {
            "Content-Type": "application/octet-stream",
            "X-CSRFToken": csrfToken,
          },
          body: request,
        });
        if (response.status === 201) return true;
        const answer = await response.json().catch(() => ({}));
        if (response.status === 409 && answer.committed) return true;
        if (response.status >= 500 && response.status !== 507) return null;
        throw new UploadRefused(answer.error || String(response.status), answer.message);
      });
      showReceipt(code);
    } catch (error) {
      // The host's own words when it refused a file (sizes, counts, expiry), else ours.
      const refused = error instanceof UploadRefused && error.message !== error.code;
      showStatus(form, refused ? error.message : messages.msgFailed);
      button.disabled = false;
      console.error(error);
    }
  });
}

const form = document.querySelector('main form[method="post"][enctype="multipart/form-data"]');
if (form && canSealHere()) {
  enhance(form).catch((error) => {
    // The set did not verify or libsodium did not load: stay on the server path.
    form.dataset.sealing = "off";
    console.error(error);
  });
}
