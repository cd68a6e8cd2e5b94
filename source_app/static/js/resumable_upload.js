// Sending a file's envelope while it is sealed, in parts that survive a dropped
// connection (docs/sync-api.md, "Resumable uploads").
//
// The envelope's size is known before the first byte is sealed (docs/envelope.md,
// "Size"), so the host checks it against its limits first. Then the file is read with
// File.slice and sealed piece by piece, and every full part (8 MiB, as the host says)
// is sent at the offset the host holds: at most one part is ever in memory. When a
// request fails on the network or the host is briefly away, the page waits (growing
// pauses), asks the host's offset, and resends the part or goes on: a Tor circuit that
// drops at 150 MB costs one part, not the file.

import { EnvelopeWriter, envelopeLength, metadataBytes } from "./envelope_writer.js";

const READ_BYTES = 1024 * 1024;
// About two minutes of pauses in all before the page gives up.
const RETRY_PAUSES_MS = [500, 1000, 2000, 4000, 8000, 15000, 15000, 15000, 15000, 15000, 15000];

/** The host refused (a 4xx): ``message`` is its explanation in the page's language. */
export class UploadRefused extends Error {
  constructor(code, message) {
    super(message || code);
    this.code = code;
  }
}

/** 24 random bytes, base64url: the upload's name, a capability of this session only. */
function newUploadId() {
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(24));
  return btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, "-")
    .replace(/\//g, "_");
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function refusal(response) {
  let answer = {};
  try {
    answer = await response.json();
  } catch {
    // Not JSON (a proxy's page): the page's own message will do.
  }
  return new UploadRefused(answer.error || String(response.status), answer.message);
}

// A host briefly away: a gateway error, a restart, a full worker pool.
const transient = (status) => status >= 500 && status !== 507;

/** The part of the protocol the page speaks: open, send a part, ask the offset. */
export class UploadChannel {
  constructor({ csrfToken, language = "", onRetry = () => {} }) {
    this.csrfToken = csrfToken;
    this.query = language ? `?lang=${encodeURIComponent(language)}` : "";
    this.onRetry = onRetry;
  }

  headers(extra = {}) {
    return { "X-CSRFToken": this.csrfToken, ...extra };
  }

  /** Declare an envelope of ``size`` bytes; returns { upload, part_bytes }. The page
   * names the upload, so that the declaration sent again after a cut finds it (200)
   * instead of opening a second one. */
  async open(size) {
    const upload = newUploadId();
    return this.withRetries(async () => {
      const response = await fetch(`/report/uploads${this.query}`, {
        method: "POST",
        credentials: "same-origin",
        headers: this.headers({ "Content-Type": "application/json" }),
        body: JSON.stringify({ size, upload }),
      });
      if (response.status === 201 || response.status === 200) return response.json();
      if (transient(response.status)) return null;
      throw await refusal(response);
    });
  }

  /** The offset the host holds for ``upload``. */
  async offset(upload) {
    const response = await fetch(`/report/uploads/${upload}${this.query}`, {
      method: "GET",
      credentials: "same-origin",
      headers: this.headers(),
    });
    if (response.ok) return (await response.json()).offset;
    if (transient(response.status)) return null;
    throw await refusal(response);
  }

  /** Send ``part`` at ``offset``; returns the new offset once the host holds it. */
  async sendPart(upload, offset, part) {
    const end = offset + part.length;
    let askFirst = false;
    return this.withRetries(async () => {
      if (askFirst) {
        // After a failure: the part may have arrived with its answer lost.
        const held = await this.offset(upload);
        if (held === null) return null;
        if (held === end) return end;
        if (held !== offset) throw new UploadRefused("offset_mismatch");
      }
      askFirst = true;
      const response = await fetch(`/report/uploads/${upload}${this.query}`, {
        method: "PATCH",
        credentials: "same-origin",
        headers: this.headers({
          "Content-Type": "application/octet-stream",
          "Upload-Offset": String(offset),
        }),
        body: part,
      });
      if (response.ok) return (await response.json()).offset;
      if (response.status === 409 || transient(response.status)) return null;
      throw await refusal(response);
    });
  }

  /** Give an upload up (the report failed): the host forgets it now. */
  async abandon(upload) {
    try {
      await fetch(`/report/uploads/${upload}${this.query}`, {
        method: "DELETE",
        credentials: "same-origin",
        headers: this.headers(),
      });
    } catch {
      // It expires on the host anyway.
    }
  }

  /** Run ``attempt`` until it returns a value; null or a network error means try again. */
  async withRetries(attempt) {
    for (let tries = 0; ; tries += 1) {
      try {
        const result = await attempt();
        if (result !== null) return result;
      } catch (error) {
        if (error instanceof UploadRefused) throw error;
        // fetch rejects with a TypeError when the connection is refused or cut.
        if (tries >= RETRY_PAUSES_MS.length) throw error;
      }
      if (tries >= RETRY_PAUSES_MS.length) throw new UploadRefused("unreachable");
      this.onRetry(tries);
      await sleep(RETRY_PAUSES_MS[tries]);
    }
  }
}

/**
 * Seal ``file`` for ``recipients`` and send it through ``channel`` as it is sealed.
 * Returns { upload, envelopeSize, size, sha256 }. ``onProgress(sealed, sent, total)``
 * is called with plaintext bytes sealed and envelope bytes the host holds.
 */
export async function sealAndUpload(file, recipients, metadata, channel, onProgress = () => {}) {
  const envelopeSize = envelopeLength(
    recipients.length,
    metadataBytes(metadata).length,
    file.size,
  );
  const { upload, part_bytes: partBytes } = await channel.open(envelopeSize);
  const writer = await EnvelopeWriter.create(recipients, metadata);
  const part = new Uint8Array(partBytes);
  let filled = 0;
  let sent = 0;
  let sealed = 0;
  const flush = async () => {
    sent = await channel.sendPart(upload, sent, part.subarray(0, filled));
    filled = 0;
    onProgress(sealed, sent, envelopeSize);
  };
  const add = async (pieces) => {
    for (let piece of pieces) {
      while (piece.length) {
        const take = Math.min(piece.length, partBytes - filled);
        part.set(piece.subarray(0, take), filled);
        filled += take;
        piece = piece.subarray(take);
        if (filled === partBytes) await flush();
      }
    }
  };
  try {
    await add(writer.take());
    for (let offset = 0; offset < file.size; offset += READ_BYTES) {
      const piece = new Uint8Array(await file.slice(offset, offset + READ_BYTES).arrayBuffer());
      await add(writer.write(piece));
      sealed = Math.min(offset + READ_BYTES, file.size);
      onProgress(sealed, sent, envelopeSize);
    }
    const closed = writer.close();
    await add(closed.pieces);
    if (filled) await flush();
    if (sent !== envelopeSize) throw new UploadRefused("incomplete");
    return { upload, envelopeSize, size: closed.size, sha256: closed.sha256 };
  } catch (error) {
    await channel.abandon(upload);
    throw error;
  }
}
