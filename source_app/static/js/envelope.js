// Reading envelope v1 in the reporter's browser (docs/envelope.md, "Reading rules").
//
// The browser opens replies sealed to the reporter's key; this reader follows the
// spec's rules one by one and passes tests/vectors/envelope_v1.json in Node
// (tests/browser_js/envelope.test.js), as crypto/envelope.py does in Python. It reads a
// whole envelope held in memory: replies are small.

import sodium from "libsodium-wrappers-sumo";

export const MAGIC = "IBLAGH/1";
export const MAX_RECIPIENTS = 16;
export const KEY_ID_BYTES = 16;
export const STANZA_BYTES = 96;
export const STREAM_HEADER_BYTES = 24;
export const FILE_KEY_BYTES = 32;
export const CHUNK_SIZE = 65536;
export const ABYTES = 17;
export const MAX_METADATA_BYTES = 16384;
export const TRAILER_BYTES = 40;
export const KINDS = new Set(["report", "identity", "attachment", "followup", "reply"]);
const KEY_ID_PREFIX = "iblagh key id v1";
const TAG_MESSAGE = 0;
const TAG_FINAL = 3;
// JSON nesting a reader refuses (rule 7, "too deeply nested to parse"): metadata is a
// flat object, and Python's parser gives up near 1000 levels.
const MAX_JSON_DEPTH = 512;

/** An envelope is malformed, tampered with, truncated or reordered. */
export class EnvelopeError extends Error {
  constructor(message) {
    super(message);
    this.name = "EnvelopeError";
  }
}

/** None of the given private keys is a recipient of the envelope. */
export class NoMatchingRecipient extends EnvelopeError {
  constructor(message) {
    super(message);
    this.name = "NoMatchingRecipient";
  }
}

/** The 16-byte key id of a 32-byte public key (docs/envelope.md, "Key identifiers"). */
export async function keyId(publicKey) {
  await sodium.ready;
  const prefix = sodium.from_string(KEY_ID_PREFIX);
  const message = new Uint8Array(prefix.length + publicKey.length);
  message.set(prefix);
  message.set(publicKey, prefix.length);
  return sodium.crypto_generichash(KEY_ID_BYTES, message, null);
}

class Reader {
  constructor(bytes) {
    this.bytes = bytes;
    this.offset = 0;
  }

  take(size, what) {
    if (this.offset + size > this.bytes.length) {
      throw new EnvelopeError(`envelope truncated in ${what}`);
    }
    const piece = this.bytes.subarray(this.offset, this.offset + size);
    this.offset += size;
    return piece;
  }

  chunk() {
    const length = new DataView(this.take(4, "chunk length").slice().buffer).getUint32(0);
    if (length < ABYTES || length > CHUNK_SIZE + ABYTES) {
      throw new EnvelopeError("invalid chunk length");
    }
    return this.take(length, "chunk");
  }

  atEnd() {
    return this.offset === this.bytes.length;
  }
}

function equalBytes(a, b) {
  return a.length === b.length && sodium.memcmp(a, b);
}

function jsonDepth(text) {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let index = 0; index < text.length; index += 1) {
    const char = text[index];
    if (inString) {
      if (char === "\\") index += 1;
      else if (char === '"') inString = false;
    } else if (char === '"') {
      inString = true;
    } else if (char === "[" || char === "{") {
      depth += 1;
      deepest = Math.max(deepest, depth);
    } else if (char === "]" || char === "}") {
      depth -= 1;
    }
  }
  return deepest;
}

