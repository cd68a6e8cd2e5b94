// Envelope v1 in the browser module: every vector of tests/vectors/envelope_v1.json
// opens (or is refused) in Node exactly as crypto/envelope.py says.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import sodium from "libsodium-wrappers-sumo";

import {
  EnvelopeError,
  NoMatchingRecipient,
  keyId,
  openEnvelope,
} from "../../source_app/static/js/envelope.js";

const VECTORS = JSON.parse(
  readFileSync(new URL("../vectors/envelope_v1.json", import.meta.url), "utf-8"),
);
const ERRORS = { EnvelopeError, NoMatchingRecipient };

await sodium.ready;
const base64 = (text) => sodium.from_base64(text, sodium.base64_variants.ORIGINAL);

test("the key id known answer of docs/envelope.md", async () => {
  const publicKey = Uint8Array.from({ length: 32 }, (_, index) => index);
  assert.equal(sodium.to_hex(await keyId(publicKey)), "e851182999514531dd10cb558c503980");
});

for (const vector of VECTORS) {
  test(`envelope vector: ${vector.description}`, async () => {
    const privateKey = base64(vector.recipient_private_key);
    const envelope = base64(vector.envelope);
    if (vector.error) {
      const expected = ERRORS[vector.error];
      await assert.rejects(openEnvelope(envelope, [privateKey]), (error) => {
        assert.equal(error.constructor, expected, `${error.name}: ${error.message}`);
        return true;
      });
      return;
    }
    const opened = await openEnvelope(envelope, [privateKey]);
    const result = vector.result;
    assert.deepEqual(opened.metadata, { kind: result.kind, name: result.name, type: result.type });
    assert.equal(opened.content.length, result.content_size);
    assert.equal(opened.size, result.content_size);
    assert.equal(sodium.to_hex(sodium.crypto_hash_sha256(opened.content)), result.content_sha256);
    if ("content" in result) {
      assert.deepEqual(opened.content, base64(result.content));
    }
  });
}
