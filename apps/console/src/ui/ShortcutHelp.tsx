/** The list of keyboard shortcuts, toggled with "?". */
import { t, type MessageKey } from '../i18n/index.js';

export function ShortcutHelp({ open, lines, onClose }: { open: boolean; lines: MessageKey[]; onClose: () => void }) {
  if (!open) return null;
  return (
    <aside className="card" aria-labelledby="shortcut-help-title">
      <h2 id="shortcut-help-title">{t('reviews.help.title')}</h2>
      <ul>
        {lines.map((l) => (
          <li key={l}>{t(l)}</li>
        ))}
        <li>{t('reviews.help.toggle')}</li>
      </ul>
      <button type="button" onClick={onClose}>
        {t('actions.close')}
      </button>
    </aside>
  );
}
