// Writing envelope v1 in the reporter's browser (docs/envelope.md, "Header", "Payload",
// "Metadata JSON").
//
// The report form seals the body, the identity section and every file here, so that
// the public host receives ciphertext only. The output is byte-for-byte the layout of
// crypto/envelope.py's EnvelopeWriter (same header, same metadata bytes, every content
// chunk full but the last), so the officer host cannot tell which side sealed it;
// tests/browser_js/envelope_writer.test.js and tests/crypto/test_browser_writer.py
// check this against the same vectors and the Python reader.

import sodium from "libsodium-wrappers-sumo";

import {
  CHUNK_SIZE,
  EnvelopeError,
  KINDS,
  MAGIC,
  MAX_METADATA_BYTES,
  MAX_RECIPIENTS,
  keyId,
} from "./envelope.js";

const TAG_MESSAGE = 0;
const TAG_FINAL = 3;
const PUBLIC_KEY_BYTES = 32;
export const DEFAULT_TYPE = "application/octet-stream";

/**
 * The metadata JSON exactly as the reference writer serialises it: sorted keys,
 * ", " and ": " separators, non-ASCII characters as themselves (JSON.stringify of a
 * string escapes the same characters as Python's json.dumps with ensure_ascii=False).
 */
export function metadataBytes({ kind, name = "", type = DEFAULT_TYPE }) {
  if (!KINDS.has(kind)) throw new EnvelopeError(`unknown kind ${kind}`);
  if (typeof name !== "string" || typeof type !== "string") {
    throw new EnvelopeError("name and type must be strings");
  }
  const text =
    `{"kind": ${JSON.stringify(kind)}, "name": ${JSON.stringify(name)}, ` +
    `"type": ${JSON.stringify(type)}}`;
  const bytes = new TextEncoder().encode(text);
  if (bytes.length > MAX_METADATA_BYTES) throw new EnvelopeError("metadata too large");
  return bytes;
}

function lengthPrefix(size) {
  const prefix = new Uint8Array(4);
  new DataView(prefix.buffer).setUint32(0, size);
  return prefix;
}

async function buildHeader(recipients, fileKey) {
  if (recipients.length < 1 || recipients.length > MAX_RECIPIENTS) {
    throw new EnvelopeError(`an envelope has 1 to ${MAX_RECIPIENTS} recipients`);
  }
  const magic = sodium.from_string(MAGIC);
  const header = new Uint8Array(magic.length + 1 + recipients.length * 96);
  header.set(magic);
  header[magic.length] = recipients.length;
  let offset = magic.length + 1;
  for (const recipient of recipients) {
    if (!(recipient instanceof Uint8Array) || recipient.length !== PUBLIC_KEY_BYTES) {
      throw new EnvelopeError("a recipient is not a 32-byte X25519 public key");
    }
    header.set(await keyId(recipient), offset);
    header.set(sodium.crypto_box_seal(fileKey, recipient), offset + 16);
    offset += 96;
  }
  return header;
}

/**
 * Seal content given piece by piece, as crypto/envelope.py's EnvelopeWriter does.
 * Each call returns the envelope bytes it produced (a list of Uint8Array pieces), so a
 * caller can stream them out; nothing is final until close() seals the trailer.
 */
export class EnvelopeWriter {
  static async create(recipients, metadata) {
    await sodium.ready;
    const writer = new EnvelopeWriter();
    const meta = metadataBytes(metadata);
    const fileKey = sodium.crypto_secretstream_xchacha20poly1305_keygen();
    try {
      const header = await buildHeader(recipients, fileKey);
      const { state, header: streamHeader } =
        sodium.crypto_secretstream_xchacha20poly1305_init_push(fileKey);
      writer.state = state;
      writer.pending = [header, streamHeader];
      writer.push(meta, header, TAG_MESSAGE);
    } finally {
      sodium.memzero(fileKey);
    }
    writer.hash = sodium.crypto_hash_sha256_init();
    writer.buffer = new Uint8Array(CHUNK_SIZE);
    writer.buffered = 0;
    writer.size = 0;
    writer.closed = false;
    return writer;
  }

  push(message, ad, tag) {
    const ciphertext = sodium.crypto_secretstream_xchacha20poly1305_push(
      this.state,
      message,
      ad,
      tag,
    );
    this.pending.push(lengthPrefix(ciphertext.length), ciphertext);
  }

  take() {
    const pieces = this.pending;
    this.pending = [];
    return pieces;
  }

  /** Add content; every full 64 KiB chunk is sealed at once. Returns output pieces. */
  write(data) {
    if (this.closed) throw new EnvelopeError("envelope already closed");
    sodium.crypto_hash_sha256_update(this.hash, data);
    this.size += data.length;
    let offset = 0;
    while (offset < data.length) {
      const room = CHUNK_SIZE - this.buffered;
      const piece = data.subarray(offset, offset + room);
      this.buffer.set(piece, this.buffered);
      this.buffered += piece.length;
      offset += piece.length;
      if (this.buffered === CHUNK_SIZE) {
        this.push(this.buffer, null, TAG_MESSAGE);
        this.buffered = 0;
      }
    }
    return this.take();
  }

  /** Seal what is buffered and the trailer; returns { pieces, size, sha256 }. */
  close() {
    if (this.closed) throw new EnvelopeError("envelope already closed");
    if (this.buffered > 0) {
      this.push(this.buffer.subarray(0, this.buffered), null, TAG_MESSAGE);
      this.buffered = 0;
    }
    const sha256 = sodium.crypto_hash_sha256_final(this.hash);
    const trailer = new Uint8Array(40);
    new DataView(trailer.buffer).setBigUint64(0, BigInt(this.size));
    trailer.set(sha256, 8);
    this.push(trailer, null, TAG_FINAL);
    this.closed = true;
    sodium.memzero(this.buffer);
    return { pieces: this.take(), size: this.size, sha256 };
  }
}

function concat(pieces) {
  const total = pieces.reduce((sum, piece) => sum + piece.length, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const piece of pieces) {
    out.set(piece, offset);
    offset += piece.length;
  }
  return out;
}

/** Seal a small content held in memory (a text report, an identity section). */
export async function sealBytes(content, recipients, metadata) {
  const writer = await EnvelopeWriter.create(recipients, metadata);
  const pieces = writer.take();
  pieces.push(...writer.write(content));
  pieces.push(...writer.close().pieces);
  return concat(pieces);
}

/**
 * Seal a Blob or File chunk by chunk (File.slice): the plaintext is never whole in
 * memory. Returns { envelope: Blob, size, sha256 }; onProgress(bytesSealed, total) is
 * called after each chunk.
 */
export async function sealBlob(blob, recipients, metadata, onProgress = () => {}) {
  const writer = await EnvelopeWriter.create(recipients, metadata);
  const parts = writer.take();
  for (let offset = 0; offset < blob.size; offset += CHUNK_SIZE) {
    const piece = new Uint8Array(await blob.slice(offset, offset + CHUNK_SIZE).arrayBuffer());
    parts.push(...writer.write(piece));
    onProgress(Math.min(offset + CHUNK_SIZE, blob.size), blob.size);
  }
  const closed = writer.close();
  parts.push(...closed.pieces);
  return { envelope: new Blob(parts), size: closed.size, sha256: closed.sha256 };
}

/** The envelope's length for n recipients, M metadata and S content bytes (envelope.md). */
export function envelopeLength(recipientCount, metadataLength, contentLength) {
  return (
    115 +
    96 * recipientCount +
    metadataLength +
    contentLength +
    21 * Math.ceil(contentLength / CHUNK_SIZE)
  );
}
