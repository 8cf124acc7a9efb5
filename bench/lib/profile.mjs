// `run.mjs --profile`: where Settee's time goes. For each chosen workload, on Settee only:
//   1. a warm-up run;
//   2. a run under V8's sampling CPU profiler (Chrome DevTools Protocol), saved as
//      results/profiles/<workload>.cpuprofile (open it in DevTools' Performance panel), and
//      summarised by category: wasm (by function, when the module has names: build with
//      bench/build-profiling.sh), wasm-bindgen glue (JS<->wasm crossings), GC, idle (waiting
//      for IndexedDB), native;
//   3. a run with V8's precise coverage call counts: how many times each wasm-bindgen glue
//      function ran (each is one crossing from wasm into JS), and with IndexedDB requests and
//      transactions counted.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

function categorize(cf) {
  const { functionName: fn, url } = cf;
  if (fn === '(idle)') return ['idle (waiting: IndexedDB, event loop)', ''];
  if (fn === '(garbage collector)') return ['GC', ''];
  if (fn === '(program)') return ['(program): native, not attributed', ''];
  if (fn === '(root)') return ['(root)', ''];
  if (url.includes('.wasm') || url.startsWith('wasm://')) return ['wasm', fn];
  if (url.endsWith('/settee_core.js')) return ['wasm-bindgen glue JS', fn || '(anonymous)'];
  if (url.endsWith('/pkg/index.js')) return ['Settee TS wrapper', fn];
  if (url.includes('/lib/')) return ['bench harness', fn];
  if (!url) return ['native/builtin', fn];
  return ['other JS', `${fn} ${url}`];
}

export function summarize(profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i];
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i + 1] ?? profile.timeDeltas[i] ?? 0));
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const cats = {};
  const fns = {};
  for (const [id, us] of self) {
    const [cat, fn] = categorize(byId.get(id).callFrame);
    cats[cat] = (cats[cat] ?? 0) + us;
    if (fn) fns[`${cat}: ${fn}`] = (fns[`${cat}: ${fn}`] ?? 0) + us;
  }
  const ms = (us) => +(us / 1000).toFixed(2);
  const sorted = (o, n) =>
    Object.entries(o)
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, v]) => ({ name: k, ms: ms(v), pct: +((100 * v) / total).toFixed(1) }));
  return { totalMs: ms(total), categories: sorted(cats, 20), topSelf: sorted(fns, 40), inclusive: inclusiveTop(profile, self, total) };
}

/** Inclusive time of wasm functions (self + callees), to see which Rust layer a cost sits under. */
function inclusiveTop(profile, self, total) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const incl = {};
  for (const [id, us] of self) {
    const seen = new Set();
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
      const cf = byId.get(cur).callFrame;
      const [cat, fn] = categorize(cf);
      if (cat !== 'wasm' && cat !== 'wasm-bindgen glue JS' && cat !== 'Settee TS wrapper') continue;
      const key = `${cat}: ${fn}`;
      if (seen.has(key)) continue; // recursion: count once
      seen.add(key);
      incl[key] = (incl[key] ?? 0) + us;
    }
  }
  return Object.entries(incl)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 60)
    .map(([k, v]) => ({ name: k, ms: +(v / 1000).toFixed(2), pct: +((100 * v) / total).toFixed(1) }));
}

export async function profileWorkloads({ page, context, workloads, mode, outDir, impls }) {
  mkdirSync(outDir, { recursive: true });
  const cdp = await context.newCDPSession(page);
  await cdp.send('Profiler.enable');
  await cdp.send('Profiler.setSamplingInterval', { interval: 100 }); // µs
  let hookAction = null;
  let captured = null;
  await page.exposeFunction('benchHook', async (what) => {
    if (hookAction === 'cpu') {
      if (what === 'start') await cdp.send('Profiler.start');
      else captured = (await cdp.send('Profiler.stop')).profile;
    } else if (hookAction === 'count') {
      const taken = await cdp.send('Profiler.takePreciseCoverage'); // resets the counters
      if (what === 'stop') captured = taken.result;
    }
  });
  for (const impl of impls) await profileImpl(impl);

  async function profileImpl(impl) {
  const run = (w, opts) => page.evaluate(([w, i, m, o]) => window.bench.runOnce(w, i, m, o), [w, impl, mode, opts]);
  const summary = {};
  for (const w of workloads) {
    await run(w, {}); // warm-up
    const plain = await run(w, {});

    hookAction = 'cpu';
    const cpuRun = await run(w, { hooks: true });
    const profile = captured;
    const file = join(outDir, `${impl}-${w.replace(/\W+/g, '_')}.cpuprofile`);
    writeFileSync(file, JSON.stringify(profile));

    hookAction = 'count';
    await cdp.send('Profiler.startPreciseCoverage', { callCount: true, detailed: false });
    const countRun = await run(w, { hooks: true, countRequests: true });
    await cdp.send('Profiler.stopPreciseCoverage');
    const calls = {};
    for (const script of captured) {
      const where = script.url.endsWith('/settee_core.js') ? 'glue' : script.url.endsWith('/pkg/index.js') ? 'wrapper' : null;
      if (!where) continue;
      for (const f of script.functions) {
        const count = f.ranges[0]?.count ?? 0;
        if (count > 0 && f.functionName) calls[`${where}: ${f.functionName}`] = count;
      }
    }
    hookAction = null;
    const s = summarize(profile);
    summary[w] = {
      ms: { plain: +plain.ms.toFixed(2), underProfiler: +cpuRun.ms.toFixed(2), underCallCounting: +countRun.ms.toFixed(2) },
      idbRequests: countRun.idb,
      glueCalls: Object.fromEntries(Object.entries(calls).sort((a, b) => b[1] - a[1]).slice(0, 40)),
      ...s,
      profileFile: file,
    };
    console.log(`\n=== ${w}: ${plain.ms.toFixed(1)} ms (${cpuRun.ms.toFixed(1)} ms under the profiler)`);
    console.log('categories:', s.categories.map((c) => `${c.name} ${c.ms} ms (${c.pct}%)`).join('; '));
    console.log('top self:');
    for (const f of s.topSelf.slice(0, 25)) console.log(`  ${f.ms.toFixed(2).padStart(8)} ms ${String(f.pct).padStart(5)}%  ${f.name}`);
    console.log('inclusive (wasm / glue / wrapper functions, self + callees, synchronous parts only):');
    for (const f of s.inclusive.slice(0, 30)) console.log(`  ${f.ms.toFixed(2).padStart(8)} ms ${String(f.pct).padStart(5)}%  ${f.name}`);
    console.log('IndexedDB:', JSON.stringify(countRun.idb));
    console.log('glue calls:', JSON.stringify(summary[w].glueCalls));
  }
  const out = join(outDir, `${impl}-summary.json`);
  writeFileSync(out, JSON.stringify(summary, null, 2) + '\n');
  console.log(`\nwrote ${out}`);
  }
}
