// For tests/browser_js/test_url_interop.py: reads a JSON array of pasted addresses on
// stdin and prints the browser's standard form of each (null: left as typed).

import { normaliseUrl } from "../../source_app/static/js/urls.js";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
process.stdout.write(JSON.stringify(JSON.parse(Buffer.concat(chunks)).map(normaliseUrl)));
