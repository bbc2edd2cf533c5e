/**
 * `POST /apis/template.openshift.io/v1/namespaces/NS/processedtemplates`: OpenShift's
 * endpoint that turns a Template (parameter values set in its `parameters`) into the list
 * of objects to create. Nothing is stored: `slipway process … | slipway apply -f -` and
 * `new-app --template` create the objects through the API as any other request does.
 */
import { Router } from 'express';
import { InputError } from '../core/errors.js';
import { quoteInput } from '../core/untrusted-input.js';
import { processTemplate, type Template } from '../templates/process.js';

export const PROCESSED_TEMPLATES = '/apis/template.openshift.io/v1/namespaces/:ns/processedtemplates';

export function templateRouter(): Router {
  const router = Router();
  router.post(PROCESSED_TEMPLATES, (req, res) => {
    const body: unknown = req.body;
    if (!body || typeof body !== 'object' || Array.isArray(body))
      throw new InputError('a Template must be an object', { code: 400 });
    const t = body as Template;
    if (t.kind !== undefined && t.kind !== 'Template')
      throw new InputError(`kind ${quoteInput(t.kind)} is not Template`, {
        code: 400,
        causes: [{ field: 'kind', message: 'must be Template' }],
      });
    const processed = processTemplate(t);
    res.status(201).json({
      ...processed,
      kind: 'Template',
      apiVersion: 'template.openshift.io/v1',
      metadata: { ...(processed.metadata ?? {}), namespace: req.params.ns },
    });
  });
  return router;
}
