/** Reading manifests the way `oc apply -f` does. */
import { errorMessage } from '../core/errors.js';
import type { Resource } from '../core/resource.js';
import { parseYamlDocuments } from '../core/untrusted-input.js';
import { ApiError } from './client.js';

/**
 * Parses YAML or JSON, many documents, `kind: List` flattened. Whatever the file holds,
 * the answer is the resources or an ApiError naming the file: the YAML limits (aliases,
 * self-references, depth) are the server's, so a file the server would refuse fails here.
 */
export function parseManifests(text: string, source: string): Resource[] {
  let docs: unknown[];
  try {
    docs = parseYamlDocuments(text, { what: 'the file' });
  } catch (err) {
    throw new ApiError(0, `error: ${source}: ${errorMessage(err)}`);
  }
  const out: Resource[] = [];
  for (const value of docs) {
    if (value === null || value === undefined) continue;
    if (typeof value !== 'object' || Array.isArray(value))
      throw new ApiError(0, `error: ${source}: a document is not an object`);
    const doc = value as Resource;
    const isList =
      doc.kind === 'List' ||
      (typeof doc.kind === 'string' && doc.kind.endsWith('List') && Array.isArray(doc.items));
    if (isList) {
      if (doc.items === undefined || doc.items === null) continue;
      if (!Array.isArray(doc.items))
        throw new ApiError(0, `error: ${source}: the items of a ${doc.kind} must be a list`);
      for (const item of doc.items as unknown[]) {
        if (item === null || typeof item !== 'object' || Array.isArray(item))
          throw new ApiError(0, `error: ${source}: an item of a ${doc.kind} is not an object`);
        out.push(item as Resource);
      }
    } else out.push(doc);
  }
  return out;
}
