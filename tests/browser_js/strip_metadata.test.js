// source_app/static/js/strip_metadata.js on hand-built containers: exactly the metadata
// segments and chunks go, every other byte stays in order. (A real photo from Pillow,
// through Chromium to the officer's diagnostics: tests/browser/test_browser_photo_metadata.py.)

import assert from "node:assert/strict";
import { test } from "node:test";

import {
  MetadataNotRemoved,
  stripJpeg,
  stripPng,
  withoutMetadata,
} from "../../source_app/static/js/strip_metadata.js";

const text = (value) => [...value].map((char) => char.charCodeAt(0));
const bytes = (...parts) => new Uint8Array(parts.flat());

/** A JPEG marker segment: 0xFF, marker, big-endian length (itself included), payload. */
function segment(marker, payload) {
  const length = payload.length + 2;
  return [0xff, marker, length >> 8, length & 0xff, ...payload];
}

const SOI = [0xff, 0xd8];
const EOI = [0xff, 0xd9];
const JFIF = segment(0xe0, [...text("JFIF\0"), 1, 1, 0, 0, 1, 0, 1, 0, 0]);
const EXIF_GPS = segment(0xe1, [...text("Exif\0\0MM\0*GPS 34.0201N 6.8416W PhoneMakerX")]);
const XMP = segment(0xe1, text("http://ns.adobe.com/xap/1.0/\0<x:xmpmeta>GPSLatitude</x:xmpmeta>"));
const ICC = segment(0xe2, [...text("ICC_PROFILE\0"), 1, 1, ...text("sRGB profile bytes")]);
const MPF = segment(0xe2, text("MPF\0MM\0*preview"));
const IPTC = segment(0xed, text("Photoshop 3.0\u00008BIM byline"));
const APP15 = segment(0xef, text("vendor data"));
const ADOBE = segment(0xee, [...text("Adobe"), 0, 100, 0, 0, 0, 0, 1]);
const COMMENT = segment(0xfe, text("taken at home"));
const DQT = segment(0xdb, [0, ...new Array(64).fill(1)]);
const SOF0 = segment(0xc0, [8, 0, 16, 0, 16, 1, 1, 0x11, 0]);
const DHT = segment(0xc4, [0, ...new Array(16).fill(0)]);
const SOS = segment(0xda, [1, 1, 0, 0, 0x3f, 0]);
// Entropy-coded data with a stuffed 0xFF00, a restart marker and fill bytes in it.
const SCAN = [0x12, 0xff, 0x00, 0x34, 0xff, 0xd0, 0x56, 0xff, 0xd7, 0x78];

test("a JPEG loses Exif, XMP, MPF, IPTC, APP15 and comments, keeps JFIF, ICC, Adobe and the image", () => {
  const photo = bytes(
    SOI, JFIF, EXIF_GPS, XMP, ICC, MPF, IPTC, APP15, ADOBE, COMMENT,
    DQT, SOF0, DHT, SOS, SCAN, EOI,
    text("trailing vendor data after the end of image"),
  ); // prettier-ignore
  const expected = bytes(SOI, JFIF, ICC, ADOBE, DQT, SOF0, DHT, SOS, SCAN, EOI);
  assert.deepEqual(stripJpeg(photo), expected);
});

test("a progressive JPEG keeps every scan and loses a comment between scans", () => {
  const photo = bytes(SOI, DQT, SOF0, DHT, SOS, SCAN, COMMENT, EXIF_GPS, DHT, SOS, SCAN, EOI);
  const expected = bytes(SOI, DQT, SOF0, DHT, SOS, SCAN, DHT, SOS, SCAN, EOI);
  assert.deepEqual(stripJpeg(photo), expected);
});

test("fill bytes before a marker are followed", () => {
  const photo = bytes(SOI, [0xff], EXIF_GPS, DQT, SOF0, SOS, SCAN, [0xff], EOI);
  assert.deepEqual(stripJpeg(photo), bytes(SOI, DQT, SOF0, SOS, SCAN, [0xff], EOI));
});

test("a JPEG already without metadata comes out byte for byte the same", () => {
  const photo = bytes(SOI, JFIF, DQT, SOF0, DHT, SOS, SCAN, EOI);
  assert.deepEqual(stripJpeg(photo), photo);
});

test("a JPEG it cannot follow is refused, never passed through", () => {
  for (const broken of [
    bytes(SOI, [0xff, 0xe1, 0x40, 0x00, 1, 2, 3]), // a length past the end
    bytes(SOI, JFIF, DQT, SOF0, SOS, SCAN), // no end of image
    bytes(SOI, [0x00, 0x01]), // no marker
    bytes([0x89, 0x50]), // not a JPEG
  ]) {
    assert.throws(() => stripJpeg(broken), MetadataNotRemoved);
  }
});

function chunk(type, data) {
  const length = data.length;
  // The CRC is copied, never checked or rewritten: any four bytes stand for it here.
  return [length >>> 24, (length >> 16) & 0xff, (length >> 8) & 0xff, length & 0xff,
    ...text(type), ...data, 0xde, 0xad, 0xbe, 0xef]; // prettier-ignore
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const IHDR = chunk("IHDR", [0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0]);
const ICCP = chunk("iCCP", text("sRGB\0\0compressed"));
const TEXT = chunk("tEXt", text("Author\0Someone"));
const ITXT = chunk("iTXt", text("XML:com.adobe.xmp\0\0\0\0\0<x:xmpmeta/>"));
const ZTXT = chunk("zTXt", text("Comment\0\0xyz"));
const EXIF = chunk("eXIf", text("MM\0*GPS"));
const TIME = chunk("tIME", [7, 234, 12, 5, 13, 30, 0]);
const IDAT = chunk("IDAT", [0x78, 0x9c, 1, 2, 3]);
const IEND = chunk("IEND", []);

test("a PNG loses tEXt, iTXt, zTXt, eXIf and tIME, keeps its image chunks in order", () => {
  const png = bytes(PNG_SIGNATURE, IHDR, TEXT, ICCP, ITXT, EXIF, IDAT, ZTXT, TIME, IEND, [1, 2]);
  assert.deepEqual(stripPng(png), bytes(PNG_SIGNATURE, IHDR, ICCP, IDAT, IEND));
});

test("a PNG it cannot follow is refused", () => {
  assert.throws(() => stripPng(bytes(PNG_SIGNATURE, IHDR, IDAT)), MetadataNotRemoved);
  assert.throws(() => stripPng(bytes(PNG_SIGNATURE, IHDR.slice(0, 10))), MetadataNotRemoved);
  assert.throws(() => stripPng(bytes(SOI)), MetadataNotRemoved);
});

test("withoutMetadata strips JPEG and PNG and leaves any other file untouched", async () => {
  const photo = new Blob([bytes(SOI, EXIF_GPS, DQT, SOF0, SOS, SCAN, EOI)]);
  const clean = new Uint8Array(await (await withoutMetadata(photo, "image/jpeg")).arrayBuffer());
  assert.deepEqual(clean, bytes(SOI, DQT, SOF0, SOS, SCAN, EOI));
  const video = new Blob([bytes(text("....ftypisom"), EXIF_GPS)]);
  assert.equal(await withoutMetadata(video, "video/mp4"), video);
});
