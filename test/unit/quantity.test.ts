import { containerLimits, cpuCores, memoryBytes, parseQuantity } from '../../src/core/quantity.js';
import { hostPathAllowed } from '../../src/core/deploy-validation.js';
import { imageBuildLimits } from '../../src/builders/build-scope.js';

test('Kubernetes quantities: binary and decimal suffixes, millis, fractions', () => {
  expect(memoryBytes('512Mi')).toBe(512 * 2 ** 20);
  expect(memoryBytes('1.5Gi')).toBe(1.5 * 2 ** 30);
  expect(memoryBytes('2G')).toBe(2e9);
  expect(memoryBytes(1024)).toBe(1024);
  expect(cpuCores('500m')).toBe(0.5);
  expect(cpuCores('.25')).toBe(0.25);
  expect(parseQuantity('3k')).toBe(3000);
  expect(() => memoryBytes('64MB')).toThrow('memory quantity "64MB" is not valid');
  expect(() => cpuCores('-1')).toThrow('cpu quantity "-1" is not valid');
  expect(() => cpuCores('1e3')).toThrow();
});

test('limits become Docker HostConfig numbers and /build query parameters', () => {
  expect(containerLimits({ memory: '64Mi', cpu: '500m' })).toEqual({ memory: 67108864, nanoCpus: 5e8 });
  expect(containerLimits(null)).toEqual({});
  expect(imageBuildLimits({ memory: 67108864, nanoCpus: 5e8 })).toEqual({
    memory: 67108864,
    memswap: 67108864,
    cpuperiod: 100000,
    cpuquota: 50000,
  });
});

test('hostPath prefixes are compared after normalising', () => {
  const allowed = ['/srv/data', '/var/lib/app/'];
  expect(hostPathAllowed('/srv/data', allowed)).toBe(true);
  expect(hostPathAllowed('/srv/data/x/y', allowed)).toBe(true);
  expect(hostPathAllowed('/var/lib/app', allowed)).toBe(true);
  expect(hostPathAllowed('/srv/database', allowed)).toBe(false);
  expect(hostPathAllowed('/srv/data/../etc', allowed)).toBe(false);
  expect(hostPathAllowed('/srv//data/./x', allowed)).toBe(true);
  expect(hostPathAllowed('srv/data', allowed)).toBe(false);
  expect(hostPathAllowed('/etc', [])).toBe(false);
  expect(hostPathAllowed('/anything', ['/'])).toBe(true);
});
