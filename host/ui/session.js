// The signed-in person, kept for the browser tab only (sessionStorage).
const KEY = 'workbench.session';

export function getSession() {
  try {
    const raw = sessionStorage.getItem(KEY);
    return raw ? JSON.parse(raw) : null;
  } catch {
    return null;
  }
}

export function setSession(session) {
  sessionStorage.setItem(KEY, JSON.stringify(session));
}

export function clearSession() {
  sessionStorage.removeItem(KEY);
}

// The administrative jobs; admin holds all three.
export const JOBS = ['app_admin', 'member_admin', 'auditor'];

// Whether the session's roles give `role` (admin gives each job). The server
// decides with the directory on every call; this only chooses what to show.
export function hasRole(session, role) {
  const roles = session && Array.isArray(session.roles) ? session.roles : [];
  return roles.includes(role) || (role !== 'admin' && JOBS.includes(role) && roles.includes('admin'));
}

// Whether the session holds any administrative job.
export function hasAnyJob(session) {
  return JOBS.some((job) => hasRole(session, job));
}

// Reads the claims of a bearer token for display (the server checks it; this does not).
export function tokenClaims(token) {
  try {
    const part = token.split('.')[1];
    const b64 = part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '=');
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return null;
  }
}
