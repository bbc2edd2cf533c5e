import { describe, expect, it } from '@jest/globals';
import type { Resource } from '../../src/core/resource.js';
import { decideConfigChange } from '../../src/triggers/config-change.js';
import {
  decideBuildImageChange,
  decideDeploymentImageChange,
  recordBuildTriggers,
  type ImageStreamTagUpdate,
} from '../../src/triggers/image-change.js';

function bc(spec: Record<string, unknown>, metadata: Record<string, unknown> = {}): Resource {
  return {
    apiVersion: 'build.openshift.io/v1',
    kind: 'BuildConfig',
    metadata: { name: 'web', namespace: 'team', ...metadata },
    spec,
  };
}

const sourceStrategy = {
  type: 'Source',
  sourceStrategy: { from: { kind: 'ImageStreamTag', name: 'nodejs:20' } },
};
const output = { to: { kind: 'ImageStreamTag', name: 'web:latest' } };

function update(partial: Partial<ImageStreamTagUpdate> = {}): ImageStreamTagUpdate {
  const digest = partial.image ?? 'sha256:' + 'a'.repeat(64);
  return {
    namespace: 'team',
    stream: 'nodejs',
    tag: '20',
    image: digest,
    dockerImageReference: `127.0.0.1:5000/team/nodejs@${digest}`,
    ...partial,
  };
}

describe('BuildConfig ImageChange triggers', () => {
  it('an empty from follows the strategy image; the build records the immutable reference', () => {
    const config = bc({
      strategy: sourceStrategy,
      output,
      triggers: [{ type: 'ConfigChange' }, { type: 'ImageChange', imageChange: {} }],
    });
    const u = update();
    const d = decideBuildImageChange({ buildConfig: config, update: u });
    expect(d).toEqual({
      fire: true,
      request: {
        from: { kind: 'DockerImage', name: u.dockerImageReference },
        triggeredByImage: { kind: 'DockerImage', name: u.dockerImageReference },
        triggeredBy: [
          {
            message: 'Image change',
            imageChangeBuild: {
              imageID: u.dockerImageReference,
              fromRef: { kind: 'ImageStreamTag', name: 'nodejs:20', namespace: 'team' },
            },
          },
        ],
      },
      record: [{ triggerIndex: 1, lastTriggeredImageID: u.dockerImageReference }],
      skipped: [],
    });
    // Recording it makes the same image a no-op, and a new image fires again.
    const recorded = recordBuildTriggers(config, d.record)!;
    expect(
      (recorded.spec as { triggers: { imageChange?: { lastTriggeredImageID?: string } }[] }).triggers[1]!
        .imageChange,
    ).toEqual({ lastTriggeredImageID: u.dockerImageReference });
    expect(recordBuildTriggers(recorded, d.record)).toBeUndefined();
    const again = decideBuildImageChange({ buildConfig: recorded, update: u });
    expect(again.fire).toBe(false);
    expect(again.skipped).toEqual([
      { triggerIndex: 1, reason: `already triggered for ${u.dockerImageReference}` },
    ]);
    expect(
      decideBuildImageChange({ buildConfig: recorded, update: update({ image: 'sha256:' + 'b'.repeat(64) }) })
        .fire,
    ).toBe(true);
  });

  it('follows an explicit from, in another namespace, and ignores other tags', () => {
    const config = bc({
      strategy: sourceStrategy,
      triggers: [
        {
          type: 'ImageChange',
          imageChange: { from: { kind: 'ImageStreamTag', name: 'base', namespace: 'shared' } },
        },
      ],
    });
    expect(decideBuildImageChange({ buildConfig: config, update: update() }).fire).toBe(false);
    const shared = update({ namespace: 'shared', stream: 'base', tag: 'latest' });
    expect(decideBuildImageChange({ buildConfig: config, update: shared }).fire).toBe(true);
  });

  it('one build for several triggers firing on one update, and paused triggers stay quiet', () => {
    const two = bc({
      strategy: sourceStrategy,
      triggers: [
        { type: 'ImageChange', imageChange: {} },
        { type: 'ImageChange', imageChange: { from: { kind: 'ImageStreamTag', name: 'nodejs:20' } } },
      ],
    });
    const d = decideBuildImageChange({ buildConfig: two, update: update() });
    expect(d.fire && d.request.triggeredBy).toHaveLength(1);
    expect(d.record.map((r) => r.triggerIndex)).toEqual([0, 1]);
    const paused = bc({
      strategy: sourceStrategy,
      triggers: [{ type: 'ImageChange', imageChange: { paused: true } }],
    });
    expect(decideBuildImageChange({ buildConfig: paused, update: update() })).toMatchObject({
      fire: false,
      reason: 'the trigger is paused',
    });
    const pausedConfig = bc(
      { strategy: sourceStrategy, triggers: [{ type: 'ImageChange' }] },
      {
        annotations: { 'openshift.io/build-config.paused': 'true' },
      },
    );
    expect(decideBuildImageChange({ buildConfig: pausedConfig, update: update() }).fire).toBe(false);
    const dockerImage = bc({
      strategy: { type: 'Docker', dockerStrategy: { from: { kind: 'DockerImage', name: 'debian' } } },
      triggers: [{ type: 'ImageChange' }],
    });
    expect(decideBuildImageChange({ buildConfig: dockerImage, update: update() }).fire).toBe(false);
  });

  describe('loop guard', () => {
    it("a build's own output never retriggers its BuildConfig", () => {
      // Builds web from nodejs:20 and pushes to nodejs:20 (a "builder image" config).
      const selfFeeding = bc({
        strategy: sourceStrategy,
        output: { to: { kind: 'ImageStreamTag', name: 'nodejs:20' } },
        triggers: [{ type: 'ImageChange' }],
      });
      const d = decideBuildImageChange({ buildConfig: selfFeeding, update: update() });
      expect(d.fire).toBe(false);
      expect(d.skipped[0]!.reason).toContain('loop guard');
    });

    it('on its own output tag, an external image fires once; its own build output does not', () => {
      const selfFeeding = bc({
        strategy: sourceStrategy,
        output: { to: { kind: 'ImageStreamTag', name: 'nodejs:20' } },
        triggers: [{ type: 'ImageChange' }],
      });
      const external = update({ external: true });
      const fired = decideBuildImageChange({ buildConfig: selfFeeding, update: external });
      expect(fired.fire).toBe(true);
      const recorded = recordBuildTriggers(selfFeeding, fired.record)!;
      expect(decideBuildImageChange({ buildConfig: recorded, update: external }).fire).toBe(false);
      const own = update({
        image: 'sha256:' + 'e'.repeat(64),
        producedBy: { namespace: 'team', name: 'web' },
      });
      expect(decideBuildImageChange({ buildConfig: recorded, update: own })).toMatchObject({
        fire: false,
        skipped: [{ reason: expect.stringContaining('loop guard: 127.0.0.1:5000/team/nodejs@sha256:eee') }],
      });
      // Another BuildConfig's output on that tag is not this config's loop.
      const other = update({
        image: 'sha256:' + 'f'.repeat(64),
        producedBy: { namespace: 'team', name: 'other' },
      });
      expect(decideBuildImageChange({ buildConfig: recorded, update: other }).fire).toBe(true);
    });

    it('an update produced by this BuildConfig is skipped even through another tag name', () => {
      const config = bc({ strategy: sourceStrategy, output, triggers: [{ type: 'ImageChange' }] });
      const own = update({ producedBy: { namespace: 'team', name: 'web' } });
      expect(decideBuildImageChange({ buildConfig: config, update: own })).toMatchObject({ fire: false });
      const other = update({ producedBy: { namespace: 'team', name: 'nodejs-builder' } });
      expect(decideBuildImageChange({ buildConfig: config, update: other }).fire).toBe(true);
    });
  });
});

