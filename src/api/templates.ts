/**
 * `POST /apis/template.openshift.io/v1/namespaces/NS/processedtemplates`: OpenShift's
 * endpoint that turns a Template (parameter values set in its `parameters`) into the list
 * of objects to create. Nothing is stored: `slipway process … | slipway apply -f -` and
 * `new-app --template` create the objects through the API as any other request does.
 */
import { Router } from 'express';
import { processTemplate, type Template } from '../templates/process.js';
import { requestBody } from './body.js';

export const PROCESSED_TEMPLATES = '/apis/template.openshift.io/v1/namespaces/:ns/processedtemplates';

export function templateRouter(): Router {
  const router = Router();
  router.post(PROCESSED_TEMPLATES, (req, res) => {
    const t = requestBody(req.body, 'Template', { required: true }) as Template;
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
