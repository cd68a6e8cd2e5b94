// The documents a browser-sealed report carries, byte for byte as crypto/contents.py
// writes them: report body version 2 (docs/envelope.md, "Report body, version 2"),
// signed with the reporter's Ed25519 key, and the identity section bound to it. The
// officer host cannot tell which side wrote them; tests/browser_js/report_body.test.js
// checks them against tests/vectors/body_v2.json.

import sodium from "libsodium-wrappers-sumo";

export const BODY_VERSION = 2;
export const BODY_SIGNATURE_PREFIX = "iblagh-body/2";
const BINDING_BYTES = 32;

/** JSON as Python's json.dumps(ensure_ascii=False) writes it: ", " and ": " separators. */
export function pythonJson(value) {
  if (Array.isArray(value)) return `[${value.map(pythonJson).join(", ")}]`;
  if (value !== null && typeof value === "object") {
    const members = Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}: ${pythonJson(v)}`);
    return `{${members.join(", ")}}`;
  }
  return JSON.stringify(value);
}

const b64 = (bytes) => sodium.to_base64(bytes, sodium.base64_variants.ORIGINAL);

/** A fresh per-submission binding: base64 of 32 random bytes. */
export async function newBinding() {
  await sodium.ready;
  return b64(sodium.randombytes_buf(BINDING_BYTES));
}

/**
 * The body document (the wrapper's ``content``). ``fields`` holds category, urls,
 * description, language, platform, account, seen_on, good_faith, attachments,
 * reporter_public_key, binding, identity_sha256 (hex or null), reporter_verify_key.
 */
export function bodyDocument(fields) {
  return pythonJson({
    v: BODY_VERSION,
    category: fields.category,
    urls: fields.urls,
    description: fields.description,
    language: fields.language,
    platform: fields.platform,
    account: fields.account,
    seen_on: fields.seen_on,
    good_faith: fields.good_faith,
    attachments: fields.attachments.map((record) => ({
      blob: record.blob,
      name: record.name,
      type: record.type,
      size: record.size,
      sha256: record.sha256,
    })),
    reporter_public_key: fields.reporter_public_key,
    binding: fields.binding,
    identity: fields.identity_sha256 === null ? null : { sha256: fields.identity_sha256 },
    reporter_verify_key: fields.reporter_verify_key,
  });
}

/** The signed wrapper {"v": 2, "content": ..., "signature": ...} around a document. */
export async function signedBody(content, signSecretKey) {
  await sodium.ready;
  const signed = sodium.from_string(BODY_SIGNATURE_PREFIX + content);
  const signature = sodium.crypto_sign_detached(signed, signSecretKey);
  return pythonJson({ v: BODY_VERSION, content, signature: b64(signature) });
}

/** The identity document, version 2: the body's binding, then the details. */
export function identityDocument(details, binding) {
  return pythonJson({
    v: BODY_VERSION,
    binding,
    full_name: details.full_name,
    national_id: details.national_id,
    phone: details.phone,
    email: details.email,
    city: details.city,
  });
}