describe('DeploymentConfig ImageChange triggers', () => {
  const dc = (automatic: boolean, lastTriggeredImage?: string): Resource => ({
    apiVersion: 'apps.openshift.io/v1',
    kind: 'DeploymentConfig',
    metadata: { name: 'web', namespace: 'team' },
    spec: {
      triggers: [
        { type: 'ConfigChange' },
        {
          type: 'ImageChange',
          imageChangeParams: {
            automatic,
            containerNames: ['web'],
            from: { kind: 'ImageStreamTag', name: 'web:latest' },
            ...(lastTriggeredImage ? { lastTriggeredImage } : {}),
          },
        },
      ],
    },
  });
  const u = update({ stream: 'web', tag: 'latest' });

  it('fires automatic triggers with the containers to update and what to record', () => {
    expect(decideDeploymentImageChange({ deploymentConfig: dc(true), update: u })).toEqual({
      fire: true,
      triggers: [
        {
          triggerIndex: 1,
          containerNames: ['web'],
          image: u.dockerImageReference,
          from: { kind: 'ImageStreamTag', name: 'web:latest', namespace: 'team' },
        },
      ],
      record: [{ triggerIndex: 1, lastTriggeredImage: u.dockerImageReference }],
      skipped: [],
    });
  });

  it('does not fire when not automatic or already triggered for the image', () => {
    expect(decideDeploymentImageChange({ deploymentConfig: dc(false), update: u }).fire).toBe(false);
    expect(
      decideDeploymentImageChange({ deploymentConfig: dc(true, u.dockerImageReference), update: u }).fire,
    ).toBe(false);
  });
});

describe('ConfigChange', () => {
  it('starts the first build of a new BuildConfig only', () => {
    const fresh = bc({ strategy: sourceStrategy, triggers: [{ type: 'ConfigChange' }] }, { uid: 'u-1' });
    expect(decideConfigChange(fresh)).toEqual({
      fire: true,
      request: { triggeredBy: [{ message: 'Build configuration change' }] },
    });
    expect(decideConfigChange({ ...fresh, status: { lastVersion: 1 } }).fire).toBe(false);
    expect(
      decideConfigChange(bc({ strategy: sourceStrategy, triggers: [{ type: 'ImageChange' }] })).fire,
    ).toBe(false);
  });
});
