#!/usr/bin/env node
// Draws the app icon (a settee on a blue tile) as icon.svg and as PNGs of 192 and 512 px,
// with node's zlib only: the manifest wants PNGs for installability on every browser, and a
// tiny rasteriser of rounded rectangles is less weight than an image library.
//   node www/icons/make-icons.mjs      (writes next to itself; the outputs are committed)
import { writeFileSync } from 'node:fs';
import { deflateSync } from 'node:zlib';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const BG = [47, 79, 201];
const FG = [255, 255, 255];
// The shapes on a 512 grid: [x, y, width, height, radius, colour]. Everything but the tile
// sits inside the central 80% circle, so the icon also works as a "maskable" one.
const SHAPES = [
  [0, 0, 512, 512, 112, BG],
  [150, 150, 212, 130, 30, FG], // backrest
  [120, 262, 272, 80, 22, FG], // seat
  [96, 222, 70, 132, 30, FG], // left arm
  [346, 222, 70, 132, 30, FG], // right arm
  [136, 338, 26, 42, 8, FG], // legs
  [350, 338, 26, 42, 8, FG],
  [166, 262, 180, 8, 4, BG], // the seam between back and seat
];

const svg = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 512 512">
${SHAPES.map(([x, y, w, h, r, c]) => `  <rect x="${x}" y="${y}" width="${w}" height="${h}" rx="${r}" fill="rgb(${c.join(',')})"/>`).join('\n')}
</svg>
`;
writeFileSync(join(here, 'icon.svg'), svg);

function inside(px, py, [x, y, w, h, r]) {
  if (px < x || py < y || px > x + w || py > y + h) return false;
  const cx = Math.min(Math.max(px, x + r), x + w - r);
  const cy = Math.min(Math.max(py, y + r), y + h - r);
  return (px - cx) ** 2 + (py - cy) ** 2 <= r * r;
}

function png(size) {
  const scale = 512 / size;
  const SS = 4; // 4×4 samples per pixel: smooth edges
  const rows = [];
  for (let y = 0; y < size; y++) {
    const row = Buffer.alloc(1 + size * 4); // filter byte 0, then RGBA
    for (let x = 0; x < size; x++) {
      const acc = [0, 0, 0, 0];
      for (let sy = 0; sy < SS; sy++) {
        for (let sx = 0; sx < SS; sx++) {
          const px = (x + (sx + 0.5) / SS) * scale;
          const py = (y + (sy + 0.5) / SS) * scale;
          let colour = null;
          for (const s of SHAPES) if (inside(px, py, s)) colour = s[5];
          if (colour) {
            acc[0] += colour[0];
            acc[1] += colour[1];
            acc[2] += colour[2];
            acc[3] += 255;
          }
        }
      }
      const n = SS * SS;
      const a = acc[3] / n;
      const o = 1 + x * 4;
      // Straight (not premultiplied) alpha: average colour of the covered samples.
      const covered = acc[3] / 255 || 1;
      row[o] = Math.round(acc[0] / covered);
      row[o + 1] = Math.round(acc[1] / covered);
      row[o + 2] = Math.round(acc[2] / covered);
      row[o + 3] = Math.round(a);
    }
    rows.push(row);
  }
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // RGBA
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.concat(rows), { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

for (const size of [192, 512]) writeFileSync(join(here, `icon-${size}.png`), png(size));
console.log('wrote icon.svg, icon-192.png, icon-512.png');
