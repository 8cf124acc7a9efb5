// The mixed history the fault suite and the fault bench start from, and how they compare two
// databases: every 3rd doc updated, every 11th given a second branch (a conflict, written with
// `new_edits: false`), every 7th deleted.

/** The writes of that history for `n` docs `${prefix}00000`…, each doc carrying `extra`. */
export function plan(prefix, n, extra = {}) {
  const id = (i) => `${prefix}${String(i).padStart(5, '0')}`;
  const all = [...Array(n).keys()];
  return {
    creates: all.map((i) => ({ _id: id(i), i, ...extra })),
    updated: all.filter((i) => i % 3 === 0).map(id),
    conflicts: all.filter((i) => i % 11 === 0).map((i) => {
      const hash = (i + 1).toString(16).padStart(32, '0');
      return { _id: id(i), _rev: `1-${hash}`, _revisions: { start: 1, ids: [hash] }, branch: true };
    }),
    deleted: all.filter((i) => i % 7 === 0).map(id),
  };
}

/** Leaves of that history: one per doc, plus one per conflict. */
export const leavesOf = (n) => n + Math.floor((n - 1) / 11) + 1;

/** `{id: 'leaf revs (sorted), deleted flag'}` from `_changes?style=all_docs` rows. */
export const leafMap = (rows) =>
  Object.fromEntries(rows.map((r) => [r.id, r.changes.map((c) => c.rev).sort().join(' ') + (r.deleted ? ' deleted' : '')]));
