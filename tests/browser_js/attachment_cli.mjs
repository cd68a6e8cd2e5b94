// For tests/browser_js/test_attachment_interop.py: reads {"names": [...], "heads":
// [base64...]} on stdin, prints the browser's sanitised names and sniffed types.

import { sanitiseFileName, sniffMediaType } from "../../source_app/static/js/attachments.js";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const request = JSON.parse(Buffer.concat(chunks).toString("utf-8"));
process.stdout.write(
  JSON.stringify({
    names: request.names.map(sanitiseFileName),
    types: request.heads.map((head) => sniffMediaType(new Uint8Array(Buffer.from(head, "base64")))),
  }),
);
