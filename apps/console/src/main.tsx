/** The console's entry: one React root; styles are plain CSS (no framework: the initial JavaScript stays small). */
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './app/App.js';
import { t } from './i18n/index.js';
import './styles.css';

// index.html's title is the fallback before this runs; the catalogue's is the one a translation changes.
document.title = t('app.title');

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
