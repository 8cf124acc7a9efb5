#!/usr/bin/env node
// Where the wasm's bytes go: code size per function, grouped by crate (from the name section),
// with each group's share of the gzipped whole estimated by gzipping its function bodies alone.
//   node bench/wasm-size.mjs [bench/.pkg-profiling/settee_core_bg.wasm]   (needs names: build
//   it with bench/build-profiling.sh; pkg/'s wasm has none). --functions: the 30 largest.
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

const file = process.argv[2] ?? new URL('./.pkg-profiling/settee_core_bg.wasm', import.meta.url).pathname;
const buf = readFileSync(file);
let pos = 8;
const u32 = () => {
  let r = 0, s = 0, b;
  do { b = buf[pos++]; r |= (b & 0x7f) << s; s += 7; } while (b & 0x80);
  return r >>> 0;
};
let importedFuncs = 0;
let bodies = [];
const names = new Map();
const sections = {};
while (pos < buf.length) {
  const id = buf[pos++];
  const size = u32();
  const start = pos;
  const end = pos + size;
  if (id === 0) {
    const nlen = u32();
    const name = buf.subarray(pos, pos + nlen).toString();
    pos += nlen;
    sections[`custom:${name}`] = size;
    if (name === 'name') {
      while (pos < end) {
        const sub = buf[pos++];
        const sublen = u32();
        const subEnd = pos + sublen;
        if (sub === 1) {
          const count = u32();
          for (let i = 0; i < count; i++) {
            const idx = u32();
            const l = u32();
            names.set(idx, buf.subarray(pos, pos + l).toString());
            pos += l;
          }
        }
        pos = subEnd;
      }
    }
  } else {
    sections[id] = size;
    if (id === 2) {
      const count = u32();
      for (let i = 0; i < count; i++) {
        const ml = u32(); pos += ml;
        const fl = u32(); pos += fl;
        const kind = buf[pos++];
        if (kind === 0) { u32(); importedFuncs++; }
        else if (kind === 1) { pos++; const f = buf[pos++]; u32(); if (f & 1) u32(); }
        else if (kind === 2) { const f = buf[pos++]; u32(); if (f & 1) u32(); }
        else if (kind === 3) { pos += 2; }
        else if (kind === 4) { pos++; u32(); }
      }
    }
    if (id === 10) {
      const count = u32();
      for (let i = 0; i < count; i++) {
        const s = u32();
        bodies.push({ idx: importedFuncs + i, start: pos, size: s });
        pos += s;
      }
    }
  }
  pos = end;
}
const group = (n = '') => {
  const d = n.replace(/^<+/, '').replace(/^(core|alloc|std)\[[0-9a-f]+\]/, '$1');
  const m = d.match(/^([A-Za-z_][A-Za-z0-9_]*)(\[[0-9a-f]+\])?::([A-Za-z_][A-Za-z0-9_]*)/);
  if (!m) return d.startsWith('__') || !d ? 'runtime/other' : d.split(/[:< ]/)[0];
  return m[1] === 'settee' ? `settee::${m[3]}` : m[1];
};
const groups = {};
for (const b of bodies) {
  const g = group(names.get(b.idx));
  (groups[g] ??= { bytes: 0, fns: 0, parts: [] }).bytes += b.size;
  groups[g].fns++;
  groups[g].parts.push(buf.subarray(b.start, b.start + b.size));
}
const total = bodies.reduce((a, b) => a + b.size, 0);
console.log(`${file}: ${buf.length} bytes; code ${total} bytes in ${bodies.length} functions; data ${sections[11] ?? 0}; names ${sections['custom:name'] ?? 0}`);
console.log('   code bytes  gzip(alone)  fns  group');
for (const [g, v] of Object.entries(groups).sort((a, b) => b[1].bytes - a[1].bytes).slice(0, 30)) {
  const gz = gzipSync(Buffer.concat(v.parts), { level: 9 }).length;
  console.log(`${String(v.bytes).padStart(12)} ${String(gz).padStart(12)} ${String(v.fns).padStart(4)}  ${g}`);
}
if (process.argv.includes('--functions')) {
  console.log('\nlargest functions:');
  for (const b of [...bodies].sort((a, b) => b.size - a.size).slice(0, 30))
    console.log(`${String(b.size).padStart(8)}  ${(names.get(b.idx) ?? `func${b.idx}`).replace(/::h[0-9a-f]{16}$/, '').slice(0, 150)}`);
}
