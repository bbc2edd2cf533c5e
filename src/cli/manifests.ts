/** Reading manifests the way `oc apply -f` does. */
import { parseAllDocuments } from 'yaml';
import type { Resource } from '../core/resource.js';
import { ApiError } from './client.js';

/** Parses YAML or JSON, many documents, `kind: List` flattened. */
export function parseManifests(text: string, source: string): Resource[] {
  const out: Resource[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new ApiError(0, `error: ${source}: ${doc.errors[0]!.message}`);
    const value = doc.toJS() as Resource | null;
    if (value === null || value === undefined) continue;
    if (typeof value !== 'object' || Array.isArray(value))
      throw new ApiError(0, `error: ${source}: a document is not an object`);
    if (
      value.kind === 'List' ||
      (typeof value.kind === 'string' && value.kind.endsWith('List') && Array.isArray(value.items))
    ) {
      out.push(...((value.items as Resource[]) ?? []));
    } else out.push(value);
  }
  return out;
}
