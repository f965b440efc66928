/**
 * Single-key shortcuts for a page; never while the person is typing in a field or holds a modifier, and never a key
 * that the focused control answers itself (Enter or Space on a link or button must follow that link, press that button).
 */
import { useEffect, useRef } from 'react';

export function typingIn(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null;
  if (!el || !el.tagName) return false;
  return el.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(el.tagName);
}

/** Enter and Space belong to a focused link, button or summary. */
export function activatesFocused(key: string, target: EventTarget | null): boolean {
  const el = target as HTMLElement | null;
  if (!el || !el.tagName || (key !== 'Enter' && key !== ' ')) return false;
  return ['A', 'BUTTON', 'SUMMARY'].includes(el.tagName) || el.getAttribute('role') === 'button' || el.getAttribute('role') === 'link';
}

export function useShortcuts(keys: Record<string, () => void>): void {
  const ref = useRef(keys);
  ref.current = keys;
  useEffect(() => {
    const on = (e: KeyboardEvent) => {
      if (e.ctrlKey || e.metaKey || e.altKey || e.defaultPrevented) return;
      // Escape works from a field too (it leaves it); letters never do.
      if (e.key !== 'Escape' && typingIn(e.target)) return;
      if (activatesFocused(e.key, e.target)) return;
      if (document.querySelector('dialog[open]') && e.key !== 'Escape') return;
      const fn = ref.current[e.key];
      if (fn) {
        e.preventDefault();
        fn();
      }
    };
    window.addEventListener('keydown', on);
    return () => window.removeEventListener('keydown', on);
  }, []);
}
