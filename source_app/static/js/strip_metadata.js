// Location and device data out of a photo before it is sealed (issue 10, item 10).
//
// A phone's photo carries where it was taken (GPS), the device, its serial number and
// the software in Exif and XMP; a PNG carries text chunks and times. The reporter may
// ask the browser to drop them: the container is parsed and the metadata segments or
// chunks are left out, byte for byte otherwise, never re-encoded (no quality lost, the
// picture's own bytes untouched).
//
// JPEG: from the start of image to its end, every marker segment is copied except
// APP1 (Exif, XMP, extended XMP), APP2 other than an ICC profile (MPF, FlashPix),
// APP3–APP13 (APP13: Photoshop/IPTC), APP15 and COM. Kept: APP0 (JFIF/JFXX), APP2
// ICC_PROFILE (colours), APP14 Adobe (colour transform: without it a CMYK picture
// decodes wrongly), the tables, frames and scans. Whatever follows the end of image
// (trailers, appended previews) is dropped.
// PNG: every chunk is copied except tEXt, iTXt, zTXt, eXIf and tIME, up to IEND; what
// follows IEND is dropped.
// A file these parsers cannot follow is refused (MetadataNotRemoved), never sent as
// it is in silence: the form then says so and lets the reporter choose.

export const STRIPPABLE_TYPES = new Set(["image/jpeg", "image/png"]);

/** A photo whose container could not be followed: nothing was removed from it. */
export class MetadataNotRemoved extends Error {}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const PNG_DROPPED = new Set(["tEXt", "iTXt", "zTXt", "eXIf", "tIME"]);
const ICC_PROFILE = "ICC_PROFILE\0";
const ADOBE = "Adobe";

const SOI = 0xd8;
const EOI = 0xd9;
const SOS = 0xda;
const COM = 0xfe;

function ascii(bytes, start, length) {
  return String.fromCharCode(...bytes.subarray(start, Math.min(bytes.length, start + length)));
}

/** Whether a JPEG segment (marker, payload start, payload length) is kept. */
function jpegSegmentKept(bytes, marker, payload, length) {
  if (marker === COM) return false;
  if (marker < 0xe0 || marker > 0xef) return true; // not an APPn: tables, frames, …
  if (marker === 0xe0) return true; // JFIF / JFXX
  if (marker === 0xe2) return ascii(bytes, payload, ICC_PROFILE.length) === ICC_PROFILE;
  if (marker === 0xee) return length >= ADOBE.length && ascii(bytes, payload, 5) === ADOBE;
  return false;
}

/** Where the entropy-coded data that starts at ``start`` ends: the next real marker. */
function endOfScan(bytes, start) {
  for (let at = start; at + 1 < bytes.length; at += 1) {
    if (bytes[at] !== 0xff) continue;
    const next = bytes[at + 1];
    // 0xFF00 is a stuffed 0xFF, 0xFFD0–D7 restart markers, 0xFFFF fill: all scan data.
    if (next === 0x00 || (next >= 0xd0 && next <= 0xd7) || next === 0xff) continue;
    return at;
  }
  throw new MetadataNotRemoved("the scan has no end");
}

/** A JPEG without its metadata segments (see the top of this file). */
export function stripJpeg(bytes) {
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== SOI) {
    throw new MetadataNotRemoved("not a JPEG");
  }
  const kept = [bytes.subarray(0, 2)];
  let at = 2;
  for (;;) {
    if (at >= bytes.length || bytes[at] !== 0xff) throw new MetadataNotRemoved("no marker");
    while (at < bytes.length && bytes[at] === 0xff) at += 1; // fill bytes before a marker
    if (at >= bytes.length) throw new MetadataNotRemoved("truncated");
    const marker = bytes[at];
    const start = at - 1;
    at += 1;
    if (marker === EOI) {
      kept.push(bytes.subarray(start, at));
      break;
    }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      kept.push(bytes.subarray(start, at)); // markers without a length
      continue;
    }
    if (marker === 0x00 || marker === SOI) throw new MetadataNotRemoved("unexpected marker");
    if (at + 2 > bytes.length) throw new MetadataNotRemoved("truncated");
    const length = (bytes[at] << 8) | bytes[at + 1];
    if (length < 2 || at + length > bytes.length) throw new MetadataNotRemoved("bad length");
    const end = at + length;
    if (jpegSegmentKept(bytes, marker, at + 2, length - 2)) {
      kept.push(bytes.subarray(start, end));
    }
    at = end;
    if (marker === SOS) {
      const scanEnd = endOfScan(bytes, at);
      kept.push(bytes.subarray(at, scanEnd));
      at = scanEnd;
    }
  }
  return concat(kept);
}

/** A PNG without its text, Exif and time chunks. */
export function stripPng(bytes) {
  if (bytes.length < 8 || PNG_SIGNATURE.some((byte, index) => bytes[index] !== byte)) {
    throw new MetadataNotRemoved("not a PNG");
  }
  const kept = [bytes.subarray(0, 8)];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 8;
  for (;;) {
    if (at + 12 > bytes.length) throw new MetadataNotRemoved("truncated chunk");
    const length = view.getUint32(at);
    const type = ascii(bytes, at + 4, 4);
    if (!/^[A-Za-z]{4}$/.test(type)) throw new MetadataNotRemoved("bad chunk type");
    const end = at + 12 + length;
    if (end > bytes.length) throw new MetadataNotRemoved("truncated chunk");
    if (!PNG_DROPPED.has(type)) kept.push(bytes.subarray(at, end));
    at = end;
    if (type === "IEND") break;
  }
  return concat(kept);
}

function concat(pieces) {
  const out = new Uint8Array(pieces.reduce((sum, piece) => sum + piece.length, 0));
  let at = 0;
  for (const piece of pieces) {
    out.set(piece, at);
    at += piece.length;
  }
  return out;
}

/**
 * ``file`` without its metadata when ``type`` (sniffed from its first bytes) is a JPEG
 * or a PNG; any other file as it is. Throws MetadataNotRemoved on a photo it cannot
 * follow. The photo is read whole into memory: photos are small beside videos, which
 * are never read here.
 */
export async function withoutMetadata(file, type) {
  if (!STRIPPABLE_TYPES.has(type)) return file;
  const bytes = new Uint8Array(await file.arrayBuffer());
  const stripped = type === "image/png" ? stripPng(bytes) : stripJpeg(bytes);
  return new Blob([stripped], { type });
}
