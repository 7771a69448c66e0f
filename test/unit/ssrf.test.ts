import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { blockedAddressReason, checkEndpointUri, policyGet, resolveEndpoint, EndpointRefused } from '../../src/notify/ssrf';

describe('notification endpoint policy (SSRF)', () => {
  test.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'link-local'],
    ['100.64.0.1', 'carrier-grade NAT'],
    ['0.0.0.0', 'unspecified ("this network")'],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'reserved'],
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['fc00::1', 'unique-local'],
    ['fd12:3456::1', 'unique-local'],
    ['fe80::1%eth0', 'link-local'],
    ['ff02::1', 'multicast'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:10.0.0.1', 'private'],
    ['64:ff9b::a9fe:a9fe', 'link-local'],
    ['2002:c0a8:0101::1', 'private'],
  ])('%s is refused (%s)', (ip, why) => {
    expect(blockedAddressReason(ip)).toBe(why);
  });

  test.each(['8.8.8.8', '172.32.0.1', '100.128.0.1', '93.184.216.34', '2606:4700:4700::1111', '::ffff:8.8.8.8'])('%s is allowed', (ip) => {
    expect(blockedAddressReason(ip)).toBeUndefined();
  });

  test('schemes: http, https, mqtt, mqtts only', () => {
    const policy = { allowPrivate: false };
    for (const uri of ['http://8.8.8.8/x', 'https://8.8.8.8/x', 'mqtt://8.8.8.8/t', 'mqtts://8.8.8.8/t']) {
      expect(checkEndpointUri(uri, policy).href).toBe(uri);
    }
    for (const uri of ['ftp://8.8.8.8/x', 'file:///etc/passwd', 'gopher://8.8.8.8/', 'not a uri', 'javascript:alert(1)']) {
      expect(() => checkEndpointUri(uri, policy)).toThrow(EndpointRefused);
    }
  });

  test('literal private addresses in all their spellings are refused; allowPrivate lets them through', () => {
    const deny = { allowPrivate: false };
    for (const uri of ['http://127.0.0.1:8080/', 'http://[::1]/', 'http://[::ffff:127.0.0.1]/', 'http://2130706433/', 'http://0x7f.1/', 'http://169.254.169.254/latest/meta-data']) {
      expect(() => checkEndpointUri(uri, deny)).toThrow(EndpointRefused);
    }
    expect(checkEndpointUri('http://127.0.0.1:8080/', { allowPrivate: true }).port).toBe('8080');
  });

  test('names are resolved before the check: localhost is refused', async () => {
    await expect(resolveEndpoint('http://localhost:1026/', { allowPrivate: false })).rejects.toThrow(/loopback/);
    const ok = await resolveEndpoint('http://localhost:1026/', { allowPrivate: true });
    expect(ok.addresses.length).toBeGreaterThan(0);
  });

  test('a name that does not resolve is refused', async () => {
    await expect(resolveEndpoint('http://no-such-host.invalid/', { allowPrivate: false })).rejects.toThrow(/does not resolve/);
  });

  test('deny and allow host lists', () => {
    expect(() => checkEndpointUri('https://evil.example/', { allowPrivate: false, denyHosts: ['evil.example'] })).toThrow(/denied/);
    expect(() => checkEndpointUri('https://other.example/', { allowPrivate: false, allowHosts: ['good.example'] })).toThrow(/allow-list/);
    expect(checkEndpointUri('https://good.example/', { allowPrivate: false, allowHosts: ['good.example'] }).hostname).toBe('good.example');
  });
});

describe('policyGet (remote @contexts): DNS resolved and checked before connecting, redirects not followed', () => {
  let server: http.Server;
  let port: number;
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      if (req.url === '/redirect') {
        res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data' }).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/ld+json' }).end('{"@context":{}}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => new Promise<void>((r) => server.close(() => r())));

  test.each([
    ['a loopback literal', () => `http://127.0.0.1:${port}/ctx`, /loopback/],
    ['a name resolving to loopback (localhost)', () => `http://localhost:${port}/ctx`, /localhost resolves to .* \(loopback address\)/],
    ['the link-local metadata address', () => 'http://169.254.169.254/latest/meta-data', /link-local/],
    ['a private range', () => 'http://10.0.0.7/ctx', /private/],
    ['a private range as IPv4-mapped IPv6', () => 'http://[::ffff:192.168.1.1]/ctx', /private/],
  ])('%s is refused without a connection', async (_what, url, why) => {
    await expect(policyGet(url(), { allowPrivate: false })).rejects.toThrow(why);
  });

  test('with private addresses allowed the request is made, and a redirect is returned, not followed', async () => {
    const ok = await policyGet(`http://localhost:${port}/ctx`, { allowPrivate: true });
    expect([ok.status, await ok.json()]).toEqual([200, { '@context': {} }]);
    const redirect = await policyGet(`http://127.0.0.1:${port}/redirect`, { allowPrivate: true });
    expect(redirect.status).toBe(302);
    expect(redirect.headers.get('location')).toBe('http://169.254.169.254/latest/meta-data');
    // the caller checks the Location with the same policy before any next hop
    await expect(policyGet(redirect.headers.get('location')!, { allowPrivate: false })).rejects.toThrow(/link-local/);
  });

  test('refusals name what was refused and the setting that allows it', async () => {
    await expect(policyGet(`http://localhost:${port}/`, { allowPrivate: false, subject: '@context URL', allowPrivateSetting: 'CONTEXT_ALLOW_PRIVATE' }))
      .rejects.toThrow(/^@context URL localhost resolves to .*\(CONTEXT_ALLOW_PRIVATE\)$/);
  });
});
