// A modal dialog on the native <dialog> element: showModal() makes the rest of the page inert and
// gives Esc for free; on top of that Tab is kept inside the dialog (the browser would otherwise
// let it leave for the address bar) and focus goes back to whatever opened the dialog.
import { useEffect, useRef, useState } from 'preact/hooks';

const FOCUSABLE =
  'a[href], button:not([disabled]), input:not([disabled]), textarea:not([disabled]), select:not([disabled]), [tabindex]:not([tabindex="-1"])';

let dialogs = 0;

export function Dialog({ title, onClose, children, testId, initialFocus, wide = false }) {
  const ref = useRef(null);
  const [titleId] = useState(() => `dialog-title-${++dialogs}`);
  const close = useRef(onClose);
  close.current = onClose;

  useEffect(() => {
    const dialog = ref.current;
    const opener = document.activeElement;
    if (typeof dialog.showModal === 'function' && !dialog.open) dialog.showModal();
    else dialog.setAttribute('open', '');
    const target = initialFocus?.current || dialog.querySelector('[data-autofocus]') || dialog;
    target.focus();

    // Esc fires `cancel`; the page's state decides when the dialog goes, so the browser's own
    // closing is stopped and the owner is asked to unmount it.
    const onCancel = (event) => {
      event.preventDefault();
      close.current();
    };
    // A second Esc can close a dialog without `cancel` (the browser's anti-abuse rule).
    const onNativeClose = () => close.current();
    dialog.addEventListener('cancel', onCancel);
    dialog.addEventListener('close', onNativeClose);
    return () => {
      dialog.removeEventListener('cancel', onCancel);
      dialog.removeEventListener('close', onNativeClose);
      if (dialog.open && typeof dialog.close === 'function') dialog.close();
      if (opener && typeof opener.focus === 'function' && opener.isConnected) opener.focus();
    };
    // Opened once per mount; the owner unmounts the dialog to close it.
  }, []);

  const onKeyDown = (event) => {
    if (event.key === 'Escape') {
      event.preventDefault();
      event.stopPropagation();
      close.current();
      return;
    }
    if (event.key !== 'Tab') return;
    const items = [...ref.current.querySelectorAll(FOCUSABLE)].filter((el) => el.getClientRects().length > 0);
    if (items.length === 0) {
      event.preventDefault();
      return;
    }
    const first = items[0];
    const last = items[items.length - 1];
    const active = document.activeElement;
    if (event.shiftKey && (active === first || active === ref.current)) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && active === last) {
      event.preventDefault();
      first.focus();
    }
  };

  // A click on the backdrop lands on the <dialog> itself (its content fills the inner box).
  const onClick = (event) => {
    if (event.target === ref.current) close.current();
  };

  return (
    <dialog
      ref={ref}
      class={`dialog${wide ? ' wide' : ''}`}
      aria-labelledby={titleId}
      data-testid={testId}
      tabIndex={-1}
      onKeyDown={onKeyDown}
      onClick={onClick}
    >
      <div class="dialog-box">
        <div class="dialog-head">
          <h2 id={titleId}>{title}</h2>
          <button type="button" class="button subtle icon" onClick={() => close.current()} aria-label="Close">
            ×
          </button>
        </div>
        {children}
      </div>
    </dialog>
  );
}
