// Assistant answers are markdown that quotes the user's own words and knowledge-base text, so the
// HTML is built in two guarded steps: marked escapes any raw HTML in the markdown (it is shown as
// text, never interpreted), then DOMPurify sanitises the result before it reaches innerHTML.
import { Marked } from 'marked';
import DOMPurify from 'dompurify';

const ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const escapeHtml = (text) => String(text).replace(/[&<>"']/g, (c) => ESCAPES[c]);

const marked = new Marked({
  gfm: true,
  breaks: true,
  renderer: {
    html(token) {
      return escapeHtml(token.text ?? token.raw ?? '');
    },
  },
});

let hooked = false;

function installHooks() {
  if (hooked) return;
  hooked = true;
  // Links in answers open in a new tab and tell the target nothing about this page.
  DOMPurify.addHook('afterSanitizeAttributes', (node) => {
    if (node.tagName === 'A' && node.hasAttribute('href')) {
      node.setAttribute('target', '_blank');
      node.setAttribute('rel', 'noopener noreferrer');
    }
    // Tables and code blocks scroll sideways on narrow screens: keyboard users must be able to
    // focus them to scroll.
    if (node.tagName === 'TABLE' || node.tagName === 'PRE') node.setAttribute('tabindex', '0');
  });
}

const PURIFY = {
  USE_PROFILE: { html: true },
  ADD_ATTR: ['target'],
  FORBID_TAGS: ['style', 'form', 'input', 'button', 'textarea', 'select'],
};

/** Sanitised HTML for a markdown text; never throws. */
export function renderMarkdown(text) {
  installHooks();
  let html;
  try {
    html = marked.parse(String(text ?? ''), { async: false });
  } catch {
    html = `<p>${escapeHtml(text)}</p>`;
  }
  return DOMPurify.sanitize(html, PURIFY);
}
