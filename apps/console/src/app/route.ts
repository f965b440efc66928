/** What a console page declares: its address, who may open it, and its place in the menu. */
import type { ReactNode } from 'react';
import type { MessageKey } from '../i18n/index.js';
import type { Session } from '../api/session.js';

export interface PageProps {
  params: Record<string, string>;
  query: URLSearchParams;
  session: Session;
}

export interface ConsoleRoute {
  /** '/reviews/:id' */
  pattern: string;
  /** Any one of these roles opens it (the API checks again on every call: this only hides what would be refused). */
  roles: string[];
  /** In the menu under this label (list pages only). */
  nav?: MessageKey;
  render: (p: PageProps) => ReactNode;
}
