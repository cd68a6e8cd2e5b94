// For tests/browser_js/test_identity_interop.py: reads {"kind": [values...], ...} on
// stdin and prints the browser's standard form of each value (null when invalid).

import {
  normaliseCity,
  normaliseEmail,
  normaliseFullName,
  normaliseNationalId,
  normalisePhone,
} from "../../source_app/static/js/identity.js";

const RULES = {
  full_name: normaliseFullName,
  national_id: normaliseNationalId,
  phone: normalisePhone,
  email: normaliseEmail,
  city: normaliseCity,
};
const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const request = JSON.parse(Buffer.concat(chunks).toString("utf-8"));
const out = {};
for (const [kind, values] of Object.entries(request)) out[kind] = values.map(RULES[kind]);
process.stdout.write(JSON.stringify(out));
