// Seal with the browser's writer from the command line, for tests/browser_js/
// test_writer_interop.py: reads [{recipients: [base64], kind, name, type, content:
// base64}] on stdin, prints the envelopes as a JSON array of base64 strings.

import sodium from "libsodium-wrappers-sumo";

import { sealBlob, sealBytes } from "../../source_app/static/js/envelope_writer.js";

await sodium.ready;
const base64 = (text) => sodium.from_base64(text, sodium.base64_variants.ORIGINAL);
const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const requests = JSON.parse(Buffer.concat(chunks).toString("utf-8"));
const envelopes = [];
for (const [index, request] of requests.entries()) {
  const recipients = request.recipients.map(base64);
  const metadata = { kind: request.kind, name: request.name, type: request.type };
  const content = base64(request.content);
  // Alternate the in-memory and the File.slice paths: both must give the same layout.
  const envelope =
    index % 2 === 0
      ? await sealBytes(content, recipients, metadata)
      : new Uint8Array(await (await sealBlob(new Blob([content]), recipients, metadata)).envelope.arrayBuffer());
  envelopes.push(sodium.to_base64(envelope, sodium.base64_variants.ORIGINAL));
}
process.stdout.write(JSON.stringify(envelopes));
