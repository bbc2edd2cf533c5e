/** The project roles Slipway knows: OpenShift's default ClusterRoles `admin`, `edit` and `view`. */
export type ProjectRole = 'admin' | 'edit' | 'view';

export const PROJECT_ROLES: readonly ProjectRole[] = ['admin', 'edit', 'view'];

/** Which of two roles is stronger: admin > edit > view. */
export const ROLE_RANK: Readonly<Record<ProjectRole, number>> = { view: 1, edit: 2, admin: 3 };

export function isProjectRole(value: unknown): value is ProjectRole {
  return typeof value === 'string' && (PROJECT_ROLES as readonly string[]).includes(value);
}

/** User names: what a login name or an e-mail address needs, nothing a scope or a path could misread. */
export const USER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9._@-]{0,252}$/;
