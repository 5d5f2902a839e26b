// Knowledge-base chunks overlap (by default half of each chunk repeats the previous one), so a
// document shown as its chunks one after another would say most things twice. This trims each
// chunk's repeat of its predecessor, except for the cited chunk, which is always shown whole: there
// the predecessor's tail is trimmed instead.

const PROBE = 48; // characters of a chunk's start to look for in the chunk before it

/**
 * Length of the longest suffix of `before` that is also a prefix of `after`; 0 unless that
 * suffix holds at least the first PROBE characters of `after` (all of it when shorter), so a
 * coincidental repeated word is never taken for an overlap.
 */
export function overlapLength(before, after) {
  if (!before || !after) return 0;
  const probe = after.slice(0, PROBE);
  let from = Math.max(0, before.length - after.length);
  for (;;) {
    const at = before.indexOf(probe, from);
    if (at < 0) return 0;
    const tail = before.slice(at);
    if (after.startsWith(tail)) return tail.length;
    from = at + 1;
  }
}

/**
 * chunks: [{id, text, ...}] in document order. Returns the same chunks, each with `display`: the
 * text to show once the overlaps are taken out.
 */
export function trimOverlaps(chunks, citedId) {
  const out = chunks.map((c) => ({ ...c, display: String(c.text ?? '') }));
  for (let i = 1; i < out.length; i++) {
    const prev = out[i - 1];
    const cur = out[i];
    const shared = overlapLength(String(prev.text ?? ''), String(cur.text ?? ''));
    if (shared === 0) continue;
    if (cur.id === citedId) {
      // Keep the cited passage whole; cut the repeat off the end of the one before it. `display`
      // is always a suffix of `text`, so the shared part is at its end too, or covers all of it.
      prev.display = prev.display.length > shared ? prev.display.slice(0, -shared) : '';
    } else {
      cur.display = cur.display.slice(shared);
    }
  }
  return out;
}
