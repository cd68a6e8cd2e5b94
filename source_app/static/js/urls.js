// Addresses as the public host writes them (source_app/urls.py), for the common case.
//
// The host's normalise_url is idempotent: a URL already in its standard form comes out
// unchanged. The browser applies the few steps most pasted links need (invisible
// characters and the sentence's trailing punctuation removed, "https://" added when no
// scheme was typed, scheme and host in lower case) and keeps the result only if it is
// plainly in that standard form (ASCII host of letters, digits and hyphens, safe path
// characters). Anything else (defanged, non-ASCII, ports, user names, IP addresses) is
// sent as typed, for the unit to read; tests/browser_js/test_url_interop.py checks that
// every address the browser claims as standard is what the host would write.

const INVISIBLE = /[\u200b\u200c\u200d\u200e\u200f\u2060\ufeff\u061c\u00ad]/g;
const TRAILING = ".,;:!?'\"»›”’)]}>،؛؟۔…";
const BRACKETS = { ")": "(", "]": "[", "}": "{" };
const OPENERS = {
  "<": ">", "(": ")", "[": "]", "{": "}", '"': '"', "'": "'",
  "«": "»", "“": "”", "‘": "’", "‹": "›",
};
const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:/;
const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
const SAFE = "A-Za-z0-9/:@!$&'()*+,;=\\-._~%";
const CANONICAL = new RegExp(
  `^https?://([a-z0-9.-]+)(/[${SAFE}]*)?(\\?[${SAFE}?]*)?(#[${SAFE}?#]*)?$`,
);

function balanced(value) {
  const last = value[value.length - 1];
  const opening = BRACKETS[last];
  if (opening === undefined) return false;
  const count = (char) => [...value].filter((c) => c === char).length;
  return count(opening) >= count(last);
}

function isCanonical(url) {
  const match = CANONICAL.exec(url);
  if (!match) return false;
  const host = match[1];
  const labels = host.split(".");
  if (host.length > 253 || labels.length < 2 || !labels.every((label) => LABEL.test(label))) {
    return false;
  }
  const top = labels[labels.length - 1];
  if (/^[0-9]+$/.test(top) || top.length < 2 || top === "onion") return false;
  const last = url[url.length - 1];
  return !(TRAILING.includes(last) && !balanced(url)) && !url.includes("%");
}

/** The host's standard form of one pasted address, or null when only the host can say. */
export function normaliseUrl(token) {
  // What surrounds a link in a sentence, removed as the host does (_strip_decoration).
  let value = token.replace(INVISIBLE, "").trim();
  let changed = true;
  while (changed && value) {
    changed = false;
    for (const [opening, closing] of Object.entries(OPENERS)) {
      if (value.length >= 2 && value[0] === opening && value[value.length - 1] === closing) {
        value = value.slice(1, -1).trim();
        changed = true;
      }
    }
    if (value && TRAILING.includes(value[value.length - 1]) && !balanced(value)) {
      value = value.slice(0, -1).trimEnd();
      changed = true;
    }
    if (value && OPENERS[value[0]] !== undefined && !value.includes(OPENERS[value[0]])) {
      value = value.slice(1).trimStart();
      changed = true;
    }
  }
  if (!SCHEME.test(value)) value = `https://${value.replace(/^[/\\]+/, "")}`;
  const split = /^([A-Za-z]+):\/\/([^/?#]*)(.*)$/s.exec(value);
  if (!split) return null;
  const result = `${split[1].toLowerCase()}://${split[2].toLowerCase()}${split[3]}`;
  return isCanonical(result) ? result : null;
}

/** Each token of a pasted block, in standard form where the browser can tell it. */
export function pastedUrls(text) {
  return text
    .split(/\s+/)
    .filter((token) => token.replace(INVISIBLE, ""))
    .map((token) => normaliseUrl(token) ?? token);
}