function parseMetadata(raw) {
  let value;
  try {
    const text = new TextDecoder("utf-8", { fatal: true }).decode(raw);
    if (jsonDepth(text) > MAX_JSON_DEPTH) {
      throw new EnvelopeError("metadata nested too deeply");
    }
    value = JSON.parse(text);
  } catch (error) {
    throw new EnvelopeError(`metadata is not JSON (${error.message})`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new EnvelopeError("metadata is not a JSON object");
  }
  if (typeof value.kind !== "string" || !KINDS.has(value.kind)) {
    throw new EnvelopeError("metadata has an unknown kind");
  }
  if (typeof value.name !== "string" || typeof value.type !== "string") {
    throw new EnvelopeError("metadata lacks kind, name or type");
  }
  return { kind: value.kind, name: value.name, type: value.type };
}

async function unsealFileKey(header, count, privateKeys) {
  const byId = new Map();
  for (const privateKey of privateKeys) {
    const publicKey = sodium.crypto_scalarmult_base(privateKey);
    byId.set(sodium.to_hex(await keyId(publicKey)), { publicKey, privateKey });
  }
  const first = MAGIC.length + 1;
  for (let index = 0; index < count; index += 1) {
    const start = first + index * STANZA_BYTES;
    const key = byId.get(sodium.to_hex(header.subarray(start, start + KEY_ID_BYTES)));
    if (key === undefined) continue;
    const sealed = header.subarray(start + KEY_ID_BYTES, start + STANZA_BYTES);
    let fileKey;
    try {
      fileKey = sodium.crypto_box_seal_open(sealed, key.publicKey, key.privateKey);
    } catch {
      throw new EnvelopeError("a recipient stanza for this key does not open");
    }
    if (!fileKey || fileKey.length !== FILE_KEY_BYTES) {
      throw new EnvelopeError("file key has the wrong length");
    }
    return fileKey;
  }
  throw new NoMatchingRecipient("none of these keys is a recipient of the envelope");
}

/**
 * Open an envelope held in memory with one or more X25519 private keys (32 bytes
 * each). Returns { metadata: {kind, name, type}, content, size, sha256 } only when
 * the whole envelope verifies; throws EnvelopeError (or NoMatchingRecipient) otherwise.
 */
export async function openEnvelope(envelope, privateKeys) {
  await sodium.ready;
  const reader = new Reader(envelope);
  const magic = reader.take(MAGIC.length, "magic");
  if (!equalBytes(magic, sodium.from_string(MAGIC))) {
    throw new EnvelopeError("not an Iblagh v1 envelope");
  }
  const count = reader.take(1, "recipient count")[0];
  if (count < 1 || count > MAX_RECIPIENTS) {
    throw new EnvelopeError("invalid recipient count");
  }
  reader.take(count * STANZA_BYTES, "recipient stanzas");
  const header = envelope.slice(0, reader.offset);
  const fileKey = await unsealFileKey(header, count, privateKeys);
  try {
    const state = sodium.crypto_secretstream_xchacha20poly1305_init_pull(
      reader.take(STREAM_HEADER_BYTES, "stream header"),
      fileKey,
    );
    const pull = (ad) => {
      const chunk = reader.chunk();
      let result;
      try {
        result = sodium.crypto_secretstream_xchacha20poly1305_pull(state, chunk, ad);
      } catch {
        result = false;
      }
      if (!result) {
        throw new EnvelopeError("envelope is corrupt, tampered with or reordered");
      }
      return result;
    };
    const first = pull(header);
    if (first.tag !== TAG_MESSAGE || first.message.length > MAX_METADATA_BYTES) {
      throw new EnvelopeError("invalid metadata chunk");
    }
    const metadata = parseMetadata(first.message);
    const hash = sodium.crypto_hash_sha256_init();
    const pieces = [];
    let size = 0;
    let last;
    for (;;) {
      last = pull(null);
      if (last.tag === TAG_FINAL) break;
      if (last.tag !== TAG_MESSAGE || last.message.length === 0) {
        throw new EnvelopeError("invalid content chunk");
      }
      sodium.crypto_hash_sha256_update(hash, last.message);
      pieces.push(last.message);
      size += last.message.length;
    }
    const sha256 = sodium.crypto_hash_sha256_final(hash);
    if (last.message.length !== TRAILER_BYTES) {
      throw new EnvelopeError("invalid trailer");
    }
    const trailer = new DataView(last.message.slice().buffer);
    const claimedSize = trailer.getBigUint64(0);
    if (claimedSize !== BigInt(size) || !equalBytes(last.message.subarray(8), sha256)) {
      throw new EnvelopeError("content does not match the trailer's size and SHA-256");
    }
    if (!reader.atEnd()) {
      throw new EnvelopeError("data after the final chunk");
    }
    const content = new Uint8Array(size);
    let offset = 0;
    for (const piece of pieces) {
      content.set(piece, offset);
      offset += piece.length;
    }
    return { metadata, content, size, sha256 };
  } finally {
    sodium.memzero(fileKey);
  }
}
