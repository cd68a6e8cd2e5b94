// What an attachment's envelope says about it, as the public host says it
// (source_app/attachments.py): the same sanitised file name and the same type sniffed
// from the first 64 KiB, so that a browser-sealed file cannot be told from a
// server-sealed one. tests/browser_js/test_attachment_interop.py compares the two.

export const SNIFF_BYTES = 64 * 1024;
const MAX_NAME_BYTES = 200;
const DEFAULT_NAME = "attachment";
const OCTET_STREAM = "application/octet-stream";
const TEXT_PLAIN = "text/plain; charset=utf-8";
const DROPPED = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}]/u;
const SPACE = /\p{Zs}/u;
const RESERVED = /[<>:"|?*\\/]/g;
const WINDOWS_DEVICES = new Set(["con", "prn", "aux", "nul"]);
for (let i = 0; i < 10; i += 1) {
  WINDOWS_DEVICES.add(`com${i}`);
  WINDOWS_DEVICES.add(`lpt${i}`);
}
const utf8 = new TextEncoder();

function shorten(name) {
  if (utf8.encode(name).length <= MAX_NAME_BYTES) return name;
  const dot = name.lastIndexOf(".");
  let stem = name;
  let extension = "";
  if (dot >= 0 && utf8.encode(name.slice(dot + 1)).length <= 16) {
    stem = name.slice(0, dot);
    extension = name.slice(dot + 1);
  }
  const suffix = extension ? `.${extension}` : "";
  const bytes = utf8.encode(stem);
  let end = Math.max(0, Math.min(bytes.length, MAX_NAME_BYTES - utf8.encode(suffix).length));
  // Python decodes the cut bytes with errors="ignore": a character cut in two goes.
  while (end > 0 && end < bytes.length && (bytes[end] & 0xc0) === 0x80) end -= 1;
  const cut = new TextDecoder().decode(bytes.subarray(0, end)).replace(/[ .]+$/, "");
  return `${cut || DEFAULT_NAME}${suffix}`;
}

/** A file name that is only a name: no path, no invisible characters, not too long. */
export function sanitiseFileName(raw) {
  let name = (raw ?? "").normalize("NFC").replaceAll("\\", "/");
  name = name.slice(name.lastIndexOf("/") + 1);
  let kept = "";
  for (const char of name) {
    if (char === "\t" || char === "\n" || char === "\r") kept += " ";
    else if (!DROPPED.test(char)) kept += SPACE.test(char) ? " " : char;
  }
  name = kept.normalize("NFC").split(" ").filter(Boolean).join(" ").replace(RESERVED, "_");
  name = name.replace(/^[ .]+|[ .]+$/g, "") || DEFAULT_NAME;
  if (WINDOWS_DEVICES.has(name.split(".")[0].toLowerCase())) name = `_${name}`;
  return shorten(name);
}

/** ``attachment-<index>`` and the file's extension, lower case, as the host names a file
 * when the reporter asks (numbered_file_name in source_app/attachments.py). */
export function numberedFileName(index, raw) {
  const extension = /\.([A-Za-z0-9]{1,8})$/.exec(sanitiseFileName(raw));
  return `attachment-${index}${extension ? `.${extension[1].toLowerCase()}` : ""}`;
}

const SIMPLE_SIGNATURES = [
  ["\x89PNG\r\n\x1a\n", "image/png"],
  ["\xff\xd8\xff", "image/jpeg"],
  ["GIF87a", "image/gif"],
  ["GIF89a", "image/gif"],
  ["II*\x00", "image/tiff"],
  ["MM\x00*", "image/tiff"],
  ["\x00\x00\x01\x00", "image/x-icon"],
  ["\x1aE\xdf\xa3", "video/x-matroska"],
  ["fLaC", "audio/flac"],
  ["ID3", "audio/mpeg"],
  ["#!AMR", "audio/amr"],
  ["%PDF-", "application/pdf"],
  ["{\\rtf", "application/rtf"],
  ["\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "application/x-ole-storage"],
  ["\x1f\x8b", "application/gzip"],
  ["7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"],
  ["Rar!\x1a\x07", "application/vnd.rar"],
  ["\x7fELF", "application/x-executable"],
  ["MZ", "application/x-msdownload"],
];
const RIFF_TYPES = { WEBP: "image/webp", WAVE: "audio/wav", "AVI ": "video/x-msvideo" };
const FTYP_BRANDS = {
  heic: "image/heic",
  heix: "image/heic",
  hevc: "image/heic",
  mif1: "image/heif",
  msf1: "image/heif",
  avif: "image/avif",
  "qt  ": "video/quicktime",
  "M4A ": "audio/mp4",
  "M4B ": "audio/mp4",
};
const ZIP_MEMBERS = [
  ["word/", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"],
  ["xl/", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"],
  ["ppt/", "application/vnd.openxmlformats-officedocument.presentationml.presentation"],
];
const ODF = /^PK\x03\x04[\s\S]{26}mimetype(application\/vnd\.oasis\.opendocument\.[a-z.-]+)/;

function isUtf8Text(head) {
  let text;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(head, { stream: true });
  } catch {
    return false;
  }
  for (const char of text) {
    const code = char.codePointAt(0);
    if (code < 32 && !"\t\n\r\f".includes(char)) return false;
  }
  return true;
}

/** The media type the first bytes of a file show (up to SNIFF_BYTES are looked at). */
export function sniffMediaType(bytes) {
  const head = bytes.subarray(0, SNIFF_BYTES);
  // One character per byte, so that signatures compare as in Python's bytes.
  const latin = (start, end) => String.fromCharCode(...head.subarray(start, end));
  const text = latin(0, Math.min(head.length, 4096));
  if (latin(0, 4) === "RIFF" && RIFF_TYPES[latin(8, 12)]) return RIFF_TYPES[latin(8, 12)];
  if (latin(4, 8) === "ftyp") {
    const brand = latin(8, 12);
    if (FTYP_BRANDS[brand]) return FTYP_BRANDS[brand];
    return brand.startsWith("3gp") ? "video/3gpp" : "video/mp4";
  }
  if (latin(0, 4) === "OggS") return latin(0, 512).includes("theora") ? "video/ogg" : "audio/ogg";
  if (latin(0, 4) === "PK\x03\x04") {
    const whole = head.length > 4096 ? latinAll(head) : text;
    const odf = ODF.exec(whole);
    if (odf) return odf[1];
    for (const [member, type] of ZIP_MEMBERS) if (whole.includes(member)) return type;
    return "application/zip";
  }
  if (latin(0, 2) === "BM" && head.length >= 26 && head.subarray(6, 10).every((b) => b === 0)) {
    return "image/bmp";
  }
  if (head.length >= 2 && head[0] === 0xff && (head[1] & 0xe0) === 0xe0 && head[1] & 0x06) {
    return "audio/mpeg";
  }
  for (const [signature, type] of SIMPLE_SIGNATURES) {
    if (latin(0, signature.length) === signature) {
      if (type === "video/x-matroska" && latin(0, 64).includes("webm")) return "video/webm";
      return type;
    }
  }
  if (head.length && isUtf8Text(head)) return TEXT_PLAIN;
  return OCTET_STREAM;
}

function latinAll(bytes) {
  let out = "";
  for (let start = 0; start < bytes.length; start += 8192) {
    out += String.fromCharCode(...bytes.subarray(start, start + 8192));
  }
  return out;
}
