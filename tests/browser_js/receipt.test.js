// Receipt derivation v2 in the browser module, against the vectors Python passes.
// Run with `node --test tests/browser_js/` (tests/browser_js/test_node_suite.py does, so
// `make test` runs it).

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import sodium from "libsodium-wrappers-sumo";

import {
  ARGON2_MEMLIMIT,
  ARGON2_OPSLIMIT,
  DERIVATION_SALT,
  InvalidReceiptCode,
  KDF_CONTEXT,
  LOOKUP_HASH_PREFIX,
  RECEIPT_VERSION,
  deriveMasterKey,
  deriveReporterSecrets,
  generateCode,
  groupCode,
  kdfDeriveFromKey,
  lookupHash,
  normaliseCode,
  secretsFromMasterKey,
} from "../../source_app/static/js/receipt.js";

const VECTORS = JSON.parse(
  readFileSync(new URL("../vectors/receipt_v2.json", import.meta.url), "utf-8"),
);

await sodium.ready;
const hex = (bytes) => sodium.to_hex(bytes);

test("the module's constants are the vectors' constants", () => {
  const constants = VECTORS.constants;
  assert.equal(RECEIPT_VERSION, VECTORS.version);
  assert.equal(DERIVATION_SALT, constants.argon2id_salt);
  assert.equal(sodium.from_string(DERIVATION_SALT).length, sodium.crypto_pwhash_SALTBYTES);
  assert.equal(ARGON2_OPSLIMIT, constants.argon2id_opslimit);
  assert.equal(ARGON2_OPSLIMIT, sodium.crypto_pwhash_OPSLIMIT_INTERACTIVE);
  assert.equal(ARGON2_MEMLIMIT, constants.argon2id_memlimit);
  assert.equal(ARGON2_MEMLIMIT, sodium.crypto_pwhash_MEMLIMIT_INTERACTIVE);
  assert.equal(KDF_CONTEXT, constants.kdf_context);
  assert.equal(KDF_CONTEXT.length, sodium.crypto_kdf_CONTEXTBYTES);
  assert.equal(LOOKUP_HASH_PREFIX, constants.lookup_hash_prefix);
});

for (const vector of VECTORS.codes) {
  test(`code vector: ${vector.description}`, async (t) => {
    assert.equal(normaliseCode(vector.typed), vector.digits);
    const started = performance.now();
    const master = await deriveMasterKey(vector.typed);
    t.diagnostic(`argon2id ${(performance.now() - started).toFixed(0)} ms`);
    assert.equal(hex(master), vector.master_key);
    const secrets = await secretsFromMasterKey(master);
    assert.equal(hex(secrets.lookupValue), vector.lookup_value);
    assert.equal(sodium.to_base64(secrets.lookupValue, sodium.base64_variants.ORIGINAL),
      vector.lookup_value_base64);
    assert.equal(hex(await lookupHash(secrets.lookupValue)), vector.lookup_hash);
    assert.equal(hex(secrets.boxSecretKey), vector.x25519_secret_key);
    assert.equal(hex(secrets.boxPublicKey), vector.x25519_public_key);
    assert.equal(hex(secrets.signPublicKey), vector.ed25519_verify_key);
    // libsodium's Ed25519 secret key is seed || verify key.
    assert.equal(hex(secrets.signSecretKey), vector.ed25519_seed + vector.ed25519_verify_key);
  });
}

test("deriveReporterSecrets from a typed code is the same as master then split", async () => {
  const vector = VECTORS.codes[1];
  const secrets = await deriveReporterSecrets(vector.typed);
  assert.equal(hex(secrets.lookupValue), vector.lookup_value);
  assert.equal(hex(secrets.boxPublicKey), vector.x25519_public_key);
  assert.equal(hex(secrets.signPublicKey), vector.ed25519_verify_key);
});

for (const vector of VECTORS.invalid_codes) {
  test(`invalid code vector: ${vector.description}`, async () => {
    assert.throws(() => normaliseCode(vector.typed), InvalidReceiptCode);
    await assert.rejects(deriveMasterKey(vector.typed), InvalidReceiptCode);
  });
}

test("libsodium's crypto_kdf_derive_from_key gives the BLAKE2b subkeys Python computes", async () => {
  for (const vector of VECTORS.kdf) {
    const master = sodium.from_hex(vector.master_key);
    const subkey = await kdfDeriveFromKey(master, BigInt(vector.subkey_id), vector.context);
    assert.equal(hex(subkey), vector.subkey, `subkey id ${vector.subkey_id}`);
  }
});

test("lookupHash takes only a 32-byte value", async () => {
  for (const size of [0, 31, 33]) {
    await assert.rejects(lookupHash(new Uint8Array(size)), InvalidReceiptCode);
  }
});

test("a generated code is twenty digits, grouped by four, and parses back", () => {
  const seen = new Set();
  for (let round = 0; round < 50; round += 1) {
    const code = generateCode();
    assert.match(code, /^[0-9]{20}$/);
    assert.equal(normaliseCode(groupCode(code)), code);
    seen.add(code);
  }
  assert.equal(seen.size, 50);
  assert.equal(groupCode("01234567890123456789"), "0123 4567 8901 2345 6789");
});

test("generation drops bytes 250 to 255 instead of folding them onto 0 to 5", () => {
  // A source that gives 250…255 first, then 9, 19, 29…: only the latter count.
  let call = 0;
  const source = {
    getRandomValues(buffer) {
      call += 1;
      for (let index = 0; index < buffer.length; index += 1) {
        buffer[index] = call === 1 ? 250 + (index % 6) : 9 + 10 * (index % 20);
      }
      return buffer;
    },
  };
  assert.equal(generateCode(source), "99999999999999999999");
  assert.equal(call, 2);
});

test("generated digits are close to uniform (chi-squared, 9 degrees of freedom)", () => {
  const counts = new Array(10).fill(0);
  const codes = 2000;
  for (let round = 0; round < codes; round += 1) {
    for (const digit of generateCode()) counts[Number(digit)] += 1;
  }
  const expected = (codes * 20) / 10;
  const chiSquared = counts.reduce((sum, count) => sum + (count - expected) ** 2 / expected, 0);
  // p = 0.0001 for 9 degrees of freedom: a correct generator fails once in 10 000 runs.
  assert.ok(chiSquared < 33.7, `chi-squared ${chiSquared.toFixed(1)} for ${counts}`);
});
