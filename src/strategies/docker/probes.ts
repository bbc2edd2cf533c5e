/**
 * Readiness and liveness probes for the local target, run by Slipway itself: httpGet and
 * tcpSocket against the replica's published loopback port (never a bridge address, which
 * is not reachable from every host setup), exec inside the container.
 */
import { request } from 'node:http';
import { connect } from 'node:net';
import type Docker from 'dockerode';
import type { PortRef, Probe } from '../../core/deploy-types.js';

/** Kubernetes' probe defaults. */
export const PROBE_DEFAULTS = {
  initialDelaySeconds: 0,
  timeoutSeconds: 1,
  periodSeconds: 10,
  successThreshold: 1,
  failureThreshold: 3,
};

export interface ProbeOutcome {
  ok: boolean;
  message: string;
}

export interface ProbeTarget {
  docker: Docker;
  containerId: string;
  /** Container port → host port on 127.0.0.1. */
  ports: Record<string, number>;
  portNames: Record<string, number>;
}

/** A probe's port (number or container port name) → the container port number. */
export function containerPortOf(port: PortRef, portNames: Record<string, number>): number | undefined {
  return typeof port === 'number' ? port : portNames[port];
}

function hostPortOf(port: PortRef, target: ProbeTarget): number | undefined {
  const containerPort = containerPortOf(port, target.portNames);
  return containerPort === undefined ? undefined : target.ports[String(containerPort)];
}

function httpProbe(
  port: number,
  path: string,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<ProbeOutcome> {
  return new Promise((resolve) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'GET',
        headers: { 'user-agent': 'slipway-probe/1', ...headers },
        timeout: timeoutMs,
      },
      (res) => {
        res.resume();
        const code = res.statusCode ?? 0;
        // Kubernetes: any code from 200 to 399 succeeds.
        resolve({ ok: code >= 200 && code < 400, message: `HTTP probe on ${path} answered ${code}` });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timed out after ${timeoutMs}ms`)));
    req.on('error', (err) => resolve({ ok: false, message: `HTTP probe on ${path} failed: ${err.message}` }));
    req.end();
  });
}

function tcpProbe(port: number, timeoutMs: number): Promise<ProbeOutcome> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ ok: false, message: `TCP probe timed out after ${timeoutMs}ms` });
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ ok: true, message: 'TCP probe connected' });
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      resolve({ ok: false, message: `TCP probe failed: ${err.message}` });
    });
  });
}

async function execProbe(target: ProbeTarget, command: string[], timeoutMs: number): Promise<ProbeOutcome> {
  const container = target.docker.getContainer(target.containerId);
  const exec = await container.exec({ Cmd: command, AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({ hijack: true, stdin: false });
  const done = new Promise<void>((resolve) => {
    stream.on('end', () => resolve());
    stream.on('error', () => resolve());
    stream.resume();
  });
  const timedOut = await Promise.race([
    done.then(() => false),
    new Promise<boolean>((r) => setTimeout(() => r(true), timeoutMs).unref()),
  ]);
  if (timedOut) {
    stream.destroy();
    return { ok: false, message: `exec probe ${JSON.stringify(command)} timed out after ${timeoutMs}ms` };
  }
  const { ExitCode } = await exec.inspect();
  return { ok: ExitCode === 0, message: `exec probe ${JSON.stringify(command)} exited ${ExitCode}` };
}

/** Runs one probe once. */
export async function runProbe(probe: Probe, target: ProbeTarget): Promise<ProbeOutcome> {
  const timeoutMs = (probe.timeoutSeconds ?? PROBE_DEFAULTS.timeoutSeconds) * 1000;
  try {
    if (probe.httpGet) {
      const port = hostPortOf(probe.httpGet.port, target);
      if (port === undefined)
        return {
          ok: false,
          message: `HTTP probe port ${probe.httpGet.port} is not a published container port`,
        };
      const headers = Object.fromEntries((probe.httpGet.httpHeaders ?? []).map((h) => [h.name, h.value]));
      return await httpProbe(port, probe.httpGet.path ?? '/', headers, timeoutMs);
    }
    if (probe.tcpSocket) {
      const port = hostPortOf(probe.tcpSocket.port, target);
      if (port === undefined)
        return {
          ok: false,
          message: `TCP probe port ${probe.tcpSocket.port} is not a published container port`,
        };
      return await tcpProbe(port, timeoutMs);
    }
    if (probe.exec) return await execProbe(target, probe.exec.command, timeoutMs);
    return { ok: false, message: 'the probe has no handler' };
  } catch (err) {
    return { ok: false, message: `probe failed: ${(err as Error).message}` };
  }
}
