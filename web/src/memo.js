// A component that re-renders only when one of its props changed (by identity). The conversation
// re-renders on every streamed token; without this each earlier message would be diffed again.
import { h } from 'preact';

function changed(a, b) {
  for (const key in a) if (a[key] !== b[key]) return true;
  for (const key in b) if (!(key in a)) return true;
  return false;
}

export function memo(Inner) {
  function Memo(props) {
    // In Preact a function component's `this` is its instance, so it can veto its own updates.
    this.shouldComponentUpdate = (next) => changed(this.props, next);
    return h(Inner, props);
  }
  Memo.displayName = `Memo(${Inner.displayName || Inner.name})`;
  return Memo;
}
