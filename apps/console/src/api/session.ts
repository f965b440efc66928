/** The signed-in key and who it is, kept in this tab's session storage only (never localStorage, never a cookie). */

export interface Session {
  key: string;
  tenant: string;
  keyId: string;
  name: string;
  roles: string[];
  approvalLimit?: number | null;
}

const STORAGE = 'decision-console.session';

export function loadSession(): Session | undefined {
  try {
    const raw = sessionStorage.getItem(STORAGE);
    return raw ? (JSON.parse(raw) as Session) : undefined;
  } catch {
    return undefined;
  }
}

export function saveSession(s: Session): void {
  sessionStorage.setItem(STORAGE, JSON.stringify(s));
}

export function clearSession(): void {
  sessionStorage.removeItem(STORAGE);
}

export const hasRole = (s: Session | undefined, ...roles: string[]): boolean => !!s && roles.some((r) => s.roles.includes(r));
