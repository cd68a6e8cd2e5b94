// Receipt codes, derivation version 2, in the reporter's browser.
//
// The spec is docs/receipt.md; crypto/receipt.py is the Python side, and both pass
// tests/vectors/receipt_v2.json (tests/browser_js/receipt.test.js runs it in Node).
// Every primitive comes from libsodium (libsodium-wrappers-sumo: argon2id is only in
// the sumo build). In a page, an import map names "libsodium-wrappers-sumo" and
// "libsodium-sumo" as the copies in /static/vendor/; in Node they resolve from
// node_modules.

import sodium from "libsodium-wrappers-sumo";

export const RECEIPT_VERSION = 2;
export const DIGITS = 20;
export const GROUP = 4;
export const DERIVATION_SALT = "iblagh-receipt/2";
export const ARGON2_OPSLIMIT = 2; // crypto_pwhash_OPSLIMIT_INTERACTIVE
export const ARGON2_MEMLIMIT = 67108864; // crypto_pwhash_MEMLIMIT_INTERACTIVE, 64 MiB
export const MASTER_KEY_BYTES = 32;
export const KDF_CONTEXT = "receipt2";
export const LOOKUP_SUBKEY_ID = 1;
export const BOX_SEED_SUBKEY_ID = 2;
export const SIGNING_SEED_SUBKEY_ID = 3;
export const SUBKEY_BYTES = 32;
export const LOOKUP_HASH_PREFIX = "iblagh-lookup/2";

/** A typed code that is not twenty digits after normalisation. */
export class InvalidReceiptCode extends Error {
  constructor(message) {
    super(message);
    this.name = "InvalidReceiptCode";
  }
}

// Western, Arabic-Indic (U+0660..) and Eastern Arabic-Indic (U+06F0..) digits.
const DIGIT_MAP = new Map();
for (const base of [0x30, 0x660, 0x6f0]) {
  for (let digit = 0; digit < 10; digit += 1) {
    DIGIT_MAP.set(String.fromCodePoint(base + digit), String(digit));
  }
}
// What people type between groups: the same list as crypto/receipt.py.
const SEPARATORS = new Set(
  " \t\r\n\u00a0\u2009\u202f\u3000-\u2010\u2011\u2012\u2013\u2014\u2212._\u200e\u200f\u061c",
);

/** Twenty ASCII digits from what a person typed; InvalidReceiptCode otherwise. */
export function normaliseCode(text) {
  if (typeof text !== "string") {
    throw new InvalidReceiptCode("a receipt code is text");
  }
  let digits = "";
  for (const char of text) {
    // for…of walks code points, so a character outside the BMP is one (refused) char.
    if (DIGIT_MAP.has(char)) {
      digits += DIGIT_MAP.get(char);
    } else if (!SEPARATORS.has(char)) {
      throw new InvalidReceiptCode("a receipt code holds only digits");
    }
  }
  if (digits.length !== DIGITS) {
    throw new InvalidReceiptCode("a receipt code is twenty digits");
  }
  return digits;
}

/** Five groups of four digits, as shown to the reporter. */
export function groupCode(digits) {
  const normalised = normaliseCode(digits);
  const groups = [];
  for (let start = 0; start < DIGITS; start += GROUP) {
    groups.push(normalised.slice(start, start + GROUP));
  }
  return groups.join(" ");
}

/**
 * A new code: twenty digits from crypto.getRandomValues, each uniform.
 *
 * A random byte below 250 gives `byte % 10`; 250…255 are dropped (rejection
 * sampling), because 256 is not a multiple of 10 and keeping them would make
 * 0–5 likelier than 6–9.
 */
export function generateCode(random = globalThis.crypto) {
  let digits = "";
  const buffer = new Uint8Array(32);
  while (digits.length < DIGITS) {
    random.getRandomValues(buffer);
    for (const byte of buffer) {
      if (byte < 250 && digits.length < DIGITS) {
        digits += String(byte % 10);
      }
    }
  }
  buffer.fill(0);
  return digits;
}

/** Resolves once libsodium's WebAssembly is loaded; returns the libsodium object. */
export async function ready() {
  await sodium.ready;
  return sodium;
}

/** argon2id over the code's twenty ASCII digits: the one slow step, 32 bytes. */
export async function deriveMasterKey(code) {
  const digits = normaliseCode(code);
  await sodium.ready;
  return sodium.crypto_pwhash(
    MASTER_KEY_BYTES,
    sodium.from_string(digits),
    sodium.from_string(DERIVATION_SALT),
    ARGON2_OPSLIMIT,
    ARGON2_MEMLIMIT,
    sodium.crypto_pwhash_ALG_ARGON2ID13,
  );
}

/** libsodium's crypto_kdf_derive_from_key, 32 bytes, context "receipt2" by default. */
export async function kdfDeriveFromKey(masterKey, subkeyId, context = KDF_CONTEXT) {
  await sodium.ready;
  return sodium.crypto_kdf_derive_from_key(SUBKEY_BYTES, subkeyId, context, masterKey);
}

/**
 * Split a master key into what a code opens (docs/receipt.md):
 * { lookupValue, boxPublicKey, boxSecretKey, signPublicKey, signSecretKey }.
 */
export async function secretsFromMasterKey(masterKey) {
  await sodium.ready;
  const lookupValue = await kdfDeriveFromKey(masterKey, LOOKUP_SUBKEY_ID);
  const boxSeed = await kdfDeriveFromKey(masterKey, BOX_SEED_SUBKEY_ID);
  const signingSeed = await kdfDeriveFromKey(masterKey, SIGNING_SEED_SUBKEY_ID);
  // crypto_box_seed_keypair hashes the seed (SHA-512, first half) into the secret
  // key, exactly as PyNaCl's PrivateKey.from_seed.
  const box = sodium.crypto_box_seed_keypair(boxSeed);
  const sign = sodium.crypto_sign_seed_keypair(signingSeed);
  sodium.memzero(boxSeed);
  sodium.memzero(signingSeed);
  return {
    lookupValue,
    boxPublicKey: box.publicKey,
    boxSecretKey: box.privateKey,
    signPublicKey: sign.publicKey,
    signSecretKey: sign.privateKey,
  };
}

/** Everything a typed code opens: one argon2id, then three KDF subkeys. */
export async function deriveReporterSecrets(code) {
  const masterKey = await deriveMasterKey(code);
  try {
    return await secretsFromMasterKey(masterKey);
  } finally {
    sodium.memzero(masterKey);
  }
}

/**
 * SHA-256("iblagh-lookup/2" || lookup value): what the public host stores. The
 * browser sends the lookup value; it computes this only to check the vectors.
 */
export async function lookupHash(lookupValue) {
  await sodium.ready;
  if (!(lookupValue instanceof Uint8Array) || lookupValue.length !== SUBKEY_BYTES) {
    throw new InvalidReceiptCode("a lookup value is 32 bytes");
  }
  const prefix = sodium.from_string(LOOKUP_HASH_PREFIX);
  const message = new Uint8Array(prefix.length + lookupValue.length);
  message.set(prefix);
  message.set(lookupValue, prefix.length);
  return sodium.crypto_hash_sha256(message);
}
