// The frame both pages share: white-label settings from /api/ui/config, the sign-in form, the
// header with the product's name and the sign-out button, and the one alert region for errors.
import { render } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { clearToken, configureAuth, getToken, loadConfig, setToken } from './api.js';
import { DEFAULT_TITLES, readableOnWhite, textOn } from './format.js';

const DEFAULT_CONFIG = {
  product_name: 'brandcoach',
  logo_url: null,
  primary_color: '#1f4e79',
  accent_color: '#b45309',
  welcome_message: 'Ask me anything about your brand: your customers, your positioning, your message.',
  // Unknown until the server says otherwise: try without a token, and a 401 asks for one.
  local_mode: true,
  assistants: Object.entries(DEFAULT_TITLES).map(([id, title]) => ({ id, title })),
};

function normalizeConfig(raw) {
  const c = raw && typeof raw === 'object' ? raw : {};
  const str = (v, fallback) => (typeof v === 'string' && v.trim() ? v : fallback);
  return {
    product_name: str(c.product_name, DEFAULT_CONFIG.product_name),
    logo_url: str(c.logo_url, null),
    primary_color: str(c.primary_color, DEFAULT_CONFIG.primary_color),
    accent_color: str(c.accent_color, DEFAULT_CONFIG.accent_color),
    welcome_message: str(c.welcome_message, DEFAULT_CONFIG.welcome_message),
    local_mode: typeof c.local_mode === 'boolean' ? c.local_mode : DEFAULT_CONFIG.local_mode,
    assistants:
      Array.isArray(c.assistants) && c.assistants.length
        ? c.assistants.filter((a) => a && typeof a.id === 'string')
        : DEFAULT_CONFIG.assistants,
  };
}

/** Sets the brand colours as CSS custom properties, with text colours that keep AA contrast. */
function applyTheme(config) {
  const root = document.documentElement.style;
  const primary = config.primary_color;
  root.setProperty('--primary', primary);
  root.setProperty('--on-primary', textOn(primary));
  root.setProperty('--primary-text', readableOnWhite(primary) || 'var(--ink)');
  root.setProperty('--accent', config.accent_color);
  root.setProperty('--on-accent', textOn(config.accent_color));
  root.setProperty('--accent-text', readableOnWhite(config.accent_color) || 'var(--ink)');
}

export function ErrorAlert({ message, onDismiss }) {
  if (!message) return null;
  return (
    <div class="alert" role="alert" data-testid="error-alert">
      <p>{message}</p>
      {onDismiss && (
        <button type="button" class="button subtle" onClick={onDismiss}>
          Dismiss
        </button>
      )}
    </div>
  );
}

function Brand({ config }) {
  const [broken, setBroken] = useState(false);
  return (
    <a class="brand" href="/">
      {config.logo_url && !broken ? (
        <img class="logo" src={config.logo_url} alt={config.product_name} onError={() => setBroken(true)} />
      ) : (
        <span class="brand-mark" aria-hidden="true">
          {config.product_name.slice(0, 1).toUpperCase()}
        </span>
      )}
      {/* With a logo the image's alt names the product; the text stays for sighted users. */}
      <span class="brand-name" aria-hidden={config.logo_url && !broken ? 'true' : undefined}>
        {config.product_name}
      </span>
    </a>
  );
}

function SignIn({ config, message, onSignIn }) {
  const [token, setValue] = useState('');
  const input = useRef(null);
  useEffect(() => input.current?.focus(), []);
  const submit = (event) => {
    event.preventDefault();
    const value = token.trim();
    if (value) onSignIn(value);
  };
  return (
    <main id="main" class="signin">
      <form class="card signin-card" onSubmit={submit} data-testid="signin-form" aria-labelledby="signin-title">
        <h1 id="signin-title">Sign in to {config.product_name}</h1>
        <ErrorAlert message={message} />
        <label for="signin-token">API key or token</label>
        <input
          id="signin-token"
          ref={input}
          type="password"
          autocomplete="off"
          spellcheck={false}
          required
          value={token}
          onInput={(e) => setValue(e.currentTarget.value)}
          aria-describedby="signin-help"
          data-testid="signin-token"
        />
        <p id="signin-help" class="hint">
          Paste the API key or JWT you were given. It is kept in this browser tab only and forgotten when the tab
          closes.
        </p>
        <button type="submit" class="button primary" data-testid="signin-submit">
          Sign in
        </button>
      </form>
    </main>
  );
}

/**
 * Page({config}) is the signed-in page. `title` follows the product name in the document title;
 * `headerLinks` is extra header content (navigation between the pages).
 */
function Shell({ page: Page, title, headerLinks }) {
  const [config, setConfig] = useState(null);
  const [token, setTokenState] = useState(getToken);
  // Whether calls carry a token: outside local mode always, and in local mode once the server has
  // refused a call with 401 (authentication was turned on since the page loaded).
  const [tokenMode, setTokenMode] = useState(false);
  const [signInMessage, setSignInMessage] = useState('');
  // Remounting the page on each sign-in or sign-out drops everything the previous user saw.
  const [epoch, setEpoch] = useState(0);

  const signOut = useCallback((message = '') => {
    clearToken();
    setTokenState(null);
    setSignInMessage(message);
    setEpoch((n) => n + 1);
  }, []);

  useEffect(() => {
    let live = true;
    loadConfig().then((raw) => {
      if (!live) return;
      const c = normalizeConfig(raw);
      // Set before the page mounts: its first calls must already carry (or omit) the token.
      configureAuth({
        local: c.local_mode,
        onUnauthorized: (error) => {
          configureAuth({ local: false });
          setTokenMode(true);
          const why = error.message ? ` (${error.message.replace(/\.$/, '')})` : '';
          signOut(`The server did not accept the token${why}. Please sign in again.`);
        },
      });
      applyTheme(c);
      document.title = title ? `${title} · ${c.product_name}` : c.product_name;
      setTokenMode(!c.local_mode);
      setConfig(c);
    });
    return () => {
      live = false;
    };
  }, [signOut, title]);

  if (!config) {
    return (
      <main id="main" class="loading" aria-busy="true">
        <p>Loading…</p>
      </main>
    );
  }

  const needsToken = tokenMode && !token;
  const signIn = (value) => {
    setToken(value);
    configureAuth({ local: false });
    setTokenState(value);
    setSignInMessage('');
    setEpoch((n) => n + 1);
  };

  return (
    <>
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <header class="topbar">
        <Brand config={config} />
        <div class="topbar-actions">
          {!needsToken && headerLinks}
          {tokenMode && token && (
            <button type="button" class="button subtle" onClick={() => signOut('')} data-testid="signout">
              Sign out
            </button>
          )}
        </div>
      </header>
      {needsToken ? (
        <SignIn config={config} message={signInMessage} onSignIn={signIn} />
      ) : (
        <Page key={epoch} config={config} />
      )}
    </>
  );
}

/** Mounts a page into #app. */
export function mount(page, options = {}) {
  const root = document.getElementById('app');
  render(<Shell page={page} title={options.title} headerLinks={options.headerLinks} />, root);
}
