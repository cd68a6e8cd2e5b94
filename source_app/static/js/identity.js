// The identified reporter's details in the standard form the public host gives them
// (source_app/identity.py), so that a browser-sealed identity section reads the same as
// a server-sealed one. Each function returns the standard form, or null when the value
// is not valid: the page then leaves the form to the host, which explains and keeps
// every field. tests/browser_js/test_identity_interop.py compares the two.

const MOROCCO = "212";
const DIGIT_SETS = ["٠١٢٣٤٥٦٧٨٩", "۰۱۲۳۴۵۶۷۸۹", "０１２３４５６７８９"];
const SEPARATORS = /[\s\-\u2010-\u2015\u2212.()/\u200e\u200f\u061c]/gu;
const NATIONAL_ID = /^[A-Z]{1,2}[0-9]{1,7}$/;
const E164 = /^\+[1-9][0-9]{6,14}$/;
const EMAIL_LOCAL = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~\u0080-\u{10ffff}-]{1,64}$/u;
const DOMAIN_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
const CONTROL = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}]/u;
const LETTER = /\p{L}/u;

export function asciiDigits(text) {
  let out = "";
  for (const char of text) {
    const set = DIGIT_SETS.find((digits) => digits.includes(char));
    out += set ? String(set.indexOf(char)) : char;
  }
  return out;
}

const collapse = (text) => text.normalize("NFC").split(/\s+/u).filter(Boolean).join(" ");

function hasControl(text) {
  for (const char of text) {
    if (char !== "\u200c" && char !== "\u200d" && CONTROL.test(char)) return true;
  }
  return false;
}

function textDetail(text, maxChars) {
  const value = collapse(text);
  if ([...value].length > maxChars || hasControl(value) || !LETTER.test(value)) return null;
  return value;
}

export const normaliseFullName = (text) => textDetail(text, 200);
export const normaliseCity = (text) => textDetail(text, 100);

export function normaliseNationalId(text) {
  const value = asciiDigits(text.normalize("NFKC")).replace(SEPARATORS, "").toUpperCase();
  return NATIONAL_ID.test(value) ? value : null;
}

export function normalisePhone(text) {
  let value = asciiDigits(text.normalize("NFKC")).replace(SEPARATORS, "");
  if (value.startsWith("00")) value = `+${value.slice(2)}`;
  else if (value.startsWith("0") && value.length === 10) value = `+${MOROCCO}${value.slice(1)}`;
  else if (value.startsWith(MOROCCO) && (value.length === 12 || value.length === 13)) {
    value = `+${value}`;
  }
  if (value.startsWith(`+${MOROCCO}0`)) value = `+${MOROCCO}${value.slice(5)}`;
  if (!E164.test(value)) return null;
  if (value.startsWith(`+${MOROCCO}`) && !/^\+212[5-8][0-9]{8}$/.test(value)) return null;
  return value;
}

export function normaliseEmail(text) {
  const value = text.trim().normalize("NFC");
  const at = value.lastIndexOf("@");
  if (at < 0 || [...value].length > 254) return null;
  const local = value.slice(0, at);
  if (!EMAIL_LOCAL.test(local) || local.startsWith(".") || local.endsWith(".") || local.includes("..")) {
    return null;
  }
  let domain = value.slice(at + 1).toLowerCase().replace(/\.+$/, "");
  // Non-ASCII domains would need IDNA 2003 exactly as Python's codec: left to the host.
  if (!/^[\x00-\x7f]*$/.test(domain)) return null;
  const labels = domain.split(".");
  if (labels.length < 2 || !labels.every((label) => DOMAIN_LABEL.test(label))) return null;
  if (/^[0-9]+$/.test(labels[labels.length - 1])) return null;
  domain = labels.join(".");
  return `${local}@${domain}`;
}

/** Every detail in standard form, "" when empty; null if any is not valid. */
export function normaliseIdentity(details) {
  const rules = {
    full_name: normaliseFullName,
    national_id: normaliseNationalId,
    phone: normalisePhone,
    email: normaliseEmail,
    city: normaliseCity,
  };
  const out = {};
  for (const [key, normalise] of Object.entries(rules)) {
    const raw = (details[key] ?? "").trim();
    if (!raw) {
      out[key] = "";
      continue;
    }
    const value = normalise(raw);
    if (value === null) return null;
    out[key] = value;
  }
  return out;
}
