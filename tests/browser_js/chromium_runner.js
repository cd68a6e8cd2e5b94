// Runs the receipt v2 and envelope v1 vectors inside a page (Chromium), through the
// same modules and the vendored libsodium the public host serves; the result lands in
// window.vectorResult for tests/browser/test_browser_vectors.py to read.

import sodium from "libsodium-wrappers-sumo";

import { openEnvelope } from "/js/envelope.js";
import { sealBlob, sealBytes } from "/js/envelope_writer.js";
import {
  deriveMasterKey,
  generateCode,
  lookupHash,
  normaliseCode,
  secretsFromMasterKey,
} from "/js/receipt.js";

const failures = [];
const argon2Milliseconds = [];
let checked = 0;

function expectEqual(actual, expected, what) {
  checked += 1;
  if (actual !== expected) failures.push(`${what}: ${actual} != ${expected}`);
}

async function runReceiptVectors() {
  const vectors = await (await fetch("/vectors/receipt_v2.json")).json();
  for (const vector of vectors.codes) {
    const what = vector.description;
    expectEqual(normaliseCode(vector.typed), vector.digits, `${what} digits`);
    const started = performance.now();
    const master = await deriveMasterKey(vector.typed);
    argon2Milliseconds.push(performance.now() - started);
    const secrets = await secretsFromMasterKey(master);
    expectEqual(sodium.to_hex(master), vector.master_key, `${what} master`);
    expectEqual(sodium.to_hex(secrets.lookupValue), vector.lookup_value, `${what} lookup value`);
    expectEqual(
      sodium.to_hex(await lookupHash(secrets.lookupValue)),
      vector.lookup_hash,
      `${what} lookup hash`,
    );
    expectEqual(sodium.to_hex(secrets.boxPublicKey), vector.x25519_public_key, `${what} x25519`);
    expectEqual(sodium.to_hex(secrets.signPublicKey), vector.ed25519_verify_key, `${what} ed25519`);
  }
  for (const vector of vectors.invalid_codes) {
    checked += 1;
    try {
      normaliseCode(vector.typed);
      failures.push(`${vector.description}: accepted`);
    } catch (error) {
      if (error.name !== "InvalidReceiptCode") failures.push(`${vector.description}: ${error}`);
    }
  }
  expectEqual(/^[0-9]{20}$/.test(generateCode()), true, "generated code");
}

async function runEnvelopeVectors() {
  const vectors = await (await fetch("/vectors/envelope_v1.json")).json();
  const base64 = (text) => sodium.from_base64(text, sodium.base64_variants.ORIGINAL);
  for (const vector of vectors) {
    const what = vector.description;
    let opened;
    try {
      opened = await openEnvelope(base64(vector.envelope), [base64(vector.recipient_private_key)]);
    } catch (error) {
      expectEqual(error.name, vector.error ?? "(no error)", what);
      continue;
    }
    if (vector.error) {
      failures.push(`${what}: opened, expected ${vector.error}`);
      continue;
    }
    expectEqual(opened.metadata.kind, vector.result.kind, `${what} kind`);
    expectEqual(opened.metadata.name, vector.result.name, `${what} name`);
    expectEqual(opened.size, vector.result.content_size, `${what} size`);
    expectEqual(
      sodium.to_hex(sodium.crypto_hash_sha256(opened.content)),
      vector.result.content_sha256,
      `${what} sha256`,
    );
  }
}

// The writer: every good vector sealed again from a File (File.slice, chunk by chunk)
// opens to the same content; one envelope is handed to Python to open.
const sealedForPython = [];
async function runWriterVectors() {
  const vectors = await (await fetch("/vectors/envelope_v1.json")).json();
  const base64 = (text) => sodium.from_base64(text, sodium.base64_variants.ORIGINAL);
  for (const vector of vectors.filter((candidate) => candidate.result)) {
    const what = `writer: ${vector.description}`;
    const privateKey = base64(vector.recipient_private_key);
    const original = await openEnvelope(base64(vector.envelope), [privateKey]);
    if (original.metadata.name.length > 8000) continue; // padded by a member no writer emits
    const publicKey = sodium.crypto_scalarmult_base(privateKey);
    const file = new File([original.content], original.metadata.name || "content");
    const sealed = await sealBlob(file, [publicKey], original.metadata);
    const envelope = new Uint8Array(await sealed.envelope.arrayBuffer());
    const reopened = await openEnvelope(envelope, [privateKey]);
    expectEqual(reopened.metadata.name, original.metadata.name, `${what} name`);
    expectEqual(sodium.to_hex(reopened.content), sodium.to_hex(original.content), `${what} content`);
  }
  const { publicKey, privateKey } = sodium.crypto_box_keypair();
  const content = new TextEncoder().encode("sealed in Chromium ✓ مختوم في المتصفح");
  const envelope = await sealBytes(content, [publicKey], { kind: "report", name: "", type: "text/plain; charset=utf-8" });
  const b64 = (bytes) => sodium.to_base64(bytes, sodium.base64_variants.ORIGINAL);
  sealedForPython.push({ private_key: b64(privateKey), envelope: b64(envelope), content: b64(content) });
}

try {
  await sodium.ready;
  await runReceiptVectors();
  await runEnvelopeVectors();
  await runWriterVectors();
} catch (error) {
  failures.push(`runner: ${error.stack ?? error}`);
}
window.vectorResult = { failures, checked, argon2Milliseconds, sealedForPython };
