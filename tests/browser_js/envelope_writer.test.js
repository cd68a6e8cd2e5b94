// The browser's envelope writer (source_app/static/js/envelope_writer.js) in Node:
// every good vector of tests/vectors/envelope_v1.json is opened, sealed again by the
// writer (in memory and chunk by chunk from a Blob), and must open to the same
// metadata and content, with the length and layout crypto/envelope.py writes.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import sodium from "libsodium-wrappers-sumo";

import { EnvelopeError, keyId, openEnvelope } from "../../source_app/static/js/envelope.js";
import {
  EnvelopeWriter,
  envelopeLength,
  metadataBytes,
  sealBlob,
  sealBytes,
} from "../../source_app/static/js/envelope_writer.js";

const VECTORS = JSON.parse(
  readFileSync(new URL("../vectors/envelope_v1.json", import.meta.url), "utf-8"),
);

await sodium.ready;
const base64 = (text) => sodium.from_base64(text, sodium.base64_variants.ORIGINAL);
const blobBytes = async (blob) => new Uint8Array(await blob.arrayBuffer());

function keyPair() {
  const { publicKey, privateKey } = sodium.crypto_box_keypair();
  return { publicKey, privateKey };
}

test("metadata bytes are the reference writer's (sorted keys, spaced, UTF-8 as is)", () => {
  const bytes = metadataBytes({ kind: "attachment", name: "لقطة شاشة.png", type: "image/png" });
  assert.equal(
    new TextDecoder().decode(bytes),
    '{"kind": "attachment", "name": "لقطة شاشة.png", "type": "image/png"}',
  );
  const escaped = metadataBytes({ kind: "report", name: 'a"b\\c\n\u0001', type: "t" });
  assert.equal(
    new TextDecoder().decode(escaped),
    '{"kind": "report", "name": "a\\"b\\\\c\\n\\u0001", "type": "t"}',
  );
  assert.throws(() => metadataBytes({ kind: "letter", name: "", type: "t" }), EnvelopeError);
  assert.throws(
    () => metadataBytes({ kind: "report", name: "x".repeat(16384), type: "t" }),
    EnvelopeError,
  );
});

for (const vector of VECTORS.filter((candidate) => candidate.result)) {
  test(`writer reseals vector: ${vector.description}`, async () => {
    const privateKey = base64(vector.recipient_private_key);
    const publicKey = sodium.crypto_scalarmult_base(privateKey);
    const original = await openEnvelope(base64(vector.envelope), [privateKey]);
    const metadata = original.metadata;
    let meta;
    try {
      meta = metadataBytes(metadata);
    } catch (error) {
      // The 16384-byte vector pads with a member the writer never emits.
      assert.ok(error instanceof EnvelopeError);
      return;
    }
    const other = keyPair();
    const recipients = [publicKey, other.publicKey];
    const inMemory = await sealBytes(original.content, recipients, metadata);
    const fromBlob = await sealBlob(new Blob([original.content]), recipients, metadata);
    const streamed = await blobBytes(fromBlob.envelope);
    assert.equal(fromBlob.size, original.size);
    assert.deepEqual(fromBlob.sha256, original.sha256);
    for (const envelope of [inMemory, streamed]) {
      assert.equal(envelope.length, envelopeLength(2, meta.length, original.size));
      assert.deepEqual(envelope.subarray(9, 25), await keyId(publicKey));
      assert.deepEqual(envelope.subarray(105, 121), await keyId(other.publicKey));
      for (const key of [privateKey, other.privateKey]) {
        const opened = await openEnvelope(envelope, [key]);
        assert.deepEqual(opened.metadata, metadata);
        assert.deepEqual(opened.content, original.content);
      }
    }
    // Fresh file key and stream header every time: two seals never share a byte range.
    assert.notDeepEqual(inMemory.subarray(9), streamed.subarray(9));
  });
}

test("content fed in uneven pieces is chunked as if fed whole (every chunk full but the last)", async () => {
  const { publicKey, privateKey } = keyPair();
  const content = sodium.randombytes_buf(205540);
  const writer = await EnvelopeWriter.create([publicKey], { kind: "attachment", name: "f" });
  const pieces = writer.take();
  let offset = 0;
  for (const size of [1, 70000, 3, 65536, 60000, 10000]) {
    pieces.push(...writer.write(content.subarray(offset, offset + size)));
    offset += size;
  }
  assert.equal(offset, content.length);
  pieces.push(...writer.close().pieces);
  const envelope = new Uint8Array(await new Blob(pieces).arrayBuffer());
  const meta = metadataBytes({ kind: "attachment", name: "f" });
  assert.equal(envelope.length, envelopeLength(1, meta.length, content.length));
  // Walk the framing: metadata, three full chunks, one of 8932 bytes, the trailer.
  const lengths = [];
  let at = 9 + 96 + 24;
  while (at < envelope.length) {
    const length = new DataView(envelope.buffer, at, 4).getUint32(0);
    lengths.push(length);
    at += 4 + length;
  }
  assert.deepEqual(lengths, [meta.length + 17, 65553, 65553, 65553, 8949, 57]);
  const opened = await openEnvelope(envelope, [privateKey]);
  assert.deepEqual(opened.content, content);
  assert.equal(opened.metadata.type, "application/octet-stream");
});

test("a changed header byte makes the writer's envelope fail for every recipient", async () => {
  const a = keyPair();
  const b = keyPair();
  const envelope = await sealBytes(new TextEncoder().encode("x"), [a.publicKey, b.publicKey], {
    kind: "report",
  });
  const tampered = envelope.slice();
  tampered[9 + 96 + 40] ^= 1; // inside b's sealed file key
  await assert.rejects(openEnvelope(tampered, [a.privateKey]), EnvelopeError);
});

test("the writer refuses 0 or 17 recipients, keys that are not 32 bytes, writes after close", async () => {
  const { publicKey } = keyPair();
  await assert.rejects(sealBytes(new Uint8Array(1), [], { kind: "report" }), EnvelopeError);
  await assert.rejects(
    sealBytes(new Uint8Array(1), Array(17).fill(publicKey), { kind: "report" }),
    EnvelopeError,
  );
  await assert.rejects(
    sealBytes(new Uint8Array(1), [publicKey.subarray(1)], { kind: "report" }),
    EnvelopeError,
  );
  const writer = await EnvelopeWriter.create([publicKey], { kind: "report" });
  writer.close();
  assert.throws(() => writer.write(new Uint8Array(1)), EnvelopeError);
});
