// Report body version 2 in the browser (source_app/static/js/report_body.js) against
// tests/vectors/body_v2.json: the same document bytes from the same fields, the same
// signed bytes, and the same signature (Ed25519 is deterministic) from the code's key.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import sodium from "libsodium-wrappers-sumo";

import {
  bodyDocument,
  identityDocument,
  pythonJson,
  signedBody,
} from "../../source_app/static/js/report_body.js";
import { deriveReporterSecrets } from "../../source_app/static/js/receipt.js";

const VECTORS = JSON.parse(
  readFileSync(new URL("../vectors/body_v2.json", import.meta.url), "utf-8"),
);

await sodium.ready;
const secrets = await deriveReporterSecrets(VECTORS.code);

for (const vector of VECTORS.good) {
  test(`body v2 vector: ${vector.description}`, async () => {
    const parsed = JSON.parse(vector.content);
    const rebuilt = bodyDocument({
      ...parsed,
      identity_sha256: parsed.identity === null ? null : parsed.identity.sha256,
    });
    assert.equal(rebuilt, vector.content);
    assert.equal(
      sodium.to_hex(sodium.from_string(`iblagh-body/2${rebuilt}`)),
      vector.signed_hex,
    );
    assert.equal(sodium.to_hex(secrets.signPublicKey), vector.verify_key);
    const wrapper = await signedBody(rebuilt, secrets.signSecretKey);
    assert.equal(wrapper, vector.body);
    assert.equal(JSON.parse(wrapper).signature, sodium.to_base64(sodium.from_hex(vector.signature), sodium.base64_variants.ORIGINAL));
  });
}

test("python-style JSON: spaced separators, UTF-8 as is, escapes as json.dumps", () => {
  assert.equal(pythonJson({ a: [1, true, null], b: "é\n\"" }), '{"a": [1, true, null], "b": "é\\n\\""}');
  assert.equal(pythonJson({ a: [], b: {} }), '{"a": [], "b": {}}');
});

test("identity document: v 2, the binding first, then the details in order", () => {
  const text = identityDocument(
    { full_name: "سلمى", national_id: "", phone: "06", email: "", city: "Fès" },
    "QkJC",
  );
  assert.equal(
    text,
    '{"v": 2, "binding": "QkJC", "full_name": "سلمى", "national_id": "", "phone": "06", "email": "", "city": "Fès"}',
  );
});
