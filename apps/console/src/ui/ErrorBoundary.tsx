/**
 * A page that throws while rendering (an answer of an unexpected shape, say) shows why and a way out, not a blank
 * screen. Keyed by the address where it is used, so another page starts clean.
 */
import { Component, type ReactNode } from 'react';
import { t } from '../i18n/index.js';

export class ErrorBoundary extends Component<{ children: ReactNode }, { failed: boolean }> {
  override state = { failed: false };

  static getDerivedStateFromError(): { failed: boolean } {
    return { failed: true };
  }

  override render(): ReactNode {
    if (!this.state.failed) return this.props.children;
    return (
      <div className="card" role="alert">
        <h1 id="page-title" tabIndex={-1}>
          {t('errors.title')}
        </h1>
        <p>{t('errors.page')}</p>
        <button type="button" onClick={() => window.location.reload()}>
          {t('errors.reload')}
        </button>
      </div>
    );
  }
}
